#include "core/nhs_dd_extract.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "tests/core/nhs_dd_test_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using nlohmann::json;
using nhs_dd_test::AnyWarningNames;
using nhs_dd_test::HasCode;
using nhs_dd_test::Lines;
using nhs_dd_test::NamesCode;

// Tests run in the runfiles root of the workspace.
constexpr const char* kExpected = "tests/fixtures/nhs_dd/expected.json";
constexpr const char* kMirror = "tests/fixtures/upstream/nhs_dd/data_elements";
constexpr const char* kVariants = "tests/fixtures/nhs_dd/variants";
constexpr const char* kSiteBase =
    "https://www.datadictionary.nhs.uk/data_elements/";

std::string Read(const std::string& path) { return testing::ReadFile(path); }

const json& Expected() {
  static const json expected = json::parse(Read(kExpected));
  return expected;
}

// Valid UTF-8 by the project's own check.
bool IsValidUtf8(std::string_view s) { return !FindInvalidUtf8(s).has_value(); }

std::string ToLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// What every call must satisfy, whatever the input: codes or an error,
// never an empty success, and only valid UTF-8 out.
void CheckSane(const Result<NhsDdPage>& r) {
  if (!r) {
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK_FALSE(r.error().message.empty());
    CHECK(IsValidUtf8(r.error().message));
    return;
  }
  CHECK((!r->national.empty() || !r->defaults.empty()));
  CHECK(IsValidUtf8(r->title));
  for (const auto* list : {&r->national, &r->defaults}) {
    for (const NhsDdCode& c : *list) {
      CHECK_FALSE(c.code.empty());
      CHECK_FALSE(c.label.empty());
      CHECK(IsValidUtf8(c.code));
      CHECK(IsValidUtf8(c.label));
    }
  }
  for (const std::string& w : r->warnings) CHECK(IsValidUtf8(w));
  // The extractor promises the model's rules hold, so this cannot fail.
  auto options = r->ToOptions();
  if (!options) FAIL_CHECK(options.error().message);
}

// A minimal page around `body`, enough for the extractor to see a document.
std::string Page(const std::string& body) {
  return "<!DOCTYPE html><html lang=\"en-gb\"><head><meta charset=\"utf-8\">"
         "<title>TEST ELEMENT</title></head><body><main role=\"main\">"
         "<article role=\"article\"><h1>TEST ELEMENT</h1>" +
         body + "</article></main></body></html>";
}

// A WebHelp-style section: h2 title, then the body with a simpletable.
std::string Section(const std::string& title, const std::string& rows,
                    const std::string& header =
                        "<th>Code</th><th>Description</th>") {
  return "<article class=\"- topic/topic topic nested1\"><h2 "
         "class=\"- topic/title title topictitle2\">" +
         title +
         "</h2><div class=\"- topic/body body\"><div "
         "class=\"simpletable-container\"><table class=\"- topic/simpletable "
         "simpletable table table-sm table-striped\"><thead><tr>" +
         header + "</tr></thead><tbody>" + rows +
         "</tbody></table></div></div></article>";
}

// A bare table with a header row, outside any known section.
std::string Table(const std::string& header, const std::string& rows) {
  return "<table><thead><tr>" + header + "</tr></thead><tbody>" + rows +
         "</tbody></table>";
}

std::string Row(const std::string& code, const std::string& label) {
  return "<tr><td>" + code + "</td><td>" + label + "</td></tr>";
}

Result<NhsDdPage> Extract(const std::string& html) {
  return ExtractNhsDdCodes(html, "https://example.test/page.html");
}

// The national codes of a page made of one "National Codes" section.
std::vector<std::string> NationalOf(const std::string& rows) {
  auto r = Extract(Page(Section("National Codes", rows)));
  if (!r) {
    FAIL_CHECK(r.error().message);
    return {};
  }
  return Lines(r->national);
}

// ---------------------------------------------------------------------------
// The fixture pages against expected.json.

TEST_CASE("expected.json has an entry for every fixture page") {
  std::set<std::string> listed;
  for (const json& p : Expected().at("pages")) {
    CHECK(listed.insert(p.at("path").get<std::string>()).second);
  }
  std::size_t pages = 0;
  for (const char* dir : {kMirror, kVariants}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string path = std::string(dir) + "/" +
                               entry.path().filename().string();
      if (entry.path().extension() != ".html") continue;
      ++pages;
      INFO(path);
      CHECK(listed.count(path) == 1);
    }
  }
  CHECK(pages == listed.size());
  // 48 catalogue pages, the two "(Mental Health)" pages, and the variants.
  CHECK(pages >= 50 + 12);
}

TEST_CASE("Every fixture page gives exactly what expected.json says") {
  for (const json& want : Expected().at("pages")) {
    const std::string path = want.at("path");
    INFO(path);
    const std::string html = Read(path);
    REQUIRE_FALSE(html.empty());
    const std::string file = path.substr(path.rfind('/') + 1);
    auto got = ExtractNhsDdCodes(html, kSiteBase + file);
    CheckSane(got);

    if (!want.at("error").is_null()) {
      if (got) {
        FAIL_CHECK("expected an error, got " << got->national.size()
                                             << " national codes");
        continue;
      }
      CHECK_THAT(got.error().message,
                 Contains(want.at("error").get<std::string>()));
      continue;
    }
    if (!got) {
      FAIL_CHECK("unexpected error: " << got.error().message);
      continue;
    }
    // Full lists, in page order: nothing missing, nothing extra.
    CHECK(Lines(got->national) == Lines(want.at("national")));
    CHECK(Lines(got->defaults) == Lines(want.at("default")));
    // Retired codes are left out, and a warning says so.
    for (const json& code_json : want.at("retired")) {
      const std::string code = code_json;
      INFO("retired code " << code << "; warnings: "
                           << Catch::Detail::stringify(got->warnings));
      CHECK_FALSE(HasCode(got->national, code));
      CHECK_FALSE(HasCode(got->defaults, code));
      CHECK(AnyWarningNames(*got, code));
    }
    // Repeated codes keep their first occurrence (checked by the lists
    // above), and a warning names them.
    for (const json& code_json : want.at("duplicates")) {
      const std::string code = code_json;
      INFO("duplicate code " << code << "; warnings: "
                             << Catch::Detail::stringify(got->warnings));
      CHECK(AnyWarningNames(*got, code));
    }
    if (!want.at("method").is_null()) {
      CHECK(got->method == want.at("method").get<std::string>());
    }
    if (!want.at("title").is_null()) {
      CHECK(got->title == want.at("title").get<std::string>());
    }
  }
}

TEST_CASE("Every catalogue entry has a mirror page that yields codes") {
  // The offline mirror is what the demo scrapes: each of the 48 entries of
  // seeds/nhs_dd.json must find its page, at its site path, with codes.
  const json seeds = json::parse(Read("seeds/nhs_dd.json"));
  const json& datasets = seeds.at("datasets");
  REQUIRE(datasets.size() == 48);
  for (const json& d : datasets) {
    const std::string url = d.at("reference_url");
    INFO(d.at("key").get<std::string>() << " " << url);
    REQUIRE(url.rfind(kSiteBase, 0) == 0);
    const std::string file = url.substr(url.rfind('/') + 1);
    const std::string path = std::string(kMirror) + "/" + file;
    REQUIRE(std::filesystem::exists(path));
    auto page = ExtractNhsDdCodes(Read(path), url);
    if (!page) {
      FAIL_CHECK(page.error().message);
      continue;
    }
    CHECK_FALSE(page->national.empty());
    auto options = page->ToOptions();
    if (!options) {
      FAIL_CHECK(options.error().message);
      continue;
    }
    CHECK(options->size() == page->national.size() + page->defaults.size());
  }
}

TEST_CASE("A retired data element fails and says why") {
  auto r = ExtractNhsDdCodes(
      Read(std::string(kVariants) + "/retired_element.html"),
      std::string(kSiteBase) + "ethnic_category_code_2001.html");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(r.error().message,
             Contains("No valid options found on the page"));
  // The header promises the reason when one is known.
  CHECK_THAT(ToLower(r.error().message), Contains("retired"));
}

// ---------------------------------------------------------------------------
// ToOptions.

TEST_CASE("ToOptions lists national codes, then default codes flagged") {
  auto page = ExtractNhsDdCodes(
      Read(std::string(kMirror) + "/smoking_status_code.html"),
      std::string(kSiteBase) + "smoking_status_code.html");
  REQUIRE(page);
  auto options = page->ToOptions();
  REQUIRE(options);
  const std::vector<Option>& o = options->options();
  REQUIRE(o.size() == 6);
  const char* values[] = {"1", "2", "3", "4", "Z", "9"};
  for (std::size_t i = 0; i < o.size(); ++i) {
    INFO(i);
    CHECK(o[i].value == values[i]);
    CHECK(o[i].is_default == (i == 5));
    CHECK_FALSE(o[i].parent.has_value());
  }
  CHECK(o[0].label == "Current smoker");
  CHECK(o[4].label ==
        "Not Stated (PERSON asked but declined to provide a response)");
  CHECK(o[5].label == "Unknown (not recorded)");
}

TEST_CASE("ToOptions flags exactly the default codes on every page") {
  for (const json& want : Expected().at("pages")) {
    if (!want.at("error").is_null()) continue;
    const std::string path = want.at("path");
    INFO(path);
    auto page = ExtractNhsDdCodes(Read(path), path);
    if (!page) continue;  // reported by the table-driven test
    auto options = page->ToOptions();
    REQUIRE(options);
    const std::vector<Option>& o = options->options();
    REQUIRE(o.size() == page->national.size() + page->defaults.size());
    for (std::size_t i = 0; i < o.size(); ++i) {
      const bool is_default = i >= page->national.size();
      const NhsDdCode& c = is_default
                               ? page->defaults[i - page->national.size()]
                               : page->national[i];
      CHECK(o[i].value == c.code);
      CHECK(o[i].label == c.label);
      CHECK(o[i].is_default == is_default);
    }
  }
}

// ---------------------------------------------------------------------------
// Text rules. The original scraper glued text across <br> and inline tags
// ("GeneralSurgery", "01x"); these pin the fixed behaviour.

TEST_CASE("Text: <br> between words gives one space") {
  CHECK(NationalOf(Row("01", "General<br>Surgery") +
                   Row("02", "General<br/>Surgery") +
                   Row("03", "General <br /> Surgery") +
                   Row("04", "General<br><br>Surgery")) ==
        std::vector<std::string>{"01 | General Surgery",
                                 "02 | General Surgery",
                                 "03 | General Surgery",
                                 "04 | General Surgery"});
}

TEST_CASE("Text: entities are decoded and NBSP counts as whitespace") {
  CHECK(NationalOf(Row("01", "Trauma &amp; Orthopaedics") +
                   Row("02", "Not&nbsp;Known") +
                   Row("03", "&nbsp; Padded &nbsp;") +
                   Row("04", "Yes &#8211; required") +
                   Row("05", "&lt;5 years&gt;") +
                   Row("06", "Caf&eacute; &#x2014; bar")) ==
        std::vector<std::string>{"01 | Trauma & Orthopaedics",
                                 "02 | Not Known", "03 | Padded",
                                 "04 | Yes \u2013 required",
                                 "05 | <5 years>",
                                 "06 | Caf\u00e9 \u2014 bar"});
}

TEST_CASE("Text: other Unicode spaces, tabs and newlines collapse") {
  CHECK(NationalOf(Row("01", "A\u2003B\u202FC\u2009D") +
                   Row("02", "  Tab\tand\n\n  newline  ") +
                   Row("03", "\xC2\xA0raw\xC2\xA0nbsp\xC2\xA0")) ==
        std::vector<std::string>{"01 | A B C D", "02 | Tab and newline",
                                 "03 | raw nbsp"});
}

TEST_CASE("Text: inline tags add no space, blocks and <br> do") {
  CHECK(NationalOf(
            Row("01", "<b>01</b> <i>x</i>") +
            Row("02", "<span><b><i>Deeply</i></b> <em>nested</em></span>") +
            Row("03", "<a href=\"../classes/patient.html\">PATIENT</a>'s "
                      "own home") +
            Row("04", "<p>First</p><p>Second</p>") +
            Row("05", "<div>One</div>Two") +
            Row("06", "Stage 4<b>A</b>")) ==
        std::vector<std::string>{"01 | 01 x", "02 | Deeply nested",
                                 "03 | PATIENT's own home",
                                 "04 | First Second", "05 | One Two",
                                 "06 | Stage 4A"});
}

TEST_CASE("Text: codes keep leading zeros and lose surrounding space") {
  CHECK(NationalOf(Row("01", "One") + Row("007", "Seven") +
                   Row("0", "Zero") + Row("\n   00\n ", "Double zero") +
                   Row("<b>0A</b>", "Bold code")) ==
        std::vector<std::string>{"01 | One", "007 | Seven", "0 | Zero",
                                 "00 | Double zero", "0A | Bold code"});
}

TEST_CASE("Text: rows with a whitespace-only cell are skipped") {
  // Group headings (Ethnic Category's "White") have an empty code cell; a
  // code without a label cannot become an option.
  CHECK(NationalOf(Row("", "<b>White</b>") + Row("01", "One") +
                   Row("&nbsp;", "Nbsp code") + Row(" \n\t ", "Blank code") +
                   Row("02", " &nbsp; ") + Row("03", "") +
                   Row("04", "Four")) ==
        std::vector<std::string>{"01 | One", "04 | Four"});
}

// ---------------------------------------------------------------------------
// Header matching. The original scraper matched substrings, so a "Data
// Element Name" table was taken as codes.

TEST_CASE("Headers: a 'Data Element Name' table is not a code table") {
  const std::string trap = Table(
      "<th>Data Element Name</th><th>Code Set</th>",
      Row("CARER SUPPORT INDICATOR", "CSI") + Row("NHS NUMBER", "NHS"));
  SECTION("before the real table, the real table is taken") {
    auto r = Extract(Page(trap + Table("<th>Code</th><th>Description</th>",
                                       Row("Y", "Yes") + Row("N", "No"))));
    REQUIRE(r);
    CHECK(Lines(r->national) == std::vector<std::string>{"Y | Yes", "N | No"});
    CHECK(r->defaults.empty());
    CHECK(r->method == "table");
  }
  SECTION("alone, there are no codes") {
    auto r = Extract(Page(trap));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message,
               Contains("No valid options found on the page"));
  }
  SECTION("headers that merely contain the words do not count") {
    auto r = Extract(Page(Table(
        "<th>Code Format</th><th>Description of Use</th>",
        Row("an2", "Two characters"))));
    CHECK_FALSE(r);
  }
}

TEST_CASE("Headers: Value/Meaning, Name and Label columns are accepted") {
  auto take = [](const std::string& header) {
    auto r = Extract(Page(Table(header, Row("01", "One") + Row("02", "Two"))));
    if (!r) {
      FAIL_CHECK(header << ": " << r.error().message);
      return std::vector<std::string>{};
    }
    CHECK(r->method == "table");
    return Lines(r->national);
  };
  const std::vector<std::string> want{"01 | One", "02 | Two"};
  CHECK(take("<th>Value</th><th>Meaning</th>") == want);
  CHECK(take("<th>Code</th><th>Name</th>") == want);
  CHECK(take("<th>Code</th><th>Label</th>") == want);
  CHECK(take("<th>Code</th><th>Description</th>") == want);
}

TEST_CASE("Headers: the code column is found by its header, not position") {
  auto r = Extract(Page(Table(
      "<th>Group</th><th>Code</th><th>Description</th><th>Notes</th>",
      "<tr><td>White</td><td>A</td><td>British</td><td></td></tr>"
      "<tr><td>White</td><td>B</td><td>Irish</td><td>note</td></tr>")));
  REQUIRE(r);
  CHECK(Lines(r->national) ==
        std::vector<std::string>{"A | British", "B | Irish"});
}

TEST_CASE("Sections: national and default codes are kept apart") {
  auto r = Extract(Page(
      Section("National Codes", Row("1", "Male") + Row("2", "Female")) +
      Section("Default Codes", Row("X", "Not Known")) +
      // A code-shaped table in a later, unrelated section is not merged in
      // (the original scraper merged every table on the page).
      Section("Notes", Row("Q", "Elsewhere"))));
  REQUIRE(r);
  CHECK(r->method == "sections");
  CHECK(Lines(r->national) ==
        std::vector<std::string>{"1 | Male", "2 | Female"});
  CHECK(Lines(r->defaults) == std::vector<std::string>{"X | Not Known"});
}

TEST_CASE("Sections: titles that are not headings") {
  SECTION("a table caption") {
    auto r = Extract(Page(
        "<table><caption>Default Codes</caption><tr><th>Code</th>"
        "<th>Description</th></tr>" + Row("9", "Not known") + "</table>"
        "<table><caption>National Codes</caption><tr><th>Code</th>"
        "<th>Description</th></tr>" + Row("1", "Yes") + "</table>"));
    REQUIRE(r);
    CHECK(r->method == "sections");
    CHECK(Lines(r->national) == std::vector<std::string>{"1 | Yes"});
    CHECK(Lines(r->defaults) == std::vector<std::string>{"9 | Not known"});
  }
  SECTION("bold paragraphs take the first table after them") {
    auto r = Extract(Page(
        "<p><b>National Codes</b></p>" + Table("<th>Code</th><th>Description</th>",
                                               Row("A", "Alpha")) +
        "<p><b>Default Codes</b></p>" + Table("<th>Code</th><th>Description</th>",
                                              Row("Z", "Not stated")) +
        "<p><b>Also Known As</b></p>" + Table("<th>Code</th><th>Name</th>",
                                              Row("Q", "Not a code"))));
    REQUIRE(r);
    CHECK(r->method == "sections");
    CHECK(Lines(r->national) == std::vector<std::string>{"A | Alpha"});
    CHECK(Lines(r->defaults) == std::vector<std::string>{"Z | Not stated"});
  }
}

TEST_CASE("Headers: a header row of td cells is not read as a code") {
  SECTION("DITA's sthead class") {
    auto r = Extract(Page(
        "<h2>National Codes</h2><table><tr class=\"- topic/sthead sthead\">"
        "<td>Code</td><td>Description</td></tr>" + Row("1", "One") +
        "</table>"));
    REQUIRE(r);
    CHECK(Lines(r->national) == std::vector<std::string>{"1 | One"});
  }
  SECTION("cells that read Code and Description") {
    auto r = Extract(Page("<h2>National Codes</h2><table>" +
                          Row("Code", "Description") + Row("1", "One") +
                          "</table>"));
    REQUIRE(r);
    CHECK(Lines(r->national) == std::vector<std::string>{"1 | One"});
  }
}

TEST_CASE("Definition lists without a section are a fallback") {
  auto r = Extract(Page(
      "<p>Values:</p><dl><dt>01</dt><dd>Routine</dd><dt>02</dt>"
      "<dd>Urgent<br>referral</dd></dl>"));
  REQUIRE(r);
  CHECK(r->method == "definition list");
  CHECK(Lines(r->national) ==
        std::vector<std::string>{"01 | Routine", "02 | Urgent referral"});
}

// ---------------------------------------------------------------------------
// Retired and repeated codes.

TEST_CASE("Retired rows are left out by class, suffix or strike-through") {
  auto r = Extract(Page(Section(
      "National Codes",
      Row("01", "Kept") +
          "<tr class=\"- topic/strow strow retired\"><td>02</td>"
          "<td>By class</td></tr>" +
          Row("03", "By suffix (Retired 1 April 2020)") +
          Row("04", "<div><p>By span <span>(Retired 1 April 2013)</span>"
                    "</p></div>") +
          Row("<s>05</s>", "<s>Struck</s>") +
          Row("<del>06</del>", "<del>Deleted</del>") +
          Row("07", "Also kept (not retired)"))));
  REQUIRE(r);
  CHECK(Lines(r->national) ==
        std::vector<std::string>{"01 | Kept",
                                 "07 | Also kept (not retired)"});
  for (const char* code : {"02", "03", "04", "05", "06"}) {
    INFO(code << "; warnings: " << Catch::Detail::stringify(r->warnings));
    CHECK(AnyWarningNames(*r, code));
  }
}

TEST_CASE("Repeated codes warn and keep the first occurrence") {
  auto r = Extract(Page(
      Section("National Codes", Row("01", "First") + Row("02", "Two") +
                                    Row("01", "Second")) +
      Section("Default Codes", Row("02", "Two again") + Row("99", "Unknown"))));
  REQUIRE(r);
  CHECK(Lines(r->national) ==
        std::vector<std::string>{"01 | First", "02 | Two"});
  CHECK(Lines(r->defaults) == std::vector<std::string>{"99 | Unknown"});
  INFO(Catch::Detail::stringify(r->warnings));
  CHECK(AnyWarningNames(*r, "01"));
  CHECK(AnyWarningNames(*r, "02"));
  CHECK(r->ToOptions().has_value());
}

// ---------------------------------------------------------------------------
// Malformed and hostile input: never a crash or a hang, always codes or an
// error. Sizes are kept so the whole binary stays fast on a slow machine.

const std::string& ValidSection() {
  static const std::string s =
      Section("National Codes", Row("01", "Yes") + Row("02", "No"));
  return s;
}
const std::vector<std::string> kYesNo{"01 | Yes", "02 | No"};

TEST_CASE("Hostile: empty and whitespace input fail cleanly") {
  for (const std::string& input : {std::string(), std::string(" \n\t "),
                                  std::string("<html></html>"),
                                  std::string(1, '\0')}) {
    auto r = Extract(input);
    CheckSane(r);
    CHECK_FALSE(r);
  }
}

TEST_CASE("Hostile: every byte value, and random bytes") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  CheckSane(Extract(all));
  std::string many;
  for (int i = 0; i < 200; ++i) many += all;
  CheckSane(Extract(many));

  std::mt19937 rng(20240611);  // fixed seed: failures must reproduce
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 20000);
  for (int round = 0; round < 60; ++round) {
    std::string junk(static_cast<std::size_t>(length(rng)), '\0');
    for (char& c : junk) c = static_cast<char>(byte(rng));
    INFO("round " << round);
    CheckSane(Extract(junk));
  }
}

TEST_CASE("Hostile: random tag soup made of the page's own vocabulary") {
  const std::vector<std::string> tokens = {
      "<table>", "</table>", "<thead>", "<tbody>", "<tr>", "</tr>", "<td>",
      "</td>", "<th>", "Code", "Description", "Value", "Meaning", "<h2>",
      "</h2>", "National Codes", "Default Codes", "<dl>", "<dt>", "<dd>",
      "</dl>", "<ul>", "<li>", "</ul>", " - ", ": ", "01", "A", "Yes",
      "&amp;", "&#", "&nbsp;", "<!--", "-->", "<s>", "</s>", "<br>", "<b>",
      "\xFF", "\xC3", "<div>", "</div>", "<span", ">", "\"", "<script>",
      "</script>", "(Retired 1 April 2020)", "<tr class=\"retired\">",
      "<article id=\"x_nationalCodes\">", "</article>", "<nav>", "</nav>"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, tokens.size() - 1);
  std::uniform_int_distribution<int> length(1, 3000);
  for (int round = 0; round < 200; ++round) {
    std::string soup;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) soup += tokens[pick(rng)];
    INFO("round " << round);
    CheckSane(Extract(soup));
  }
}

TEST_CASE("Hostile: a real page cut short or corrupted anywhere") {
  const std::string page =
      Read(std::string(kMirror) + "/smoking_status_code.html");
  REQUIRE(page.size() > 1000);
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::size_t> offset(0, page.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 100; ++round) {
    INFO("truncation round " << round);
    CheckSane(Extract(page.substr(0, offset(rng))));
  }
  for (int round = 0; round < 100; ++round) {
    std::string corrupt = page;
    for (int i = 0; i < 40; ++i) {
      corrupt[offset(rng)] = static_cast<char>(byte(rng));
    }
    INFO("corruption round " << round);
    CheckSane(Extract(corrupt));
  }
}

TEST_CASE("Hostile: invalid UTF-8 inside cells comes out as valid UTF-8") {
  // A lone lead byte, stray continuation bytes, an overlong '/', a UTF-16
  // surrogate and a truncated 4-byte sequence.
  const std::string bad = "Caf\xC3 \xFF\xFE \xC0\xAF \xED\xA0\x80 end\xF0\x9F";
  auto r = Extract(Page(Section(
      "National Codes", Row("01", bad) + Row("0\xFF" "2", "Bad code") +
                            Row("03", "Good"))));
  CheckSane(r);
  REQUIRE(r);
  REQUIRE(r->national.size() == 3);
  CHECK(r->national[0].code == "01");
  CHECK_THAT(r->national[0].label, Contains("Caf"));
  CHECK_THAT(r->national[0].label, Contains("end"));
  // The header promises U+FFFD for invalid bytes.
  CHECK_THAT(r->national[0].label, Contains("\xEF\xBF\xBD"));
  CHECK(IsValidUtf8(r->national[1].code));
  CHECK(r->national[2].code == "03");
  CHECK(r->national[2].label == "Good");
}

TEST_CASE("Hostile: unclosed tags still parse by the HTML5 rules") {
  SECTION("implied end tags in a code table") {
    auto r = Extract(
        "<html><body><h2>National Codes</h2><table><thead><tr><th>Code"
        "<th>Description<tbody><tr><td>01<td>Yes<tr><td>02<td>No");
    REQUIRE(r);
    CHECK(Lines(r->national) == kYesNo);
  }
  SECTION("junk that never closes") {
    CheckSane(Extract("<div><span><table><tr><td><b><i><a href=\"x"));
    CheckSane(Extract("<!-- never closed <table><tr><td>01</td>"));
    CheckSane(Extract("<script>var t = '<table><tr><td>01</td>"));
    CheckSane(Extract("<table><tr><td>01<td>Yes</table></td></td></tr>"));
  }
}

std::string Repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST_CASE("Hostile: 100,000 nested elements before or around the codes") {
  constexpr std::size_t kDeep = 100000;
  struct Case {
    const char* name;
    std::string html;
  };
  const std::vector<Case> cases = {
      {"divs closed before the table",
       Page(Repeat("<div>", kDeep) + Repeat("</div>", kDeep) +
            ValidSection())},
      {"divs around the table",
       Page(Repeat("<div>", kDeep) + ValidSection() +
            Repeat("</div>", kDeep))},
      {"spans closed before the table",
       Page(Repeat("<span>", kDeep) + Repeat("</span>", kDeep) +
            ValidSection())},
      {"spans never closed, table inside",
       Page(Repeat("<span>", kDeep) + ValidSection())},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto r = Extract(c.html);
    CheckSane(r);
    if (!r) {
      FAIL_CHECK(r.error().message);
      continue;
    }
    CHECK(Lines(r->national) == kYesNo);
  }
}

TEST_CASE("Hostile: a ~10 MB page padded with paragraphs") {
  // The smoking status page with 100,000 extra paragraphs in its
  // description, before the codes.
  const std::string page =
      Read(std::string(kMirror) + "/smoking_status_code.html");
  const std::string anchor = "<article class=\"- topic/topic topic nested1\" "
                             "aria-labelledby=\"ariaid-title4\"";
  const std::size_t at = page.find(anchor);
  REQUIRE(at != std::string::npos);
  std::string padding;
  padding.reserve(11'000'000);
  for (int i = 0; i < 100000; ++i) {
    padding += "<p class=\"- topic/p p\">Padding paragraph " +
               std::to_string(i) +
               " of a very long description, which goes on and on.</p>\n";
  }
  const std::string big = page.substr(0, at) + padding + page.substr(at);
  REQUIRE(big.size() > 8'000'000);
  auto r = ExtractNhsDdCodes(big, "big.html");
  CheckSane(r);
  REQUIRE(r);
  CHECK(Lines(r->national) ==
        std::vector<std::string>{
            "1 | Current smoker", "2 | Ex-smoker",
            "3 | Non-smoker - history unknown", "4 | Never smoked",
            "Z | Not Stated (PERSON asked but declined to provide a "
            "response)"});
  CHECK(Lines(r->defaults) ==
        std::vector<std::string>{"9 | Unknown (not recorded)"});
}

TEST_CASE("Hostile: a table of 20,000 rows keeps every code in order") {
  std::string rows;
  for (int i = 0; i < 20000; ++i) {
    char code[8];
    std::snprintf(code, sizeof code, "%05d", i);
    rows += Row(code, std::string("Label ") + code);
  }
  auto r = Extract(Page(Section("National Codes", rows)));
  CheckSane(r);
  REQUIRE(r);
  REQUIRE(r->national.size() == 20000);
  CHECK(r->national.front().code == "00000");
  CHECK(r->national[1234].code == "01234");
  CHECK(r->national[1234].label == "Label 01234");
  CHECK(r->national.back().code == "19999");
}

}  // namespace
}  // namespace datasnap
