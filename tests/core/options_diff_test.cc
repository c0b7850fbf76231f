#include "core/options_diff.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace datasnap {
namespace {

OptionList List(std::vector<Option> options) {
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

std::vector<std::string> Values(const std::vector<Option>& options) {
  std::vector<std::string> out;
  for (const Option& o : options) out.push_back(o.value);
  return out;
}

TEST_CASE("DiffOptions finds added, removed, changed and reordered options") {
  const OptionList before = List({{"1", "One", std::nullopt},
                                  {"2", "Two", std::nullopt},
                                  {"3", "Three", std::nullopt},
                                  {"9", "Not known", std::nullopt, true}});

  SECTION("equal lists") {
    OptionsDiff d = DiffOptions(before, before);
    CHECK(d.empty());
  }
  SECTION("one added, one removed, one relabelled") {
    const OptionList after = List({{"1", "One", std::nullopt},
                                   {"3", "Three (new wording)", std::nullopt},
                                   {"4", "Four", std::nullopt},
                                   {"9", "Not known", std::nullopt, true}});
    OptionsDiff d = DiffOptions(before, after);
    CHECK(Values(d.added) == std::vector<std::string>{"4"});
    CHECK(Values(d.removed) == std::vector<std::string>{"2"});
    REQUIRE(d.changed.size() == 1);
    CHECK(d.changed[0].before.label == "Three");
    CHECK(d.changed[0].after.label == "Three (new wording)");
    CHECK_FALSE(d.reordered);
    CHECK_FALSE(d.empty());
  }
  SECTION("a new parent or default flag is a change") {
    const OptionList after = List({{"1", "One", std::nullopt},
                                   {"2", "Two", std::string("1")},
                                   {"3", "Three", std::nullopt},
                                   {"9", "Not known", std::nullopt, false}});
    OptionsDiff d = DiffOptions(before, after);
    CHECK(d.changed.size() == 2);
    CHECK(d.added.empty());
    CHECK(d.removed.empty());
  }
  SECTION("the same options in another order") {
    const OptionList after = List({{"2", "Two", std::nullopt},
                                   {"1", "One", std::nullopt},
                                   {"3", "Three", std::nullopt},
                                   {"9", "Not known", std::nullopt, true}});
    OptionsDiff d = DiffOptions(before, after);
    CHECK(d.reordered);
    CHECK(d.added.empty());
    CHECK(d.removed.empty());
    CHECK(d.changed.empty());
    CHECK_FALSE(d.empty());
  }
  SECTION("removing an option is not a reordering") {
    const OptionList after = List({{"1", "One", std::nullopt},
                                   {"3", "Three", std::nullopt},
                                   {"9", "Not known", std::nullopt, true}});
    OptionsDiff d = DiffOptions(before, after);
    CHECK_FALSE(d.reordered);
    CHECK(Values(d.removed) == std::vector<std::string>{"2"});
  }
  SECTION("from and to an empty list") {
    CHECK(DiffOptions(OptionList(), before).added.size() == 4);
    CHECK(DiffOptions(before, OptionList()).removed.size() == 4);
  }
}

}  // namespace
}  // namespace datasnap
