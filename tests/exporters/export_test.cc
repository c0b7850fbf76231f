// ExportStore on stores built in a temporary directory with a fake clock:
// the tree it writes (content-named snapshots and diffs, the manifest), the
// same bytes from the same store, incremental exports that leave unchanged
// files alone, --all-versions, --prune, repair of damaged files, and a
// reader polling the manifest while exports run.
#include "exporters/export.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/compression.h"
#include "core/model.h"
#include "core/model_json.h"
#include "core/sha256.h"
#include "core/time.h"
#include "exporters/export_record.h"
#include "exporters/formats.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

constexpr UnixSeconds kT0 = 1795000000;  // 2026-11-18
constexpr UnixSeconds kHour = 3600;

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

std::string Gunzip(const std::string& member) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(member.data()));
  zs.avail_in = static_cast<uInt>(member.size());
  std::string out;
  char buf[1 << 16];
  int ret = Z_OK;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
  } while (ret != Z_STREAM_END);
  inflateEnd(&zs);
  REQUIRE(ret == Z_STREAM_END);
  return out;
}

// Every regular file under `root`: relative '/'-path -> bytes.
std::map<std::string, std::string> ReadTree(const std::string& root) {
  std::map<std::string, std::string> tree;
  if (!fs::exists(root)) return tree;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename() == kExportRecordName) continue;
    tree[fs::relative(e.path(), root).generic_string()] =
        testing::ReadFile(e.path().string());
  }
  return tree;
}

// Relative path -> inode: a file renamed into place gets a new one.
std::map<std::string, ino_t> Inodes(const std::string& root) {
  std::map<std::string, ino_t> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename() == kExportRecordName) continue;
    struct stat st {};
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    out[fs::relative(e.path(), root).generic_string()] = st.st_ino;
  }
  return out;
}

std::set<std::string> Keys(const std::map<std::string, std::string>& tree) {
  std::set<std::string> keys;
  for (const auto& [k, v] : tree) keys.insert(k);
  return keys;
}

// The paths of a tree under `prefix`, or matching `re`.
std::set<std::string> Matching(const std::map<std::string, std::string>& tree,
                               const std::string& re) {
  std::set<std::string> out;
  const std::regex r(re);
  for (const auto& [k, v] : tree) {
    if (std::regex_match(k, r)) out.insert(k);
  }
  return out;
}

Dataset MakeDataset(const std::string& key,
                    Category category = Category::kNhsDd) {
  Dataset d;
  d.key = key;
  d.name = "Name of " + key;
  d.description = "Description of " + key;
  d.category = category;
  d.source_type = category == Category::kNhsDd ? SourceType::kScrape
                                               : SourceType::kApi;
  d.reference_url = "https://example.test/page/" + key;
  d.tags = {"tag-" + key, "common"};
  return d;
}

// A store in a temporary directory whose clock the test moves.
class Fixture {
 public:
  Fixture() : store_path(dir.File("store.lmdb")), out(dir.File("out")) {
    Reopen(false);
  }

  void Reopen(bool read_only) {
    store.reset();
    StoreOptions options;
    options.read_only = read_only;
    options.clock = [this] { return now; };
    auto opened = Store::Open(store_path, options);
    INFO((opened ? std::string() : opened.error().message));
    REQUIRE(opened.has_value());
    store = std::move(*opened);
  }

  void Upsert(const Dataset& d) {
    auto r = store->Write([&](WriteTxn& txn) { return txn.UpsertDataset(d); });
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
  }
  void Add(const std::string& key, Category category = Category::kNhsDd) {
    Upsert(MakeDataset(key, category));
  }

  // A new version an hour after the last event; its source_url names it.
  std::uint32_t Commit(const std::string& key, std::vector<Option> options) {
    now += kHour;
    auto list = OptionList::Make(std::move(options));
    INFO((list ? std::string() : list.error().message));
    REQUIRE(list.has_value());
    Provenance p;
    p.source_url = "https://example.test/" + key + "/" + std::to_string(now);
    p.fetched_at = now;
    auto r = store->Write(
        [&](WriteTxn& txn) { return txn.CommitOptions(key, *list, p); });
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    return r->version;
  }

  std::vector<VersionRecord> Versions(const std::string& key) {
    auto r = store->Read([&](const ReadTxn& txn) {
      return txn.ListVersions(key, /*with_options=*/true);
    });
    REQUIRE(r.has_value());
    return *r;
  }

  ExportReport Export(ExportOptions options = {}) {
    if (options.out_dir.empty()) options.out_dir = out;
    auto r = ExportStore(*store, options);
    INFO((r ? std::string() : r.error().message));
    REQUIRE(r.has_value());
    return *r;
  }

  json Manifest() const {
    return json::parse(testing::ReadFile(out + "/manifest.json"));
  }

  // The manifests in `out` are byte for byte those a fresh export of the
  // same store writes into an empty directory.
  void CheckManifestsAsFresh() {
    const std::string fresh = dir.File("fresh");
    Export({.out_dir = fresh});
    for (const char* name : {"/manifest.json", "/manifest.json.gz"}) {
      INFO(name);
      CHECK(testing::ReadFile(fresh + name) == testing::ReadFile(out + name));
    }
  }

  TempDir dir;
  std::string store_path;
  std::string out;
  UnixSeconds now = kT0;
  std::unique_ptr<Store> store;
};

// Three exported datasets (one with three versions), and three that are
// not exported: deleted, not global, and without a version.
void Populate(Fixture& f) {
  f.Add("ethnic_category");
  f.Add("smoking_status");
  f.Add("trusts", Category::kRcpch);
  f.Add("deleted_one");
  f.Add("private_one");
  f.Add("never_fetched");
  REQUIRE(f.Commit("ethnic_category", {O("A", "Alpha"), O("B", "Beta"),
                                       O("C", "Gamma")}) == 1);
  REQUIRE(f.Commit("smoking_status", {O("1", "Current smoker"),
                                      O("2", "Ex-smoker"),
                                      O("3", "Never smoked"),
                                      O("Z", "Not stated", {}, true)}) == 1);
  REQUIRE(f.Commit("trusts", {O("RGT", "Cambridge"), O("RCF", "Airedale"),
                              O("RGT01", "Addenbrooke's", "RGT")}) == 1);
  // ethnic_category v2: -C +D ~B; v3: +E, D moved first.
  REQUIRE(f.Commit("ethnic_category", {O("A", "Alpha"), O("B", "Beta 2"),
                                       O("D", "Delta")}) == 2);
  REQUIRE(f.Commit("ethnic_category", {O("D", "Delta"), O("A", "Alpha"),
                                       O("B", "Beta 2"),
                                       O("E", "Epsilon \u00e9\u2192")}) == 3);
  REQUIRE(f.Commit("deleted_one", {O("X", "Ex")}) == 1);
  REQUIRE(f.Commit("private_one", {O("X", "Ex")}) == 1);
  Dataset deleted = MakeDataset("deleted_one");
  deleted.is_active = false;
  f.Upsert(deleted);
  // Neither global nor an organisation's: published nowhere. (Organisation
  // scope is tested by export_validation_test and user_commands_test.)
  Dataset priv = MakeDataset("private_one");
  priv.is_global = false;
  f.Upsert(priv);
}

const json* Entry(const json& manifest, const std::string& key) {
  for (const json& d : manifest["datasets"]) {
    if (d["key"] == key) return &d;
  }
  return nullptr;
}

// Every file the manifest names, with the bytes and hash it gives.
std::vector<json> ListedFiles(const json& manifest) {
  std::vector<json> files;
  for (const json& d : manifest["datasets"]) {
    for (const json& f : d["snapshot"]["files"]) files.push_back(f);
    for (const json& diff : d["diffs"]) {
      for (const json& f : diff["files"]) files.push_back(f);
    }
    if (d.contains("older_snapshots")) {
      for (const json& o : d["older_snapshots"]) {
        for (const json& f : o["files"]) files.push_back(f);
      }
    }
    if (d.contains("fhir")) files.push_back(d["fhir"]);
  }
  return files;
}

std::set<std::string> ListedPaths(const json& manifest) {
  std::set<std::string> paths;
  for (const json& f : ListedFiles(manifest)) {
    paths.insert(f["path"].get<std::string>());
  }
  return paths;
}

// Checks a published document: its files exist with the listed bytes and
// hashes, are named by the JSON's hash, and decode to the same JSON, which
// is returned.
std::string CheckDocument(const std::string& out, const json& doc,
                          const std::string& stem) {
  INFO("document " << stem << ": " << doc.dump());
  REQUIRE(doc["files"].size() == 2);
  const std::string sha = doc["json_sha256"].get<std::string>();
  REQUIRE(sha.size() == 64);
  const std::string base = stem + "." + sha.substr(0, 12) + ".json";
  const json& zst = doc["files"][0];
  const json& gz = doc["files"][1];
  CHECK(zst["path"] == base + ".zst");
  CHECK(zst["encoding"] == "zstd");
  CHECK(gz["path"] == base + ".gz");
  CHECK(gz["encoding"] == "gzip");
  const std::string zst_bytes = testing::ReadFile(out + "/" + base + ".zst");
  const std::string gz_bytes = testing::ReadFile(out + "/" + base + ".gz");
  CHECK(zst["bytes"] == zst_bytes.size());
  CHECK(zst["sha256"] == Sha256Hex(zst_bytes));
  CHECK(gz["bytes"] == gz_bytes.size());
  CHECK(gz["sha256"] == Sha256Hex(gz_bytes));
  const std::string text = Unzstd(zst_bytes);
  CHECK(Sha256Hex(text) == sha);
  CHECK(doc["json_bytes"] == text.size());
  CHECK(Gunzip(gz_bytes) == text);
  return text;
}

// ---------------------------------------------------------------- tests

TEST_CASE("export writes content-named snapshots, diffs and a manifest") {
  Fixture f;
  Populate(f);
  const ExportReport report = f.Export();
  const auto tree = ReadTree(f.out);
  const json manifest = f.Manifest();

  SECTION("the manifest lists the active global datasets with a version, "
          "sorted by key") {
    CHECK(manifest["format"] == 1);
    CHECK(manifest["generator"].get<std::string>().starts_with("datasnap "));
    std::vector<std::string> keys;
    for (const json& d : manifest["datasets"]) keys.push_back(d["key"]);
    CHECK(keys == std::vector<std::string>{"ethnic_category",
                                           "smoking_status", "trusts"});
    CHECK(report.datasets == 3);
    // Nothing at all of the others is published.
    for (const auto& [path, bytes] : tree) {
      INFO(path);
      CHECK(path.find("deleted_one") == std::string::npos);
      CHECK(path.find("private_one") == std::string::npos);
      CHECK(path.find("never_fetched") == std::string::npos);
    }
  }

  SECTION("each entry describes the dataset and its current version") {
    const auto versions = f.Versions("ethnic_category");
    REQUIRE(versions.size() == 3);
    const VersionRecord& v3 = versions[2];
    const json* e = Entry(manifest, "ethnic_category");
    REQUIRE(e != nullptr);
    CHECK((*e)["name"] == "Name of ethnic_category");
    CHECK((*e)["description"] == "Description of ethnic_category");
    CHECK((*e)["category"] == "nhs_dd");
    CHECK((*e)["tags"] == json::array({"tag-ethnic_category", "common"}));
    CHECK((*e)["version"] == 3);
    CHECK((*e)["option_count"] == 4);
    CHECK((*e)["options_sha256"] == v3.options_sha256);
    CHECK((*e)["created_at"] == FormatIso8601(v3.created_at));
    CHECK((*e)["source_url"] == v3.provenance.source_url);
    CHECK((*e)["sha256"] == (*e)["snapshot"]["json_sha256"]);
    const json* t = Entry(manifest, "trusts");
    REQUIRE(t != nullptr);
    CHECK((*t)["category"] == "rcpch");
    CHECK((*t)["version"] == 1);
    CHECK((*t)["diffs"] == json::array());
    CHECK_FALSE(t->contains("older_snapshots"));
  }

  SECTION("snapshots decode to the version's JSON, named by its hash") {
    for (const json& d : manifest["datasets"]) {
      const std::string key = d["key"];
      INFO(key);
      const std::string text =
          CheckDocument(f.out, d["snapshot"],
                        "datasets/" + key + "/" + d["version"].dump());
      CHECK(Sha256Hex(text) == d["sha256"]);
      const json snapshot = json::parse(text);
      CHECK(snapshot["format"] == 1);
      CHECK(snapshot["key"] == key);
      CHECK(snapshot["version"] == d["version"]);
      CHECK(snapshot["option_count"] == d["option_count"]);
      CHECK(snapshot["options"].size() == d["option_count"]);
      CHECK(snapshot["sha256"] == d["options_sha256"]);
      CHECK(snapshot["provenance"]["source_url"] == d["source_url"]);
      // Exactly SnapshotJson of the store's records.
      const auto versions = f.Versions(key);
      auto record = f.store->Read(
          [&](const ReadTxn& txn) { return txn.GetDataset(key); });
      REQUIRE(record.has_value());
      REQUIRE(record->has_value());
      CHECK(text == DumpCompact(SnapshotJson(**record, versions.back())));
    }
    const json* s = Entry(manifest, "trusts");
    const json snap = json::parse(Unzstd(testing::ReadFile(
        f.out + "/" + (*s)["snapshot"]["files"][0]["path"].get<std::string>())));
    CHECK(snap["options"] ==
          json::parse(R"([{"value":"RGT","label":"Cambridge"},)"
                      R"({"value":"RCF","label":"Airedale"},)"
                      R"({"value":"RGT01","label":"Addenbrooke's",)"
                      R"("parent":"RGT"}])"));
  }

  SECTION("diffs: every consecutive pair, and every older version to the "
          "current one, which the manifest lists") {
    CHECK(Matching(tree, R"(diffs/ethnic_category/1-2\.[0-9a-f]{12}\.json\.(zst|gz))")
              .size() == 2);
    CHECK(Matching(tree, R"(diffs/ethnic_category/2-3\.[0-9a-f]{12}\.json\.(zst|gz))")
              .size() == 2);
    CHECK(Matching(tree, R"(diffs/ethnic_category/1-3\.[0-9a-f]{12}\.json\.(zst|gz))")
              .size() == 2);
    CHECK(Matching(tree, R"(diffs/.*)").size() == 6);

    const json* e = Entry(manifest, "ethnic_category");
    const json& diffs = (*e)["diffs"];
    REQUIRE(diffs.size() == 2);
    CHECK(diffs[0]["from"] == 1);
    CHECK(diffs[0]["to"] == 3);
    CHECK(diffs[0]["summary"] ==
          json::parse(R"({"added":2,"removed":1,"changed":1,"reordered":false})"));
    CHECK(diffs[1]["from"] == 2);
    CHECK(diffs[1]["to"] == 3);
    CHECK(diffs[1]["summary"] ==
          json::parse(R"({"added":1,"removed":0,"changed":0,"reordered":true})"));

    const auto versions = f.Versions("ethnic_category");
    for (const json& d : diffs) {
      const std::uint32_t from = d["from"];
      const std::string text = CheckDocument(
          f.out, d, "diffs/ethnic_category/" + std::to_string(from) + "-3");
      CHECK(text == DumpCompact(DiffJson("ethnic_category",
                                         versions[from - 1], versions[2])));
      const json diff = json::parse(text);
      CHECK(diff["summary"] == d["summary"]);
      CHECK(diff["from"] == from);
      CHECK(diff["to"] == 3);
    }
    // The consecutive 1-2 diff, which the manifest does not list.
    const auto one_two =
        Matching(tree, R"(diffs/ethnic_category/1-2\.[0-9a-f]{12}\.json\.zst)");
    REQUIRE(one_two.size() == 1);
    const std::string text = Unzstd(tree.at(*one_two.begin()));
    CHECK(one_two.begin()->find("." + Sha256Hex(text).substr(0, 12) + ".") !=
          std::string::npos);
    CHECK(text == DumpCompact(DiffJson("ethnic_category", versions[0],
                                       versions[1])));
    const json diff = json::parse(text);
    CHECK(diff["summary"] ==
          json::parse(R"({"added":1,"removed":1,"changed":1,"reordered":false})"));
    CHECK(diff["removed"][0]["value"] == "C");
    CHECK(diff["added"][0]["value"] == "D");
    CHECK(diff["changed"][0]["value"] == "B");
    CHECK(diff["changed"][0]["before"]["label"] == "Beta");
    CHECK(diff["changed"][0]["after"]["label"] == "Beta 2");
  }

  SECTION("the tree holds the listed files and the manifest, nothing else") {
    std::set<std::string> expected = ListedPaths(manifest);
    // Plus the consecutive diff the manifest does not list.
    for (const std::string& p :
         Matching(tree, R"(diffs/ethnic_category/1-2\..*)")) {
      expected.insert(p);
    }
    expected.insert("manifest.json");
    expected.insert("manifest.json.gz");
    CHECK(Keys(tree) == expected);
    for (const json& file : ListedFiles(manifest)) {
      const std::string path = file["path"];
      INFO(path);
      REQUIRE(tree.count(path) == 1);
      CHECK(file["bytes"] == tree.at(path).size());
      CHECK(file["sha256"] == Sha256Hex(tree.at(path)));
    }
    CHECK(Gunzip(tree.at("manifest.json.gz")) == tree.at("manifest.json"));
  }

  SECTION("the report counts what was written, the manifest last") {
    CHECK(report.files_written == tree.size());
    CHECK(report.files_unchanged == 0);
    CHECK(report.files_pruned == 0);
    CHECK(report.manifest_changed);
    std::uint64_t bytes = 0;
    for (const auto& [path, content] : tree) bytes += content.size();
    CHECK(report.bytes_written == bytes);
    REQUIRE(report.written.size() == tree.size());
    CHECK(std::set<std::string>(report.written.begin(), report.written.end()) ==
          Keys(tree));
    CHECK(report.written[report.written.size() - 2] == "manifest.json.gz");
    CHECK(report.written.back() == "manifest.json");
  }
}

TEST_CASE("the manifest sorts datasets by key, byte by byte") {
  Fixture f;
  for (const char* key : {"b", "ab", "a_b", "a0", "a-b"}) {
    f.Add(key);
    f.Commit(key, {O("1", "One")});
  }
  f.Export();
  const json manifest = f.Manifest();
  std::vector<std::string> keys;
  for (const json& d : manifest["datasets"]) keys.push_back(d["key"]);
  CHECK(keys == std::vector<std::string>{"a-b", "a0", "a_b", "ab", "b"});
}

TEST_CASE("the same store gives the same bytes") {
  Fixture f;
  Populate(f);
  const ExportReport first = f.Export();
  const auto tree = ReadTree(f.out);
  const auto inodes = Inodes(f.out);

  SECTION("exporting again rewrites nothing") {
    const ExportReport again = f.Export();
    CHECK(again.files_written == 0);
    CHECK(again.bytes_written == 0);
    CHECK(again.written.empty());
    // Every listed file; not the consecutive diff ethnic_category 1-2,
    // which no manifest lists: a dataset whose entry still stands is not
    // looked at again.
    CHECK(again.files_unchanged == first.files_written - 2);
    CHECK(again.datasets_built == 0);
    CHECK_FALSE(again.manifest_changed);
    CHECK(ReadTree(f.out) == tree);
    CHECK(Inodes(f.out) == inodes);  // not even replaced by equal copies
  }

  SECTION("another directory gets the same tree") {
    f.Export({.out_dir = f.dir.File("elsewhere")});
    CHECK(ReadTree(f.dir.File("elsewhere")) == tree);
  }

  SECTION("the store opened read-only gives the same tree") {
    f.Reopen(true);
    f.Export({.out_dir = f.dir.File("read_only")});
    CHECK(ReadTree(f.dir.File("read_only")) == tree);
  }

  SECTION("another store built the same way gives the same tree") {
    Fixture g;
    Populate(g);
    g.Export();
    CHECK(ReadTree(g.out) == tree);
  }
}

TEST_CASE("after one dataset changes, only its files and the manifest are "
          "written") {
  Fixture f;
  Populate(f);
  f.Export();
  const auto before = ReadTree(f.out);
  const auto inodes = Inodes(f.out);
  const json old_manifest = f.Manifest();

  // smoking_status v2: "1" relabelled, "4" added, the rest as they were.
  REQUIRE(f.Commit("smoking_status", {O("1", "Current smoker (daily)"),
                                      O("2", "Ex-smoker"),
                                      O("3", "Never smoked"),
                                      O("4", "Occasional smoker"),
                                      O("Z", "Not stated", {}, true)}) == 2);
  const ExportReport report = f.Export();
  const auto after = ReadTree(f.out);
  const json manifest = f.Manifest();

  std::set<std::string> added, changed;
  for (const auto& [path, bytes] : after) {
    auto it = before.find(path);
    if (it == before.end()) {
      added.insert(path);
    } else if (it->second != bytes) {
      changed.insert(path);
    }
  }
  const std::string h = R"(\.[0-9a-f]{12}\.json\.(zst|gz))";
  CHECK(added.size() == 4);
  CHECK(Matching(after, "datasets/smoking_status/2" + h).size() == 2);
  CHECK(Matching(after, "diffs/smoking_status/1-2" + h).size() == 2);
  for (const std::string& p : added) {
    INFO(p);
    CHECK((p.starts_with("datasets/smoking_status/2.") ||
           p.starts_with("diffs/smoking_status/1-2.")));
  }
  CHECK(changed == std::set<std::string>{"manifest.json", "manifest.json.gz"});

  // Older files are left in place, untouched (same inode: not rewritten).
  const auto new_inodes = Inodes(f.out);
  for (const auto& [path, inode] : inodes) {
    INFO(path);
    REQUIRE(new_inodes.count(path) == 1);
    if (!path.starts_with("manifest.json")) CHECK(new_inodes.at(path) == inode);
  }
  CHECK(Matching(after, "datasets/smoking_status/1" + h).size() == 2);

  // The report names just those files, the manifest last.
  CHECK(report.files_written == 6);
  CHECK(report.manifest_changed);
  CHECK(std::set<std::string>(report.written.begin(), report.written.end()) ==
        [&] {
          std::set<std::string> s = added;
          s.insert(changed.begin(), changed.end());
          return s;
        }());
  REQUIRE_FALSE(report.written.empty());
  CHECK(report.written.back() == "manifest.json");
  // All but the manifest, smoking_status's version 1 (no longer
  // published, but left in place) and the unlisted consecutive diff of
  // ethnic_category, which is not looked at: only smoking_status is built.
  CHECK(report.files_unchanged == before.size() - 6);
  CHECK(report.datasets_built == 1);

  // The diff's summary counts.
  const json* e = Entry(manifest, "smoking_status");
  REQUIRE(e != nullptr);
  CHECK((*e)["version"] == 2);
  CHECK((*e)["option_count"] == 5);
  REQUIRE((*e)["diffs"].size() == 1);
  const json& d = (*e)["diffs"][0];
  CHECK(d["from"] == 1);
  CHECK(d["to"] == 2);
  const json summary =
      json::parse(R"({"added":1,"removed":0,"changed":1,"reordered":false})");
  CHECK(d["summary"] == summary);
  const json diff =
      json::parse(CheckDocument(f.out, d, "diffs/smoking_status/1-2"));
  CHECK(diff["summary"] == summary);
  CHECK(diff["added"] == json::parse(
                             R"([{"value":"4","label":"Occasional smoker"}])"));
  CHECK(diff["removed"] == json::array());
  CHECK(diff["changed"] ==
        json::parse(R"j([{"value":"1","before":{"label":"Current smoker"},)j"
                    R"j("after":{"label":"Current smoker (daily)"}}])j"));

  // The other datasets' entries are as they were.
  for (const char* key : {"ethnic_category", "trusts"}) {
    INFO(key);
    CHECK(*Entry(manifest, key) == *Entry(old_manifest, key));
  }

  // The kept entries were copied from the old manifest's text, the new one
  // rendered: the same bytes as a fresh export of the same store.
  f.CheckManifestsAsFresh();
}

// Every manifest under `root` (the public one and each organisation's,
// .json and .gz): path -> bytes.
std::map<std::string, std::string> Manifests(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& [path, bytes] : ReadTree(root)) {
    if (path.ends_with("manifest.json") || path.ends_with("manifest.json.gz")) {
      out.emplace(path, bytes);
    }
  }
  return out;
}

// A copy of f.out without the export's record: exported again, it shows
// what a full export does where the incremental one ran.
std::string CopyWithoutRecord(Fixture& f) {
  static int copies = 0;
  const std::string copy = f.dir.File("full" + std::to_string(++copies));
  fs::copy(f.out, copy, fs::copy_options::recursive);
  fs::remove(copy + "/" + kExportRecordName);
  return copy;
}

// Checks an incremental export of f.out against a full export of `copy`
// (CopyWithoutRecord, taken before the store changed): the same manifests,
// record and report.
void CheckAsFullExport(Fixture& f, const std::string& copy,
                       const ExportReport& incremental) {
  const ExportReport r = f.Export({.out_dir = copy});
  CHECK(incremental.incremental);
  CHECK_FALSE(r.incremental);
  CHECK(ReadTree(copy) == ReadTree(f.out));
  CHECK(testing::ReadFile(copy + "/" + kExportRecordName) ==
        testing::ReadFile(f.out + "/" + kExportRecordName));
  CHECK(incremental.datasets == r.datasets);
  CHECK(incremental.organizations == r.organizations);
  CHECK(incremental.warnings == r.warnings);
  CHECK(incremental.datasets_built == r.datasets_built);
  CHECK(incremental.files_written == r.files_written);
  CHECK(incremental.files_unchanged == r.files_unchanged);
  CHECK(incremental.bytes_written == r.bytes_written);
  CHECK(incremental.manifest_changed == r.manifest_changed);
  CHECK(std::set<std::string>(incremental.written.begin(),
                              incremental.written.end()) ==
        std::set<std::string>(r.written.begin(), r.written.end()));
}

TEST_CASE("an export after an export reads only what the audit log names, "
          "and writes what a full export writes") {
  Fixture f;
  Populate(f);
  // Two organisations' own lists, and one of an organisation whose name
  // cannot be a folder (left out, with a warning).
  for (const auto& [key, org] :
       {std::pair{"acme_wards", "acme"}, std::pair{"beta_wards", "beta"},
        std::pair{"bad_wards", "Bad Org"}}) {
    Dataset d = MakeDataset(key, Category::kUserCreated);
    d.is_global = false;
    d.organization = org;
    f.Upsert(d);
    f.Commit(key, {O("W1", "Ward one")});
  }
  const ExportReport first = f.Export();
  CHECK_FALSE(first.incremental);
  REQUIRE(first.warnings.size() == 1);
  // The manifests, joined from entry texts, are what nlohmann renders.
  for (const auto& [path, text] : Manifests(f.out)) {
    INFO(path);
    if (path.ends_with(".json")) CHECK(DumpCompact(OrderedJson::parse(text)) == text);
  }
  CHECK(Manifests(f.out).size() == 6);  // public, acme, beta
  REQUIRE(fs::exists(f.out + "/" + kExportRecordName));
  auto update = [&](const std::string& key, auto&& change) {
    auto record = f.store->Read([&](const ReadTxn& txn) { return txn.GetDataset(key); });
    REQUIRE(record.has_value());
    REQUIRE(record->has_value());
    Dataset d = (*record)->dataset;
    change(d);
    f.Upsert(d);
  };
  // (No early return in a SECTION: Catch would not find the ones after.)
  std::size_t built = 0;
  bool nothing = false;
  const std::string copy = CopyWithoutRecord(f);

  SECTION("nothing changed: nothing read, nothing written") { nothing = true; }
  SECTION("a new version of an organisation's list") {
    f.Commit("acme_wards", {O("W1", "Ward one"), O("W2", "Ward two")});
    built = 1;
  }
  SECTION("an organisation's list published: it moves to the public manifest") {
    update("acme_wards", [](Dataset& d) { d.is_global = true; });
    built = 1;
  }
  SECTION("a list of a new organisation") {
    Dataset d = MakeDataset("gamma_wards", Category::kUserCreated);
    d.is_global = false;
    d.organization = "gamma";
    f.Upsert(d);
    f.Commit("gamma_wards", {O("G1", "Ward G")});
    built = 1;
  }
  SECTION("a dataset deleted, another renamed") {
    update("smoking_status", [](Dataset& d) { d.is_active = false; });
    update("trusts", [](Dataset& d) { d.name = "NHS trusts"; });
    built = 1;  // trusts; smoking_status is no longer published
  }
  SECTION("the unusable organisation's list changes: still a warning") {
    f.Commit("bad_wards", {O("W9", "Ward nine")});
  }
  SECTION("an organisation's list moved to a folder-safe organisation") {
    update("bad_wards", [](Dataset& d) { d.organization = "good"; });
    built = 1;
  }
  SECTION("a failed check: an event that changes nothing published") {
    auto failed = f.store->Write(
        [](WriteTxn& txn) { return txn.RecordFailure("trusts", "HTTP 500"); });
    REQUIRE(failed.has_value());
  }
  const ExportReport r = f.Export();
  CHECK(r.incremental);
  CHECK(r.datasets_built == built);
  if (nothing) {
    CHECK(r.files_written == 0);
    CHECK_FALSE(r.manifest_changed);
  }
  CheckAsFullExport(f, copy, r);
  // And the next export continues from this one's record.
  const std::string next_copy = CopyWithoutRecord(f);
  f.Commit("ethnic_category", {O("Z", "Zeta")});
  const ExportReport next = f.Export();
  CHECK(next.datasets_built == 1);
  CheckAsFullExport(f, next_copy, next);
}

TEST_CASE("an export reads everything when the record does not describe the "
          "tree or the store") {
  Fixture f;
  Populate(f);
  f.Export();
  const std::string record_path = f.out + "/" + kExportRecordName;
  const std::string record = testing::ReadFile(record_path);
  // (No early return in a SECTION: Catch would not find the ones after.)
  bool done = false;

  SECTION("other options") {
    const ExportReport r = f.Export({.all_versions = true});
    CHECK_FALSE(r.incremental);
    CHECK(r.files_written > 0);
    // ... and back: the record now says --all-versions.
    CHECK_FALSE(f.Export().incremental);
    CHECK(f.Export().incremental);
    done = true;
  }
  SECTION("a record of another datasnap version") {
    std::string other = record;
    const std::size_t at = other.find("\"datasnap ");
    REQUIRE(at != std::string::npos);
    other.replace(at, 10, "\"datasnap 0.0.0-");
    testing::WriteFile(record_path, other);
  }
  SECTION("a damaged record") {
    testing::WriteFile(record_path, record.substr(0, record.size() / 2));
  }
  SECTION("an organisation's manifest that the record does not list") {
    fs::create_directories(f.out + "/orgs/stray");
    testing::WriteFile(f.out + "/orgs/stray/manifest.json", "{}");
  }
  SECTION("another store exported into the same directory") {
    Fixture g;
    g.now = kT0 + 86400;  // created at another time
    g.Reopen(false);
    Populate(g);
    const ExportReport r = g.Export({.out_dir = f.out});
    CHECK_FALSE(r.incremental);
    g.out = f.out;
    g.CheckManifestsAsFresh();
    done = true;
  }
  SECTION("a migration since the record") {
    auto migrated = f.store->Write([](WriteTxn& txn) {
      return txn.AppendAudit("store.migrated", "", "schema version 3 to 4");
    });
    REQUIRE(migrated.has_value());
  }
  if (done) return;
  REQUIRE(f.Commit("smoking_status", {O("1", "Current smoker (daily)")}) == 2);
  const ExportReport r = f.Export();
  CHECK_FALSE(r.incremental);
  f.CheckManifestsAsFresh();
  // A full export writes a new record: the next one is incremental again.
  CHECK(f.Export().incremental);
}

TEST_CASE("a manifest of several pieces: after one change, the bytes of a "
          "fresh export") {
  // Over 1 MiB of manifest, so manifest.json.gz is made of pieces and the
  // second export copies those of the first that still stand.
  Fixture f;
  auto r = f.store->Write([&](WriteTxn& txn) -> Status {
    for (int i = 0; i < 1800; ++i) {
      const std::string key = "bulk_" + std::to_string(10000 + i);
      DS_CHECK(txn.UpsertDataset(MakeDataset(key, Category::kNhsDd)));
      auto list = OptionList::Make({O("A", "Alpha " + key), O("B", "Beta")});
      if (!list) return std::unexpected(list.error());
      Provenance p;
      p.source_url = "https://example.test/" + key;
      p.fetched_at = f.now;
      DS_CHECK(txn.CommitOptions(key, *list, p));
    }
    return {};
  });
  REQUIRE(r.has_value());
  f.Export();
  const std::string before = testing::ReadFile(f.out + "/manifest.json.gz");
  REQUIRE(testing::ReadFile(f.out + "/manifest.json").size() > (1u << 20));
  CHECK(before.substr(0, 4) == std::string("\x1f\x8b\x08\x04", 4));  // FEXTRA

  REQUIRE(f.Commit("bulk_10900", {O("A", "Alpha renamed"), O("B", "Beta")}) == 2);
  const ExportReport report = f.Export();
  CHECK(report.datasets_built == 1);
  const std::string after = testing::ReadFile(f.out + "/manifest.json.gz");
  CHECK(after != before);
  CHECK(Gunzip(after) == testing::ReadFile(f.out + "/manifest.json"));
  f.CheckManifestsAsFresh();
}

TEST_CASE("an entry whose text differs from what this version renders is "
          "not kept as that text") {
  Fixture f;
  Populate(f);
  f.Export();
  const std::string fresh = testing::ReadFile(f.out + "/manifest.json");
  // The same values in other bytes: an export keeps the entries (their
  // fields say they stand) but renders them again, so the manifest it
  // writes is the canonical one again.
  const OrderedJson doc = OrderedJson::parse(fresh);
  std::string edited;
  SECTION("whitespace") { edited = doc.dump(1); }
  SECTION("members in another order") { edited = json::parse(fresh).dump(); }
  SECTION("an escape where none is needed") {
    // A name's first letter as \u00xx: the same string.
    edited = fresh;
    const std::string from = "\"name\":\"";
    const std::size_t at = edited.find(from) + from.size();
    REQUIRE(at != std::string::npos + from.size());
    static constexpr char kHex[] = "0123456789abcdef";
    const unsigned char letter = static_cast<unsigned char>(edited[at]);
    REQUIRE(letter < 0x80);
    edited.replace(at, 1, std::string("\\u00") + kHex[letter >> 4] +
                              kHex[letter & 0xF]);
    REQUIRE(OrderedJson::parse(edited) == doc);
  }
  REQUIRE(edited != fresh);
  testing::WriteFile(f.out + "/manifest.json", edited);
  const ExportReport report = f.Export();
  CHECK(report.datasets_built == 0);
  CHECK(testing::ReadFile(f.out + "/manifest.json") == fresh);
}

TEST_CASE("new files are written under temporary names and renamed into "
          "place, the manifest last") {
  Fixture f;
  Populate(f);
  f.Export();
  REQUIRE(f.Commit("smoking_status", {O("1", "Current smoker (daily)"),
                                      O("2", "Ex-smoker"),
                                      O("3", "Never smoked"),
                                      O("4", "Occasional smoker"),
                                      O("Z", "Not stated", {}, true)}) == 2);
  // Watch every directory the export will write in (made first, so no
  // event can come before its watch).
  const std::vector<std::string> dirs = {"", "datasets/smoking_status/",
                                         "diffs/smoking_status/"};
  for (const std::string& d : dirs) fs::create_directories(f.out + "/" + d);
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(fd >= 0);
  std::map<int, std::string> dir_of;
  for (const std::string& d : dirs) {
    const int wd = inotify_add_watch(fd, (f.out + "/" + d).c_str(),
                                     IN_CREATE | IN_MODIFY | IN_MOVED_TO);
    REQUIRE(wd >= 0);
    dir_of[wd] = d;
  }
  const ExportReport report = f.Export();

  struct Event {
    std::uint32_t mask;
    std::string path;
  };
  std::vector<Event> events;
  alignas(inotify_event) char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      REQUIRE_FALSE((ev->mask & IN_Q_OVERFLOW));
      if (ev->len > 0) {
        events.push_back({ev->mask, dir_of[ev->wd] + std::string(ev->name)});
      }
      p += sizeof(inotify_event) + ev->len;
    }
  }
  ::close(fd);

  auto is_temp = [](const std::string& path) {
    return fs::path(path).filename().string().starts_with(".");
  };
  std::vector<std::string> renamed;
  std::set<std::string> temp_created;
  // When the export's record was renamed into place: after how many files.
  std::optional<std::size_t> record_renamed_after;
  for (const Event& e : events) {
    INFO(e.path << " mask " << e.mask);
    if (e.path.starts_with(kExportRecordName)) {  // it and its temporary file
      if (e.mask & IN_MOVED_TO) record_renamed_after = renamed.size();
      continue;
    }
    if (e.mask & (IN_CREATE | IN_MODIFY)) {
      // Only temporary files are ever created or written to.
      CHECK(is_temp(e.path));
      if (e.mask & IN_CREATE) temp_created.insert(e.path);
    }
    if (e.mask & IN_MOVED_TO) {
      CHECK_FALSE(is_temp(e.path));
      renamed.push_back(e.path);
      // ... from a temporary file made beside it.
      const fs::path p(e.path);
      const std::string prefix =
          (p.parent_path() / ("." + p.filename().string() + ".tmp"))
              .generic_string();
      CHECK(std::any_of(temp_created.begin(), temp_created.end(),
                        [&](const std::string& t) {
                          return t.starts_with(prefix);
                        }));
    }
  }
  // Exactly the files written, in the order written: the manifest last.
  CHECK(renamed == report.written);
  REQUIRE(renamed.size() == 6);
  CHECK(renamed[4] == "manifest.json.gz");
  CHECK(renamed[5] == "manifest.json");
  // The record of what was exported last of all: a crash before it leaves
  // the earlier record, whose manifest hashes no longer match.
  CHECK(record_renamed_after == renamed.size());
  // No temporary file is left.
  for (const auto& [path, bytes] : ReadTree(f.out)) {
    INFO(path);
    CHECK_FALSE(is_temp(path));
  }
}

TEST_CASE("--all-versions also publishes the older snapshots") {
  Fixture f;
  Populate(f);
  f.Export();
  const auto current_only = ReadTree(f.out);
  const ExportReport report = f.Export({.all_versions = true});
  const json manifest = f.Manifest();
  const json* e = Entry(manifest, "ethnic_category");
  REQUIRE(e != nullptr);
  REQUIRE(e->contains("older_snapshots"));
  const json& older = (*e)["older_snapshots"];
  REQUIRE(older.size() == 2);
  const auto versions = f.Versions("ethnic_category");
  for (std::uint32_t i = 0; i < 2; ++i) {
    INFO("version " << i + 1);
    CHECK(older[i]["version"] == i + 1);
    const std::string text = CheckDocument(
        f.out, older[i], "datasets/ethnic_category/" + std::to_string(i + 1));
    auto record = f.store->Read(
        [&](const ReadTxn& txn) { return txn.GetDataset("ethnic_category"); });
    REQUIRE(record.has_value());
    CHECK(text == DumpCompact(SnapshotJson(**record, versions[i])));
  }
  // Datasets with one version have none; the current snapshots, the diffs
  // and their files are as without the flag.
  CHECK_FALSE(Entry(manifest, "trusts")->contains("older_snapshots"));
  CHECK_FALSE(Entry(manifest, "smoking_status")->contains("older_snapshots"));
  CHECK(report.files_written == 4 + 2);  // 2 snapshots x 2, the manifest x 2
  const auto tree = ReadTree(f.out);
  for (const auto& [path, bytes] : current_only) {
    if (path.starts_with("manifest.json")) continue;
    INFO(path);
    REQUIRE(tree.count(path) == 1);
    CHECK(tree.at(path) == bytes);
  }
}

TEST_CASE("files of older exports stay unless --prune") {
  Fixture f;
  Populate(f);
  f.Export({.all_versions = true});
  // Left behind by a crashed run, and by a dataset long gone; and files
  // beside the published directories, which are not the export's.
  const std::string tmp = ".3.0123456789ab.json.zst.tmp99999";
  testing::WriteFile(f.out + "/datasets/ethnic_category/" + tmp, "partial");
  fs::create_directories(f.out + "/diffs/gone");
  testing::WriteFile(f.out + "/diffs/gone/1-2.0123456789ab.json.zst", "old");
  testing::WriteFile(f.out + "/README.txt", "not ours");
  fs::create_directories(f.out + "/other");
  testing::WriteFile(f.out + "/other/x.json", "not ours either");
  const auto before = ReadTree(f.out);

  SECTION("without --prune everything stays") {
    const ExportReport r = f.Export();
    CHECK(r.files_pruned == 0);
    const auto after = ReadTree(f.out);
    for (const auto& [path, bytes] : before) {
      INFO(path);
      CHECK(after.count(path) == 1);
    }
    // The older snapshots are no longer listed, but are still there.
    CHECK_FALSE(Entry(f.Manifest(), "ethnic_category")
                    ->contains("older_snapshots"));
    CHECK(Matching(after, R"(datasets/ethnic_category/1\..*)").size() == 2);
  }

  SECTION("--prune removes what the export does not publish") {
    const ExportReport r = f.Export({.prune = true});
    const auto after = ReadTree(f.out);
    const json manifest = f.Manifest();
    // ethnic_category's older snapshots (2 x 2), the temporary file and the
    // gone dataset's diff.
    CHECK(r.files_pruned == 6);
    CHECK(Matching(after, R"(datasets/ethnic_category/[12]\..*)").empty());
    CHECK(after.count("datasets/ethnic_category/" + tmp) == 0);
    CHECK(after.count("diffs/gone/1-2.0123456789ab.json.zst") == 0);
    CHECK(after.count("README.txt") == 1);
    CHECK(after.count("other/x.json") == 1);
    // What is left under datasets/ is listed; under diffs/, listed or a
    // consecutive pair of a listed dataset.
    const std::set<std::string> listed = ListedPaths(manifest);
    for (const auto& [path, bytes] : after) {
      INFO(path);
      if (path.starts_with("datasets/")) CHECK(listed.count(path) == 1);
    }
    for (const std::string& p : listed) {
      INFO(p);
      CHECK(after.count(p) == 1);
    }
    CHECK(Matching(after, R"(diffs/.*)").size() == 6);
  }

  SECTION("--prune removes every file of a dataset that is deleted") {
    Dataset d = MakeDataset("ethnic_category");
    d.is_active = false;
    f.Upsert(d);
    const ExportReport r = f.Export({.prune = true});
    CHECK(r.datasets == 2);
    CHECK(Entry(f.Manifest(), "ethnic_category") == nullptr);
    const auto after = ReadTree(f.out);
    CHECK(Matching(after, R"((datasets|diffs)/ethnic_category/.*)").empty());
    CHECK(Matching(after, R"(datasets/smoking_status/.*)").size() == 2);
    for (const std::string& p : ListedPaths(f.Manifest())) {
      INFO(p);
      CHECK(after.count(p) == 1);
    }
  }
}

TEST_CASE("a damaged or missing file is repaired by --verify, or by an "
          "export without the record") {
  Fixture f;
  Populate(f);
  f.Export();
  const auto good = ReadTree(f.out);
  const json manifest = f.Manifest();
  const json* e = Entry(manifest, "ethnic_category");
  const std::string zst =
      (*e)["snapshot"]["files"][0]["path"].get<std::string>();
  const std::string gz =
      (*e)["snapshot"]["files"][1]["path"].get<std::string>();
  const std::string diff = (*e)["diffs"][0]["files"][0]["path"];
  std::string damaged;
  bool manifest_damaged = false;
  // An export after an export trusts the content files its record lists
  // (it reads only what changed): --verify checks them all.
  bool verify = true;

  SECTION("a truncated .zst") {
    damaged = zst;
    testing::WriteFile(f.out + "/" + zst,
                       good.at(zst).substr(0, good.at(zst).size() / 2));
  }
  SECTION("an empty .zst") {
    damaged = zst;
    testing::WriteFile(f.out + "/" + zst, "");
  }
  SECTION("a .zst of other JSON") {
    damaged = zst;
    auto other = ZstdCompress("{\"format\":1}", 19);
    REQUIRE(other.has_value());
    testing::WriteFile(f.out + "/" + zst, *other);
  }
  SECTION("a .gz with a flipped byte") {
    damaged = gz;
    std::string bytes = good.at(gz);
    bytes[bytes.size() / 2] ^= 0x55;
    testing::WriteFile(f.out + "/" + gz, bytes);
  }
  SECTION("a deleted snapshot") {
    damaged = zst;
    fs::remove(f.out + "/" + zst);
  }
  SECTION("a deleted diff") {
    damaged = diff;
    fs::remove(f.out + "/" + diff);
  }
  SECTION("a deleted snapshot, and the record: a plain export reads all") {
    damaged = zst;
    verify = false;
    fs::remove(f.out + "/" + zst);
    fs::remove(f.out + "/" + kExportRecordName);
  }
  SECTION("a truncated manifest: no longer the record's, a plain export "
          "reads all") {
    damaged = "manifest.json";
    manifest_damaged = true;
    verify = false;
    testing::WriteFile(f.out + "/manifest.json",
                       good.at("manifest.json").substr(0, 10));
  }
  if (verify) {
    const auto damaged_tree = ReadTree(f.out);
    const ExportReport plain = f.Export();
    CHECK(plain.files_written == 0);
    CHECK(ReadTree(f.out) == damaged_tree);
  }
  const ExportReport r = f.Export({.verify = verify});
  CHECK(r.files_written == 1);
  CHECK(r.written == std::vector<std::string>{damaged});
  CHECK(r.manifest_changed == manifest_damaged);
  CHECK(ReadTree(f.out) == good);
}

TEST_CASE("a .zst with the right JSON in other bytes: the manifest "
          "describes the bytes on disk") {
  Fixture f;
  Populate(f);
  f.Export();
  const json* e = nullptr;
  const json manifest = f.Manifest();
  e = Entry(manifest, "trusts");
  const std::string zst = (*e)["snapshot"]["files"][0]["path"];
  const std::string text = Unzstd(testing::ReadFile(f.out + "/" + zst));
  // The same JSON at another level: other bytes, the same content.
  auto other = ZstdCompress(text, 3);
  REQUIRE(other.has_value());
  testing::WriteFile(f.out + "/" + zst, *other);
  f.Export({.verify = true});
  const std::string on_disk = testing::ReadFile(f.out + "/" + zst);
  CHECK(Unzstd(on_disk) == text);
  const json after = f.Manifest();
  const json& listed = (*Entry(after, "trusts"))["snapshot"]["files"][0];
  CHECK(listed["path"] == zst);
  CHECK(listed["bytes"] == on_disk.size());
  CHECK(listed["sha256"] == Sha256Hex(on_disk));
}

TEST_CASE("--prune keeps what it publishes whatever the spelling of the "
          "directory") {
  Fixture f;
  Populate(f);
  f.Export({.all_versions = true});
  const auto published = ReadTree(f.out);
  for (const std::string& spelling :
       {f.out + "/", f.out + "/./", f.dir.File("sub/../out")}) {
    INFO(spelling);
    fs::create_directories(f.dir.File("sub"));
    const ExportReport r =
        f.Export({.out_dir = spelling, .all_versions = true, .prune = true});
    CHECK(r.files_pruned == 0);
    CHECK(r.files_written == 0);
    CHECK(ReadTree(f.out) == published);
  }
}

TEST_CASE("a reader polling the manifest during exports never sees it point "
          "at a missing file") {
  Fixture f;
  constexpr int kDatasets = 60;
  constexpr int kRounds = 4;
  auto options_of = [](int dataset, int round) {
    std::vector<Option> options;
    for (int i = 0; i < 12; ++i) {
      options.push_back(O(std::to_string(i), "Option " + std::to_string(i) +
                                                 " of " +
                                                 std::to_string(dataset)));
    }
    options[round % 12].label += " (round " + std::to_string(round) + ")";
    return options;
  };
  std::vector<std::string> keys;
  for (int d = 0; d < kDatasets; ++d) {
    char key[32];
    std::snprintf(key, sizeof key, "dataset_%03d", d);
    keys.push_back(key);
    f.Add(key);
    f.Commit(key, options_of(d, 0));
  }

  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<std::string> problems;
  std::size_t manifests_checked = 0;
  std::set<std::string> manifests_seen;
  std::string first_manifest;
  auto check_once = [&]() {
    std::ifstream in(f.out + "/manifest.json", std::ios::binary);
    if (!in) return;  // not written yet
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    std::vector<std::string> found;
    json manifest = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (manifest.is_discarded()) {
      found.push_back("manifest.json is not JSON (" +
                      std::to_string(text.size()) + " bytes)");
    } else {
      for (const json& file : ListedFiles(manifest)) {
        const std::string path = f.out + "/" + file["path"].get<std::string>();
        std::error_code ec;
        const auto size = fs::file_size(path, ec);
        if (ec) {
          found.push_back("missing: " + file["path"].get<std::string>());
        } else if (size != file["bytes"].get<std::uint64_t>()) {
          found.push_back("wrong size: " + file["path"].get<std::string>());
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    ++manifests_checked;
    if (first_manifest.empty()) first_manifest = text;
    manifests_seen.insert(Sha256Hex(text));
    for (std::string& p : found) {
      if (problems.size() < 20) problems.push_back(std::move(p));
    }
  };
  std::thread reader([&] {
    while (!done.load()) check_once();
    check_once();  // at least one look at the final manifest
  });

  std::vector<json> manifests;
  for (int round = 0; round < kRounds; ++round) {
    if (round > 0) {
      for (int d = 0; d < kDatasets; ++d) {
        f.Commit(keys[d], options_of(d, round));
      }
    }
    auto r = ExportStore(*f.store, {.out_dir = f.out});
    if (!r) {
      done = true;
      reader.join();
      FAIL(r.error().message);
    }
    CHECK(r->datasets == kDatasets);
    manifests.push_back(f.Manifest());
  }
  done = true;
  reader.join();

  INFO("manifests checked: " << manifests_checked << ", distinct: "
                             << manifests_seen.size());
  for (const std::string& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  CHECK(manifests_checked >= 1);

  // A client holding any earlier manifest still finds all its files.
  for (std::size_t i = 0; i < manifests.size(); ++i) {
    for (const std::string& p : ListedPaths(manifests[i])) {
      INFO("manifest of round " << i << ": " << p);
      CHECK(fs::exists(f.out + "/" + p));
    }
  }
  if (!first_manifest.empty()) {
    for (const std::string& p : ListedPaths(json::parse(first_manifest))) {
      CHECK(fs::exists(f.out + "/" + p));
    }
  }
  // No temporary file is left.
  for (const auto& [path, bytes] : ReadTree(f.out)) {
    INFO(path);
    CHECK(fs::path(path).filename().string()[0] != '.');
  }
}

TEST_CASE("--fhir adds a ValueSet per dataset, listed in the manifest") {
  Fixture f;
  Populate(f);
  f.Export({.fhir = true});
  const json manifest = f.Manifest();
  for (const json& d : manifest["datasets"]) {
    INFO(d["key"]);
    REQUIRE(d.contains("fhir"));
    const std::string path = d["fhir"]["path"];
    CHECK(std::regex_match(
        path, std::regex("fhir/" + d["key"].get<std::string>() + "/" +
                         d["version"].dump() + R"(\.[0-9a-f]{12}\.json)")));
    const std::string bytes = testing::ReadFile(f.out + "/" + path);
    CHECK(d["fhir"]["bytes"] == bytes.size());
    CHECK(d["fhir"]["sha256"] == Sha256Hex(bytes));
    CHECK(path.find("." + Sha256Hex(bytes).substr(0, 12) + ".") !=
          std::string::npos);
    CHECK(json::parse(bytes)["resourceType"] == "ValueSet");
  }
}

TEST_CASE("export errors") {
  Fixture f;
  Populate(f);
  SECTION("no output directory") {
    auto r = ExportStore(*f.store, {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
  SECTION("an output directory that cannot be made names the path") {
    testing::WriteFile(f.dir.File("a_file"), "x");
    const std::string out = f.dir.File("a_file") + "/export";
    auto r = ExportStore(*f.store, {.out_dir = out});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kIo);
    CHECK(r.error().message.find(f.dir.File("a_file")) != std::string::npos);
  }
  SECTION("a missing output directory is created, parents too") {
    const std::string out = f.dir.File("a/b/c");
    auto r = ExportStore(*f.store, {.out_dir = out});
    REQUIRE(r.has_value());
    CHECK(fs::is_regular_file(out + "/manifest.json"));
  }
  SECTION("an empty store exports an empty manifest") {
    Fixture empty;
    empty.Export();
    const json m = empty.Manifest();
    CHECK(m["datasets"] == json::array());
    CHECK(ReadTree(empty.out).size() == 2);
  }
}

}  // namespace
}  // namespace datasnap
