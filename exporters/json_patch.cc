#include "exporters/json_patch.h"

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace datasnap {
namespace {

// An option without its value: the member the document keeps under it.
OrderedJson OptionBody(const Option& o) {
  OrderedJson body = OrderedJson::object();
  body["label"] = o.label;
  if (o.parent) body["parent"] = *o.parent;
  if (o.is_default) body["default"] = true;
  return body;
}

OrderedJson Op(std::string_view op, std::string path) {
  OrderedJson j;
  j["op"] = op;
  j["path"] = std::move(path);
  return j;
}

OrderedJson Op(std::string_view op, std::string path, OrderedJson value) {
  OrderedJson j = Op(op, std::move(path));
  j["value"] = std::move(value);
  return j;
}

// The operations that turn `before`'s body into `after`'s (same value).
void AppendChangeOps(const ChangedOption& c, OrderedJson& patch) {
  const std::string base = "/" + EscapeJsonPointerToken(c.after.value);
  if (c.before.label != c.after.label) {
    patch.push_back(Op("replace", base + "/label", c.after.label));
  }
  if (c.before.parent != c.after.parent) {
    if (!c.after.parent) {
      patch.push_back(Op("remove", base + "/parent"));
    } else {
      patch.push_back(Op(c.before.parent ? "replace" : "add", base + "/parent",
                         *c.after.parent));
    }
  }
  if (c.before.is_default != c.after.is_default) {
    if (c.after.is_default) {
      patch.push_back(Op("add", base + "/default", true));
    } else {
      patch.push_back(Op("remove", base + "/default"));
    }
  }
}

}  // namespace

std::string EscapeJsonPointerToken(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

OrderedJson OptionsKeyedByValue(const OptionList& options) {
  OrderedJson doc = OrderedJson::object();
  for (const Option& o : options.options()) doc[o.value] = OptionBody(o);
  return doc;
}

OrderedJson OptionsJsonPatch(const OptionsDiff& diff) {
  OrderedJson patch = OrderedJson::array();
  for (const Option& o : diff.removed) {
    patch.push_back(Op("remove", "/" + EscapeJsonPointerToken(o.value)));
  }
  for (const ChangedOption& c : diff.changed) AppendChangeOps(c, patch);
  for (const Option& o : diff.added) {
    patch.push_back(
        Op("add", "/" + EscapeJsonPointerToken(o.value), OptionBody(o)));
  }
  return patch;
}

}  // namespace datasnap
