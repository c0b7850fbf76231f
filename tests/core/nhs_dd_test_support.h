// Helpers shared by the extractor tests over tests/fixtures/nhs_dd
// (nhs_dd_extract_test) and tests/fixtures/nhs_dd/unseen
// (nhs_dd_unseen_test).
#ifndef DATASNAP_TESTS_CORE_NHS_DD_TEST_SUPPORT_H_
#define DATASNAP_TESTS_CORE_NHS_DD_TEST_SUPPORT_H_

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/nhs_dd_extract.h"

namespace datasnap::nhs_dd_test {

// Code lists as "code | label" lines: Catch prints vectors of strings in
// full, so a mismatch shows exactly which entry differs.
inline std::vector<std::string> Lines(const std::vector<NhsDdCode>& codes) {
  std::vector<std::string> out;
  for (const NhsDdCode& c : codes) out.push_back(c.code + " | " + c.label);
  return out;
}

// The same from expected.json's [[code, label], ...].
inline std::vector<std::string> Lines(const nlohmann::json& pairs) {
  std::vector<std::string> out;
  for (const nlohmann::json& p : pairs) {
    out.push_back(p.at(0).get<std::string>() + " | " +
                  p.at(1).get<std::string>());
  }
  return out;
}

inline bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

// True when `text` mentions `code` as a whole token: "retired code '03'"
// names 03, but "retired code 030" does not. The quoting style of the
// warning is the extractor's business.
inline bool NamesCode(std::string_view text, std::string_view code) {
  for (std::size_t pos = text.find(code); pos != std::string_view::npos;
       pos = text.find(code, pos + 1)) {
    const bool left_ok = pos == 0 || !IsAlnum(text[pos - 1]);
    const std::size_t end = pos + code.size();
    const bool right_ok = end == text.size() || !IsAlnum(text[end]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

inline bool AnyWarningNames(const NhsDdPage& page, const std::string& code) {
  return std::any_of(page.warnings.begin(), page.warnings.end(),
                     [&](const std::string& w) { return NamesCode(w, code); });
}

inline bool HasCode(const std::vector<NhsDdCode>& codes,
                    const std::string& code) {
  return std::any_of(codes.begin(), codes.end(),
                     [&](const NhsDdCode& c) { return c.code == code; });
}

}  // namespace datasnap::nhs_dd_test

#endif  // DATASNAP_TESTS_CORE_NHS_DD_TEST_SUPPORT_H_
