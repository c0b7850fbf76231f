#include "tools/suggest.h"

#include <catch2/catch.hpp>

namespace datasnap {
namespace {

TEST_CASE("EditDistance") {
  struct Case {
    const char* a;
    const char* b;
    std::size_t distance;
  };
  for (const Case& c : {Case{"", "", 0}, Case{"abc", "", 3}, Case{"", "ab", 2},
                        Case{"status", "stauts", 2}, Case{"show", "shwo", 2},
                        Case{"kitten", "sitting", 3}, Case{"same", "same", 0}}) {
    INFO(c.a << " / " << c.b);
    CHECK(EditDistance(c.a, c.b) == c.distance);
    CHECK(EditDistance(c.b, c.a) == c.distance);
  }
}

TEST_CASE("ClosestMatch") {
  const std::vector<std::string> keys = {"smoking_status_code", "zygosity_status",
                                         "status", "show", "list"};
  struct Case {
    const char* typed;
    std::optional<std::string> expected;
  };
  for (const Case& c : {Case{"stauts", "status"}, Case{"shwo", "show"},
                        Case{"smoking_statu", "smoking_status_code"},
                        Case{"zygosity", "zygosity_status"},
                        Case{"lsit", "list"}, Case{"xxxxxxxxxxxx", std::nullopt},
                        Case{"", std::nullopt}}) {
    INFO(c.typed);
    CHECK(ClosestMatch(c.typed, keys) == c.expected);
  }
}

}  // namespace
}  // namespace datasnap
