#include "core/error.h"

#include <catch2/catch.hpp>

#include <string>

namespace datasnap {
namespace {

TEST_CASE("ErrorCodeName gives the stable name of every code") {
  const struct {
    ErrorCode code;
    std::string_view name;
  } kCases[] = {
      {ErrorCode::kInvalidArgument, "invalid_argument"},
      {ErrorCode::kNotFound, "not_found"},
      {ErrorCode::kAlreadyExists, "already_exists"},
      {ErrorCode::kCorrupt, "corrupt"},
      {ErrorCode::kIo, "io"},
      {ErrorCode::kBusy, "busy"},
      {ErrorCode::kMapFull, "map_full"},
      {ErrorCode::kUnsupported, "unsupported"},
  };
  for (const auto& c : kCases) {
    INFO(c.name);
    CHECK(ErrorCodeName(c.code) == c.name);
  }
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Fail(ErrorCode::kInvalidArgument, std::to_string(n) + " is odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  DS_TRY(half, Half(n));
  DS_TRY(quarter, Half(*half));
  return *quarter;
}

Status CheckQuarter(int n) {
  DS_CHECK(Quarter(n));
  return {};
}

TEST_CASE("DS_TRY and DS_CHECK pass values through and return errors early") {
  REQUIRE(Quarter(8).has_value());
  CHECK(*Quarter(8) == 2);

  auto odd = Quarter(6);  // 6 -> 3, then 3 is odd
  REQUIRE_FALSE(odd.has_value());
  CHECK(odd.error().code == ErrorCode::kInvalidArgument);
  CHECK(odd.error().message == "3 is odd");

  CHECK(CheckQuarter(4).has_value());
  auto bad = CheckQuarter(5);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "5 is odd");
}

TEST_CASE("Wrap prepends context and keeps the code") {
  const Error e{ErrorCode::kCorrupt, "bad frame"};
  auto wrapped = Wrap(e, "reading raw/abc");
  CHECK(wrapped.error().code == ErrorCode::kCorrupt);
  CHECK(wrapped.error().message == "reading raw/abc: bad frame");
}

}  // namespace
}  // namespace datasnap
