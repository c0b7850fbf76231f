// Drives the datasnap CLI in-process: exit codes, output, error texts.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "core/model.h"
#include "store/store.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"
#include "tools/cli.h"

namespace datasnap {
namespace {

using nlohmann::json;
using testing::TempDir;

constexpr UnixSeconds kNow = 1795000000;  // 2026-11-18T...

struct Run {
  int code;
  std::string out;
  std::string err;
};

class Cli {
 public:
  Cli() : store_(dir_.File("store.lmdb")) {
    env_.variables["DATASNAP_STORE"] = store_;
    env_.variables["USER"] = "tester";
    env_.clock = [this] { return now_; };
  }

  Run operator()(std::vector<std::string> args) {
    std::ostringstream out, err;
    const int code = RunCli(args, out, err, env_);
    return {code, out.str(), err.str()};
  }

  json Json(std::vector<std::string> args) {
    Run r = (*this)(std::move(args));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return json::parse(r.out);
  }

  // Stores `options` as a new version of `key`, as a fetch would.
  void Commit(const std::string& key, std::vector<Option> options) {
    StoreOptions so;
    so.clock = [this] { return now_; };
    auto store = Store::Open(store_, so);
    REQUIRE(store);
    auto list = OptionList::Make(std::move(options));
    REQUIRE(list);
    Provenance p;
    p.source_url = "https://example.test/" + key;
    auto result = (*store)->Write([&](WriteTxn& txn) {
      return txn.CommitOptions(key, *list, p);
    });
    REQUIRE(result);
  }

  TempDir dir_;
  std::string store_;
  CliEnvironment env_;
  UnixSeconds now_ = kNow;
};

std::size_t CountCategory(const json& list, const std::string& category) {
  std::size_t n = 0;
  for (const auto& d : list) n += d["category"] == category;
  return n;
}

TEST_CASE("--jobs must be 1 to 64") {
  Cli cli;
  for (const char* bad : {"0", "65", "many"}) {
    INFO(bad);
    Run r = cli({"--jobs", bad, "status"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("--jobs") != std::string::npos);
  }
  CHECK(cli({"seed-nhs-dd"}).code == kExitOk);
  CHECK(cli({"--jobs", "1", "status"}).code == kExitOk);
}

TEST_CASE("version, help and usage errors") {
  Cli cli;
  SECTION("--version") {
    Run r = cli({"--version"});
    CHECK(r.code == kExitOk);
    CHECK(r.out.find("datasnap 0.1.0") != std::string::npos);
  }
  SECTION("--help lists every command and the original names") {
    Run r = cli({"--help"});
    CHECK(r.code == kExitOk);
    for (const char* name : {"seed-nhs-dd", "seed_nhs_datasets", "seed-external",
                             "seed_external_datasets", "list", "show",
                             "history", "status", "audit"}) {
      CHECK(r.out.find(name) != std::string::npos);
    }
  }
  SECTION("--help of a command") {
    Run r = cli({"show", "--help"});
    CHECK(r.code == kExitOk);
    CHECK(r.out.find("--version") != std::string::npos);
    CHECK(r.out.find("KEY") != std::string::npos);
  }
  SECTION("no command") {
    Run r = cli({});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("no command given") != std::string::npos);
  }
  SECTION("unknown command gets a suggestion") {
    Run r = cli({"stauts"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("unknown command 'stauts'; did you mean 'status'?") !=
          std::string::npos);
  }
  SECTION("unknown option") {
    Run r = cli({"list", "--colour"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("--colour") != std::string::npos);
    CHECK(r.err.find("datasnap list --help") != std::string::npos);
  }
  SECTION("missing argument") {
    Run r = cli({"show"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("KEY") != std::string::npos);
  }
  SECTION("nothing touches the store on usage errors") {
    cli({"stauts"});
    cli({"list", "--colour"});
    CHECK_FALSE(std::filesystem::exists(cli.store_));
  }
}

TEST_CASE("queries on a missing store say how to create one") {
  Cli cli;
  for (const char* command : {"list", "status", "audit"}) {
    Run r = cli({command});
    INFO(command);
    CHECK(r.code == kExitFailure);
    CHECK(r.err.find("no store at '" + cli.store_ + "'") != std::string::npos);
    CHECK(r.err.find("datasnap seed-nhs-dd") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(cli.store_));
}

TEST_CASE("seeding creates the catalogue's 55 records, idempotently") {
  Cli cli;
  Run nhs = cli({"seed-nhs-dd"});
  REQUIRE(nhs.code == kExitOk);
  CHECK(nhs.out.find("48 created, 0 updated, 0 unchanged") != std::string::npos);
  Run rcpch = cli({"seed-external"});
  REQUIRE(rcpch.code == kExitOk);
  CHECK(rcpch.out.find("7 created, 0 updated, 0 unchanged") != std::string::npos);

  json first = cli.Json({"list", "--json"});
  CHECK(first.size() == 55);
  CHECK(CountCategory(first, "nhs_dd") == 48);
  CHECK(CountCategory(first, "rcpch") == 7);
  for (const auto& d : first) {
    CHECK(d["version"].is_null());
    CHECK(d["option_count"] == 0);
  }
  const json audit_before = cli.Json({"audit", "--json", "--limit", "1000"});

  // A second run, later, through the original command names.
  cli.now_ += 3600;
  Run again = cli({"seed_nhs_datasets"});
  REQUIRE(again.code == kExitOk);
  CHECK(again.out.find("0 created, 0 updated, 48 unchanged") != std::string::npos);
  CHECK(cli({"seed_external_datasets"}).code == kExitOk);

  CHECK(cli.Json({"list", "--json"}) == first);
  for (const auto& d : first) {
    json history = cli.Json({"history", d["key"], "--json"});
    CHECK(history.empty());
  }
  // Only the two seed runs were logged.
  const json audit_after = cli.Json({"audit", "--json", "--limit", "1000"});
  REQUIRE(audit_after.size() == audit_before.size() + 2);
  CHECK(audit_after[0]["action"] == "seed-external");
  CHECK(audit_after[1]["action"] == "seed-nhs-dd");
  CHECK(audit_after[1]["actor"] == "tester");
  CHECK(audit_after[1]["detail"] == "created 0, updated 0, unchanged 48");
}

TEST_CASE("seed-nhs-dd --clear removes NHS DD records and their versions") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  REQUIRE(cli({"seed-external"}).code == kExitOk);
  cli.Commit("smoking_status_code", {{"1", "Current smoker", {}},
                                     {"2", "Ex-smoker", {}}});
  cli.Commit("nhs_trusts", {{"RGT", "Cambridge", {}}});

  Run r = cli({"seed-nhs-dd", "--clear"});
  REQUIRE(r.code == kExitOk);
  CHECK(r.out.find("Cleared 48 NHS Data Dictionary dataset(s) with 1 version(s).") !=
        std::string::npos);
  CHECK(r.out.find("48 created") != std::string::npos);
  CHECK(cli.Json({"history", "smoking_status_code", "--json"}).empty());
  // RCPCH data is untouched.
  CHECK(cli.Json({"show", "nhs_trusts", "--json"})["version"] == 1);
  json audit = cli.Json({"audit", "--json", "--limit", "1"});
  CHECK(audit[0]["detail"].get<std::string>().find(
            "cleared 48 dataset(s) with 1 version(s)") != std::string::npos);
}

TEST_CASE("seed-nhs-dd --clear keeps the datasets custom versions depend on") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  cli.Commit("smoking_status_code", {{"1", "Current smoker", {}},
                                     {"2", "Ex-smoker", {}}});
  cli.Commit("ethnic_category", {{"A", "White British", {}}});
  REQUIRE(cli({"customise", "smoking_status_code", "--org", "acme"}).code ==
          kExitOk);
  // A deleted custom version keeps its link too.
  REQUIRE(cli({"customise", "ethnic_category", "--org", "beta"}).code ==
          kExitOk);
  REQUIRE(cli({"delete", "ethnic_category_beta"}).code == kExitOk);

  Run r = cli({"seed-nhs-dd", "--clear"});
  INFO(r.out << r.err);
  REQUIRE(r.code == kExitOk);
  CHECK(r.out.find("Cleared 46 NHS Data Dictionary dataset(s) with 0 "
                   "version(s).") != std::string::npos);
  CHECK(r.err.find("kept smoking_status_code (customised by "
                   "smoking_status_code_acme): custom versions depend on "
                   "it") != std::string::npos);
  CHECK(r.err.find("kept ethnic_category (customised by "
                   "ethnic_category_beta)") != std::string::npos);
  // The parents are there with their versions; no link dangles.
  CHECK(cli.Json({"show", "smoking_status_code", "--json"})["version"] == 1);
  CHECK(cli.Json({"history", "ethnic_category", "--json"}).size() == 1);
  for (const json& d : cli.Json({"list", "--org", "acme", "--json"})) {
    if (d["parent"].is_string() && !d["parent"].get<std::string>().empty()) {
      CHECK(cli({"show", d["parent"].get<std::string>()}).code == kExitOk);
    }
  }
  json audit = cli.Json({"audit", "--json", "--limit", "1"});
  CHECK(audit[0]["detail"].get<std::string>().find(
            "kept smoking_status_code (customised by "
            "smoking_status_code_acme)") != std::string::npos);
}

TEST_CASE("show, history and status after versions are stored") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  REQUIRE(cli({"seed-external"}).code == kExitOk);

  SECTION("show --json of a dataset with no versions") {
    json j = cli.Json({"show", "ethnic_category", "--json"});
    CHECK(j["key"] == "ethnic_category");
    CHECK(j["name"] == "Ethnic Category");
    CHECK(j["category"] == "nhs_dd");
    CHECK(j["version"].is_null());
    CHECK(j["options"] == json::array());
  }

  cli.Commit("welsh_lhbs", {{"7A1", "Betsi Cadwaladr", {}},
                            {"7A1AU", "Ysbyty Gwynedd – Bangor", "7A1"}});
  cli.now_ += 60;
  cli.Commit("welsh_lhbs", {{"7A1", "Betsi Cadwaladr University", {}}});

  SECTION("show --json gives the current options with parents") {
    json j = cli.Json({"show", "welsh_lhbs", "--json"});
    CHECK(j["version"] == 2);
    CHECK(j["options"] ==
          json::parse(R"([{"value":"7A1","label":"Betsi Cadwaladr University"}])"));
    json old = cli.Json({"show", "welsh_lhbs", "--version", "1", "--json"});
    CHECK(old["version"] == 1);
    CHECK(old["options"] == json::parse(R"([
      {"value":"7A1","label":"Betsi Cadwaladr"},
      {"value":"7A1AU","label":"Ysbyty Gwynedd – Bangor","parent":"7A1"}])"));
    CHECK(old["provenance"]["source_url"] == "https://example.test/welsh_lhbs");
  }
  SECTION("show as text") {
    Run r = cli({"show", "welsh_lhbs", "--version", "1"});
    REQUIRE(r.code == kExitOk);
    CHECK(r.out.find("version 1 of 2, 2 options") != std::string::npos);
    CHECK(r.out.find("7A1AU  Ysbyty Gwynedd – Bangor  7A1") != std::string::npos);
  }
  SECTION("a missing version is a usage error") {
    Run r = cli({"show", "welsh_lhbs", "--version", "3"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("'welsh_lhbs' has no version 3 (versions 1 to 2)") !=
          std::string::npos);
    Run zero = cli({"show", "welsh_lhbs", "--version", "0"});
    CHECK(zero.code == kExitUsage);
    CHECK(zero.err.find("versions start at 1") != std::string::npos);
    Run none = cli({"show", "ethnic_category", "--version", "1"});
    CHECK(none.code == kExitUsage);
    CHECK(none.err.find("'ethnic_category' has no version 1 (it has no "
                        "versions yet)") != std::string::npos);
  }
  SECTION("history lists versions oldest first") {
    json h = cli.Json({"history", "welsh_lhbs", "--json"});
    REQUIRE(h.size() == 2);
    CHECK(h[0]["version"] == 1);
    CHECK(h[0]["option_count"] == 2);
    CHECK(h[1]["version"] == 2);
    CHECK(h[1]["option_count"] == 1);
  }
  SECTION("status says what is due") {
    json s = cli.Json({"status", "--json"});
    REQUIRE(s.size() == 55);
    for (const auto& d : s) {
      if (d["key"] == "welsh_lhbs") {
        CHECK(d["version"] == 2);
        CHECK(d["due"] == false);
        CHECK(d["next_due_at"] == FormatIso8601(cli.now_ + 24 * 3600));
      } else {
        CHECK(d["due"] == true);
      }
    }
    cli.now_ += 25 * 3600;
    for (const auto& d : cli.Json({"status", "--json"})) CHECK(d["due"] == true);
    Run text = cli({"status"});
    CHECK(text.out.find("55 datasets: 1 with options, 55 due now, 0 with errors") !=
          std::string::npos);
  }
  SECTION("list --category") {
    CHECK(cli.Json({"list", "--category", "rcpch", "--json"}).size() == 7);
    Run r = cli({"list", "--category", "nhs"});
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find("unknown category 'nhs'") != std::string::npos);
  }
}

TEST_CASE("dataset names: aliases resolve, unknown keys get suggestions") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  struct Case {
    const char* typed;
    const char* resolved;
  };
  for (const Case& c : {Case{"accommodation_status_code", "accommodation_status"},
                        Case{"outpatient_attendance_outcome",
                             "out-patient_attendance_outcome"},
                        Case{"blood_group_baby", "blood_group_baby"}}) {
    INFO(c.typed);
    CHECK(cli.Json({"show", c.typed, "--json"})["key"] == c.resolved);
  }
  struct Unknown {
    const char* typed;
    const char* message;
  };
  for (const Unknown& u :
       {Unknown{"smoking_statu", "no dataset 'smoking_statu'; did you mean "
                                 "'smoking_status_code'?"},
        Unknown{"zygosity", "did you mean 'zygosity_status'?"},
        Unknown{"qqqqqqqqqqqqqqqqqqqq", "no dataset 'qqqqqqqqqqqqqqqqqqqq'; "
                                        "`datasnap list`"}}) {
    INFO(u.typed);
    for (const char* command : {"show", "history"}) {
      Run r = cli({command, u.typed});
      CHECK(r.code == kExitUsage);
      CHECK(r.err.find(u.message) != std::string::npos);
      CHECK(r.out.empty());
    }
  }
}

TEST_CASE("a busy store names its writer and exits 75 (EX_TEMPFAIL)") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  StoreOptions so;
  so.actor = "nightly-job";
  auto holder = Store::Open(cli.store_, so);
  REQUIRE(holder);
  Run r = cli({"--wait-for-writer", "0", "seed-external"});
  CHECK(r.code == kExitTempFail);
  CHECK(r.code == 75);  // a number schedulers and scripts rely on
  CHECK(r.err.find("another process (pid ") != std::string::npos);
  CHECK(r.err.find("nightly-job") != std::string::npos);
  CHECK(r.err.find("--wait-for-writer") != std::string::npos);
  // (Readers are not blocked: store_concurrency_test shows it from another
  // process; LMDB forbids a second open of the file in this one.)
}

TEST_CASE("a broken catalogue is a clear error and stores nothing") {
  Cli cli;
  const std::string catalogue = cli.dir_.File("catalogue");
  std::filesystem::create_directory(catalogue);
  testing::WriteFile(catalogue + "/nhs_dd.json", R"({"format": 1, "datasets": [
    {"key": "ok_key", "aliases": [], "name": "Fine", "reference_url": "https://x.test/a.html",
     "tags": ["NHS"], "refresh_interval_days": 7},
    {"key": "Bad Key", "aliases": [], "name": "Broken", "reference_url": "https://x.test/b.html",
     "tags": ["NHS"], "refresh_interval_days": 7}]})");
  testing::WriteFile(catalogue + "/rcpch.json",
                     R"({"format": 1, "datasets": []})");
  Run r = cli({"--catalogue", catalogue, "seed-nhs-dd"});
  CHECK(r.code == kExitFailure);
  CHECK(r.err.find(catalogue + "/nhs_dd.json: datasets[1] (Bad Key): key:") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cli.store_));

  Run missing = cli({"--catalogue", cli.dir_.File("nowhere"), "seed-nhs-dd"});
  CHECK(missing.code == kExitFailure);
  CHECK(missing.err.find("nowhere/nhs_dd.json") != std::string::npos);
}

TEST_CASE("--store overrides DATASNAP_STORE") {
  Cli cli;
  const std::string other = cli.dir_.File("other.lmdb");
  REQUIRE(cli({"--store", other, "seed-external"}).code == kExitOk);
  CHECK(std::filesystem::exists(other));
  CHECK_FALSE(std::filesystem::exists(cli.store_));
  // Global options may also follow the command.
  CHECK(cli.Json({"list", "--json", "--store", other}).size() == 7);
}

}  // namespace
}  // namespace datasnap

namespace datasnap {
namespace {

// Writes a catalogue directory with the given NHS DD entries (JSON objects)
// and one RCPCH entry; returns its path.
std::string WriteCatalogue(const testing::TempDir& dir, const std::string& name,
                           const std::string& nhs_entries) {
  const std::string path = dir.File(name);
  std::filesystem::create_directories(path);
  testing::WriteFile(path + "/nhs_dd.json",
                     R"({"format": 1, "datasets": [)" + nhs_entries + "]}");
  testing::WriteFile(path + "/rcpch.json", R"({"format": 1, "datasets": [
    {"key": "nhs_trusts", "name": "NHS Trusts", "endpoint": "/trusts/",
     "tags": [], "sync_frequency_hours": 24,
     "mapping": {"code": "ods_code", "label": "name"}}]})");
  return path;
}

std::string NhsEntry(const std::string& key, const std::string& aliases) {
  return R"({"key": ")" + key + R"(", "aliases": [)" + aliases +
         R"(], "name": ")" + key + R"(", "reference_url": "https://x.test/)" +
         key + R"(.html", "tags": ["NHS"], "refresh_interval_days": 7})";
}

TEST_CASE("catalogue changes: an alias moves, an entry goes away") {
  Cli cli;
  const std::string before = WriteCatalogue(
      cli.dir_, "before",
      NhsEntry("first", "") + "," + NhsEntry("second", R"("old_name")"));
  REQUIRE(cli({"--catalogue", before, "seed-nhs-dd"}).code == kExitOk);
  CHECK(cli.Json({"--catalogue", before, "show", "old_name", "--json"})["key"] ==
        "second");

  // The alias moves from 'second' to 'first', and 'second' leaves.
  const std::string after =
      WriteCatalogue(cli.dir_, "after", NhsEntry("first", R"("old_name")"));
  Run moved = cli({"--catalogue", after, "seed-nhs-dd"});
  INFO(moved.err);
  REQUIRE(moved.code == kExitOk);
  CHECK(cli.Json({"--catalogue", after, "show", "old_name", "--json"})["key"] ==
        "first");
  CHECK(moved.err.find("warning: 'second' is in the store but no longer in "
                       "the catalogue; `datasnap seed-nhs-dd --clear` "
                       "removes it") != std::string::npos);

  // The advice works.
  Run cleared = cli({"--catalogue", after, "seed-nhs-dd", "--clear"});
  REQUIRE(cleared.code == kExitOk);
  CHECK(cleared.err.empty());
  json list = cli.Json({"list", "--json"});
  REQUIRE(list.size() == 1);
  CHECK(list[0]["key"] == "first");
}

TEST_CASE("seed-external --clear removes only RCPCH datasets") {
  Cli cli;
  REQUIRE(cli({"seed-nhs-dd"}).code == kExitOk);
  REQUIRE(cli({"seed-external"}).code == kExitOk);
  cli.Commit("nhs_trusts", {{"RGT", "Cambridge", {}}});
  cli.Commit("ethnic_category", {{"A", "White - British", {}}});
  Run r = cli({"seed_external_datasets", "--clear"});
  REQUIRE(r.code == kExitOk);
  CHECK(r.out.find("Cleared 7 RCPCH NHS Organisations dataset(s) with 1 "
                   "version(s).") != std::string::npos);
  CHECK(cli.Json({"show", "nhs_trusts", "--json"})["version"].is_null());
  CHECK(cli.Json({"show", "ethnic_category", "--json"})["version"] == 1);
  // Version numbers continue after a clear: 1 was given out already.
  cli.Commit("nhs_trusts", {{"RGT", "Cambridge University Hospitals", {}}});
  CHECK(cli.Json({"show", "nhs_trusts", "--json"})["version"] == 2);
}

TEST_CASE("misspelt options are reported as options") {
  Cli cli;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--stor", "x.lmdb", "list"},
        std::vector<std::string>{"-s", "x.lmdb", "list"}}) {
    Run r = cli(args);
    INFO(r.err);
    CHECK(r.code == kExitUsage);
    CHECK(r.err.find(args[0]) != std::string::npos);
    CHECK(r.err.find("unknown command") == std::string::npos);
  }
  Run limit = cli({"audit", "--limit", "0"});
  CHECK(limit.code == kExitUsage);
  CHECK(limit.err.find("--limit") != std::string::npos);
}

}  // namespace
}  // namespace datasnap

namespace datasnap {
namespace {

TEST_CASE("fetch describes a response, with the configured User-Agent") {
  testing::FakeUpstreamServer server;
  server.SetScenario("/page.html", {testing::FakeResponse::Ok("<p>hi</p>", "text/html")});
  server.SetScenario("/gone", {testing::FakeResponse::Status(404)});
  Cli cli;
  cli.env_.variables["DATASNAP_USER_AGENT"] = "ops-check/1";
  Run r = cli({"fetch", server.Url("/page.html")});
  INFO(r.err);
  REQUIRE(r.code == kExitOk);
  CHECK(r.out.find("status: 200") != std::string::npos);
  CHECK(r.out.find("bytes: 9") != std::string::npos);
  CHECK(server.RequestsFor("/page.html").at(0).Header("User-Agent") == "ops-check/1");
  Run body = cli({"fetch", "--body", server.Url("/page.html")});
  CHECK(body.out == "<p>hi</p>");
  Run missing = cli({"fetch", server.Url("/gone")});
  CHECK(missing.code == kExitFailure);
  CHECK(missing.err.find("HTTP 404 Not Found") != std::string::npos);
  // The fetch touches no store.
  CHECK_FALSE(std::filesystem::exists(cli.store_));
}

}  // namespace
}  // namespace datasnap
