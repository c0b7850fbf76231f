#include "core/model.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace datasnap {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("ValidateKey accepts keys of the documented form") {
  const std::string kValid[] = {
      "a",
      "0",
      "blood_group_baby",
      "out-patient_attendance_outcome",
      "0abc",
      "a-_-9",
      "z9",
      std::string(kMaxKeyBytes, 'k'),  // exactly 100 bytes
  };
  for (const std::string& key : kValid) {
    INFO("key: " << key);
    const Status s = ValidateKey(key);
    CHECK(s.has_value());
  }
}

TEST_CASE("ValidateKey rejects bad keys and quotes them") {
  const std::string kLong(kMaxKeyBytes + 1, 'k');  // 101 bytes
  const struct {
    std::string key;
    const char* rule;  // a word of the message saying which rule broke
  } kCases[] = {
      {"_a", "start"},
      {"-a", "start"},
      {"A", "start"},
      {"aB", "'B'"},
      {"a b", "' '"},
      {"a.b", "'.'"},
      {"a/b", "'/'"},
      {"ab\n", "byte 3"},
      {kLong, "101 bytes"},
      {"\xc3\xa9", "start"},          // é
      {"caf\xc3\xa9", "byte 4"},      // é after ASCII
  };
  for (const auto& c : kCases) {
    INFO("key: " << c.key);
    const Status s = ValidateKey(c.key);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(s.error().message, Contains("'" + c.key + "'"));
    CHECK_THAT(s.error().message, Contains(c.rule));
  }
}

TEST_CASE("ValidateKey rejects the empty key") {
  const Status s = ValidateKey("");
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(s.error().message, Contains("empty"));
}

TEST_CASE("OptionList::Make keeps the given order") {
  std::vector<Option> in = {
      {"Z", "Last letter", std::nullopt},
      {"01", "One", std::nullopt},
      {"A", "First letter", std::nullopt},
      {"A1", "Child of A", std::string("A")},
      {"00", "Zero", std::string("01")},
  };
  auto list = OptionList::Make(in);
  REQUIRE(list.has_value());
  CHECK(list->size() == 5);
  CHECK_FALSE(list->empty());
  CHECK(list->options() == in);
  CHECK(list->options()[0].value == "Z");
  CHECK(list->options()[3].parent == std::optional<std::string>("A"));
  CHECK(list->options()[4].parent == std::optional<std::string>("01"));
}

TEST_CASE("OptionList::Make accepts an empty list and non-ASCII text") {
  auto empty = OptionList::Make({});
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
  CHECK(*empty == OptionList());

  auto welsh = OptionList::Make(
      {{"7A1", "Ysbyty Gwynedd \xe2\x80\x93 Bangor", std::nullopt},
       {"caf\xc3\xa9", "Caf\xc3\xa9", std::nullopt}});
  REQUIRE(welsh.has_value());
  CHECK(welsh->size() == 2);
}

TEST_CASE("OptionList::Make rejects bad lists with useful messages") {
  const struct {
    const char* what;
    std::vector<Option> options;
    std::vector<std::string> message_parts;
  } kCases[] = {
      {"empty value",
       {{"01", "One", std::nullopt}, {"", "Nothing", std::nullopt}},
       {"option 2", "empty value"}},
      {"empty label",
       {{"01", "", std::nullopt}},
       {"option 1", "\"01\"", "empty label"}},
      {"duplicate values",
       {{"01", "One", std::nullopt},
        {"02", "Two", std::nullopt},
        {"03", "Three", std::nullopt},
        {"02", "Two again", std::nullopt}},
       {"duplicate value \"02\"", "options 2 and 4"}},
      {"invalid UTF-8 in the value",
       {{"ok", "Fine", std::nullopt}, {"a\xc0\x80", "Overlong", std::nullopt}},
       {"option 2", "UTF-8", "byte 2", "value"}},
      {"invalid UTF-8 in the label",
       {{"01", "Caf\xc3", std::nullopt}},
       {"option 1", "UTF-8", "byte 4", "label"}},
      {"a surrogate in the label",
       {{"01", "\xed\xa0\x80", std::nullopt}},
       {"option 1", "UTF-8", "label"}},
      {"parent names a missing value",
       {{"A", "Board", std::nullopt}, {"A1", "Ward", std::string("B")}},
       {"option 2", "\"A1\"", "parent \"B\"", "not a value"}},
      {"parent names the option itself",
       {{"A", "Board", std::nullopt}, {"A1", "Ward", std::string("A1")}},
       {"option 2", "\"A1\"", "itself"}},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto list = OptionList::Make(c.options);
    REQUIRE_FALSE(list.has_value());
    CHECK(list.error().code == ErrorCode::kInvalidArgument);
    for (const std::string& part : c.message_parts) {
      CHECK_THAT(list.error().message, Contains(part));
    }
  }
}

TEST_CASE("OptionList::Make accepts a parent that comes later in the list") {
  auto list = OptionList::Make(
      {{"A1", "Ward", std::string("A")}, {"A", "Board", std::nullopt}});
  REQUIRE(list.has_value());
  CHECK(list->options()[0].parent == std::optional<std::string>("A"));
}

TEST_CASE("Category names round-trip") {
  const struct {
    Category category;
    const char* name;
  } kCases[] = {
      {Category::kNhsDd, "nhs_dd"},
      {Category::kRcpch, "rcpch"},
      {Category::kExternalApi, "external_api"},
      {Category::kUserCreated, "user_created"},
  };
  for (const auto& c : kCases) {
    INFO(c.name);
    CHECK(CategoryName(c.category) == c.name);
    CHECK(ParseCategory(c.name) == c.category);
  }
  for (Category c : kAllCategories) {
    CHECK(ParseCategory(CategoryName(c)) == c);
  }
  for (const char* bad : {"", "NHS_DD", "nhs-dd", "nhs_dd ", "scrape", "other"}) {
    INFO("name: '" << bad << "'");
    CHECK(ParseCategory(bad) == std::nullopt);
  }
}

TEST_CASE("SourceType names round-trip") {
  const struct {
    SourceType type;
    const char* name;
  } kCases[] = {
      {SourceType::kScrape, "scrape"},
      {SourceType::kApi, "api"},
      {SourceType::kManual, "manual"},
      {SourceType::kImported, "imported"},
  };
  for (const auto& c : kCases) {
    INFO(c.name);
    CHECK(SourceTypeName(c.type) == c.name);
    CHECK(ParseSourceType(c.name) == c.type);
  }
  for (const char* bad : {"", "API", "scraped", "import", "rcpch"}) {
    INFO("name: '" << bad << "'");
    CHECK(ParseSourceType(bad) == std::nullopt);
  }
}

TEST_CASE("IsDue follows the last sync and the frequency") {
  constexpr UnixSeconds kSynced = 1'795'465'134;
  constexpr UnixSeconds kHour = 3600;
  const struct {
    const char* what;
    std::optional<UnixSeconds> last_synced_at;
    std::int32_t frequency_hours;
    UnixSeconds now;
    bool due;
  } kCases[] = {
      {"never synced", std::nullopt, 24, kSynced, true},
      {"never synced, frequency 0", std::nullopt, 0, kSynced, true},
      {"just synced", kSynced, 24, kSynced, false},
      {"one second before the frequency", kSynced, 24,
       kSynced + 24 * kHour - 1, false},
      {"exactly at the frequency", kSynced, 24, kSynced + 24 * kHour, true},
      {"well after the frequency", kSynced, 24, kSynced + 100 * kHour, true},
      {"weekly, after six days", kSynced, 168, kSynced + 144 * kHour, false},
      {"weekly, after eight days", kSynced, 168, kSynced + 192 * kHour, true},
      {"frequency 0 once synced", kSynced, 0, kSynced + 10'000 * kHour, false},
      {"negative frequency once synced", kSynced, -1, kSynced + 10'000 * kHour,
       false},
      {"clock moved backwards", kSynced, 24, kSynced - kHour, false},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    DatasetRecord r;
    r.dataset.key = "blood_group_baby";
    r.dataset.sync_frequency_hours = c.frequency_hours;
    r.sync.last_synced_at = c.last_synced_at;
    CHECK(IsDue(r, c.now) == c.due);
  }
}

TEST_CASE("IsDue looks at the last successful sync, not the last check") {
  DatasetRecord r;
  r.dataset.sync_frequency_hours = 24;
  r.sync.last_synced_at = 1000;
  r.sync.last_checked_at = 1000 + 48 * 3600;  // a recent failed attempt
  CHECK(IsDue(r, 1000 + 48 * 3600));
}

}  // namespace
}  // namespace datasnap
