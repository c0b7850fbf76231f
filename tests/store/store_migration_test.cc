// Schema migration: a store written by the release before schema 2
// (tests/fixtures/store/schema1.lmdb) is read as it is by a read-only open
// and migrated in place by a read-write one, with every answer unchanged;
// a migration that fails leaves the old store byte for byte.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "core/canonical_json.h"
#include "core/model.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using testing::Describe;
using testing::ListAudit;
using testing::Must;
using testing::MustFail;
using testing::RawLmdb;
using testing::RawVersionKey;
using testing::TempDir;

constexpr const char* kFixture = "tests/fixtures/store/schema1.lmdb";
// The tables schema 1 has.
const char* const kSchema1Tables[] = {"meta", "datasets", "versions", "aliases",
                                      "raw",  "http",     "audit"};

std::string CopyOfFixture(const TempDir& dir) {
  const std::string path = dir.File("old.lmdb");
  std::filesystem::copy_file(kFixture, path);
  return path;
}

std::unique_ptr<Store> Open(const std::string& path, bool read_only) {
  StoreOptions options;
  options.read_only = read_only;
  options.actor = "test";
  auto store = Store::Open(path, options);
  INFO((store ? "" : Describe(store.error())));
  REQUIRE(store);
  return std::move(*store);
}

// Everything the store API says about every dataset.
struct Answers {
  std::vector<DatasetRecord> datasets;
  std::vector<std::vector<VersionRecord>> versions;  // with options
  std::vector<std::optional<VersionRecord>> current;
};

Answers ReadAll(Store& store) {
  Answers out;
  out.datasets = Must(store.Read([](const ReadTxn& t) { return t.ListDatasets(); }));
  for (const DatasetRecord& d : out.datasets) {
    const std::string& key = d.dataset.key;
    out.versions.push_back(Must(store.Read(
        [&](const ReadTxn& t) { return t.ListVersions(key, true); })));
    out.current.push_back(Must(
        store.Read([&](const ReadTxn& t) { return t.GetVersion(key, 0); })));
  }
  return out;
}

void CheckSame(const Answers& a, const Answers& b) {
  REQUIRE(a.datasets.size() == b.datasets.size());
  for (std::size_t i = 0; i < a.datasets.size(); ++i) {
    INFO("dataset " << a.datasets[i].dataset.key);
    CHECK(a.datasets[i].dataset == b.datasets[i].dataset);
    CHECK(a.datasets[i].sync == b.datasets[i].sync);
    REQUIRE(a.versions[i].size() == b.versions[i].size());
    for (std::size_t v = 0; v < a.versions[i].size(); ++v) {
      const VersionRecord& x = a.versions[i][v];
      const VersionRecord& y = b.versions[i][v];
      INFO("version " << x.version);
      CHECK(x.version == y.version);
      CHECK(x.created_at == y.created_at);
      CHECK(x.options_sha256 == y.options_sha256);
      CHECK(x.provenance == y.provenance);
      CHECK(x.options == y.options);
    }
    CHECK(a.current[i].has_value() == b.current[i].has_value());
    if (a.current[i] && b.current[i]) {
      CHECK(a.current[i]->version == b.current[i]->version);
      CHECK(a.current[i]->options == b.current[i]->options);
    }
  }
}

TEST_CASE("A writer migrates a schema-1 store in place; every answer stays") {
  TempDir dir;
  const std::string path = CopyOfFixture(dir);

  Answers before;
  {
    auto old = Open(path, /*read_only=*/true);
    CHECK(old->schema_version() == 1);
    before = ReadAll(*old);
    // The fixture has what the migration must carry: several versions,
    // provenance, parents, a dataset never fetched, a soft-deleted one.
    REQUIRE(before.datasets.size() == 6);
    const Error e = MustFail(old->Read([](const ReadTxn& t) {
      return t.GetOptionsJson("welsh_lhbs", 0);
    }));
    CHECK(e.code == ErrorCode::kUnsupported);
    CHECK_THAT(e.message, Contains("schema version 1") && Contains("migrate"));
  }
  const std::size_t events_before = [&] {
    auto old = Open(path, true);
    return ListAudit(*old).size();
  }();

  {
    auto store = Open(path, /*read_only=*/false);
    CHECK(store->schema_version() == kStoreSchemaVersion);
    CheckSame(before, ReadAll(*store));
    const auto audit = ListAudit(*store);
    REQUIRE(audit.size() == events_before + 1);
    CHECK(audit.front().action == "store.migrated");
    CHECK(audit.front().dataset.empty());
    CHECK_THAT(audit.front().detail, Contains("schema version 1 to 2"));
    // Every version's options are stored once, canonical.
    for (std::size_t i = 0; i < before.datasets.size(); ++i) {
      const std::string& key = before.datasets[i].dataset.key;
      INFO("dataset " << key);
      for (const VersionRecord& v : before.versions[i]) {
        const std::string json = Must(store->Read([&](const ReadTxn& t)
                                                      -> Result<std::string> {
          DS_TRY(view, t.GetOptionsJson(key, v.version));
          if (!*view) return Fail(ErrorCode::kNotFound, "no options");
          return std::string(**view);
        }));
        CHECK(json == CanonicalOptionsJson(v.options));
      }
      const bool current = Must(store->Read([&](const ReadTxn& t)
                                                -> Result<bool> {
        DS_TRY(view, t.GetOptionsJson(key, 0));
        return view->has_value();
      }));
      CHECK(current == before.current[i].has_value());
    }
  }
  {
    RawLmdb raw(path, /*read_only=*/true);
    CHECK(raw.Get("meta", "schema_version") == "2");
    for (const auto& [key, value] : raw.Dump("versions")) {
      CHECK_THAT(value, !Contains("\"options\":"));
    }
    CHECK(raw.Dump("options").size() == raw.Dump("versions").size());
  }
  // A second writer finds nothing to migrate.
  {
    auto store = Open(path, false);
    CHECK(ListAudit(*store).size() == events_before + 1);
    CheckSame(before, ReadAll(*store));
  }
}

TEST_CASE("A failed migration leaves the schema-1 store as it was") {
  TempDir dir;
  const std::string path = CopyOfFixture(dir);
  {
    // A version whose options no longer match their SHA-256.
    RawLmdb raw(path);
    const std::string key = RawVersionKey("welsh_lhbs", 1);
    std::string record = *raw.Get("versions", key);
    const auto at = record.find("Hywel Dda");
    REQUIRE(at != std::string::npos);
    record.replace(at, 9, "Hywel Ddb");
    raw.Put("versions", key, record);
  }
  auto dump = [&] {
    RawLmdb raw(path, true);
    std::vector<std::vector<std::pair<std::string, std::string>>> out;
    for (const char* table : kSchema1Tables) out.push_back(raw.Dump(table));
    return out;
  };
  const auto before = dump();
  StoreOptions options;
  options.actor = "test";
  const Error e = MustFail(Store::Open(path, options));
  INFO(Describe(e));
  CHECK(e.code == ErrorCode::kCorrupt);
  CHECK_THAT(e.message, Contains(path) && Contains("migrating schema version 1 to 2") &&
                            Contains("welsh_lhbs@1"));
  CHECK(dump() == before);
  RawLmdb raw(path, true);
  CHECK(raw.Get("meta", "schema_version") == "1");
}

}  // namespace
}  // namespace datasnap
