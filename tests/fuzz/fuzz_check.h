// Invariants the fuzz targets assert on every result (README.md, "Fuzzing").
// A violation prints what broke and calls abort(), which libFuzzer (and the
// replay test, fuzz_regression_test) reports as a crash.
#ifndef DATASNAP_TESTS_FUZZ_FUZZ_CHECK_H_
#define DATASNAP_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "core/text.h"

// Entry points are LLVMFuzzerTestOneInput unless the build renames them, as
// the replay test does to link every target into one binary.
#ifndef DATASNAP_FUZZ_ENTRY
#define DATASNAP_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

namespace datasnap::fuzz {

[[noreturn]] inline void Violation(std::string_view target,
                                   std::string_view what) {
  std::fprintf(stderr, "fuzz invariant violated (%.*s): %.*s\n",
               static_cast<int>(target.size()), target.data(),
               static_cast<int>(what.size()), what.data());
  std::abort();
}

inline void Require(bool ok, std::string_view target, std::string_view what) {
  if (!ok) Violation(target, what);
}

inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

// True when valid UTF-8 `s` holds a C1 control (U+0080 to U+009F).
inline bool HasC1Control(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xC2 && next >= 0x80 && next <= 0x9F) return true;
  }
  return false;
}

struct TextRules {
  bool no_c1 = false;           // C1 controls are rejected too
  std::size_t max_bytes = 0;    // 0 = no limit
};

// A value, label or parent: non-empty, valid UTF-8, no control characters
// (C0, DEL; C1 when asked), no ASCII whitespace at either end.
inline void CheckText(std::string_view target, std::string_view field,
                      std::string_view s, const TextRules& rules) {
  const std::string f(field);
  Require(!s.empty(), target, f + " is empty");
  Require(!FindInvalidUtf8(s), target, f + " is not valid UTF-8");
  Require(!HasControlCharacter(s), target, f + " has a C0 control or DEL");
  if (rules.no_c1) Require(!HasC1Control(s), target, f + " has a C1 control");
  Require(!IsAsciiSpace(s.front()) && !IsAsciiSpace(s.back()), target,
          f + " is not trimmed");
  if (rules.max_bytes != 0) {
    Require(s.size() <= rules.max_bytes, target, f + " is over the limit");
  }
}

// A result is a valid, non-empty OptionList: every value and label passes
// CheckText, and OptionList::Make accepts the options again (unique values,
// parents that exist and are not the option itself).
inline void CheckOptions(std::string_view target, const OptionList& list,
                         const TextRules& rules) {
  Require(!list.empty(), target, "a successful result has no options");
  for (const Option& o : list.options()) {
    CheckText(target, "value", o.value, rules);
    CheckText(target, "label", o.label, rules);
    if (o.parent) CheckText(target, "parent", *o.parent, rules);
  }
  auto again = OptionList::Make(list.options());
  if (!again) {
    Violation(target, "OptionList::Make rejects the result: " +
                          again.error().message);
  }
}

// An error has a non-empty message with no NUL in it, starting with
// `prefix`, and the expected code.
inline void CheckError(std::string_view target, const Error& e,
                       ErrorCode code, std::string_view prefix) {
  Require(!e.message.empty(), target, "an error has an empty message");
  Require(e.message.find('\0') == std::string::npos, target,
          "an error message holds a NUL byte");
  Require(e.code == code, target,
          "unexpected error code " + std::string(ErrorCodeName(e.code)) +
              ": " + e.message);
  Require(e.message.starts_with(prefix), target,
          "error message does not start with '" + std::string(prefix) +
              "': " + e.message);
}

}  // namespace datasnap::fuzz

#endif  // DATASNAP_TESTS_FUZZ_FUZZ_CHECK_H_
