#include "tests/exporters/json_patch_apply.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/json_patch.h"

namespace datasnap {
namespace {

// JSON equality (RFC 6902 §4.6): object members in any order, numbers by
// value. ordered_json's own == is sensitive to member order.
bool JsonEqual(const OrderedJson& a, const OrderedJson& b) {
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !JsonEqual(it.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!JsonEqual(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

// Splits an RFC 6901 pointer into unescaped reference tokens; nullopt when
// it is not one ("" is the whole document).
std::optional<std::vector<std::string>> ParsePointer(std::string_view path) {
  std::vector<std::string> tokens;
  if (path.empty()) return tokens;
  if (path.front() != '/') return std::nullopt;
  std::string token;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (path[i] != '~') {
      token.push_back(path[i]);
      continue;
    }
    if (i + 1 >= path.size()) return std::nullopt;
    if (path[i + 1] == '0') {
      token.push_back('~');
    } else if (path[i + 1] == '1') {
      token.push_back('/');
    } else {
      return std::nullopt;
    }
    ++i;
  }
  return tokens;
}

std::string TypeName(const OrderedJson& j) { return j.type_name(); }

// Applies operation `op` (already checked to be an object) to `doc`.
Status ApplyOne(OrderedJson& doc, const OrderedJson& op, std::size_t index) {
  std::string context = "JSON Patch operation " + std::to_string(index);
  auto fail = [&](const std::string& what) {
    return Fail(ErrorCode::kInvalidArgument, context + ": " + what);
  };

  auto op_it = op.find("op");
  if (op_it == op.end() || !op_it->is_string()) {
    return fail("\"op\" is missing or not a string");
  }
  const std::string name = op_it->get<std::string>();
  auto path_it = op.find("path");
  if (path_it == op.end() || !path_it->is_string()) {
    return fail("\"path\" is missing or not a string");
  }
  const std::string path = path_it->get<std::string>();
  context += " (" + name + " \"" + path + "\")";

  const bool needs_value = name == "add" || name == "replace" || name == "test";
  if (!needs_value && name != "remove") {
    return fail("unsupported operation (add, remove, replace and test are)");
  }
  auto value_it = op.find("value");
  if (needs_value && value_it == op.end()) return fail("\"value\" is missing");

  auto tokens = ParsePointer(path);
  if (!tokens) {
    return fail(
        "not a JSON Pointer (it must be empty or start with '/', "
        "and '~' must be followed by 0 or 1)");
  }

  if (tokens->empty()) {  // the whole document
    if (name == "remove") return fail("cannot remove the whole document");
    if (name == "test") {
      if (!JsonEqual(doc, *value_it)) return fail("test failed");
      return {};
    }
    doc = *value_it;
    return {};
  }

  // Walk to the object that holds the target member.
  OrderedJson* parent = &doc;
  std::string where;  // pointer to *parent, as given
  for (std::size_t t = 0; t + 1 < tokens->size(); ++t) {
    if (!parent->is_object()) {
      return fail((where.empty() ? std::string("the document") : where) +
                  " is " + TypeName(*parent) + ", not an object");
    }
    auto it = parent->find((*tokens)[t]);
    if (it == parent->end()) {
      return fail("no member \"" + (*tokens)[t] + "\" in " +
                  (where.empty() ? std::string("the document") : where));
    }
    where += "/" + EscapeJsonPointerToken((*tokens)[t]);
    parent = &*it;
  }
  const std::string where_text = where.empty() ? "the document" : where;
  if (!parent->is_object()) {
    return fail(where_text + " is " + TypeName(*parent) + ", not an object");
  }
  const std::string& member = tokens->back();
  auto it = parent->find(member);
  if (name == "add") {
    (*parent)[member] = *value_it;  // RFC 6902 §4.1: replaces an existing one
    return {};
  }
  if (it == parent->end()) {
    return fail("no member \"" + member + "\" in " + where_text);
  }
  if (name == "remove") {
    parent->erase(it);
  } else if (name == "replace") {
    *it = *value_it;
  } else if (!JsonEqual(*it, *value_it)) {  // test
    return fail("test failed");
  }
  return {};
}

}  // namespace

Result<OrderedJson> ApplyJsonPatch(OrderedJson doc, const OrderedJson& patch) {
  if (!patch.is_array()) {
    return Fail(ErrorCode::kInvalidArgument,
                "JSON Patch: expected an array of operations, found " +
                    TypeName(patch));
  }
  for (std::size_t i = 0; i < patch.size(); ++i) {
    if (!patch[i].is_object()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "JSON Patch operation " + std::to_string(i) +
                      ": expected an object, found " + TypeName(patch[i]));
    }
    DS_CHECK(ApplyOne(doc, patch[i], i));
  }
  return doc;
}

}  // namespace datasnap
