#include "core/canonical_json.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/sha256.h"

namespace datasnap {
namespace {

OptionList List(std::vector<Option> options) {
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

TEST_CASE("CanonicalOptionsJson writes the exact canonical bytes") {
  const struct {
    const char* what;
    std::vector<Option> options;
    std::string expected;
  } kCases[] = {
      {"empty list", {}, "[]"},
      {"one option", {{"01", "Yes", std::nullopt}},
       R"([{"value":"01","label":"Yes"}])"},
      {"without parent",
       {{"01", "Yes", std::nullopt}, {"02", "No", std::nullopt}},
       R"([{"value":"01","label":"Yes"},{"value":"02","label":"No"}])"},
      {"with parent (the header's example)",
       {{"01", "Yes", std::nullopt}, {"A1", "Ward", std::string("01")}},
       R"([{"value":"01","label":"Yes"},{"value":"A1","label":"Ward","parent":"01"}])"},
      {"a default code (NHS DD \"Default Codes\") says so last",
       {{"1", "Current smoker", std::nullopt},
        {"9", "Not known", std::nullopt, true}},
       R"([{"value":"1","label":"Current smoker"},{"value":"9","label":"Not known","default":true}])"},
      {"quote and backslash",
       {{"q\"1", "say \"hi\" \\ bye", std::nullopt}},
       R"([{"value":"q\"1","label":"say \"hi\" \\ bye"}])"},
      {"newline, tab and other control characters",
       {{"c", "a\nb\tc\rd\be\ff\x01g\x1fh", std::nullopt}},
       R"([{"value":"c","label":"a\nb\tc\rd\be\ff\u0001g\u001fh"}])"},
      {"DEL is written as is (as Python does)",
       {{"d", "x\x7fy", std::nullopt}},
       "[{\"value\":\"d\",\"label\":\"x\x7fy\"}]"},
      {"non-ASCII is written raw",
       {{"7A1", "Ysbyty Gwynedd \xe2\x80\x93 Bangor", std::nullopt},
        {"c", "Caf\xc3\xa9", std::string("7A1")}},
       "[{\"value\":\"7A1\",\"label\":\"Ysbyty Gwynedd \xe2\x80\x93 "
       "Bangor\"},{\"value\":\"c\",\"label\":\"Caf\xc3\xa9\",\"parent\":"
       "\"7A1\"}]"},
      {"slash is not escaped",
       {{"a/b", "</script>", std::nullopt}},
       R"([{"value":"a/b","label":"</script>"}])"},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    CHECK(CanonicalOptionsJson(List(c.options)) == c.expected);
  }
}

TEST_CASE("OptionsSha256 hashes the canonical JSON") {
  const OptionList list = List({{"01", "Yes", std::nullopt},
                                {"A1", "Ward", std::string("01")}});
  // Computed independently with Python:
  //   json.dumps(options, ensure_ascii=False, separators=(",", ":"))
  CHECK(OptionsSha256(list) ==
        "122affa9331fd0296539e42da24c2b8635d10efaccb9b197c9d5c77c04994c9b");
  CHECK(OptionsSha256(list) == Sha256Hex(CanonicalOptionsJson(list)));

  const OptionList empty = List({});
  CHECK(OptionsSha256(empty) == Sha256Hex("[]"));
}

TEST_CASE("OptionsSha256 depends on order, labels and parents") {
  const OptionList a = List({{"01", "Yes", std::nullopt},
                             {"02", "No", std::nullopt}});
  const OptionList reordered = List({{"02", "No", std::nullopt},
                                     {"01", "Yes", std::nullopt}});
  const OptionList relabelled = List({{"01", "Yes", std::nullopt},
                                      {"02", "No ", std::nullopt}});
  const OptionList parented = List({{"01", "Yes", std::nullopt},
                                    {"02", "No", std::string("01")}});
  const OptionList same = List({{"01", "Yes", std::nullopt},
                                {"02", "No", std::nullopt}});
  CHECK(OptionsSha256(a) == OptionsSha256(same));
  CHECK(OptionsSha256(a) != OptionsSha256(reordered));
  CHECK(OptionsSha256(a) != OptionsSha256(relabelled));
  CHECK(OptionsSha256(a) != OptionsSha256(parented));
  CHECK(OptionsSha256(reordered) ==
        Sha256Hex(R"([{"value":"02","label":"No"},{"value":"01","label":"Yes"}])"));
}

}  // namespace
}  // namespace datasnap
