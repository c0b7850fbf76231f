#include "core/json_read.h"

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

namespace datasnap::json {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr const char* kDoc = R"json({
  "name": "Blood Group (Baby)",
  "nothing": null,
  "count": 48,
  "negative": -3,
  "big": 9007199254740993,
  "ratio": 1.5,
  "flag": true,
  "off": false,
  "tags": ["NHS", "neonatal"],
  "empty_tags": [],
  "mixed": ["a", 2],
  "mapping": {"code": "ods_code"},
  "list": [1, 2]
})json";

// Owns the parser, so the object it reads stays valid for the test.
struct Doc {
  simdjson::dom::parser parser;
  simdjson::dom::object object;

  explicit Doc(std::string_view text) {
    auto root = Parse(parser, text, "doc.json");
    REQUIRE(root.has_value());
    REQUIRE(root->get(object) == simdjson::SUCCESS);
  }
  ObjectReader Reader(bool user_data = true) {
    return ObjectReader(object, "doc.json", "datasets[0]", user_data);
  }
};

TEST_CASE("Parse reports invalid JSON naming the document") {
  simdjson::dom::parser parser;
  for (std::string_view text : {"", "{", "[1,]", "{\"a\" 1}", "nul", "\"\xff\""}) {
    INFO("text: " << std::string(text));
    auto root = Parse(parser, text, "seeds/x.json");
    REQUIRE_FALSE(root.has_value());
    CHECK(root.error().code == ErrorCode::kCorrupt);
    CHECK_THAT(root.error().message, StartsWith("seeds/x.json: not valid JSON"));
  }
  auto ok = Parse(parser, "[1, 2]", "seeds/x.json");
  REQUIRE(ok.has_value());
  CHECK(TypeName(*ok) == "an array");
}

TEST_CASE("TypeName names every JSON type") {
  simdjson::dom::parser parser;
  const struct {
    const char* json;
    const char* name;
  } kCases[] = {
      {"{}", "an object"}, {"[]", "an array"},      {"\"s\"", "a string"},
      {"1", "a number"},   {"-1", "a number"},      {"1.5", "a number"},
      {"18446744073709551615", "a number"},         {"true", "a boolean"},
      {"false", "a boolean"}, {"null", "null"},
  };
  for (const auto& c : kCases) {
    INFO(c.json);
    auto e = Parse(parser, c.json, "t");
    REQUIRE(e.has_value());
    CHECK(TypeName(*e) == c.name);
  }
}

TEST_CASE("ObjectReader reads present fields of the right type") {
  Doc doc(kDoc);
  ObjectReader r = doc.Reader();

  auto name = r.String("name");
  REQUIRE(name.has_value());
  CHECK(*name == "Blood Group (Baby)");

  auto opt_name = r.OptionalString("name");
  REQUIRE(opt_name.has_value());
  CHECK(*opt_name == std::optional<std::string>("Blood Group (Baby)"));

  auto count = r.Int("count");
  REQUIRE(count.has_value());
  CHECK(*count == 48);
  auto negative = r.OptionalInt("negative");
  REQUIRE(negative.has_value());
  CHECK(*negative == std::optional<std::int64_t>(-3));

  auto flag = r.Bool("flag");
  REQUIRE(flag.has_value());
  CHECK(*flag == true);
  auto off = r.OptionalBool("off");
  REQUIRE(off.has_value());
  CHECK(*off == std::optional<bool>(false));

  auto tags = r.StringArray("tags");
  REQUIRE(tags.has_value());
  CHECK(*tags == std::vector<std::string>{"NHS", "neonatal"});
  auto empty_tags = r.StringArray("empty_tags");
  REQUIRE(empty_tags.has_value());
  CHECK(empty_tags->empty());

  auto mapping = r.Object("mapping");
  REQUIRE(mapping.has_value());
  ObjectReader m(*mapping, "doc.json", "datasets[0].mapping");
  auto code = m.String("code");
  REQUIRE(code.has_value());
  CHECK(*code == "ods_code");
  CHECK(m.RejectUnknownFields().has_value());

  auto opt_mapping = r.OptionalObject("mapping");
  REQUIRE(opt_mapping.has_value());
  CHECK(opt_mapping->has_value());

  auto list = r.Array("list");
  REQUIRE(list.has_value());
  CHECK(list->size() == 2);
}

TEST_CASE("ObjectReader gives nullopt for absent or null optional fields") {
  Doc doc(kDoc);
  ObjectReader r = doc.Reader();
  for (const char* field : {"absent", "nothing"}) {
    INFO(field);
    auto s = r.OptionalString(field);
    REQUIRE(s.has_value());
    CHECK_FALSE(s->has_value());
    auto i = r.OptionalInt(field);
    REQUIRE(i.has_value());
    CHECK_FALSE(i->has_value());
    auto b = r.OptionalBool(field);
    REQUIRE(b.has_value());
    CHECK_FALSE(b->has_value());
    auto o = r.OptionalObject(field);
    REQUIRE(o.has_value());
    CHECK_FALSE(o->has_value());
  }
}

TEST_CASE("ObjectReader errors name the document, path, field and found type") {
  using Read = std::function<std::optional<Error>(ObjectReader&)>;
  auto err = [](auto result) -> std::optional<Error> {
    if (result.has_value()) return std::nullopt;
    return result.error();
  };
  const struct {
    const char* what;
    Read read;
    std::string where;  // "what: path.field"
    std::string detail;
  } kCases[] = {
      {"missing string", [&](ObjectReader& r) { return err(r.String("absent")); },
       "doc.json: datasets[0].absent", "is missing"},
      {"null string", [&](ObjectReader& r) { return err(r.String("nothing")); },
       "doc.json: datasets[0].nothing", "is missing"},
      {"string is a number", [&](ObjectReader& r) { return err(r.String("count")); },
       "doc.json: datasets[0].count", "expected a string, found a number"},
      {"optional string is a boolean",
       [&](ObjectReader& r) { return err(r.OptionalString("flag")); },
       "doc.json: datasets[0].flag", "expected a string, found a boolean"},
      {"string is an array", [&](ObjectReader& r) { return err(r.String("tags")); },
       "doc.json: datasets[0].tags", "expected a string, found an array"},
      {"int is a string", [&](ObjectReader& r) { return err(r.Int("name")); },
       "doc.json: datasets[0].name", "expected a whole number, found a string"},
      {"int is a fraction", [&](ObjectReader& r) { return err(r.Int("ratio")); },
       "doc.json: datasets[0].ratio", "expected a whole number, found a number"},
      {"missing int", [&](ObjectReader& r) { return err(r.Int("absent")); },
       "doc.json: datasets[0].absent", "is missing"},
      {"optional int is an object",
       [&](ObjectReader& r) { return err(r.OptionalInt("mapping")); },
       "doc.json: datasets[0].mapping",
       "expected a whole number, found an object"},
      {"bool is a number", [&](ObjectReader& r) { return err(r.Bool("count")); },
       "doc.json: datasets[0].count", "expected true or false, found a number"},
      {"missing bool", [&](ObjectReader& r) { return err(r.Bool("absent")); },
       "doc.json: datasets[0].absent", "is missing"},
      {"optional bool is a string",
       [&](ObjectReader& r) { return err(r.OptionalBool("name")); },
       "doc.json: datasets[0].name", "expected true or false, found a string"},
      {"string array is a string",
       [&](ObjectReader& r) { return err(r.StringArray("name")); },
       "doc.json: datasets[0].name", "expected an array, found a string"},
      {"string array with a number",
       [&](ObjectReader& r) { return err(r.StringArray("mixed")); },
       "doc.json: datasets[0].mixed[1]", "expected a string, found a number"},
      {"missing string array",
       [&](ObjectReader& r) { return err(r.StringArray("absent")); },
       "doc.json: datasets[0].absent", "is missing"},
      {"null array", [&](ObjectReader& r) { return err(r.Array("nothing")); },
       "doc.json: datasets[0].nothing", "expected an array, found null"},
      {"object is an array", [&](ObjectReader& r) { return err(r.Object("list")); },
       "doc.json: datasets[0].list", "expected an object, found an array"},
      {"missing object", [&](ObjectReader& r) { return err(r.Object("absent")); },
       "doc.json: datasets[0].absent", "is missing"},
      {"optional object is a string",
       [&](ObjectReader& r) { return err(r.OptionalObject("name")); },
       "doc.json: datasets[0].name", "expected an object, found a string"},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    Doc doc(kDoc);
    ObjectReader r = doc.Reader();
    const std::optional<Error> e = c.read(r);
    REQUIRE(e.has_value());
    CHECK(e->code == ErrorCode::kInvalidArgument);
    CHECK(e->message == c.where + ": " + c.detail);
  }
}

TEST_CASE("ObjectReader uses kCorrupt for data that is not the user's") {
  Doc doc(kDoc);
  ObjectReader r = doc.Reader(/*user_data=*/false);
  auto s = r.String("count");
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == ErrorCode::kCorrupt);
  CHECK(s.error().message ==
        "doc.json: datasets[0].count: expected a string, found a number");
}

TEST_CASE("ObjectReader::Where without a path") {
  Doc doc(kDoc);
  ObjectReader r(doc.object, "seeds/nhs_dd.json", "");
  CHECK(r.Where("format") == "seeds/nhs_dd.json: format");
  CHECK(doc.Reader().Where("key") == "doc.json: datasets[0].key");
  auto missing = r.Int("format");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "seeds/nhs_dd.json: format: is missing");
}

TEST_CASE("RejectUnknownFields names the first field nobody read") {
  Doc doc(R"({"key": "a", "name": "A", "refrence_url": "https://x"})");
  ObjectReader r = doc.Reader();
  REQUIRE(r.String("key").has_value());
  REQUIRE(r.String("name").has_value());
  // Asking for a field that is absent does not make the typo acceptable.
  REQUIRE(r.OptionalString("reference_url").has_value());
  auto s = r.RejectUnknownFields();
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == ErrorCode::kInvalidArgument);
  CHECK(s.error().message ==
        "doc.json: datasets[0].refrence_url: unknown field (a typo?)");

  // Once every field has been asked for, nothing is unknown; a failed read
  // still counts as asked.
  Doc doc2(R"({"key": "a", "count": "x"})");
  ObjectReader r2 = doc2.Reader();
  REQUIRE(r2.String("key").has_value());
  CHECK_FALSE(r2.Int("count").has_value());
  CHECK(r2.RejectUnknownFields().has_value());
}

struct OptionsDoc {
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  explicit OptionsDoc(std::string_view text) {
    auto root = Parse(parser, text, "versions/x");
    REQUIRE(root.has_value());
    REQUIRE(root->get(array) == simdjson::SUCCESS);
  }
};

TEST_CASE("ReadOptions reads a canonical options array") {
  OptionsDoc doc(
      R"([{"value":"A","label":"Board"},{"value":"A1","label":"Ward","parent":"A"},)"
      R"({"value":"B","label":"Caf\u00e9","parent":null}])");
  auto list = ReadOptions(doc.array, "versions/x", "options");
  REQUIRE(list.has_value());
  const std::vector<Option> expected = {
      {"A", "Board", std::nullopt},
      {"A1", "Ward", std::string("A")},
      {"B", "Caf\xc3\xa9", std::nullopt},
  };
  CHECK(list->options() == expected);

  OptionsDoc empty("[]");
  auto none = ReadOptions(empty.array, "versions/x", "options");
  REQUIRE(none.has_value());
  CHECK(none->empty());
}

TEST_CASE("ReadOptions rejects bad items naming where they are") {
  const struct {
    const char* what;
    const char* json;
    std::vector<std::string> parts;
  } kCases[] = {
      {"item not an object", R"([{"value":"A","label":"a"}, "B"])",
       {"versions/x: options[1]", "expected an object, found a string"}},
      {"missing label", R"([{"value":"A"}])",
       {"versions/x: options[0].label", "is missing"}},
      {"missing value", R"([{"label":"A"}])",
       {"versions/x: options[0].value", "is missing"}},
      {"value a number", R"([{"value":1,"label":"A"}])",
       {"versions/x: options[0].value", "found a number"}},
      {"parent a number", R"([{"value":"A","label":"A","parent":2}])",
       {"versions/x: options[0].parent", "found a number"}},
      {"unknown field", R"([{"value":"A","label":"A","lable":"x"}])",
       {"versions/x: options[0].lable", "unknown field"}},
      {"duplicate values",
       R"([{"value":"A","label":"a"},{"value":"B","label":"b"},{"value":"A","label":"c"}])",
       {"versions/x: options", "duplicate value \"A\"", "options 1 and 3"}},
      {"parent missing from the list",
       R"([{"value":"A","label":"a","parent":"Z"}])",
       {"versions/x: options", "parent \"Z\""}},
      {"empty label", R"([{"value":"A","label":""}])",
       {"versions/x: options", "empty label"}},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    OptionsDoc doc(c.json);
    auto list = ReadOptions(doc.array, "versions/x", "options");
    REQUIRE_FALSE(list.has_value());
    for (const std::string& part : c.parts) {
      CHECK_THAT(list.error().message, Contains(part));
    }
  }
}

}  // namespace
}  // namespace datasnap::json
