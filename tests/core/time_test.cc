#include "core/time.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace datasnap {
namespace {

TEST_CASE("FormatIso8601 and ParseIso8601 agree on known values") {
  const struct {
    UnixSeconds t;
    const char* text;
  } kCases[] = {
      {0, "1970-01-01T00:00:00Z"},
      {59, "1970-01-01T00:00:59Z"},
      {86399, "1970-01-01T23:59:59Z"},
      {951782400, "2000-02-29T00:00:00Z"},   // leap day of a 400-year
      {1709164800, "2024-02-29T00:00:00Z"},  // leap day
      {1795465134, "2026-11-23T20:18:54Z"},
      {1798761599, "2026-12-31T23:59:59Z"},
      {2147483647, "2038-01-19T03:14:07Z"},  // past 32-bit time_t
      {2147483648, "2038-01-19T03:14:08Z"},
      {253402300799, "9999-12-31T23:59:59Z"},
  };
  for (const auto& c : kCases) {
    INFO(c.text);
    CHECK(FormatIso8601(c.t) == c.text);
    const auto parsed = ParseIso8601(c.text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == c.t);
  }
}

TEST_CASE("ParseIso8601 inverts FormatIso8601 across a range of times") {
  // Steps of a prime number of seconds hit every field value over time.
  for (UnixSeconds t = 0; t < 4'200'000'000; t += 7'777'777) {
    const std::string text = FormatIso8601(t);
    INFO(text);
    REQUIRE(text.size() == 20);
    const auto back = ParseIso8601(text);
    REQUIRE(back.has_value());
    CHECK(*back == t);
  }
}

TEST_CASE("ParseIso8601 rejects anything but the exact form") {
  const char* kBad[] = {
      "",
      "2026-02-31T00:00:00Z",   // no 31 February
      "2026-02-29T00:00:00Z",   // 2026 is not a leap year
      "1900-02-29T00:00:00Z",   // before the epoch (and not a leap year)
      "2026-04-31T12:00:00Z",   // April has 30 days
      "2026-13-01T00:00:00Z",   // month 13
      "2026-00-10T00:00:00Z",   // month 0
      "2026-01-00T00:00:00Z",   // day 0
      "2026-01-32T00:00:00Z",   // day 32
      "2026-01-01T24:00:00Z",   // hour 24
      "2026-01-01T00:60:00Z",   // minute 60
      "2026-01-01T00:00:61Z",   // second 61
      "2026-01-01T12:00:60Z",   // a leap second FormatIso8601 never writes
      "2026-11-23T19:58:00",    // missing Z
      "2026-11-23T19:58:00z",   // lower-case z
      "2026-11-23T19:58:00+00:00",
      "2026-11-23 19:58:00Z",   // space instead of T
      "2026-11-23t19:58:00Z",
      "2026/11/23T19:58:00Z",
      "2026-11-23T19:58Z",      // wrong length
      "2026-11-23T19:58:00.5Z",
      "02026-11-23T19:58:00Z",
      " 2026-11-23T19:58:00Z",
      "2026-11-23T19:58:00Z ",
      "2026-1a-23T19:58:00Z",   // letters
      "abcd-11-23T19:58:00Z",
      "2026-11-23T1x:58:00Z",
      "2026-11-23T19:58:0xZ",
      "+026-11-23T19:58:00Z",
      "-026-11-23T19:58:00Z",
      "2026-11-23T19:58:-1Z",
  };
  for (const char* text : kBad) {
    INFO("text: '" << text << "'");
    CHECK(ParseIso8601(text) == std::nullopt);
  }
}

TEST_CASE("ParseIso8601 accepts only what FormatIso8601 gives back") {
  // Whatever is accepted must format back to the same text.
  const char* kGood[] = {"2024-02-29T23:59:59Z", "2026-12-31T23:59:59Z",
                         "2026-06-30T12:34:56Z", "1970-01-01T00:00:01Z"};
  for (const char* text : kGood) {
    INFO(text);
    const auto t = ParseIso8601(text);
    REQUIRE(t.has_value());
    CHECK(FormatIso8601(*t) == text);
  }
}

TEST_CASE("NowUnixSeconds is a plausible current time") {
  const UnixSeconds now = NowUnixSeconds();
  CHECK(now > 1'700'000'000);  // after November 2023
  CHECK(now < 4'102'444'800);  // before 2100
}

}  // namespace
}  // namespace datasnap
