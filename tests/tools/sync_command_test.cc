// sync-external against the fake upstream: the RCPCH samples (when present),
// due logic, conditional re-checks, retries, auth failures, the API key,
// base URL joining, bad bodies and --dry-run.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/refresh_test_support.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using refresh_test::Cli;
using refresh_test::Contains;
using refresh_test::CountOf;
using refresh_test::Describe;
using refresh_test::kDay;
using refresh_test::kHour;
using refresh_test::Run;
using refresh_test::WriteFileMkdirs;
using testing::FakeResponse;
using testing::FakeUpstreamServer;
using testing::TempDir;

struct Route {
  const char* key;
  const char* name;
  const char* path;    // relative to EXTERNAL_DATASET_API_URL
  const char* sample;  // in the samples directory
  const char* body;    // a small body of the right shape
};

const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"hospitals_england_wales", "Hospitals (England & Wales)",
       "/organisations/limited/", "organisations_limited.json",
       R"([{"ods_code":"RGT01","name":"ADDENBROOKE'S HOSPITAL"},)"
       R"({"ods_code":"RCF22","name":"AIREDALE GENERAL HOSPITAL"}])"},
      {"nhs_trusts", "NHS Trusts", "/trusts/", "trusts.json",
       R"([{"ods_code":"RCF","name":"AIREDALE NHS FOUNDATION TRUST","organisations":[]},)"
       R"({"ods_code":"RGT","name":"CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST",)"
       R"("organisations":[{"ods_code":"RGT01","name":"ADDENBROOKE'S HOSPITAL"}]}])"},
      {"welsh_lhbs", "Welsh Local Health Boards",
       "/local_health_boards/organisations/",
       "local_health_boards_organisations.json",
       R"([{"ods_code":"7A3","name":"Swansea Bay University Health Board",)"
       R"("organisations":[{"ods_code":"7A3C7","name":"MORRISTON HOSPITAL"}]},)"
       R"({"ods_code":"7A1","name":"Betsi Cadwaladr University Health Board","organisations":[]}])"},
      {"london_boroughs", "London Boroughs", "/london_boroughs/organisations/",
       "london_boroughs_organisations.json",
       R"([{"name":"Westminster","gss_code":"E09000033","organisations":[]},)"
       R"({"name":"Wandsworth","gss_code":"E09000032","organisations":[]}])"},
      {"nhs_england_regions", "NHS England Regions",
       "/nhs_england_regions/organisations/",
       "nhs_england_regions_organisations.json",
       R"([{"region_code":"Y58","name":"South West","organisations":[]},)"
       R"({"region_code":"Y56","name":"London","organisations":[]}])"},
      {"paediatric_diabetes_units", "Paediatric Diabetes Units",
       "/paediatric_diabetes_units/parent/",
       "paediatric_diabetes_units_parent.json",
       R"([{"pz_code":"PZ001","parent":null,)"
       R"("primary_organisation":{"ods_code":"7A3C7","name":"MORRISTON HOSPITAL"}},)"
       R"({"pz_code":"PZ002","parent":{"ods_code":"RM1","name":"NORFOLK TRUST"},)"
       R"("primary_organisation":null}])"},
      {"integrated_care_boards", "Integrated Care Boards (ICBs)",
       "/integrated_care_boards/organisations/",
       "integrated_care_boards_organisations.json",
       R"([{"ods_code":"QOX","name":"NHS Bath ICB","organisations":[]},)"
       R"({"ods_code":"QUE","name":"NHS Cambridgeshire ICB","organisations":[]}])"},
  };
  return kRoutes;
}

// Lays out `bodies` (path -> body) under `root` as the fake server maps a
// path ending in '/' to a file: <root><path>index.json.
void WriteRoutes(const std::string& root,
                 const std::map<std::string, std::string>& bodies) {
  for (const auto& [path, body] : bodies) {
    WriteFileMkdirs(root + path + "index.json", body);
  }
}

std::map<std::string, std::string> SmallBodies(const std::string& prefix = "") {
  std::map<std::string, std::string> bodies;
  for (const Route& r : Routes()) bodies[prefix + r.path] = r.body;
  return bodies;
}

// A fake API serving the small bodies from a directory; tests add scenarios
// on top.
struct SmallApi {
  SmallApi() : server({.root = root.path()}) {
    WriteRoutes(root.path(), SmallBodies());
    cli.env_.variables["EXTERNAL_DATASET_API_URL"] = server.base_url();
  }

  Run Seed() {
    Run r = cli({"seed-external"});
    INFO(Describe(r));
    REQUIRE(r.code == 0);
    return r;
  }

  TempDir root;
  FakeUpstreamServer server;
  Cli cli;
};

// The samples directory beside the workspace, or "" when it is absent.
std::string SamplesDir() {
  std::error_code ec;
  const fs::path seeds = fs::canonical("seeds/rcpch.json", ec);
  if (ec) return "";
  const fs::path dir = seeds.parent_path().parent_path() / ".." / "shared" /
                       "reference" / "rcpch-samples";
  if (!fs::is_directory(dir, ec)) return "";
  return fs::canonical(dir, ec).string();
}

// The transform's value for one PDU: the first of primary_organisation and
// parent that is an object with a non-empty string ods_code and name, else
// the unit's own pz_code.
std::string PduValue(const json& unit) {
  for (const char* field : {"primary_organisation", "parent"}) {
    if (!unit.contains(field) || !unit[field].is_object()) continue;
    const json& o = unit[field];
    if (o.contains("ods_code") && o["ods_code"].is_string() &&
        !o["ods_code"].get<std::string>().empty() && o.contains("name") &&
        o["name"].is_string() && !o["name"].get<std::string>().empty()) {
      return o["ods_code"].get<std::string>();
    }
  }
  return unit["pz_code"].get<std::string>();
}

// Trims and collapses runs of spaces, as the transform does to labels.
std::string Collapse(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

TEST_CASE("sync-external conforms on the RCPCH samples") {
  const std::string samples = SamplesDir();
  if (samples.empty()) {
    WARN("RCPCH samples not found beside the workspace "
         "(<workspace>/../shared/reference/rcpch-samples); skipping");
    return;
  }
  TempDir root;
  std::map<std::string, std::string> bodies;
  for (const Route& r : Routes()) {
    bodies[r.path] = testing::ReadFile(samples + "/" + r.sample);
    REQUIRE_FALSE(bodies[r.path].empty());
  }
  WriteRoutes(root.path(), bodies);
  FakeUpstreamServer server({.root = root.path()});
  Cli cli;
  cli.env_.variables["EXTERNAL_DATASET_API_URL"] = server.base_url();
  REQUIRE(cli({"seed-external"}).code == 0);

  Run r = cli({"sync-external"});
  INFO(Describe(r));
  REQUIRE(r.code == 0);
  CHECK(Contains(r.out, "Syncing 7 external datasets...\n"));
  CHECK(Contains(r.out, "\u2713 Synced: Hospitals (England & Wales) - 339 "
                        "options (version 1)\n"));
  CHECK(Contains(r.out, "\u2713 Synced: NHS Trusts - 242 options (version 1)\n"));
  CHECK(Contains(r.out, "\u2713 Synced: Welsh Local Health Boards - 35 "
                        "options (version 1)\n"));
  CHECK(Contains(r.out, "\u2713 Synced: London Boroughs - 33 options "
                        "(version 1)\n"));
  CHECK(Contains(r.out, "\u2713 Synced: NHS England Regions - 7 options "
                        "(version 1)\n"));
  CHECK(Contains(r.out, "\u2713 Synced: Integrated Care Boards (ICBs) - 42 "
                        "options (version 1)\n"));
  CHECK(Contains(r.out, "  \u2713 Synced: 7 (7 new versions, 0 unchanged)\n"));
  CHECK(Contains(r.out, "  \u229D Skipped: 0\n"));
  CHECK(Contains(r.out, "  \u2717 Errors: 0\n"));
  for (const Route& route : Routes()) {
    CHECK(server.RequestsFor(route.path).size() == 1);
  }

  const std::map<std::string, std::size_t> counts = {
      {"hospitals_england_wales", 339}, {"nhs_trusts", 242},
      {"welsh_lhbs", 35},               {"london_boroughs", 33},
      {"nhs_england_regions", 7},       {"integrated_care_boards", 42}};
  for (const auto& [key, n] : counts) {
    INFO(key);
    json shown = cli.Show(key);
    CHECK(shown["version"] == 1);
    CHECK(shown["options"].size() == n);
    CHECK(shown["option_count"] == n);
    CHECK(shown["last_error"].is_null());
  }

  SECTION("Welsh boards, then their organisations with the board as parent") {
    const json sample = json::parse(bodies["/local_health_boards/organisations/"]);
    std::map<std::string, std::string> parent_of;  // child -> board
    std::set<std::string> boards;
    for (const json& board : sample) {
      boards.insert(board["ods_code"].get<std::string>());
      for (const json& child : board["organisations"]) {
        parent_of[child["ods_code"].get<std::string>()] =
            board["ods_code"].get<std::string>();
      }
    }
    REQUIRE(boards.size() == 7);
    REQUIRE(parent_of.size() == 28);
    std::size_t top = 0, nested = 0;
    const json welsh = cli.Show("welsh_lhbs");
    for (const json& o : welsh["options"]) {
      INFO(o.dump());
      const std::string value = o["value"].get<std::string>();
      if (o.contains("parent")) {
        ++nested;
        REQUIRE(parent_of.count(value) == 1);
        CHECK(o["parent"] == parent_of[value]);
      } else {
        ++top;
        CHECK(boards.count(value) == 1);
      }
    }
    CHECK(top == 7);
    CHECK(nested == 28);
  }

  SECTION("paediatric diabetes units: one per distinct organisation code") {
    const json sample =
        json::parse(bodies["/paediatric_diabetes_units/parent/"]);
    std::set<std::string> distinct;
    for (const json& unit : sample) distinct.insert(PduValue(unit));
    const json shown = cli.Show("paediatric_diabetes_units");
    INFO("sample units: " << sample.size() << ", distinct codes: "
                          << distinct.size() << ", options: "
                          << shown["option_count"]);
    CHECK(shown["option_count"] == distinct.size());
    CHECK(shown["option_count"] <= sample.size());
    std::set<std::string> values;
    for (const json& o : shown["options"]) {
      values.insert(o["value"].get<std::string>());
    }
    CHECK(values == distinct);
    // The sample README says 164 units, keyed by the primary organisation.
    CHECK(distinct.size() == 164);
    CHECK(Contains(r.out, "\u2713 Synced: Paediatric Diabetes Units - " +
                              std::to_string(distinct.size()) +
                              " options (version 1)\n"));
  }

  SECTION("values and labels match CheckTick's expected options") {
    const std::string expected_file =
        samples + "/checktick_expected_options.json";
    if (!fs::exists(expected_file)) {
      WARN("no checktick_expected_options.json; skipping");
      return;
    }
    const ordered_json expected =
        ordered_json::parse(testing::ReadFile(expected_file));
    for (const Route& route : Routes()) {
      INFO(route.key);
      REQUIRE(expected.contains(route.key));
      std::vector<std::pair<std::string, std::string>> want, got;
      for (const auto& [value, label] : expected[route.key].items()) {
        want.emplace_back(value, Collapse(label.get<std::string>()));
      }
      const json shown = cli.Show(route.key);
      for (const json& o : shown["options"]) {
        got.emplace_back(o["value"].get<std::string>(),
                         o["label"].get<std::string>());
      }
      CHECK(got == want);
    }
  }
}

TEST_CASE("sync-external: due logic, --force re-checks with 304s") {
  SmallApi api;
  Cli& cli = api.cli;
  api.Seed();

  Run first = cli({"sync-external"});
  INFO(Describe(first));
  REQUIRE(first.code == 0);
  CHECK(Contains(first.out, "Syncing 7 external datasets...\n"));
  CHECK(Contains(first.out, "\u2713 Synced: London Boroughs - 2 options "
                            "(version 1)\n"));
  CHECK(Contains(first.out, "\u2713 Synced: Welsh Local Health Boards - 3 "
                            "options (version 1)\n"));
  CHECK(CountOf(first.out, "(version 1)\n") == 7);
  CHECK(Contains(first.out, "  \u2713 Synced: 7 (7 new versions, 0 unchanged)\n"));
  CHECK(api.server.RequestCount() == 7);
  // A first fetch is unconditional.
  for (const auto& req : api.server.Requests()) {
    CHECK_FALSE(req.Header("If-None-Match"));
    CHECK_FALSE(req.Header("If-Modified-Since"));
    CHECK(req.Header("Accept") == "application/json");
    CHECK_FALSE(req.Header("Ocp-Apim-Subscription-Key"));
  }
  CHECK(cli.AuditCount("sync.synced") == 7);
  const json trusts = cli.Show("nhs_trusts");
  CHECK(trusts["provenance"]["source_url"] == api.server.Url("/trusts/"));
  CHECK(trusts["provenance"]["etag"] ==
        FakeUpstreamServer::ETagFor(Routes()[1].body));
  CHECK(trusts["provenance"]["raw_sha256"].is_string());
  CHECK(trusts["last_synced_at"] == FormatIso8601(cli.now_));

  SECTION("within 24 hours everything is skipped, without a request") {
    api.server.ClearRecords();
    cli.now_ += 2 * kHour;
    Run again = cli({"sync-external"});
    INFO(Describe(again));
    CHECK(again.code == 0);
    CHECK(Contains(again.out, "\u229D Skipped: London Boroughs (synced 2 "
                              "hours ago, next sync in 22 hours)\n"));
    CHECK(CountOf(again.out, "\u229D Skipped: ") == 8);  // 7 + the summary
    CHECK(Contains(again.out, "  \u229D Skipped: 7\n"));
    CHECK(Contains(again.out, "  \u2713 Synced: 0 (0 new versions, 0 unchanged)\n"));
    CHECK(api.server.RequestCount() == 0);
    CHECK(cli.Json({"history", "london_boroughs", "--json"}).size() == 1);
  }

  SECTION("--force re-checks conditionally and creates no versions") {
    api.server.ClearRecords();
    cli.now_ += kHour;
    Run forced = cli({"sync-external", "--force"});
    INFO(Describe(forced));
    CHECK(forced.code == 0);
    CHECK(api.server.RequestCount() == 7);
    for (const auto& req : api.server.Requests()) {
      INFO(req.path);
      CHECK(req.Header("If-None-Match").has_value());
    }
    CHECK(Contains(forced.out, "= Unchanged: London Boroughs - 2 options "
                               "(version 1), not modified (HTTP 304)\n"));
    CHECK(Contains(forced.out, "  \u2713 Synced: 7 (0 new versions, 7 unchanged)\n"));
    CHECK(cli.AuditCount("sync.unchanged") == 7);
    for (const auto& route : Routes()) {
      INFO(route.key);
      CHECK(cli.Json({"history", route.key, "--json"}).size() == 1);
      // The successful check counts as a sync.
      CHECK(cli.Show(route.key)["last_synced_at"] == FormatIso8601(cli.now_));
    }
  }

  SECTION("after 24 hours everything is due again") {
    api.server.ClearRecords();
    cli.now_ += kDay + 1;
    WriteRoutes(api.root.path(),
                {{"/london_boroughs/organisations/",
                  R"([{"name":"Westminster","gss_code":"E09000033"},)"
                  R"({"name":"Wandsworth Borough","gss_code":"E09000032"},)"
                  R"({"name":"Sutton","gss_code":"E09000029"}])"}});
    Run later = cli({"sync-external"});
    INFO(Describe(later));
    CHECK(later.code == 0);
    CHECK(api.server.RequestCount() == 7);
    CHECK(Contains(later.out, "\u2713 Synced: London Boroughs - 3 options "
                              "(version 2)\n"));
    CHECK(Contains(later.out, "  Changes: +1 \u22120 ~1\n"));
    CHECK(Contains(later.out, "  \u2713 Synced: 7 (1 new versions, 6 unchanged)\n"));
    CHECK(cli.AuditCount("sync.updated", "london_boroughs") == 1);
    CHECK(cli.Show("london_boroughs")["version"] == 2);
    CHECK(cli.Show("nhs_trusts")["version"] == 1);
  }

  SECTION("--dataset syncs one, by its key, with the original command name") {
    api.server.ClearRecords();
    Run one = cli({"sync_external_datasets", "--dataset", "nhs_trusts",
                   "--force"});
    INFO(Describe(one));
    CHECK(one.code == 0);
    CHECK(Contains(one.out, "Syncing 1 external datasets...\n"));
    CHECK(api.server.RequestCount() == 1);
    CHECK(api.server.RequestsFor("/trusts/").size() == 1);

    Run unknown = cli({"sync-external", "--dataset", "nhs_trust"});
    CHECK(unknown.code == 2);
    CHECK(Contains(unknown.err, "did you mean 'nhs_trusts'?"));
    CHECK(api.server.RequestCount() == 1);
  }
}

TEST_CASE("sync-external retries a 429 after its Retry-After") {
  SmallApi api;
  api.Seed();
  api.server.SetScenario(
      "/trusts/",
      {FakeResponse::Status(429, {{"Retry-After", "1"}}, "slow down"),
       FakeResponse::Ok(Routes()[1].body, "application/json")});
  Run r = api.cli({"sync-external"});
  INFO(Describe(r));
  CHECK(r.code == 0);
  CHECK(api.server.RequestsFor("/trusts/").size() == 2);
  CHECK(Contains(r.out, "\u2713 Synced: NHS Trusts - 2 options (version 1)\n"));
  CHECK(Contains(r.out, "  \u2717 Errors: 0\n"));
  CHECK(api.cli.Show("nhs_trusts")["version"] == 1);
}

TEST_CASE("sync-external: the API key is sent and never shown") {
  const std::string secret = "some-secret-value";
  SmallApi api;
  Cli& cli = api.cli;
  api.Seed();

  SECTION("with a key: a 401 says it was refused") {
    cli.env_.variables["EXTERNAL_DATASET_API_KEY"] = secret;
    api.server.SetScenario(
        "/trusts/",
        {FakeResponse::Status(401, {{"Content-Type", "application/json"}},
                              R"({"statusCode":401,"message":"Access denied due )"
                              R"(to invalid subscription key."})")});
    // A second failure of another kind.
    api.server.SetScenario("/london_boroughs/organisations/",
                           {FakeResponse::Ok("{\"oops\": ", "application/json")});
    Run r = cli({"sync-external"});
    INFO(Describe(r));
    CHECK(r.code == 1);
    CHECK(Contains(r.out, "\u2717 Error syncing NHS Trusts: "));
    CHECK(Contains(r.out, "HTTP 401"));
    CHECK(Contains(r.out, "the key in EXTERNAL_DATASET_API_KEY was refused"));
    CHECK(Contains(r.out, "\u2717 Error syncing London Boroughs: "));
    CHECK(Contains(r.out, "  \u2717 Errors: 2\n"));
    CHECK(Contains(r.out, "  \u2713 Synced: 5 (5 new versions, 0 unchanged)\n"));
    // Every request carried the key.
    REQUIRE(api.server.RequestCount() == 7);
    for (const auto& req : api.server.Requests()) {
      INFO(req.path);
      CHECK(req.Header("Ocp-Apim-Subscription-Key") == secret);
    }
    // The other datasets were saved; the failed one has its error.
    const json status = cli.Status();
    CHECK(status["nhs_trusts"]["version"].is_null());
    CHECK(Contains(status["nhs_trusts"]["last_error"].get<std::string>(),
                   "EXTERNAL_DATASET_API_KEY"));
    CHECK(status["hospitals_england_wales"]["version"] == 1);
    CHECK(status["integrated_care_boards"]["version"] == 1);
    cli.Audit();
    cli({"status"});
    cli({"show", "nhs_trusts"});
    // Neither this run nor anything the store shows has the key.
    CHECK_FALSE(Contains(cli.all_output_, secret));
    CHECK_FALSE(Contains(cli.StoreBytes(), secret));
  }

  SECTION("without a key: a 401 says to set one, and no header is sent") {
    api.server.SetScenario("/trusts/", {FakeResponse::Status(401)});
    Run r = cli({"sync-external", "--dataset", "nhs_trusts"});
    INFO(Describe(r));
    CHECK(r.code == 1);
    CHECK(Contains(r.out, "\u2717 Error syncing NHS Trusts: "));
    CHECK(Contains(r.out, "set EXTERNAL_DATASET_API_KEY"));
    REQUIRE(api.server.RequestCount() == 1);
    CHECK_FALSE(api.server.Requests()[0].Header("Ocp-Apim-Subscription-Key"));
    CHECK(cli.AuditCount("sync.failed", "nhs_trusts") == 1);
  }

  SECTION("with a key on success and on a 403") {
    cli.env_.variables["EXTERNAL_DATASET_API_KEY"] = secret;
    api.server.SetScenario("/integrated_care_boards/organisations/",
                           {FakeResponse::Status(403)});
    Run r = cli({"sync-external"});
    INFO(Describe(r));
    CHECK(r.code == 1);
    CHECK(Contains(r.out, "\u2717 Error syncing Integrated Care Boards (ICBs): "));
    CHECK(Contains(r.out, "EXTERNAL_DATASET_API_KEY"));
    cli.now_ += 2 * kDay;
    api.server.ClearScenarios();
    Run ok = cli({"sync-external"});
    INFO(Describe(ok));
    CHECK(ok.code == 0);
    cli.Audit();
    CHECK_FALSE(Contains(cli.all_output_, secret));
  }
}

TEST_CASE("sync-external reads the API key from EXTERNAL_DATASET_API_KEY_FILE") {
  const std::string secret = "file-secret-value";
  SmallApi api;
  Cli& cli = api.cli;
  api.Seed();
  const std::string key_file = cli.dir_.File("api-key");

  SECTION("trimmed of surrounding white space, sent on every request") {
    WriteFileMkdirs(key_file, "  " + secret + "\r\n\n");
    cli.env_.variables["EXTERNAL_DATASET_API_KEY_FILE"] = key_file;
    Run r = cli({"sync-external"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    REQUIRE(api.server.RequestCount() == 7);
    for (const auto& req : api.server.Requests()) {
      INFO(req.path);
      CHECK(req.Header("Ocp-Apim-Subscription-Key") == secret);
    }
    CHECK_FALSE(Contains(cli.all_output_, secret));
  }
  SECTION("a refused key names the file variable") {
    WriteFileMkdirs(key_file, secret + "\n");
    cli.env_.variables["EXTERNAL_DATASET_API_KEY_FILE"] = key_file;
    api.server.SetScenario("/trusts/", {FakeResponse::Status(401)});
    Run r = cli({"sync-external", "--dataset", "nhs_trusts"});
    INFO(Describe(r));
    CHECK(r.code == 1);
    CHECK(Contains(r.out, "the key in EXTERNAL_DATASET_API_KEY_FILE was refused"));
    CHECK_FALSE(Contains(r.out + r.err, secret));
  }

  struct Bad {
    const char* what;
    std::string contents;  // "" with write = false: no file at all
    bool write;
    bool also_plain_key;
    std::string message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"missing file", "", false, false,
            "EXTERNAL_DATASET_API_KEY_FILE: cannot read '" + key_file + "'"},
           {"empty file", " \n\t\n", true, false,
            "EXTERNAL_DATASET_API_KEY_FILE: the file '" + key_file +
                "' is empty"},
           {"two lines", "key-one\nkey-two\n", true, false,
            "has more than one line"},
           {"both variables", secret, true, true,
            "both EXTERNAL_DATASET_API_KEY and EXTERNAL_DATASET_API_KEY_FILE "
            "are set"}}) {
    INFO(bad.what);
    std::filesystem::remove(key_file);
    if (bad.write) WriteFileMkdirs(key_file, bad.contents);
    cli.env_.variables["EXTERNAL_DATASET_API_KEY_FILE"] = key_file;
    if (bad.also_plain_key) {
      cli.env_.variables["EXTERNAL_DATASET_API_KEY"] = "plain";
    } else {
      cli.env_.variables.erase("EXTERNAL_DATASET_API_KEY");
    }
    for (const char* command : {"sync-external", "refresh"}) {
      INFO(command);
      const std::size_t served = api.server.RequestCount();
      Run r = cli({command});
      CHECK(r.code == 2);
      CHECK(Contains(r.err, "datasnap: error: " ));
      CHECK(Contains(r.err, bad.message));
      CHECK_FALSE(Contains(r.err, "key-one"));
      CHECK(api.server.RequestCount() == served);  // nothing fetched
    }
  }
}

TEST_CASE("sync-external joins the base URL with exactly one slash") {
  for (const char* suffix : {"/v1", "/v1/", "/v1//"}) {
    INFO(suffix);
    TempDir root;
    WriteRoutes(root.path(), SmallBodies("/v1"));
    FakeUpstreamServer server({.root = root.path()});
    Cli cli;
    cli.env_.variables["EXTERNAL_DATASET_API_URL"] = server.base_url() + suffix;
    REQUIRE(cli({"seed-external"}).code == 0);
    Run r = cli({"sync-external"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    REQUIRE(server.RequestCount() == 7);
    std::set<std::string> targets;
    for (const auto& req : server.Requests()) targets.insert(req.target);
    std::set<std::string> want;
    for (const Route& route : Routes()) want.insert(std::string("/v1") + route.path);
    CHECK(targets == want);
    CHECK(cli.Show("london_boroughs")["provenance"]["source_url"] ==
          server.Url("/v1/london_boroughs/organisations/"));
  }
}

TEST_CASE("sync-external: a bad body fails only its dataset") {
  SmallApi api;
  Cli& cli = api.cli;
  api.Seed();
  api.server.SetScenario("/trusts/", {FakeResponse::Ok(
                                         R"({"detail":"Not a list"})",
                                         "application/json")});
  api.server.SetScenario(
      "/london_boroughs/organisations/",
      {FakeResponse::Ok(R"([{"name":"Westminster","gss_code":)",
                        "application/json")});
  api.server.SetScenario("/nhs_england_regions/organisations/",
                         {FakeResponse::Ok("[]", "application/json")});
  Run r = cli({"sync-external"});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Contains(r.out, "\u2717 Error syncing NHS Trusts: nhs_trusts: expected "
                        "a JSON array, found an object\n"));
  CHECK(Contains(r.out, "\u2717 Error syncing London Boroughs: london_boroughs: "
                        "not valid JSON"));
  CHECK(Contains(r.out, "\u2717 Error syncing NHS England Regions: "
                        "nhs_england_regions: no valid options in the "
                        "response (the array is empty)\n"));
  CHECK(Contains(r.out, "  \u2713 Synced: 4 (4 new versions, 0 unchanged)\n"));
  CHECK(Contains(r.out, "  \u2717 Errors: 3\n"));

  const json status = cli.Status();
  for (const char* key : {"nhs_trusts", "london_boroughs", "nhs_england_regions"}) {
    INFO(key);
    CHECK(status[key]["version"].is_null());
    CHECK(status[key]["last_error"].is_string());
    CHECK(status[key]["due"] == true);
    CHECK(cli.AuditCount("sync.failed", key) == 1);
  }
  for (const char* key : {"hospitals_england_wales", "welsh_lhbs",
                          "paediatric_diabetes_units", "integrated_care_boards"}) {
    INFO(key);
    CHECK(status[key]["version"] == 1);
    CHECK(status[key]["last_error"].is_null());
  }
  CHECK(Contains(status["nhs_trusts"]["last_error"].get<std::string>(),
                 "expected a JSON array, found an object"));

  SECTION("a failure keeps the previous version") {
    cli.now_ += 2 * kDay;
    api.server.SetScenario("/organisations/limited/",
                           {FakeResponse::Ok("{}", "application/json")});
    Run again = cli({"sync-external"});
    INFO(Describe(again));
    CHECK(again.code == 1);
    const json hospitals = cli.Show("hospitals_england_wales");
    CHECK(hospitals["version"] == 1);
    CHECK(hospitals["options"].size() == 2);
    CHECK(Contains(hospitals["last_error"].get<std::string>(),
                   "expected a JSON array, found an object"));
    // The next good response clears the error.
    cli.now_ += 2 * kDay;
    api.server.ClearScenarios();
    Run fixed = cli({"sync-external"});
    INFO(Describe(fixed));
    CHECK(fixed.code == 0);
    const json after = cli.Status();
    for (const auto& [key, d] : after.items()) {
      INFO(key);
      if (d["category"] != "rcpch") continue;
      CHECK(d["version"] == 1);
      CHECK(d["last_error"].is_null());
    }
  }
}

TEST_CASE("sync-external --dry-run writes nothing") {
  SmallApi api;
  Cli& cli = api.cli;
  api.Seed();

  SECTION("on a seeded store") {
    const std::string before = cli.StoreBytes();
    Run r = cli({"sync-external", "--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "DRY RUN"));
    CHECK(Contains(r.out, "\u2713 Would sync: London Boroughs - 2 options\n"));
    CHECK(Contains(r.out, "Summary (dry run):"));
    CHECK(api.server.RequestCount() == 7);
    CHECK(cli.StoreBytes() == before);
  }

  SECTION("after a sync, with a change upstream") {
    REQUIRE(cli({"sync-external"}).code == 0);
    cli.now_ += 2 * kDay;
    WriteRoutes(api.root.path(),
                {{"/trusts/", R"([{"ods_code":"RCF","name":"AIREDALE NHS FT"},)"
                              R"({"ods_code":"RGT","name":"CAMBRIDGE"}])"}});
    api.server.SetScenario("/nhs_england_regions/organisations/",
                           {FakeResponse::Ok("[]", "application/json")});
    const std::string before = cli.StoreBytes();
    Run r = cli({"sync-external", "--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == 1);  // the empty list would fail
    CHECK(Contains(r.out, "\u2713 Would sync: NHS Trusts - 2 options\n"));
    CHECK(Contains(r.out, "  Changes: +0 \u22120 ~2\n"));
    CHECK(Contains(r.out, "\u2717 Error syncing NHS England Regions: "));
    CHECK(cli.StoreBytes() == before);
    CHECK(cli.Show("nhs_trusts")["version"] == 1);
    CHECK(cli.Show("nhs_england_regions")["last_error"].is_null());
  }
}

TEST_CASE("sync-external before seeding says to seed") {
  SmallApi api;
  REQUIRE(api.cli({"seed-nhs-dd"}).code == 0);
  Run r = api.cli({"sync-external"});
  INFO(Describe(r));
  CHECK(r.code == 1);
  CHECK(Contains(r.err, "datasnap seed-external"));
  CHECK(api.server.RequestCount() == 0);
}

}  // namespace
}  // namespace datasnap
