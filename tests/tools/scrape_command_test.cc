// scrape-nhs-dd against the fake upstream serving the 48-page mirror (and
// against the mirror as a file:// URL): first scrape, conditional re-checks,
// due logic, changes, retries, failures, shrink protection, --dry-run,
// --dataset, audit events and the raw page kept with the version.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/model.h"
#include "store/store.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/refresh_test_support.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using refresh_test::Cli;
using refresh_test::Contains;
using refresh_test::CountOf;
using refresh_test::Describe;
using refresh_test::kDay;
using refresh_test::Run;
using testing::FakeResponse;
using testing::FakeUpstreamServer;
using testing::TempDir;

constexpr const char kMirrorDir[] = "tests/fixtures/upstream/nhs_dd";
constexpr const char kOrigin[] = "https://www.datadictionary.nhs.uk";

// One catalogue dataset and what its mirror page must give.
struct Page {
  std::string key;
  std::string name;
  std::string path;  // on the site: "/data_elements/ethnic_category.html"
  json options;      // as show --json prints them
};

// The 48 catalogue datasets in catalogue order, with the options
// tests/fixtures/nhs_dd/expected.json gives for their pages.
const std::vector<Page>& Pages() {
  static const std::vector<Page> pages = [] {
    const json catalogue =
        json::parse(testing::ReadFile("seeds/nhs_dd.json"));
    const json expected =
        json::parse(testing::ReadFile("tests/fixtures/nhs_dd/expected.json"));
    std::map<std::string, json> by_path;
    for (const json& p : expected["pages"]) {
      by_path[p["path"].get<std::string>()] = p;
    }
    std::vector<Page> out;
    for (const json& d : catalogue["datasets"]) {
      Page page;
      page.key = d["key"].get<std::string>();
      page.name = d["name"].get<std::string>();
      const std::string url = d["reference_url"].get<std::string>();
      REQUIRE(url.starts_with(kOrigin));
      page.path = url.substr(sizeof(kOrigin) - 1);
      const std::string fixture = std::string(kMirrorDir) + page.path;
      INFO(fixture);
      REQUIRE(by_path.count(fixture) == 1);
      const json& e = by_path[fixture];
      REQUIRE(e["error"].is_null());
      page.options = json::array();
      for (const json& c : e["national"]) {
        page.options.push_back({{"value", c[0]}, {"label", c[1]}});
      }
      for (const json& c : e["default"]) {
        page.options.push_back(
            {{"value", c[0]}, {"label", c[1]}, {"default", true}});
      }
      out.push_back(std::move(page));
    }
    return out;
  }();
  return pages;
}

const Page& PageOf(const std::string& key) {
  for (const Page& p : Pages()) {
    if (p.key == key) return p;
  }
  FAIL("no catalogue page for " << key);
  throw;  // unreachable
}

// A minimal data element page in the site's layout: the given codes under
// "National Codes" (none: no codes section at all).
std::string PageWith(const std::string& title, const json& options) {
  std::string html =
      "<!DOCTYPE html><html><head><title>" + title +
      "</title></head><body><main><article><h1>" + title + "</h1>";
  if (!options.empty()) {
    html += "<article id=\"data_element_x_nationalCodes\"><h2>National "
            "Codes</h2><table><thead><tr><th>Code</th><th>Description</th>"
            "</tr></thead><tbody>";
    for (const json& o : options) {
      html += "<tr><td>" + o["value"].get<std::string>() + "</td><td>" +
              o["label"].get<std::string>() + "</td></tr>";
    }
    html += "</tbody></table></article>";
  } else {
    html += "<p>This data element has no code list.</p>";
  }
  return html + "</article></main></body></html>";
}

// Replaces the one occurrence of `from` in `text`.
std::string ReplaceOnce(std::string text, const std::string& from,
                        const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

// The fake upstream serving a copy of the mirror that tests may change.
struct Mirror {
  Mirror() : server({.root = root.path()}) {
    REQUIRE(fs::is_directory(kMirrorDir));
    fs::copy(kMirrorDir, root.path(), fs::copy_options::recursive);
    cli.env_.variables["NHS_DD_BASE_URL"] = server.base_url();
  }

  std::string File(const Page& page) const { return root.path() + page.path; }
  std::string Read(const std::string& key) const {
    return testing::ReadFile(File(PageOf(key)));
  }
  void Write(const std::string& key, const std::string& html) const {
    testing::WriteFile(File(PageOf(key)), html);
  }

  void Seed() {
    Run r = cli({"seed-nhs-dd"});
    INFO(Describe(r));
    REQUIRE(r.code == 0);
  }

  // Seeds and scrapes everything once, successfully.
  void ScrapeAll() {
    Seed();
    Run r = cli({"scrape-nhs-dd"});
    INFO(Describe(r));
    REQUIRE(r.code == 0);
    REQUIRE(Contains(r.out, "\u2713 Successfully scraped: 48\n"));
    server.ClearRecords();
  }

  TempDir root;
  FakeUpstreamServer server;
  Cli cli;
};

TEST_CASE("scrape-nhs-dd scrapes the 48 pages of the mirror") {
  REQUIRE(Pages().size() == 48);
  Mirror m;
  Cli& cli = m.cli;
  m.Seed();
  Run r = cli({"scrape-nhs-dd"});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK(Contains(r.out, "\U0001F4CA Found 48 dataset(s) to process\n"));
  CHECK(CountOf(r.out, "\u2713 Scraped: ") == 48);
  CHECK(Contains(r.out, "\u2713 Scraped: Ethnic Category\n"));
  CHECK(Contains(r.out, "  Fetching: " +
                            m.server.Url("/data_elements/ethnic_category.html") +
                            "\n  Found 18 items\n"));
  CHECK(Contains(r.out, "\u2713 Successfully scraped: 48\n"));
  CHECK(Contains(r.out, "\u21BB Successfully updated: 0\n"));
  CHECK(Contains(r.out, "= Unchanged: 0\n"));
  CHECK(Contains(r.out, "\u229D Skipped: 0\n"));
  CHECK(Contains(r.out, "\u2717 Errors: 0\n"));
  CHECK(m.server.RequestCount() == 48);
  for (const auto& req : m.server.Requests()) {
    CHECK_FALSE(req.Header("If-None-Match"));
  }

  for (const Page& page : Pages()) {
    INFO(page.key);
    const json shown = cli.Show(page.key);
    CHECK(shown["version"] == 1);
    CHECK(shown["options"] == page.options);
    CHECK(shown["option_count"] == page.options.size());
    CHECK(shown["last_error"].is_null());
    CHECK(shown["last_scraped"] == FormatIso8601(cli.now_));
    CHECK(CountOf(r.out, "\u2713 Scraped: " + page.name + "\n") == 1);
    CHECK(m.server.RequestsFor(page.path).size() == 1);

    // The page is kept with its validators.
    const json& p = shown["provenance"];
    CHECK(p["source_url"] == m.server.Url(page.path));
    CHECK(p["fetched_at"] == FormatIso8601(cli.now_));
    CHECK(p["etag"] == FakeUpstreamServer::ETagFor(testing::ReadFile(m.File(page))));
    CHECK(p["last_modified"].is_string());
    CHECK(p["content_type"] == "text/html; charset=utf-8");
    REQUIRE(p["raw_sha256"].is_string());
    CHECK(p["raw_sha256"].get<std::string>().size() == 64);
  }

  SECTION("the raw page is in the store under raw_sha256") {
    const Page& page = PageOf("smoking_status_code");
    const std::string sha =
        cli.Show(page.key)["provenance"]["raw_sha256"].get<std::string>();
    StoreOptions options;
    options.read_only = true;
    auto store = Store::Open(cli.store_, options);
    REQUIRE(store);
    auto raw = (*store)->Read([&](const ReadTxn& txn) { return txn.GetRaw(sha); });
    REQUIRE(raw);
    REQUIRE(raw->has_value());
    CHECK(**raw == testing::ReadFile(m.File(page)));
  }

  SECTION("audit events") {
    CHECK(cli.AuditCount("scrape.scraped") == 48);
    CHECK(cli.AuditCount("scrape.scraped", "zygosity_status") == 1);
    const json audit = cli.Json({"audit", "--json", "--limit", "1"});
    CHECK(audit[0]["action"] == "scrape-nhs-dd");
    CHECK(Contains(audit[0]["detail"].get<std::string>(),
                   "48 checked: 48 first versions, 0 updated, 0 unchanged, "
                   "0 skipped, 0 failed"));
  }

  SECTION("a second run with --force is all 304s and creates no versions") {
    m.server.ClearRecords();
    cli.now_ += kDay;
    Run again = cli({"scrape-nhs-dd", "--force"});
    INFO(Describe(again));
    CHECK(again.code == 0);
    CHECK(m.server.RequestCount() == 48);
    for (const Page& page : Pages()) {
      INFO(page.key);
      const auto requests = m.server.RequestsFor(page.path);
      REQUIRE(requests.size() == 1);
      // Conditional on the stored ETag, which the file still has: the
      // server answers 304.
      CHECK(requests[0].Header("If-None-Match") ==
            FakeUpstreamServer::ETagFor(testing::ReadFile(m.File(page))));
      CHECK(cli.Json({"history", page.key, "--json"}).size() == 1);
    }
    CHECK(CountOf(again.out, "  Not modified (HTTP 304)\n") == 48);
    CHECK(CountOf(again.out, "= Unchanged: ") == 49);  // 48 + the summary
    CHECK(Contains(again.out, "= Unchanged: 48\n"));
    CHECK(Contains(again.out, "\u2713 Successfully scraped: 0\n"));
    CHECK(Contains(again.out, "\u21BB Successfully updated: 0\n"));
    CHECK(cli.AuditCount("scrape.unchanged") == 48);
    CHECK(cli.Show("ethnic_category")["last_scraped"] == FormatIso8601(cli.now_));
  }

  SECTION("8 days later everything is due, and unchanged") {
    m.server.ClearRecords();
    cli.now_ += 8 * kDay;
    Run later = cli({"scrape-nhs-dd"});
    INFO(Describe(later));
    CHECK(later.code == 0);
    CHECK(m.server.RequestCount() == 48);
    for (const auto& req : m.server.Requests()) {
      CHECK(req.Header("If-None-Match").has_value());
    }
    CHECK(CountOf(later.out, "  Not modified (HTTP 304)\n") == 48);
    CHECK(Contains(later.out, "= Unchanged: 48\n"));
    CHECK(cli.Json({"history", "ethnic_category", "--json"}).size() == 1);
  }

  SECTION("within 7 days everything is skipped, without a request") {
    m.server.ClearRecords();
    cli.now_ += 3 * kDay;
    Run soon = cli({"scrape-nhs-dd"});
    INFO(Describe(soon));
    CHECK(soon.code == 0);
    CHECK(m.server.RequestCount() == 0);
    CHECK(Contains(soon.out, "\u229D Skipped: Ethnic Category (scraped 3 days "
                             "ago, next in 4 days)\n"));
    for (const Page& page : Pages()) {
      CHECK(Contains(soon.out, "\u229D Skipped: " + page.name + " (scraped "));
    }
    CHECK(Contains(soon.out, "\u229D Skipped: 48\n"));
    CHECK(Contains(soon.out, "\u2713 Successfully scraped: 0\n"));
  }
}

TEST_CASE("scrape-nhs-dd: a changed page gives exactly one new version") {
  Mirror m;
  Cli& cli = m.cli;
  m.ScrapeAll();
  const std::string smoking = m.Read("smoking_status_code");
  cli.now_ += 8 * kDay;

  json expected = PageOf("smoking_status_code").options;
  std::string diff;
  SECTION("a code added") {
    m.Write("smoking_status_code",
            ReplaceOnce(smoking, "<td class=\"- topic/stentry stentry\" headers=\"data_element_smoking_status_code_nationalCodes__stentry__1\">Z</td>",
                        "<td>5</td><td>Vapes only</td></tr><tr><td "
                        "class=\"- topic/stentry stentry\" headers=\"data_element_smoking_status_code_nationalCodes__stentry__1\">Z</td>"));
    expected.insert(expected.begin() + 4,
                    json{{"value", "5"}, {"label", "Vapes only"}});
    diff = "+1 \u22120 ~0";
  }
  SECTION("a label changed") {
    m.Write("smoking_status_code",
            ReplaceOnce(smoking, ">Ex-smoker</td>", ">Former smoker</td>"));
    expected[1]["label"] = "Former smoker";
    diff = "+0 \u22120 ~1";
  }
  SECTION("a code removed and another added") {
    m.Write("smoking_status_code",
            ReplaceOnce(ReplaceOnce(smoking, ">Never smoked</td>",
                                    ">Never smoked</td></tr><tr><td>6</td><td>Passive smoker</td>"),
                        "\">3</td>", "\">7</td>"));
    expected[2]["value"] = "7";
    expected.insert(expected.begin() + 4,
                    json{{"value", "6"}, {"label", "Passive smoker"}});
    diff = "+2 \u22121 ~0";
  }

  Run r = cli({"scrape-nhs-dd"});
  INFO(Describe(r));
  CHECK(r.code == 0);
  CHECK(CountOf(r.out, "\u21BB Updated: ") == 1);
  CHECK(Contains(r.out, "\u21BB Updated: Smoking Status Code (" + diff + ")\n"));
  CHECK(Contains(r.out, "\u21BB Successfully updated: 1\n"));
  CHECK(Contains(r.out, "= Unchanged: 47\n"));
  CHECK(Contains(r.out, "\u2713 Successfully scraped: 0\n"));
  const json shown = cli.Show("smoking_status_code");
  CHECK(shown["version"] == 2);
  CHECK(shown["options"] == expected);
  CHECK(shown["provenance"]["etag"] ==
        FakeUpstreamServer::ETagFor(m.Read("smoking_status_code")));
  const json history = cli.Json({"history", "smoking_status_code", "--json"});
  REQUIRE(history.size() == 2);
  CHECK(history[0]["provenance"]["raw_sha256"] !=
        history[1]["provenance"]["raw_sha256"]);
  // No other dataset has a second version.
  for (const json& d : cli.Json({"list", "--json"})) {
    INFO(d["key"]);
    CHECK(d["version"] == (d["key"] == "smoking_status_code" ? 2 : 1));
  }
  CHECK(cli.AuditCount("scrape.updated") == 1);
  CHECK(cli.AuditCount("scrape.updated", "smoking_status_code") == 1);
  CHECK(cli.AuditCount("scrape.unchanged") == 47);
  bool noted = false;
  for (const json& e : cli.Audit()) {
    if (e["action"] == "scrape.updated") {
      // The audit log is plain ASCII: "-" for the terminal's minus sign.
      std::string ascii = diff;
      ascii.replace(ascii.find("\u2212"), std::string("\u2212").size(), "-");
      noted = Contains(e["detail"].get<std::string>(), ascii);
    }
  }
  CHECK(noted);
}

TEST_CASE("scrape-nhs-dd retries a 503 and then succeeds") {
  Mirror m;
  m.Seed();
  const Page& page = PageOf("ethnic_category");
  m.server.SetScenario(
      page.path, {FakeResponse::Status(503, {}, "busy"),
                  FakeResponse::Ok(m.Read(page.key), "text/html; charset=utf-8")});
  Run r = m.cli({"scrape-nhs-dd", "--dataset", page.key});
  INFO(Describe(r));
  CHECK(r.code == 0);
  CHECK(m.server.RequestsFor(page.path).size() == 2);
  CHECK(Contains(r.out, "\u2713 Scraped: Ethnic Category\n"));
  CHECK(Contains(r.out, "\u2717 Errors: 0\n"));
  const json shown = m.cli.Show(page.key);
  CHECK(shown["version"] == 1);
  CHECK(shown["options"] == page.options);
  CHECK(shown["last_error"].is_null());
}

TEST_CASE("scrape-nhs-dd: failed pages keep their versions, the rest go on") {
  Mirror m;
  Cli& cli = m.cli;
  m.ScrapeAll();
  cli.now_ += 8 * kDay;

  const Page& missing = PageOf("ethnic_category");
  const Page& no_codes = PageOf("zygosity_status");
  const Page& truncated = PageOf("ward_security_level");
  m.server.SetScenario(missing.path, {FakeResponse::Status(404, {}, "gone")});
  m.Write(no_codes.key, PageWith("ZYGOSITY STATUS", json::array()));
  m.server.SetScenario(truncated.path,
                       {FakeResponse::WithFault(testing::Fault::kTruncatedBody,
                                                m.Read(truncated.key))});
  Run r = cli({"scrape-nhs-dd"});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Contains(r.out, "\u2717 Error scraping Ethnic Category: "));
  CHECK(Contains(r.out, "HTTP 404"));
  CHECK(Contains(r.out, "\u2717 Error scraping Zygosity Status: No valid "
                        "options found on the page"));
  CHECK(Contains(r.out, "\u2717 Error scraping Ward Security Level: GET " +
                            m.server.Url(truncated.path)));
  CHECK(CountOf(r.out, "\u2717 Error scraping ") == 3);
  CHECK(Contains(r.out, "\u2717 Errors: 3\n"));
  CHECK(Contains(r.out, "= Unchanged: 45\n"));
  CHECK(m.server.RequestsFor(truncated.path).size() > 1);  // retried

  const json status = cli.Status();
  for (const Page* page : {&missing, &no_codes, &truncated}) {
    INFO(page->key);
    const json shown = cli.Show(page->key);
    CHECK(shown["version"] == 1);
    CHECK(shown["options"] == page->options);
    CHECK(shown["last_error"].is_string());
    CHECK(status[page->key]["last_error"] == shown["last_error"]);
    CHECK(cli.AuditCount("scrape.failed", page->key) == 1);
    CHECK(cli.Json({"history", page->key, "--json"}).size() == 1);
  }
  CHECK(Contains(status["ethnic_category"]["last_error"].get<std::string>(),
                 "HTTP 404"));
  CHECK(Contains(status["zygosity_status"]["last_error"].get<std::string>(),
                 "No valid options found on the page"));
  CHECK(cli.AuditCount("scrape.failed") == 3);
  CHECK(cli.AuditCount("scrape.unchanged") == 45);
  CHECK(status["smoking_status_code"]["last_error"].is_null());
  CHECK(status["smoking_status_code"]["version"] == 1);

  SECTION("once the pages are back, the errors clear") {
    m.server.ClearScenarios();
    m.Write(no_codes.key, testing::ReadFile(std::string(kMirrorDir) + no_codes.path));
    cli.now_ += kDay;
    Run fixed = cli({"scrape-nhs-dd", "--force"});
    INFO(Describe(fixed));
    CHECK(fixed.code == 0);
    for (const Page* page : {&missing, &no_codes, &truncated}) {
      INFO(page->key);
      const json shown = cli.Show(page->key);
      CHECK(shown["version"] == 1);
      CHECK(shown["last_error"].is_null());
    }
  }
}

TEST_CASE("scrape-nhs-dd refuses a response that is not an HTML page") {
  Mirror m;
  m.Seed();
  const Page& page = PageOf("smoking_status_code");
  m.server.SetScenario(page.path, {FakeResponse::Ok(R"({"codes": []})",
                                                    "application/json")});
  Run r = m.cli({"scrape-nhs-dd", "--dataset", page.key});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Contains(r.out, "\u2717 Error scraping Smoking Status Code: expected "
                        "an HTML page, got Content-Type application/json\n"));
  const json shown = m.cli.Show(page.key);
  CHECK(shown["version"].is_null());
  CHECK(Contains(shown["last_error"].get<std::string>(), "application/json"));
  CHECK(m.cli.AuditCount("scrape.failed", page.key) == 1);
}

TEST_CASE("scrape-nhs-dd refuses a page that shrank to under half") {
  Mirror m;
  Cli& cli = m.cli;
  m.ScrapeAll();
  const Page& page = PageOf("treatment_function_code");
  REQUIRE(page.options.size() > 10);
  json few = json::array();
  for (std::size_t i = 0; i < 3; ++i) few.push_back(page.options[i]);
  m.Write(page.key, PageWith("TREATMENT FUNCTION CODE", few));
  cli.now_ += 8 * kDay;

  Run refused = cli({"scrape-nhs-dd"});
  INFO(Describe(refused));
  CHECK(refused.code == 1);
  CHECK(Contains(refused.out,
                 "\u2717 Error scraping Treatment Function Code: refused: the "
                 "response gives 3 options where version 1 has " +
                     std::to_string(page.options.size()) +
                     " (fewer than half); version 1 is kept."));
  CHECK(Contains(refused.out, "--allow-shrink"));
  CHECK(Contains(refused.out, "\u2717 Errors: 1\n"));
  json shown = cli.Show(page.key);
  CHECK(shown["version"] == 1);
  CHECK(shown["options"] == page.options);
  CHECK(Contains(shown["last_error"].get<std::string>(), "fewer than half"));

  Run accepted = cli({"scrape-nhs-dd", "--dataset", page.key, "--allow-shrink"});
  INFO(Describe(accepted));
  CHECK(accepted.code == 0);
  CHECK(Contains(accepted.out, "\u21BB Updated: Treatment Function Code (+0 \u2212" +
                                   std::to_string(page.options.size() - 3) +
                                   " ~0)\n"));
  shown = cli.Show(page.key);
  CHECK(shown["version"] == 2);
  CHECK(shown["options"] == few);
  CHECK(shown["last_error"].is_null());
}

TEST_CASE("scrape-nhs-dd --dry-run leaves the store as it was") {
  Mirror m;
  Cli& cli = m.cli;
  m.Seed();

  SECTION("first scrape") {
    const std::string before = cli.StoreBytes();
    Run r = cli({"scrape-nhs-dd", "--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "DRY RUN: nothing will be written to the store\n"));
    CHECK(CountOf(r.out, "\u2713 Would scrape: ") == 48);
    CHECK(Contains(r.out, "\u2713 Would scrape: Smoking Status Code\n"));
    CHECK(Contains(r.out, "\u2713 Successfully scraped: 48 (dry run)\n"));
    CHECK(m.server.RequestCount() == 48);
    CHECK(cli.StoreBytes() == before);
    CHECK(cli.Show("smoking_status_code")["version"].is_null());
  }

  SECTION("after a scrape, with a change and a failure") {
    Run first = cli({"scrape-nhs-dd"});
    REQUIRE(first.code == 0);
    cli.now_ += 8 * kDay;
    m.Write("smoking_status_code",
            ReplaceOnce(m.Read("smoking_status_code"), ">Ex-smoker</td>",
                        ">Former smoker</td>"));
    m.Write("zygosity_status", PageWith("ZYGOSITY STATUS", json::array()));
    const std::string before = cli.StoreBytes();
    Run r = cli({"scrape-nhs-dd", "--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == 1);
    CHECK(Contains(r.out, "\u21BB Would update: Smoking Status Code (+0 \u22120 ~1)\n"));
    CHECK(Contains(r.out, "\u2717 Error scraping Zygosity Status: "));
    CHECK(Contains(r.out, "\u21BB Successfully updated: 1 (dry run)\n"));
    CHECK(cli.StoreBytes() == before);
    CHECK(cli.Show("smoking_status_code")["version"] == 1);
    CHECK(cli.Show("zygosity_status")["last_error"].is_null());
    CHECK(cli.AuditCount("scrape.updated") == 0);
    CHECK(cli.AuditCount("scrape.failed") == 0);
  }
}

TEST_CASE("scrape-nhs-dd --dataset: a key, an older alias, an unknown name") {
  Mirror m;
  Cli& cli = m.cli;
  m.Seed();

  SECTION("a key") {
    Run r = cli({"scrape-nhs-dd", "--dataset", "smoking_status_code"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "\U0001F4CA Found 1 dataset(s) to process\n"));
    CHECK(Contains(r.out, "\u2713 Scraped: Smoking Status Code\n"));
    CHECK(m.server.RequestCount() == 1);
    CHECK(cli.Show("smoking_status_code")["version"] == 1);
    CHECK(cli.Show("ethnic_category")["version"].is_null());
  }
  SECTION("an older alias") {
    Run r = cli({"scrape-nhs-dd", "--dataset", "accommodation_status_code"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "\u2713 Scraped: Accommodation Status\n"));
    CHECK(m.server.RequestCount() == 1);
    CHECK(m.server.RequestsFor(PageOf("accommodation_status").path).size() == 1);
    CHECK(cli.Show("accommodation_status")["options"] ==
          PageOf("accommodation_status").options);
  }
  SECTION("an unknown name is a usage error with a suggestion") {
    Run r = cli({"scrape-nhs-dd", "--dataset", "smoking_statu"});
    INFO(Describe(r));
    CHECK(r.code == 2);
    CHECK(Contains(r.err, "no dataset 'smoking_statu'; did you mean "
                          "'smoking_status_code'?"));
    CHECK(m.server.RequestCount() == 0);
  }
  SECTION("a dataset of another category is refused") {
    REQUIRE(cli({"seed-external"}).code == 0);
    Run r = cli({"scrape-nhs-dd", "--dataset", "nhs_trusts"});
    INFO(Describe(r));
    CHECK(r.code == 2);
    CHECK(Contains(r.err, "'nhs_trusts' is a rcpch dataset"));
    CHECK(m.server.RequestCount() == 0);
  }
  SECTION("the original command name takes the same flags") {
    Run r = cli({"scrape_nhs_dd_datasets", "--dataset", "zygosity_status",
                 "--force", "--allow-shrink", "--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "\u2713 Would scrape: Zygosity Status\n"));
    Run real = cli({"scrape_nhs_dd_datasets", "--dataset", "zygosity_status"});
    INFO(Describe(real));
    CHECK(real.code == 0);
    CHECK(cli.Show("zygosity_status")["options"] ==
          PageOf("zygosity_status").options);
    // Within 7 days it is skipped unless forced.
    cli.now_ += kDay;
    Run skipped = cli({"scrape_nhs_dd_datasets", "--dataset", "zygosity_status"});
    INFO(Describe(skipped));
    CHECK(skipped.code == 0);
    CHECK(Contains(skipped.out, "\u229D Skipped: Zygosity Status (scraped 24 "
                                "hours ago, next in 6 days)\n"));
    Run forced = cli({"scrape_nhs_dd_datasets", "--dataset", "zygosity_status",
                      "--force"});
    CHECK(forced.code == 0);
    CHECK(Contains(forced.out, "  Not modified (HTTP 304)\n"));
    CHECK(m.server.RequestCount() == 3);
  }
  SECTION("a base URL with a trailing slash") {
    cli.env_.variables["NHS_DD_BASE_URL"] = m.server.base_url() + "/";
    Run r = cli({"scrape-nhs-dd", "--dataset", "ethnic_category"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    REQUIRE(m.server.RequestCount() == 1);
    CHECK(m.server.Requests()[0].target == PageOf("ethnic_category").path);
  }
}

TEST_CASE("scrape-nhs-dd reads the mirror through a file:// base URL") {
  Cli cli;
  const std::string mirror = fs::canonical(kMirrorDir).string();
  cli.env_.variables["NHS_DD_BASE_URL"] = "file://" + mirror;
  REQUIRE(cli({"seed-nhs-dd"}).code == 0);
  Run r = cli({"scrape-nhs-dd"});
  INFO(Describe(r));
  CHECK(r.code == 0);
  CHECK(Contains(r.out, "\u2713 Successfully scraped: 48\n"));
  CHECK(Contains(r.out, "  Fetching: file://" + mirror +
                            "/data_elements/ethnic_category.html\n"));
  for (const Page& page : Pages()) {
    INFO(page.key);
    const json shown = cli.Show(page.key);
    CHECK(shown["version"] == 1);
    CHECK(shown["options"] == page.options);
    CHECK(Contains(shown["provenance"]["source_url"].get<std::string>(),
                   "file://"));
    CHECK(shown["provenance"]["raw_sha256"].is_string());
  }
  // Again: the same pages are unchanged.
  cli.now_ += 8 * kDay;
  Run again = cli({"scrape-nhs-dd"});
  INFO(Describe(again));
  CHECK(again.code == 0);
  CHECK(Contains(again.out, "= Unchanged: 48\n"));
}

TEST_CASE("scrape-nhs-dd before seeding says to seed") {
  Mirror m;
  REQUIRE(m.cli({"seed-external"}).code == 0);
  Run r = m.cli({"scrape-nhs-dd"});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Contains(r.err, "datasnap seed-nhs-dd"));
  CHECK(m.server.RequestCount() == 0);
}

}  // namespace
}  // namespace datasnap
