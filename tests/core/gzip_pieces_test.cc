#include "core/gzip_pieces.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "core/compression.h"

namespace datasnap {
namespace {

// `bytes` of manifest-like JSON with some variety (a fixed LCG: the same
// bytes every run), so that it compresses but not to nothing.
std::string Document(std::size_t bytes, std::uint32_t seed = 12345) {
  std::string s = "{\"datasets\":[";
  std::uint32_t x = seed;
  for (int i = 0; s.size() < bytes; ++i) {
    x = x * 1664525u + 1013904223u;
    s += "{\"key\":\"synth_" + std::to_string(i) + "\",\"sha256\":\"" +
         std::to_string(x) + std::to_string(x ^ 0x5bd1e995u) +
         "\",\"option_count\":" + std::to_string(x % 500) + "},";
  }
  return s + "{}]}";
}

std::string Decode(const std::string& member) {
  auto decoded = GzipDecompress(member, std::size_t{1} << 30);
  REQUIRE(decoded.has_value());
  return *decoded;
}

TEST_CASE("GzipCompressPieces: one member that decodes to the input, the "
          "same bytes on any number of threads") {
  const struct {
    const char* what;
    std::string data;
  } kCases[] = {
      {"empty", ""},
      {"small", "{\"a\":1}"},
      {"exactly 1 MiB", std::string(std::size_t{1} << 20, 'x')},
      {"1 MiB and a byte", std::string((std::size_t{1} << 20) + 1, 'y')},
      {"a 5 MB document", Document(5'000'000)},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    GzipPiecesStats stats;
    auto one = GzipCompressPieces(c.data, 6, 1, {}, &stats);
    REQUIRE(one.has_value());
    for (unsigned threads : {2u, 3u, 8u}) {
      auto many = GzipCompressPieces(c.data, 6, threads);
      REQUIRE(many.has_value());
      CHECK(*many == *one);
    }
    CHECK(Decode(*one) == c.data);
    if (c.data.size() <= (std::size_t{1} << 20)) {
      CHECK(stats.pieces == 1);
      CHECK(*one == *GzipCompress(c.data, 6));  // one piece: zlib's bytes
    } else {
      CHECK(stats.pieces >= 2);
      // A header with the pieces' table (FLG.FEXTRA), and not much larger
      // than one stream.
      CHECK(one->substr(0, 4) == std::string("\x1f\x8b\x08\x04", 4));
      CHECK(one->size() < GzipCompress(c.data, 6)->size() * 102 / 100 + 4096);
    }
  }
  CHECK_FALSE(GzipCompressPieces("x", 0, 1).has_value());
  CHECK_FALSE(GzipCompressPieces("x", 10, 1).has_value());
}

TEST_CASE("GzipCompressPieces reuses the earlier member's pieces that still "
          "stand, and gives the bytes it would give without them") {
  const std::string before = Document(9'000'000);
  GzipPiecesStats first;
  const std::string earlier = *GzipCompressPieces(before, 6, 2, {}, &first);
  REQUIRE(first.pieces >= 20);
  CHECK(first.reused == 0);

  SECTION("one entry changed in the middle: one or two pieces deflated") {
    std::string after = before;
    const std::size_t at = after.find("\"option_count\":", after.size() / 2);
    REQUIRE(at != std::string::npos);
    after.insert(at, "\"name\":\"Renamed\",");
    GzipPiecesStats stats;
    auto reused = GzipCompressPieces(after, 6, 2, earlier, &stats);
    REQUIRE(reused.has_value());
    CHECK(*reused == *GzipCompressPieces(after, 6, 1));
    CHECK(Decode(*reused) == after);
    // Content-defined cuts: the cuts after the change are where they were.
    CHECK(stats.reused + 2 >= stats.pieces);
    CHECK(stats.reused + 2 >= first.pieces);
  }

  SECTION("the same input: every piece reused, the same bytes") {
    GzipPiecesStats stats;
    CHECK(*GzipCompressPieces(before, 6, 2, earlier, &stats) == earlier);
    CHECK(stats.reused == stats.pieces);
  }

  SECTION("a damaged earlier piece is deflated again, not copied") {
    std::string damaged = earlier;
    damaged[damaged.size() / 2] ^= 0x20;
    GzipPiecesStats stats;
    auto out = GzipCompressPieces(before, 6, 2, damaged, &stats);
    REQUIRE(out.has_value());
    CHECK(*out == earlier);
    CHECK(stats.reused < stats.pieces);
    CHECK(stats.reused + 2 >= stats.pieces);
  }

  SECTION("another level, or not such a member: nothing reused") {
    const std::string level9 = *GzipCompressPieces(before, 9, 2);
    const std::string plain = *GzipCompress(before, 6);
    for (const std::string& other :
         {level9, plain, std::string("not gzip"), earlier.substr(0, 40),
          earlier.substr(0, earlier.size() / 2)}) {
      GzipPiecesStats stats;
      auto out = GzipCompressPieces(before, 6, 2, other, &stats);
      REQUIRE(out.has_value());
      CHECK(*out == earlier);
      // A prefix of the earlier member still holds whole pieces.
      if (other.size() < 100 || other.substr(0, 4) != earlier.substr(0, 4)) {
        CHECK(stats.reused == 0);
      }
    }
  }
}

}  // namespace
}  // namespace datasnap
