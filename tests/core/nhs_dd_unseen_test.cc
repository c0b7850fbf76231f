// The "unseen pages" check: ExtractNhsDdCodes against a second, independent
// set of hand-written data element pages (tests/fixtures/nhs_dd/unseen),
// built after the real site's WebHelp Responsive / DITA-OT markup
// (core/nhs_dd_extract.h describes it) without looking at the main
// fixture set. Every expectation in unseen/expected.json was written by hand
// from core/nhs_dd_extract.h: full national and default lists in page order,
// retired codes absent and named in a warning, repeated codes named in a
// warning, the rule that found the codes, and the page title.
//
// Pages written apart from tests/fixtures (without reading it), as the real
// site builds them: the extractor must be right on pages it was not tuned on.
// A page it gets wrong would be listed in KnownFailures() with the reason.
#include "core/nhs_dd_extract.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/core/nhs_dd_test_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using nlohmann::json;
using nhs_dd_test::AnyWarningNames;
using nhs_dd_test::HasCode;
using nhs_dd_test::Lines;

// Tests run in the runfiles root of the workspace.
constexpr const char* kDir = "tests/fixtures/nhs_dd/unseen";
constexpr const char* kSiteBase =
    "https://www.datadictionary.nhs.uk/data_elements/";

// Pages on which the extractor is known to be wrong (see the report in the
// change that added this file). Keep this list short and explained.
const std::set<std::string>& KnownFailures() {
  // employment_status.html used to be here: "(Retired on medical grounds)"
  // was taken for a "(Retired <date>)" marker. Now a date is required.
  static const std::set<std::string> pages = {};
  return pages;
}

const json& Expected() {
  static const json expected =
      json::parse(testing::ReadFile(std::string(kDir) + "/expected.json"));
  return expected;
}

std::string FileName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

const json* Optional(const json& want, const char* key) {
  auto it = want.find(key);
  if (it == want.end() || it->is_null()) return nullptr;
  return &*it;
}

// Checks one page against its expectation with CHECKs (so a failing page
// reports every difference, not just the first).
void CheckPage(const json& want) {
  const std::string path = want.at("path");
  const json* note = Optional(want, "note");
  INFO(path << (note ? " (" + note->get<std::string>() + ")" : std::string()));
  const std::string html = testing::ReadFile(path);
  REQUIRE_FALSE(html.empty());
  auto got = ExtractNhsDdCodes(html, kSiteBase + FileName(path));

  if (!want.at("error").is_null()) {
    if (got) {
      FAIL_CHECK("expected an error, got national "
                 << Catch::Detail::stringify(Lines(got->national))
                 << ", default "
                 << Catch::Detail::stringify(Lines(got->defaults)));
      return;
    }
    CHECK(got.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(got.error().message,
               Contains(want.at("error").get<std::string>()));
    return;
  }
  if (!got) {
    FAIL_CHECK("unexpected error: " << got.error().message);
    return;
  }
  INFO("warnings: " << Catch::Detail::stringify(got->warnings));
  // Full ordered lists: nothing missing, nothing extra, labels exact.
  CHECK(Lines(got->national) == Lines(want.at("national")));
  CHECK(Lines(got->defaults) == Lines(want.at("default")));
  for (const json& c : want.at("retired")) {
    const std::string code = c;
    INFO("retired code " << code);
    CHECK_FALSE(HasCode(got->national, code));
    CHECK_FALSE(HasCode(got->defaults, code));
    CHECK(AnyWarningNames(*got, code));
  }
  if (const json* dups = Optional(want, "duplicates")) {
    for (const json& c : *dups) {
      const std::string code = c;
      INFO("repeated code " << code);
      CHECK(AnyWarningNames(*got, code));
    }
  }
  if (const json* method = Optional(want, "method")) {
    CHECK(got->method == method->get<std::string>());
  }
  if (const json* title = Optional(want, "title")) {
    CHECK(got->title == title->get<std::string>());
  }
  // National codes then default codes, as options.
  auto options = got->ToOptions();
  if (!options) {
    FAIL_CHECK("ToOptions: " << options.error().message);
  } else {
    CHECK(options->size() == got->national.size() + got->defaults.size());
  }
}

TEST_CASE("Every unseen page is listed in unseen/expected.json") {
  std::set<std::string> listed;
  for (const json& want : Expected().at("pages")) {
    const std::string path = want.at("path");
    CHECK(listed.insert(path).second);  // no page listed twice
    CHECK(std::filesystem::exists(path));
  }
  std::size_t pages = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".html") continue;
    ++pages;
    const std::string path = std::string(kDir) + "/" +
                             entry.path().filename().string();
    INFO(path);
    CHECK(listed.count(path) == 1);
  }
  CHECK(pages == listed.size());
  CHECK(pages >= 15);
  for (const std::string& name : KnownFailures()) {
    INFO(name);
    CHECK(listed.count(std::string(kDir) + "/" + name) == 1);
  }
}

TEST_CASE("Unseen pages give exactly what unseen/expected.json says") {
  for (const json& want : Expected().at("pages")) {
    if (KnownFailures().count(FileName(want.at("path")))) continue;
    CheckPage(want);
  }
}

}  // namespace
}  // namespace datasnap
