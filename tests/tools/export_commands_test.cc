// The export, diff and refresh commands, driven in-process through RunCli
// with a fake clock: diff's text, json and patch forms and its errors;
// export's output and idempotence; refresh against the loopback upstream
// serving tests/fixtures/upstream (the 48 NHS Data Dictionary pages and the
// 7 RCPCH routes): seeding, one batch, the table, exit codes, failures that
// keep the last good version, --dry-run, due periods and --dataset.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/compression.h"
#include "core/model.h"
#include "core/sha256.h"
#include "store/store.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/refresh_test_support.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using refresh_test::Cli;
using refresh_test::Commit;
using refresh_test::Contains;
using refresh_test::Describe;
using refresh_test::kHour;
using refresh_test::Run;
using testing::FakeResponse;
using testing::FakeUpstreamServer;
using testing::TempDir;

// ------------------------------------------------------------- helpers

Option O(std::string value, std::string label,
         std::optional<std::string> parent = std::nullopt,
         bool is_default = false) {
  return Option{std::move(value), std::move(label), std::move(parent),
                is_default};
}

std::string Unzstd(const std::string& frame) {
  auto decoded = ZstdDecompress(frame, std::size_t{1} << 30);
  INFO((decoded ? std::string() : decoded.error().message));
  REQUIRE(decoded.has_value());
  return *decoded;
}

// Every regular file under `root` but the export's record (what it
// publishes): relative '/'-path -> bytes.
std::map<std::string, std::string> ReadTree(const std::string& root) {
  std::map<std::string, std::string> tree;
  if (!fs::exists(root)) return tree;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename() == ".datasnap-export.json") {
      continue;
    }
    tree[fs::relative(e.path(), root).generic_string()] =
        testing::ReadFile(e.path().string());
  }
  return tree;
}

// The one path of `tree` matching `re`.
std::string OnlyMatch(const std::map<std::string, std::string>& tree,
                      const std::string& re) {
  std::vector<std::string> found;
  const std::regex r(re);
  for (const auto& [path, bytes] : tree) {
    if (std::regex_match(path, r)) found.push_back(path);
  }
  INFO("pattern " << re);
  REQUIRE(found.size() == 1);
  return found[0];
}

// The uncompressed JSON of the diff file <from>-<to> of `key`.
std::string DiffFile(const std::string& out, const std::string& key,
                     int from, int to) {
  const auto tree = ReadTree(out);
  const std::string path =
      OnlyMatch(tree, "diffs/" + key + "/" + std::to_string(from) + "-" +
                          std::to_string(to) + R"(\.[0-9a-f]{12}\.json\.zst)");
  const std::string text = Unzstd(tree.at(path));
  CHECK(path.find("." + Sha256Hex(text).substr(0, 12) + ".") !=
        std::string::npos);
  return text;
}

json Manifest(const std::string& out) {
  return json::parse(testing::ReadFile(out + "/manifest.json"));
}

std::vector<std::string> ManifestKeys(const json& manifest) {
  std::vector<std::string> keys;
  for (const json& d : manifest["datasets"]) keys.push_back(d["key"]);
  return keys;
}

const json* Entry(const json& manifest, const std::string& key) {
  for (const json& d : manifest["datasets"]) {
    if (d["key"] == key) return &d;
  }
  return nullptr;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The table row of `key` in refresh's output, split into its columns (two
// or more spaces apart); empty when there is none.
std::vector<std::string> RowOf(const std::string& out, const std::string& key) {
  for (const std::string& line : Lines(out)) {
    if (!line.starts_with(key + "  ")) continue;
    static const std::regex gap(" {2,}");
    return std::vector<std::string>(
        std::sregex_token_iterator(line.begin(), line.end(), gap, -1),
        std::sregex_token_iterator());
  }
  return {};
}

std::vector<std::string> CatalogueKeys(const std::string& file) {
  const json catalogue = json::parse(testing::ReadFile(file));
  std::vector<std::string> keys;
  for (const json& d : catalogue["datasets"]) keys.push_back(d["key"]);
  return keys;
}
const std::vector<std::string>& NhsDdKeys() {
  static const auto keys = CatalogueKeys("seeds/nhs_dd.json");
  return keys;
}
const std::vector<std::string>& RcpchKeys() {
  static const auto keys = CatalogueKeys("seeds/rcpch.json");
  return keys;
}
std::vector<std::string> AllKeysSorted() {
  std::vector<std::string> all = NhsDdKeys();
  all.insert(all.end(), RcpchKeys().begin(), RcpchKeys().end());
  std::sort(all.begin(), all.end());
  return all;
}

// How many table rows (lines starting with a catalogue key) `out` has.
std::size_t RowCount(const std::string& out) {
  std::size_t n = 0;
  for (const std::string& key : AllKeysSorted()) n += !RowOf(out, key).empty();
  return n;
}

// The options the README of the RCPCH mirror promises per route.
const std::map<std::string, std::size_t>& RcpchCounts() {
  static const std::map<std::string, std::size_t> counts = {
      {"hospitals_england_wales", 37}, {"nhs_trusts", 20},
      {"welsh_lhbs", 21},              {"london_boroughs", 33},
      {"nhs_england_regions", 7},      {"paediatric_diabetes_units", 17},
      {"integrated_care_boards", 42},
  };
  return counts;
}

// The fake upstream serving a copy of tests/fixtures/upstream (which tests
// may change), NHS_DD_BASE_URL and EXTERNAL_DATASET_API_URL pointing at it.
struct World {
  World() : server({.root = root.path()}) {
    REQUIRE(fs::is_directory("tests/fixtures/upstream/nhs_dd"));
    REQUIRE(fs::is_directory("tests/fixtures/upstream/rcpch"));
    fs::copy("tests/fixtures/upstream", root.path(),
             fs::copy_options::recursive);
    cli.env_.variables["NHS_DD_BASE_URL"] = server.base_url() + "/nhs_dd";
    cli.env_.variables["EXTERNAL_DATASET_API_URL"] =
        server.base_url() + "/rcpch";
    out = cli.dir_.File("export");
  }

  Run Refresh(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"refresh", "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return cli(args);
  }

  // A first refresh of everything, which must succeed.
  void RefreshAll() {
    Run r = Refresh();
    INFO(Describe(r));
    REQUIRE(r.code == 0);
    server.ClearRecords();
  }

  std::string RegionsFile() const {
    return root.path() + "/rcpch/nhs_england_regions/organisations/index.json";
  }

  // Upstream, London (Y56) goes and South West (Y58) is renamed.
  void ChangeRegions() const {
    ordered_json regions = ordered_json::parse(testing::ReadFile(RegionsFile()));
    ordered_json kept = ordered_json::array();
    bool renamed = false;
    for (ordered_json& r : regions) {
      if (r["region_code"] == "Y56") continue;
      if (r["region_code"] == "Y58") {
        REQUIRE(r["name"] == "South West");
        r["name"] = "South West (renamed)";
        renamed = true;
      }
      kept.push_back(r);
    }
    REQUIRE(renamed);
    REQUIRE(kept.size() == 6);
    testing::WriteFile(RegionsFile(), kept.dump());
  }

  std::size_t RequestsUnder(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& r : server.Requests()) n += r.path.starts_with(prefix);
    return n;
  }

  TempDir root;
  FakeUpstreamServer server;
  Cli cli;
  std::string out;
};

// A store seeded with the NHS DD catalogue and a few versions committed
// directly:
//   ethnic_category      v1 {A, B}, v2 {A, B, C default}, v3 {A, B', D<A}
//   main_specialty_code  v1 {1, 2}, v2 {2, 1}              (order only)
//   accommodation_status v1, v2 (alias accommodation_status_code)
//   smoking_status_code  v1 only
struct Versions {
  Versions() {
    Run r = cli({"seed-nhs-dd"});
    INFO(Describe(r));
    REQUIRE(r.code == 0);
    Commit(cli, "ethnic_category", {O("A", "Alpha"), O("B", "Beta")});
    Commit(cli, "ethnic_category",
           {O("A", "Alpha"), O("B", "Beta"), O("C", "Gamma", {}, true)});
    Commit(cli, "ethnic_category",
           {O("A", "Alpha"), O("B", "Beta 2"), O("D", "Delta", "A")});
    Commit(cli, "main_specialty_code", {O("1", "One"), O("2", "Two")});
    Commit(cli, "main_specialty_code", {O("2", "Two"), O("1", "One")});
    Commit(cli, "accommodation_status", {O("1", "Owner")});
    Commit(cli, "accommodation_status", {O("1", "Owner"), O("2", "Tenant")});
    Commit(cli, "smoking_status_code", {O("1", "Current smoker")});
    out = cli.dir_.File("export");
  }
  Cli cli;
  std::string out;
};

// ------------------------------------------------------------------ diff

TEST_CASE("diff shows the previous version against the current one") {
  Versions v;
  Run r = v.cli({"diff", "ethnic_category"});
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(r.err.empty());
  const auto lines = Lines(r.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "ethnic_category: version 2 \u2192 3");
  const std::multiset<std::string> body(lines.begin() + 1, lines.end() - 1);
  CHECK(body == std::multiset<std::string>{
                    "- C  Gamma [default]",
                    "+ D  Delta (parent A)",
                    "~ B  Beta \u2192 Beta 2",
                });
  CHECK(lines.back() == "1 added, 1 removed, 1 changed (3 \u2192 3 options)");
  CHECK_FALSE(Contains(r.out, "\x1b"));  // not a terminal: no colour
}

TEST_CASE("diff FROM and diff FROM TO") {
  Versions v;
  SECTION("FROM: against the current version") {
    Run r = v.cli({"diff", "ethnic_category", "1"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(r.out ==
          "ethnic_category: version 1 \u2192 3\n"
          "+ D  Delta (parent A)\n"
          "~ B  Beta \u2192 Beta 2\n"
          "1 added, 0 removed, 1 changed (2 \u2192 3 options)\n");
  }
  SECTION("FROM TO") {
    Run r = v.cli({"diff", "ethnic_category", "1", "2"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(r.out ==
          "ethnic_category: version 1 \u2192 2\n"
          "+ C  Gamma [default]\n"
          "1 added, 0 removed, 0 changed (2 \u2192 3 options)\n");
  }
  SECTION("a change of order only") {
    Run r = v.cli({"diff", "main_specialty_code"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(r.out ==
          "main_specialty_code: version 1 \u2192 2\n"
          "0 added, 0 removed, 0 changed, order changed (2 \u2192 2 options)\n");
  }
  SECTION("an older alias names the dataset") {
    Run r = v.cli({"diff", "accommodation_status_code"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(r.out ==
          "accommodation_status: version 1 \u2192 2\n"
          "+ 2  Tenant\n"
          "1 added, 0 removed, 0 changed (1 \u2192 2 options)\n");
  }
}

TEST_CASE("diff colours its lines only on a terminal without NO_COLOR") {
  Versions v;
  SECTION("a terminal") {
    v.cli.env_.out_is_terminal = true;
    v.cli.env_.variables.erase("NO_COLOR");
    Run r = v.cli({"diff", "ethnic_category"});
    REQUIRE(r.code == kExitOk);
    CHECK(Contains(r.out, "\x1b[31m- C  Gamma [default]\x1b[0m\n"));
    CHECK(Contains(r.out, "\x1b[32m+ D  Delta (parent A)\x1b[0m\n"));
    CHECK(Contains(r.out, "\x1b[33m~ B  Beta \u2192 Beta 2\x1b[0m\n"));
  }
  SECTION("a terminal with NO_COLOR") {
    v.cli.env_.out_is_terminal = true;
    v.cli.env_.variables["NO_COLOR"] = "1";
    Run r = v.cli({"diff", "ethnic_category"});
    REQUIRE(r.code == kExitOk);
    CHECK_FALSE(Contains(r.out, "\x1b"));
    CHECK(Contains(r.out, "\n- C  Gamma [default]\n"));
  }
  SECTION("not a terminal, json and patch") {
    v.cli.env_.out_is_terminal = false;
    v.cli.env_.variables.erase("NO_COLOR");
    for (const char* format : {"text", "json", "patch"}) {
      INFO(format);
      Run r = v.cli({"diff", "ethnic_category", "--format", format});
      REQUIRE(r.code == kExitOk);
      CHECK_FALSE(Contains(r.out, "\x1b"));
      CHECK(std::all_of(r.out.begin(), r.out.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80;
      }));
    }
    Run r = v.cli({"diff", "ethnic_category"});
    CHECK(Contains(r.out, "ethnic_category: version 2 -> 3\n"));
    CHECK(Contains(r.out, "\n~ B  Beta -> Beta 2\n"));
  }
}

TEST_CASE("diff --format json is the exported diff file; patch is its patch") {
  Versions v;
  Run e = v.cli({"export", "--out", v.out});
  INFO(Describe(e));
  REQUIRE(e.code == kExitOk);
  struct Case {
    std::vector<std::string> args;
    int from, to;
  };
  for (const Case& c : std::vector<Case>{{{}, 2, 3},
                                         {{"1"}, 1, 3},
                                         {{"1", "2"}, 1, 2},
                                         {{"2", "3"}, 2, 3}}) {
    INFO("diff " << c.from << "-" << c.to);
    const std::string file = DiffFile(v.out, "ethnic_category", c.from, c.to);
    std::vector<std::string> args = {"diff", "ethnic_category"};
    args.insert(args.end(), c.args.begin(), c.args.end());

    std::vector<std::string> as_json = args;
    as_json.insert(as_json.end(), {"--format", "json"});
    Run j = v.cli(as_json);
    INFO(Describe(j));
    REQUIRE(j.code == kExitOk);
    CHECK(j.out == file + "\n");

    std::vector<std::string> as_patch = args;
    as_patch.insert(as_patch.end(), {"--format", "patch"});
    Run p = v.cli(as_patch);
    INFO(Describe(p));
    REQUIRE(p.code == kExitOk);
    const ordered_json patch = ordered_json::parse(file)["patch"];
    CHECK(p.out == patch.dump() + "\n");
    CHECK(json::parse(p.out) == json::parse(patch.dump()));
  }
  // The order-only change too (its file has "order").
  const std::string file = DiffFile(v.out, "main_specialty_code", 1, 2);
  CHECK(json::parse(file).contains("order"));
  Run j = v.cli({"diff", "main_specialty_code", "--format", "json"});
  CHECK(j.out == file + "\n");
}

TEST_CASE("diff errors exit 2 with a clear message") {
  Versions v;
  const std::string before = v.cli.StoreBytes();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"diff", "ethnic_category", "7"},
       "'ethnic_category' has no version 7; `datasnap history "
       "ethnic_category` lists them"},
      {{"diff", "ethnic_category", "1", "9"},
       "'ethnic_category' has no version 9"},
      {{"diff", "ethnic_category", "0"}, "'ethnic_category' has no version 0"},
      {{"diff", "ethnic_category", "7", "--format", "json"},
       "has no version 7"},
      {{"diff", "smoking_status_code"},
       "'smoking_status_code' has only version 1; there is nothing to "
       "compare it with"},
      {{"diff", "treatment_function_code"},
       "'treatment_function_code' has no versions yet"},
      {{"diff", "no_such_dataset"}, "no dataset 'no_such_dataset'"},
      {{"diff", "ethnic_categroy"},
       "no dataset 'ethnic_categroy'; did you mean 'ethnic_category'?"},
      {{"diff", "ethnic_category", "--format", "bogus"},
       "--format must be text, json or patch, not 'bogus'"},
      {{"diff"}, "KEY"},
      {{"diff", "ethnic_category", "one"}, "one"},
  };
  for (const Case& c : cases) {
    Run r = v.cli(c.args);
    INFO(Describe(r));
    CHECK(r.code == kExitUsage);
    CHECK(Contains(r.err, c.message));
    CHECK(Contains(r.err, "datasnap: error: "));
    CHECK(r.out.empty());
  }
  CHECK(v.cli.StoreBytes() == before);  // diff only reads
}

TEST_CASE("diff --format bogus is a usage error before the store is opened") {
  Cli cli;
  Run r = cli({"diff", "ethnic_category", "--format", "bogus"});
  CHECK(r.code == kExitUsage);
  CHECK(Contains(r.err, "--format must be text, json or patch"));
  CHECK_FALSE(fs::exists(cli.store_));
}

// ---------------------------------------------------------------- export

TEST_CASE("export publishes the store; the same store gives the same files") {
  Versions v;
  Run first = v.cli({"export", "--out", v.out});
  INFO(Describe(first));
  REQUIRE(first.code == kExitOk);
  const auto tree = ReadTree(v.out);
  const std::regex report(
      "Exported 4 datasets to " + v.out + ": " + std::to_string(tree.size()) +
      R"( files written \([0-9.]+ (B|KiB|MiB)\), 0 unchanged; manifest )" +
      v.out + R"(/manifest\.json \(updated\)\n)");
  CHECK(std::regex_match(first.out, report));

  const json manifest = Manifest(v.out);
  CHECK(ManifestKeys(manifest) ==
        std::vector<std::string>{"accommodation_status", "ethnic_category",
                                 "main_specialty_code", "smoking_status_code"});
  for (const json& d : manifest["datasets"]) {
    const json shown = v.cli.Show(d["key"].get<std::string>());
    INFO(d["key"]);
    CHECK(d["version"] == shown["version"]);
    CHECK(d["option_count"] == shown["option_count"]);
    CHECK(d["name"] == shown["name"]);
  }

  SECTION("again: nothing written, the same bytes") {
    Run again = v.cli({"export", "--out", v.out});
    INFO(Describe(again));
    REQUIRE(again.code == kExitOk);
    // Unchanged: the manifests and the files they list (an unchanged
    // dataset's consecutive diffs, which no manifest lists, are not looked
    // at again).
    std::size_t listed = 2;
    for (const json& d : manifest["datasets"]) {
      listed += d["snapshot"]["files"].size();
      for (const json& diff : d["diffs"]) listed += diff["files"].size();
    }
    CHECK(again.out == "Exported 4 datasets to " + v.out +
                           ": 0 files written (0 B), " +
                           std::to_string(listed) +
                           " unchanged; manifest " + v.out +
                           "/manifest.json (unchanged)\n"
                           "Incremental: only the datasets changed since the "
                           "last export were read (0 rebuilt); --verify "
                           "checks every file\n");
    CHECK(ReadTree(v.out) == tree);
  }
  SECTION("to another directory: the same bytes") {
    const std::string other = v.cli.dir_.File("other");
    REQUIRE(v.cli({"export", "--out", other}).code == kExitOk);
    CHECK(ReadTree(other) == tree);
  }
  SECTION("--all-versions adds the older snapshots") {
    Run r = v.cli({"export", "--out", v.out, "--all-versions"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    const json m = Manifest(v.out);
    const json* e = Entry(m, "ethnic_category");
    REQUIRE(e != nullptr);
    REQUIRE(e->contains("older_snapshots"));
    CHECK((*e)["older_snapshots"].size() == 2);
    CHECK_FALSE(Entry(m, "smoking_status_code")->contains("older_snapshots"));
    for (const json& o : (*e)["older_snapshots"]) {
      for (const json& f : o["files"]) {
        CHECK(fs::is_regular_file(v.out + "/" + f["path"].get<std::string>()));
      }
    }
    SECTION("and --prune without it removes them again") {
      Run p = v.cli({"export", "--out", v.out, "--prune"});
      INFO(Describe(p));
      REQUIRE(p.code == kExitOk);
      // The older snapshots of the three datasets with two or more
      // versions (ethnic_category has two), two files each.
      CHECK(Contains(p.out, " unchanged, 8 pruned; manifest "));
      CHECK(ReadTree(v.out).size() == tree.size());
    }
  }
}

TEST_CASE("export errors") {
  SECTION("--out is required") {
    Versions v;
    Run r = v.cli({"export"});
    CHECK(r.code == kExitUsage);
    CHECK(Contains(r.err, "--out"));
  }
  SECTION("a missing store") {
    Cli cli;
    Run r = cli({"export", "--out", cli.dir_.File("out")});
    CHECK(r.code == kExitFailure);
    CHECK(Contains(r.err, "no store at '" + cli.store_ + "'"));
    CHECK_FALSE(fs::exists(cli.store_));
    CHECK_FALSE(fs::exists(cli.dir_.File("out")));
  }
  SECTION("an output directory that cannot be made is named") {
    Versions v;
    testing::WriteFile(v.cli.dir_.File("a_file"), "x");
    Run r = v.cli({"export", "--out", v.cli.dir_.File("a_file") + "/out"});
    CHECK(r.code == kExitFailure);
    CHECK(Contains(r.err, v.cli.dir_.File("a_file")));
  }
}

// --------------------------------------------------------------- refresh

TEST_CASE("refresh on a fresh store seeds all 55, fetches both sources in "
          "one batch and exports") {
  World w;
  Run r = w.Refresh();
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(Contains(r.out, "Seeded 55 new datasets from the catalogue\n"));
  CHECK(Contains(r.out, "Refreshing 55 datasets...\n"));
  CHECK(std::regex_search(
      r.out, std::regex("\nDATASET +VERSION +OPTIONS +CHANGE +STATUS\n")));
  CHECK(Contains(r.out,
                 "\n55 new, 0 updated, 0 unchanged, 0 not due, 0 failed\n"));
  CHECK(Contains(r.out, "Exported 55 datasets to " + w.out + ": "));
  CHECK(Contains(r.out, "Store: " + w.cli.store_ + "\n"));
  CHECK(w.cli.Json({"list", "--json"}).size() == 55);

  // One request per dataset, both sources, in one run.
  CHECK(w.server.RequestCount() == 55);
  CHECK(w.RequestsUnder("/nhs_dd/data_elements/") == 48);
  CHECK(w.RequestsUnder("/rcpch/") == 7);
  CHECK(w.cli.AuditCount("refresh") == 1);
  const json audit = w.cli.Json({"audit", "--json", "--limit", "1"});
  CHECK(audit[0]["action"] == "refresh");
  CHECK(Contains(audit[0]["detail"].get<std::string>(),
                 "55 checked: 55 first versions, 0 updated, 0 unchanged, 0 "
                 "skipped, 0 failed"));

  // The table: one row per dataset.
  const json manifest = Manifest(w.out);
  CHECK(ManifestKeys(manifest) == AllKeysSorted());
  CHECK(RowCount(r.out) == 55);
  for (const json& d : manifest["datasets"]) {
    const std::string key = d["key"];
    INFO(key);
    CHECK(d["version"] == 1);
    CHECK(RowOf(r.out, key) ==
          std::vector<std::string>{key, "1", d["option_count"].dump(), "new",
                                   "stored"});
    CHECK(d["option_count"] == w.cli.Show(key)["option_count"]);
    if (RcpchCounts().count(key)) {
      CHECK(d["option_count"] == RcpchCounts().at(key));
      CHECK(d["category"] == "rcpch");
    } else {
      CHECK(d["category"] == "nhs_dd");
    }
    for (const json& f : d["snapshot"]["files"]) {
      CHECK(fs::is_regular_file(w.out + "/" + f["path"].get<std::string>()));
    }
  }

  // The export is what `export` makes of the same store.
  const std::string other = w.cli.dir_.File("other");
  Run e = w.cli({"export", "--out", other});
  REQUIRE(e.code == kExitOk);
  CHECK(ReadTree(other) == ReadTree(w.out));
}

TEST_CASE("off a terminal, refresh, scrape and sync print plain ASCII; at "
          "one, symbols") {
  World w;
  w.cli.env_.out_is_terminal = false;
  w.cli.env_.variables.erase("NO_COLOR");
  Run r = w.Refresh();
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(Contains(r.out, "\n+ Ethnic Category: "));
  const auto ascii = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x80;
    });
  };
  CHECK(ascii(r.out));
  for (const char* command : {"scrape-nhs-dd", "sync-external"}) {
    INFO(command);
    Run again = w.cli({command, "--force", "--dataset",
                       command[1] == 'c' ? "ethnic_category" : "nhs_trusts"});
    INFO(Describe(again));
    CHECK(again.code == kExitOk);
    CHECK(ascii(again.out));
    CHECK((Contains(again.out, "- Skipped: 0") ||
           Contains(again.out, "  - Skipped: 0")));
  }
  w.cli.env_.out_is_terminal = true;
  Run fancy = w.cli({"scrape-nhs-dd", "--force", "--dataset", "ethnic_category"});
  CHECK(Contains(fancy.out, "\u229D Skipped: 0\n"));
  CHECK(Contains(fancy.out, "\U0001F4CA Found 1 dataset(s) to process\n"));
}

TEST_CASE("a second refresh within the due period skips everything and "
          "leaves the export as it was") {
  World w;
  w.RefreshAll();
  const auto tree = ReadTree(w.out);
  w.cli.now_ += kHour;
  Run r = w.Refresh();
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK_FALSE(Contains(r.out, "Seeded"));
  CHECK(w.server.RequestCount() == 0);
  CHECK(Contains(r.out,
                 "\n0 new, 0 updated, 0 unchanged, 55 not due, 0 failed\n"));
  CHECK(RowCount(r.out) == 55);
  for (const std::string& key : AllKeysSorted()) {
    INFO(key);
    const auto row = RowOf(r.out, key);
    REQUIRE(row.size() == 5);
    CHECK(row[1] == "1");
    CHECK(row[3] == "-");
    CHECK(row[4].starts_with("not due (next "));
  }
  CHECK(Contains(r.out, ": 0 files written (0 B), "));
  CHECK(Contains(r.out, "; manifest " + w.out + "/manifest.json (unchanged)\n"));
  CHECK(ReadTree(w.out) == tree);
}

TEST_CASE("refresh after one dataset changed upstream: only its files and "
          "the manifest are new, and the diff counts are right") {
  World w;
  w.RefreshAll();
  const auto before = ReadTree(w.out);
  const json old_manifest = Manifest(w.out);
  w.ChangeRegions();
  w.cli.now_ += 25 * kHour;  // RCPCH (daily) is due, NHS DD (weekly) not

  Run r = w.Refresh();
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(Contains(r.out,
                 "\n0 new, 1 updated, 6 unchanged, 48 not due, 0 failed\n"));
  CHECK(w.server.RequestCount() == 7);
  CHECK(w.RequestsUnder("/rcpch/") == 7);
  CHECK(RowOf(r.out, "nhs_england_regions") ==
        std::vector<std::string>{"nhs_england_regions", "2", "6",
                                 "+0 \u22121 ~1", "updated"});
  for (const std::string& key : RcpchKeys()) {
    if (key == "nhs_england_regions") continue;
    INFO(key);
    CHECK(RowOf(r.out, key) ==
          std::vector<std::string>{key, "1",
                                   std::to_string(RcpchCounts().at(key)), "-",
                                   "unchanged (304)"});
  }
  for (const std::string& key : NhsDdKeys()) {
    INFO(key);
    const auto row = RowOf(r.out, key);
    REQUIRE(row.size() == 5);
    CHECK(row[4].starts_with("not due"));
  }
  CHECK(Contains(r.out, "Exported 55 datasets to " + w.out +
                            ": 6 files written ("));

  // The tree: four new files of the dataset, the manifest changed.
  const auto after = ReadTree(w.out);
  std::set<std::string> added, changed, gone;
  for (const auto& [path, bytes] : after) {
    auto it = before.find(path);
    if (it == before.end()) {
      added.insert(path);
    } else if (it->second != bytes) {
      changed.insert(path);
    }
  }
  for (const auto& [path, bytes] : before) {
    if (!after.count(path)) gone.insert(path);
  }
  const std::string h = R"(\.[0-9a-f]{12}\.json\.(zst|gz))";
  const std::regex new_files("(datasets/nhs_england_regions/2|"
                             "diffs/nhs_england_regions/1-2)" + h);
  CHECK(added.size() == 4);
  for (const std::string& p : added) {
    INFO(p);
    CHECK(std::regex_match(p, new_files));
  }
  CHECK(changed == std::set<std::string>{"manifest.json", "manifest.json.gz"});
  CHECK(gone.empty());

  // The manifest: the dataset at version 2 with its diff; the rest as was.
  const json manifest = Manifest(w.out);
  const json* e = Entry(manifest, "nhs_england_regions");
  REQUIRE(e != nullptr);
  CHECK((*e)["version"] == 2);
  CHECK((*e)["option_count"] == 6);
  REQUIRE((*e)["diffs"].size() == 1);
  const json summary =
      json::parse(R"({"added":0,"removed":1,"changed":1,"reordered":false})");
  CHECK((*e)["diffs"][0]["from"] == 1);
  CHECK((*e)["diffs"][0]["to"] == 2);
  CHECK((*e)["diffs"][0]["summary"] == summary);
  for (const std::string& key : AllKeysSorted()) {
    if (key == "nhs_england_regions") continue;
    INFO(key);
    CHECK(*Entry(manifest, key) == *Entry(old_manifest, key));
  }

  // The diff file, and diff's views of it.
  const std::string file = DiffFile(w.out, "nhs_england_regions", 1, 2);
  const json diff = json::parse(file);
  CHECK(diff["summary"] == summary);
  CHECK(diff["removed"] == json::parse(R"([{"value":"Y56","label":"London"}])"));
  CHECK(diff["added"] == json::array());
  REQUIRE(diff["changed"].size() == 1);
  CHECK(diff["changed"][0]["value"] == "Y58");
  CHECK(diff["changed"][0]["before"]["label"] == "South West");
  CHECK(diff["changed"][0]["after"]["label"] == "South West (renamed)");
  Run j = w.cli({"diff", "nhs_england_regions", "--format", "json"});
  CHECK(j.code == kExitOk);
  CHECK(j.out == file + "\n");
  Run t = w.cli({"diff", "nhs_england_regions"});
  CHECK(t.code == kExitOk);
  CHECK(Contains(t.out, "\n- Y56  London\n"));
  CHECK(Contains(t.out, "\n~ Y58  South West \u2192 South West (renamed)\n"));
  CHECK(Contains(t.out, "\n0 added, 1 removed, 1 changed (7 \u2192 6 options)\n"));
}

TEST_CASE("a changed body with the same options changes nothing in the "
          "export") {
  World w;
  w.RefreshAll();
  const auto tree = ReadTree(w.out);
  // A field the mapping does not read.
  std::string body = testing::ReadFile(w.RegionsFile());
  const std::string from = "\"publication_date\":\"2022-07-30\"";
  const std::size_t at = body.find(from);
  REQUIRE(at != std::string::npos);
  body.replace(at, from.size(), "\"publication_date\":\"2024-01-01\"");
  testing::WriteFile(w.RegionsFile(), body);
  w.cli.now_ += 25 * kHour;
  Run r = w.Refresh();
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(RowOf(r.out, "nhs_england_regions") ==
        std::vector<std::string>{"nhs_england_regions", "1", "7", "-",
                                 "unchanged"});
  CHECK(Contains(r.out, ": 0 files written (0 B), "));
  CHECK(ReadTree(w.out) == tree);
}

TEST_CASE("refresh passes --all-versions and --prune to the export") {
  World w;
  w.RefreshAll();
  w.ChangeRegions();
  w.cli.now_ += 25 * kHour;
  Run r = w.Refresh({"--all-versions"});
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  const json m = Manifest(w.out);
  const json* e = Entry(m, "nhs_england_regions");
  REQUIRE(e != nullptr);
  REQUIRE(e->contains("older_snapshots"));
  CHECK((*e)["older_snapshots"].size() == 1);
  CHECK((*e)["older_snapshots"][0]["version"] == 1);

  w.cli.now_ += kHour;
  Run p = w.Refresh({"--prune"});
  INFO(Describe(p));
  REQUIRE(p.code == kExitOk);
  CHECK(Contains(p.out, ", 2 pruned; manifest "));
  const auto tree = ReadTree(w.out);
  for (const auto& [path, bytes] : tree) {
    INFO(path);
    CHECK_FALSE(path.starts_with("datasets/nhs_england_regions/1."));
  }
  CHECK_FALSE(Entry(Manifest(w.out), "nhs_england_regions")
                  ->contains("older_snapshots"));
}

TEST_CASE("a dataset that fails keeps its last good version in the export; "
          "refresh exits 1") {
  World w;
  const std::string page = "/nhs_dd/data_elements/ethnic_category.html";

  SECTION("after a good refresh") {
    w.RefreshAll();
    const auto before = ReadTree(w.out);
    const json entry = *Entry(Manifest(w.out), "ethnic_category");
    w.server.SetScenario(page, {FakeResponse::Status(404)});
    w.cli.now_ += kHour;
    Run r = w.Refresh({"--force"});
    INFO(Describe(r));
    CHECK(r.code == kExitFailure);
    CHECK(Contains(r.out,
                   "\n0 new, 0 updated, 54 unchanged, 0 not due, 1 failed\n"));
    const auto row = RowOf(r.out, "ethnic_category");
    REQUIRE(row.size() == 5);
    CHECK(row[1] == "1");
    CHECK(row[2] == entry["option_count"].dump());
    CHECK(row[3] == "-");
    CHECK(row[4].starts_with("FAILED: "));
    CHECK(Contains(row[4], "404"));
    // Exported all the same, with the last good version.
    CHECK(Contains(r.out, "Exported 55 datasets to " + w.out));
    CHECK(*Entry(Manifest(w.out), "ethnic_category") == entry);
    CHECK(ReadTree(w.out) == before);
    const json shown = w.cli.Show("ethnic_category");
    CHECK(shown["version"] == 1);
    CHECK(Contains(shown["last_error"].get<std::string>(), "404"));
  }

  SECTION("on a fresh store: the others are exported") {
    w.server.SetScenario(page, {FakeResponse::Status(404)});
    Run r = w.Refresh();
    INFO(Describe(r));
    CHECK(r.code == kExitFailure);
    CHECK(Contains(r.out,
                   "\n54 new, 0 updated, 0 unchanged, 0 not due, 1 failed\n"));
    const auto row = RowOf(r.out, "ethnic_category");
    REQUIRE(row.size() == 5);
    CHECK(row[1] == "-");
    CHECK(row[2] == "-");
    CHECK(row[4].starts_with("FAILED: "));
    const json manifest = Manifest(w.out);
    CHECK(manifest["datasets"].size() == 54);
    CHECK(Entry(manifest, "ethnic_category") == nullptr);
    CHECK(Contains(r.out, "Exported 54 datasets to " + w.out));
  }
}

TEST_CASE("refresh exits 2 when nothing can run") {
  World w;
  SECTION("a --catalogue directory that does not exist") {
    const std::string missing = w.cli.dir_.File("no_catalogue");
    Run r = w.cli({"--catalogue", missing, "refresh", "--out", w.out});
    INFO(Describe(r));
    CHECK(r.code == kExitUsage);
    CHECK(Contains(r.err, missing));
    CHECK_FALSE(fs::exists(w.cli.store_));
  }
  SECTION("a store in a directory that does not exist") {
    const std::string store = w.cli.dir_.File("no_such_dir") + "/store.lmdb";
    Run r = w.cli({"--store", store, "refresh", "--out", w.out});
    INFO(Describe(r));
    CHECK(r.code == kExitUsage);
    CHECK(Contains(r.err, "datasnap: error: "));
    CHECK_FALSE(fs::exists(w.cli.dir_.File("no_such_dir")));
  }
  SECTION("--dry-run on a store that does not exist yet") {
    Run r = w.Refresh({"--dry-run"});
    INFO(Describe(r));
    CHECK(r.code == kExitUsage);
    CHECK_FALSE(fs::exists(w.cli.store_));
  }
  SECTION("an unknown --dataset") {
    Run r = w.Refresh({"--dataset", "no_such_dataset"});
    INFO(Describe(r));
    CHECK(r.code == kExitUsage);
    CHECK(Contains(r.err, "no dataset 'no_such_dataset'"));
  }
  CHECK(w.server.RequestCount() == 0);
  CHECK_FALSE(fs::exists(w.out));
}

TEST_CASE("refresh --dry-run writes nothing to the store and exports "
          "nothing") {
  World w;
  w.RefreshAll();
  const auto tree = ReadTree(w.out);
  w.ChangeRegions();
  w.cli.now_ += 25 * kHour;
  const std::string store = w.cli.StoreBytes();

  SECTION("what is due") {
    Run r = w.Refresh({"--dry-run"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(Contains(r.out, "DRY RUN: nothing will be written to the store\n"));
    CHECK(Contains(r.out, "Dry run: nothing exported.\n"));
    CHECK_FALSE(Contains(r.out, "Exported"));
    CHECK(w.server.RequestCount() == 7);
    CHECK(RowOf(r.out, "nhs_england_regions") ==
          std::vector<std::string>{"nhs_england_regions", "2", "6",
                                   "+0 \u22121 ~1", "would be updated"});
  }
  SECTION("everything, forced") {
    Run r = w.Refresh({"--dry-run", "--force"});
    INFO(Describe(r));
    REQUIRE(r.code == kExitOk);
    CHECK(w.server.RequestCount() == 55);
    CHECK(Contains(r.out, "Dry run: nothing exported.\n"));
  }
  CHECK(w.cli.StoreBytes() == store);
  CHECK(ReadTree(w.out) == tree);
  CHECK(w.cli.Json({"history", "nhs_england_regions", "--json"}).size() == 1);
}

TEST_CASE("refresh --dataset twice takes two datasets of different sources") {
  World w;
  Run r = w.Refresh({"--dataset", "ethnic_category", "--dataset", "nhs_trusts"});
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(Contains(r.out, "Seeded 55 new datasets from the catalogue\n"));
  CHECK(Contains(r.out, "Refreshing 2 datasets...\n"));
  CHECK(Contains(r.out,
                 "\n2 new, 0 updated, 0 unchanged, 0 not due, 0 failed\n"));
  CHECK(RowCount(r.out) == 2);
  CHECK(RowOf(r.out, "ethnic_category").at(3) == "new");
  CHECK(RowOf(r.out, "nhs_trusts") ==
        std::vector<std::string>{"nhs_trusts", "1", "20", "new", "stored"});
  CHECK(w.server.RequestCount() == 2);
  CHECK(w.server.RequestsFor("/nhs_dd/data_elements/ethnic_category.html")
            .size() == 1);
  CHECK(w.server.RequestsFor("/rcpch/trusts/").size() == 1);
  CHECK(ManifestKeys(Manifest(w.out)) ==
        std::vector<std::string>{"ethnic_category", "nhs_trusts"});
  CHECK(w.cli.Json({"list", "--json"}).size() == 55);

  SECTION("again with --force: both checked, both unchanged") {
    w.server.ClearRecords();
    w.cli.now_ += kHour;
    Run again = w.Refresh(
        {"--force", "--dataset", "nhs_trusts", "--dataset", "ethnic_category"});
    INFO(Describe(again));
    REQUIRE(again.code == kExitOk);
    CHECK(w.server.RequestCount() == 2);
    CHECK(Contains(again.out,
                   "\n0 new, 0 updated, 2 unchanged, 0 not due, 0 failed\n"));
    CHECK(RowCount(again.out) == 2);
  }
}

TEST_CASE("refresh without --out exports nothing") {
  World w;
  Run r = w.cli({"refresh"});
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  CHECK(Contains(r.out, "No --out DIR: nothing exported.\n"));
  CHECK(w.server.RequestCount() == 55);
  CHECK_FALSE(fs::exists(w.out));
}

TEST_CASE("refresh exits 1 when the export cannot be written") {
  World w;
  testing::WriteFile(w.cli.dir_.File("a_file"), "x");
  Run r = w.cli({"refresh", "--out", w.cli.dir_.File("a_file") + "/out"});
  INFO(Describe(r));
  CHECK(r.code == kExitFailure);
  CHECK(Contains(r.err, w.cli.dir_.File("a_file")));
  // The refresh itself was stored.
  CHECK(w.cli.Show("nhs_trusts")["version"] == 1);
}

}  // namespace
}  // namespace datasnap
