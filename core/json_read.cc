#include "core/json_read.h"

#include <algorithm>
#include <utility>

namespace datasnap::json {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Result<element> Parse(simdjson::dom::parser& parser, std::string_view bytes,
                      std::string_view what) {
  element root;
  if (auto err = parser.parse(bytes.data(), bytes.size()).get(root)) {
    return Fail(ErrorCode::kCorrupt, std::string(what) + ": not valid JSON (" +
                                         simdjson::error_message(err) + ")");
  }
  return root;
}

std::string_view TypeName(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "an unknown value";
}

ObjectReader::ObjectReader(object object, std::string what, std::string path,
                           bool input_is_user_data)
    : object_(object),
      what_(std::move(what)),
      path_(std::move(path)),
      code_(input_is_user_data ? ErrorCode::kInvalidArgument
                               : ErrorCode::kCorrupt) {
  seen_.reserve(object.size());
}

std::string ObjectReader::Where(std::string_view field) const {
  std::string where = what_ + ": ";
  if (!path_.empty()) where += path_ + ".";
  where += field;
  return where;
}

std::unexpected<Error> ObjectReader::Bad(std::string_view field,
                                         std::string message) const {
  return Fail(code_, Where(field) + ": " + message);
}

Result<std::optional<element>> ObjectReader::Find(std::string_view field) {
  seen_.emplace_back(field);  // a field asked for twice is listed twice
  element e;
  if (object_.at_key(field).get(e)) return std::optional<element>();
  return std::optional<element>(e);
}

Result<std::optional<std::string>> ObjectReader::OptionalString(
    std::string_view field) {
  auto e = Find(field);
  if (!*e || (*e)->is_null()) return std::optional<std::string>();
  std::string_view s;
  if ((*e)->get(s)) {
    return Bad(field, "expected a string, found " + std::string(TypeName(**e)));
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::string> ObjectReader::String(std::string_view field) {
  auto s = OptionalString(field);
  if (!s) return std::unexpected(s.error());
  if (!*s) return Bad(field, "is missing");
  return std::move(**s);
}

Result<std::optional<std::int64_t>> ObjectReader::OptionalInt(
    std::string_view field) {
  auto e = Find(field);
  if (!*e || (*e)->is_null()) return std::optional<std::int64_t>();
  std::int64_t v;
  if ((*e)->get(v)) {
    return Bad(field,
               "expected a whole number, found " + std::string(TypeName(**e)));
  }
  return std::optional<std::int64_t>(v);
}

Result<std::int64_t> ObjectReader::Int(std::string_view field) {
  auto v = OptionalInt(field);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Bad(field, "is missing");
  return **v;
}

Result<std::optional<bool>> ObjectReader::OptionalBool(std::string_view field) {
  auto e = Find(field);
  if (!*e || (*e)->is_null()) return std::optional<bool>();
  bool v;
  if ((*e)->get(v)) {
    return Bad(field, "expected true or false, found " +
                          std::string(TypeName(**e)));
  }
  return std::optional<bool>(v);
}

Result<bool> ObjectReader::Bool(std::string_view field) {
  auto v = OptionalBool(field);
  if (!v) return std::unexpected(v.error());
  if (!*v) return Bad(field, "is missing");
  return **v;
}

Result<std::vector<std::string>> ObjectReader::StringArray(
    std::string_view field) {
  auto a = Array(field);
  if (!a) return std::unexpected(a.error());
  std::vector<std::string> out;
  std::size_t i = 0;
  for (element item : *a) {
    std::string_view s;
    if (item.get(s)) {
      return Bad(std::string(field) + "[" + std::to_string(i) + "]",
                 "expected a string, found " + std::string(TypeName(item)));
    }
    out.emplace_back(s);
    ++i;
  }
  return out;
}

Result<std::optional<object>> ObjectReader::OptionalObject(
    std::string_view field) {
  auto e = Find(field);
  if (!*e || (*e)->is_null()) return std::optional<object>();
  object o;
  if ((*e)->get(o)) {
    return Bad(field, "expected an object, found " + std::string(TypeName(**e)));
  }
  return std::optional<object>(o);
}

Result<object> ObjectReader::Object(std::string_view field) {
  auto o = OptionalObject(field);
  if (!o) return std::unexpected(o.error());
  if (!*o) return Bad(field, "is missing");
  return **o;
}

Result<array> ObjectReader::Array(std::string_view field) {
  auto e = Find(field);
  if (!*e) return Bad(field, "is missing");
  array a;
  if ((*e)->get(a)) {
    return Bad(field, "expected an array, found " + std::string(TypeName(**e)));
  }
  return a;
}

Status ObjectReader::RejectUnknownFields() const {
  for (auto [key, value] : object_) {
    if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
      return Fail(code_, Where(key) + ": unknown field (a typo?)");
    }
  }
  return {};
}

Result<OptionList> ReadOptions(array items, std::string_view what,
                               std::string_view path) {
  std::vector<Option> options;
  options.reserve(items.size());
  std::size_t i = 0;
  for (element item : items) {
    const std::string item_path =
        std::string(path) + "[" + std::to_string(i++) + "]";
    object o;
    if (item.get(o)) {
      return Fail(ErrorCode::kCorrupt, std::string(what) + ": " + item_path +
                                           ": expected an object, found " +
                                           std::string(TypeName(item)));
    }
    ObjectReader r(o, std::string(what), item_path, false);
    auto value = r.String("value");
    if (!value) return std::unexpected(value.error());
    auto label = r.String("label");
    if (!label) return std::unexpected(label.error());
    auto parent = r.OptionalString("parent");
    if (!parent) return std::unexpected(parent.error());
    auto is_default = r.OptionalBool("default");
    if (!is_default) return std::unexpected(is_default.error());
    DS_CHECK(r.RejectUnknownFields());
    options.push_back(Option{std::move(*value), std::move(*label),
                             std::move(*parent), is_default->value_or(false)});
  }
  auto list = OptionList::Make(std::move(options));
  if (!list) {
    // Options read here were stored or published: a bad list is corruption.
    return Fail(ErrorCode::kCorrupt, std::string(what) + ": " +
                                         std::string(path) + ": " +
                                         list.error().message);
  }
  return list;
}

}  // namespace datasnap::json
