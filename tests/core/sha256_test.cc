#include "core/sha256.h"

#include <catch2/catch.hpp>

#include <string>

namespace datasnap {
namespace {

TEST_CASE("Sha256Hex matches the FIPS 180-2 test vectors") {
  const struct {
    std::string input;
    const char* digest;
  } kCases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"The quick brown fox jumps over the lazy dog",
       "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
      {std::string(1'000'000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& c : kCases) {
    INFO("input of " << c.input.size() << " bytes");
    CHECK(Sha256Hex(c.input) == c.digest);
  }
}

TEST_CASE("Sha256Hex hashes embedded NUL bytes and gives lower-case hex") {
  const std::string with_nul("a\0b", 3);
  const std::string digest = Sha256Hex(with_nul);
  CHECK(digest.size() == 64);
  CHECK(digest.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(digest != Sha256Hex("a"));
  CHECK(digest != Sha256Hex("ab"));
}

}  // namespace
}  // namespace datasnap
