// Reading JSON documents into owned values, with errors that name the
// document and the path of the offending field:
//   "seeds/rcpch.json: datasets[2].endpoint: expected a string, found number"
//
//   simdjson::dom::parser parser;
//   auto root = json::Parse(parser, bytes, "seeds/rcpch.json");
//   json::ObjectReader r(*root_object, "seeds/rcpch.json", "datasets[0]");
//   auto key = r.String("key");
//   ... then r.RejectUnknownFields() catches typos in field names.
//
// Values read are copied out; simdjson views never escape this module's
// callers' scope (the parser owns them).
#ifndef DATASNAP_CORE_JSON_READ_H_
#define DATASNAP_CORE_JSON_READ_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace datasnap::json {

// Parses `bytes`; on failure a kCorrupt error "`what`: not valid JSON (...)".
Result<simdjson::dom::element> Parse(simdjson::dom::parser& parser,
                                     std::string_view bytes,
                                     std::string_view what);

// The JSON type of `e` for messages: "an object", "an array", "a string",
// "null", ...
std::string_view TypeName(const simdjson::dom::element& e);

// Typed access to the fields of one object. Missing required fields, wrong
// types and (after RejectUnknownFields) unexpected fields are kCorrupt errors
// (kInvalidArgument when `input_is_user_data`) naming `what` and `path`.
class ObjectReader {
 public:
  ObjectReader(simdjson::dom::object object, std::string what,
               std::string path, bool input_is_user_data = true);

  Result<std::string> String(std::string_view field);
  // Absent or null gives nullopt.
  Result<std::optional<std::string>> OptionalString(std::string_view field);
  Result<std::int64_t> Int(std::string_view field);
  Result<std::optional<std::int64_t>> OptionalInt(std::string_view field);
  Result<bool> Bool(std::string_view field);
  Result<std::optional<bool>> OptionalBool(std::string_view field);
  // A required array of strings.
  Result<std::vector<std::string>> StringArray(std::string_view field);
  Result<simdjson::dom::object> Object(std::string_view field);
  Result<std::optional<simdjson::dom::object>> OptionalObject(
      std::string_view field);
  Result<simdjson::dom::array> Array(std::string_view field);

  // Fails naming the first field that no accessor above asked for.
  Status RejectUnknownFields() const;

  // "what: path.field" for messages about a field's value.
  std::string Where(std::string_view field) const;
  const std::string& what() const { return what_; }
  const std::string& path() const { return path_; }

 private:
  Result<std::optional<simdjson::dom::element>> Find(std::string_view field);
  std::unexpected<Error> Bad(std::string_view field, std::string message) const;

  simdjson::dom::object object_;
  std::string what_;
  std::string path_;
  ErrorCode code_;
  // The fields asked for, in the order asked (repeats and all). A vector,
  // not a set: a record has a few dozen fields at most, and the store
  // decodes records by the ten thousand (a set node per field was a fifth
  // of the cost).
  std::vector<std::string> seen_;
};

// Reads a canonical options array ([{"value","label"[,"parent"]}, ...]) into
// a validated OptionList. Every failure is kCorrupt: these arrays come from
// the store or from published files, never from users.
Result<OptionList> ReadOptions(simdjson::dom::array array, std::string_view what,
                               std::string_view path);

}  // namespace datasnap::json

#endif  // DATASNAP_CORE_JSON_READ_H_
