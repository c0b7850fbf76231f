#include "tools/text_table.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace datasnap {
namespace {

TEST_CASE("TextTable aligns columns by code points") {
  TextTable t({"KEY", "LABEL", "X"});
  t.AddRow({"a", "Café", "1"});
  t.AddRow({"long_key", "b", ""});
  std::ostringstream out;
  t.Print(out);
  CHECK(out.str() ==
        "KEY       LABEL  X\n"
        "a         Café   1\n"
        "long_key  b\n");
}

TEST_CASE("FormatAge") {
  const UnixSeconds now = 1'000'000;
  struct Case {
    std::optional<UnixSeconds> then;
    const char* text;
  };
  for (const Case& c :
       {Case{std::nullopt, "never"}, Case{now, "just now"},
        Case{now - 59, "just now"}, Case{now - 60, "1 minute ago"},
        Case{now - 7200, "2 hours ago"}, Case{now - 47 * 3600, "47 hours ago"},
        Case{now - 3 * 86400, "3 days ago"}, Case{now + 22 * 3600, "in 22 hours"},
        Case{now + 1, "in 1 second"},
        Case{now + 7 * 86400 - 60, "in 7 days"},
        Case{now + 3600 + 1, "in 1 hour"},
        Case{now + 90 * 60, "in 2 hours"}}) {
    INFO(c.text);
    CHECK(FormatAge(c.then, now) == c.text);
  }
}

}  // namespace
}  // namespace datasnap
