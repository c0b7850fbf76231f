#include "core/text.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace datasnap {
namespace {

using namespace std::string_view_literals;

TEST_CASE("FindInvalidUtf8 accepts valid text") {
  const std::string_view kValid[] = {
      ""sv,
      "plain ASCII, with punctuation!"sv,
      "\x00\x01\x7f"sv,                       // NUL, control, DEL are valid UTF-8
      "Caf\xc3\xa9"sv,                        // U+00E9, 2 bytes
      "\xc2\x80"sv,                           // U+0080, smallest 2-byte
      "\xdf\xbf"sv,                           // U+07FF, largest 2-byte
      "\xe0\xa0\x80"sv,                       // U+0800, smallest 3-byte
      "Ysbyty Gwynedd \xe2\x80\x93 Bangor"sv,  // en dash U+2013
      "\xed\x9f\xbf"sv,                       // U+D7FF, just below surrogates
      "\xee\x80\x80"sv,                       // U+E000, just above surrogates
      "\xef\xbf\xbf"sv,                       // U+FFFF
      "\xf0\x90\x80\x80"sv,                   // U+10000, smallest 4-byte
      "\xf0\x9f\x98\x80"sv,                   // U+1F600 emoji
      "\xf4\x8f\xbf\xbf"sv,                   // U+10FFFF, the largest
  };
  for (std::string_view text : kValid) {
    INFO("text: " << std::string(text));
    CHECK(FindInvalidUtf8(text) == std::nullopt);
  }
}

TEST_CASE("FindInvalidUtf8 returns the offset of the first bad sequence") {
  const struct {
    const char* what;
    std::string_view text;
    std::size_t offset;
  } kCases[] = {
      {"stray continuation byte", "\x80"sv, 0},
      {"stray continuation after ASCII", "abc\xbf"sv, 3},
      {"continuation after a complete sequence", "\xc3\xa9\xa9"sv, 2},
      {"truncated 2-byte at end", "ab\xc3"sv, 2},
      {"truncated 3-byte at end", "x\xe2\x80"sv, 1},
      {"truncated 4-byte at end", "\xf0\x9f\x98"sv, 0},
      {"2-byte lead followed by ASCII", "a\xc3" "b"sv, 1},
      {"3-byte lead with bad second continuation", "ok\xe2\x80" "z"sv, 2},
      {"overlong NUL (C0 80)", "a\xc0\x80"sv, 1},
      {"overlong 2-byte (C1 BF)", "\xc1\xbf"sv, 0},
      {"overlong 3-byte (E0 80 80)", "\xe0\x80\x80"sv, 0},
      {"overlong 3-byte U+07FF (E0 9F BF)", "\xe0\x9f\xbf"sv, 0},
      {"overlong 4-byte (F0 80 80 80)", "\xf0\x80\x80\x80"sv, 0},
      {"overlong 4-byte U+FFFF (F0 8F BF BF)", "\xf0\x8f\xbf\xbf"sv, 0},
      {"high surrogate (ED A0 80)", "ab\xed\xa0\x80"sv, 2},
      {"low surrogate (ED BF BF)", "\xed\xbf\xbf"sv, 0},
      {"above U+10FFFF (F4 90 80 80)", "Caf\xc3\xa9\xf4\x90\x80\x80"sv, 5},
      {"F5 lead byte", "\xf5\x80\x80\x80"sv, 0},
      {"F8 lead byte", "\xf8\x88\x80\x80\x80"sv, 0},
      {"FF byte", "abc\xff"sv, 3},
      {"FE byte", "\xfe"sv, 0},
      {"first of two bad sequences", "\xe2\x80\x93-\x80-\xff"sv, 4},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    const auto got = FindInvalidUtf8(c.text);
    REQUIRE(got.has_value());
    CHECK(*got == c.offset);
  }
}

TEST_CASE("HasControlCharacter finds C0 controls and DEL only") {
  const struct {
    std::string_view text;
    bool expected;
  } kCases[] = {
      {""sv, false},
      {"Blood Group (Baby)"sv, false},
      {"Caf\xc3\xa9 \xe2\x80\x93 ~"sv, false},  // non-ASCII is not control
      {"\xc2\x85"sv, false},  // U+0085 (a C1 control) is not C0
      {"line\nbreak"sv, true},
      {"tab\there"sv, true},
      {"\r"sv, true},
      {"nul\0inside"sv, true},
      {"\x01"sv, true},
      {"\x1f"sv, true},
      {"del\x7f"sv, true},
      {" "sv, false},  // 0x20, the first non-control
  };
  for (const auto& c : kCases) {
    INFO("text: " << std::string(c.text));
    CHECK(HasControlCharacter(c.text) == c.expected);
  }
}

TEST_CASE("TrimAsciiSpace trims ASCII whitespace at both ends only") {
  CHECK(TrimAsciiSpace(" \t\r\n a b \v\f") == "a b");
  CHECK(TrimAsciiSpace("") == "");
  CHECK(TrimAsciiSpace(" \n ") == "");
  CHECK(TrimAsciiSpace("\xC2\xA0x\xC2\xA0") == "\xC2\xA0x\xC2\xA0");  // NBSP kept
  CHECK(IsAsciiSpace('\v'));
  CHECK_FALSE(IsAsciiSpace('\0'));
}

}  // namespace
}  // namespace datasnap
