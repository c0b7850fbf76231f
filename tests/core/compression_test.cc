#include "core/compression.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

namespace datasnap {
namespace {

using Catch::Matchers::Contains;

// About 1 MB of JSON-like text with some variety, so it compresses but not
// to nothing.
std::string LargeInput() {
  std::string s;
  std::uint32_t x = 12345;
  for (int i = 0; s.size() < 1'000'000; ++i) {
    x = x * 1664525u + 1013904223u;  // a fixed LCG: the same bytes every run
    s += "{\"value\":\"" + std::to_string(x % 100000) + "\",\"label\":\"Option " +
         std::to_string(i) + "\"},";
  }
  return s;
}

TEST_CASE("ZstdCompress and ZstdDecompress round-trip") {
  const struct {
    const char* what;
    std::string data;
  } kCases[] = {
      {"empty", ""},
      {"one byte", "x"},
      {"small", R"([{"value":"01","label":"Yes"},{"value":"02","label":"No"}])"},
      {"binary with NULs", std::string("\0\x01\xff\0zz", 6)},
      {"about 1 MB", LargeInput()},
  };
  for (const auto& c : kCases) {
    for (int level : {1, 3, 19}) {
      INFO(c.what << " at level " << level);
      auto frame = ZstdCompress(c.data, level);
      REQUIRE(frame.has_value());
      CHECK(*frame != c.data);
      auto back = ZstdDecompress(*frame, c.data.size());
      REQUIRE(back.has_value());
      CHECK(back->size() == c.data.size());
      CHECK(*back == c.data);
    }
  }
}

TEST_CASE("ZstdCompress shrinks repetitive input") {
  const std::string data = LargeInput();
  auto frame = ZstdCompress(data, 19);
  REQUIRE(frame.has_value());
  CHECK(frame->size() < data.size() / 3);
}

TEST_CASE("ZstdCompress is deterministic") {
  const std::string data = LargeInput();
  for (int level : {1, 19}) {
    INFO("level " << level);
    auto a = ZstdCompress(data, level);
    auto b = ZstdCompress(data, level);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(*a == *b);
  }
  // Different levels are allowed to differ, and for this input do.
  CHECK(*ZstdCompress(data, 1) != *ZstdCompress(data, 19));
}

TEST_CASE("ZstdCompress refuses levels outside 1-19") {
  for (int level : {-5, -1, 0, 20, 22, 100}) {
    INFO("level " << level);
    auto frame = ZstdCompress("data", level);
    REQUIRE_FALSE(frame.has_value());
    CHECK(frame.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(frame.error().message, Contains(std::to_string(level)));
  }
}

TEST_CASE("ZstdDecompress refuses damaged or oversized frames") {
  const std::string data = LargeInput();
  auto frame = ZstdCompress(data, 3);
  REQUIRE(frame.has_value());
  std::string corrupted = *frame;
  corrupted[corrupted.size() / 2] ^= 0x55;
  std::string bad_checksum = *frame;
  bad_checksum.back() ^= 0x01;  // the frame ends with the content checksum

  const struct {
    const char* what;
    std::string frame;
    std::size_t max_size;
  } kCases[] = {
      {"empty input", "", 1000},
      {"garbage", "this is not a zstd frame at all", 1000},
      {"just the magic number", "\x28\xb5\x2f\xfd", 1000},
      {"truncated to half", frame->substr(0, frame->size() / 2), data.size()},
      {"missing its last byte", frame->substr(0, frame->size() - 1),
       data.size()},
      {"a byte in the middle flipped", corrupted, data.size()},
      {"checksum wrong", bad_checksum, data.size()},
      {"trailing garbage", *frame + "junk", data.size()},
      {"larger than max_size", *frame, data.size() - 1},
      {"max_size 0", *frame, 0},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto out = ZstdDecompress(c.frame, c.max_size);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == ErrorCode::kCorrupt);
    CHECK_FALSE(out.error().message.empty());
  }
}

TEST_CASE("ZstdDecompress names the limit when a frame is too large") {
  auto frame = ZstdCompress(std::string(5000, 'a'), 3);
  REQUIRE(frame.has_value());
  auto out = ZstdDecompress(*frame, 4999);
  REQUIRE_FALSE(out.has_value());
  CHECK_THAT(out.error().message, Contains("5000"));
  CHECK_THAT(out.error().message, Contains("4999"));
  CHECK(ZstdDecompress(*frame, 5000).has_value());
}

TEST_CASE("GzipCompress writes a member with no name or time that round-trips") {
  const std::string text = "{\"value\":\"01\",\"label\":\"Yes\"}" +
                           std::string(10000, 'x');
  auto member = GzipCompress(text, 9);
  REQUIRE(member.has_value());
  REQUIRE(member->size() > 10);
  // RFC 1952 header: magic, deflate, no flags (so no name), mtime 0.
  CHECK(static_cast<unsigned char>((*member)[0]) == 0x1f);
  CHECK(static_cast<unsigned char>((*member)[1]) == 0x8b);
  CHECK((*member)[2] == 8);
  CHECK((*member)[3] == 0);
  CHECK(member->substr(4, 4) == std::string(4, '\0'));
  CHECK(*GzipCompress(text, 9) == *member);  // deterministic
  auto back = GzipDecompress(*member, text.size());
  REQUIRE(back.has_value());
  CHECK(*back == text);
  CHECK_FALSE(GzipCompress(text, 0).has_value());
  CHECK_FALSE(GzipCompress(text, 10).has_value());
}

TEST_CASE("GzipDecompress refuses damaged, truncated, trailing and oversized input") {
  const std::string text(5000, 'a');
  const std::string member = *GzipCompress(text, 9);
  CHECK_FALSE(GzipDecompress(member.substr(0, member.size() - 3), 1 << 20));
  CHECK_FALSE(GzipDecompress(member + "junk", 1 << 20));
  CHECK_FALSE(GzipDecompress("not gzip at all", 1 << 20));
  CHECK_FALSE(GzipDecompress("", 1 << 20));
  auto small = GzipDecompress(member, 4999);
  REQUIRE_FALSE(small.has_value());
  CHECK(small.error().code == ErrorCode::kCorrupt);
  CHECK(GzipDecompress(member, 5000).has_value());
}

}  // namespace
}  // namespace datasnap
