// Tests of the versioned store in one process: opening, datasets, versions,
// raw bodies, validators, the audit log, atomicity, map growth and the
// writer lock. Multi-process cases live in store_concurrency_test.cc.
#include "store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/canonical_json.h"
#include "core/model.h"
#include "core/time.h"
#include "tests/store/store_test_util.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using testing::Commit;
using testing::Describe;
using testing::FakeClock;
using testing::GetDataset;
using testing::GetVersion;
using testing::ListAudit;
using testing::ListVersions;
using testing::MakeDataset;
using testing::MakeOptions;
using testing::Must;
using testing::MustFail;
using testing::MustOpen;
using testing::OptionsWith;
using testing::RawLmdb;
using testing::RawVersionKey;
using testing::TempDir;
using testing::Upsert;

constexpr std::size_t kMiB = std::size_t{1} << 20;

const char* const kTables[] = {"meta", "datasets", "versions", "options",
                               "current", "aliases", "raw", "http", "audit"};

using Rows = std::vector<std::pair<std::string, std::string>>;
using Tables = std::map<std::string, Rows>;

// Every key and value of every table, read with LMDB directly. The store
// must be closed.
Tables DumpAll(const std::string& path) {
  RawLmdb raw(path, /*read_only=*/true);
  Tables out;
  for (const char* table : kTables) out[table] = raw.Dump(table);
  return out;
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out.size() > 200 ? out.substr(0, 200) + "..." : out;
}

// "" when equal; otherwise the first difference, for the failure message.
std::string DiffTables(const Tables& before, const Tables& after) {
  for (const char* table : kTables) {
    const Rows& a = before.at(table);
    const Rows& b = after.at(table);
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      if (i >= a.size()) return std::string(table) + ": new key " + Printable(b[i].first);
      if (i >= b.size()) return std::string(table) + ": lost key " + Printable(a[i].first);
      if (a[i] != b[i]) {
        return std::string(table) + ": row " + std::to_string(i) + " was " +
               Printable(a[i].first) + " = " + Printable(a[i].second) +
               ", now " + Printable(b[i].first) + " = " +
               Printable(b[i].second);
      }
    }
  }
  return "";
}

std::vector<std::string> Labels(const OptionList& list) {
  std::vector<std::string> out;
  for (const Option& o : list.options()) out.push_back(o.label);
  return out;
}

// ------------------------------------------------------------------ Open

TEST_CASE("Open read-write creates one LMDB file that a reopen reads back") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("datasnap.lmdb");
  const OptionList options = MakeOptions(3, "[v1]");
  {
    auto store = MustOpen(path, OptionsWith(clock));
    CHECK(store->path() == path);
    CHECK_FALSE(store->read_only());
    CHECK(store->map_size() == StoreOptions{}.initial_map_size);
    Upsert(*store, MakeDataset("smoking_status"));
    Commit(*store, "smoking_status", options);
  }  // destroying the Store closes it
  // MDB_NOSUBDIR: the path is the data file itself, with its lock beside it.
  CHECK(std::filesystem::is_regular_file(path));
  CHECK(std::filesystem::is_regular_file(path + "-lock"));
  CHECK(std::filesystem::exists(path + "-writer"));

  // The meta table says which layout wrote it (docs/STORE.md).
  {
    RawLmdb raw(path, /*read_only=*/true);
    CHECK(raw.Get("meta", "schema_version") ==
          std::to_string(kStoreSchemaVersion));
  }

  for (const bool read_only : {false, true}) {
    INFO("reopen read_only=" << read_only);
    StoreOptions reopen = OptionsWith(clock);
    reopen.read_only = read_only;
    auto store = MustOpen(path, reopen);
    CHECK(store->read_only() == read_only);
    const auto record = GetDataset(*store, "smoking_status");
    REQUIRE(record.has_value());
    CHECK(record->dataset == MakeDataset("smoking_status"));
    CHECK(record->sync.version == 1);
    const auto version = GetVersion(*store, "smoking_status", 0);
    REQUIRE(version.has_value());
    CHECK(version->options == options);
  }
}

TEST_CASE("Open explains missing paths, directories and foreign files") {
  TempDir dir;
  std::filesystem::create_directory(dir.File("a_directory"));
  const std::string short_text = "this is not a database\n";
  std::string long_text;
  while (long_text.size() < 20000) long_text += "name,value\nfoo,bar\n";
  testing::WriteFile(dir.File("notes.txt"), short_text);
  testing::WriteFile(dir.File("big.csv"), long_text);
  testing::WriteFile(dir.File("empty.lmdb"), "");

  const struct {
    const char* what;
    std::string path;
    bool read_only;
    ErrorCode code;
    std::vector<std::string> mentions;
  } kCases[] = {
      {"read-only, missing file", dir.File("missing.lmdb"), true,
       ErrorCode::kNotFound, {dir.File("missing.lmdb")}},
      {"read-write, missing directory", dir.File("no_such_dir/s.lmdb"), false,
       ErrorCode::kNotFound, {dir.File("no_such_dir") + "'", "directory"}},
      {"read-only, missing directory", dir.File("no_such_dir/s.lmdb"), true,
       ErrorCode::kNotFound, {dir.File("no_such_dir/s.lmdb")}},
      {"read-write, a directory", dir.File("a_directory"), false,
       ErrorCode::kInvalidArgument, {dir.File("a_directory"), "directory"}},
      {"read-only, a directory", dir.File("a_directory"), true,
       ErrorCode::kInvalidArgument, {dir.File("a_directory"), "directory"}},
      {"read-write, short text file", dir.File("notes.txt"), false,
       ErrorCode::kCorrupt, {dir.File("notes.txt"), "not an LMDB file"}},
      {"read-only, short text file", dir.File("notes.txt"), true,
       ErrorCode::kCorrupt, {dir.File("notes.txt"), "not an LMDB file"}},
      {"read-write, long text file", dir.File("big.csv"), false,
       ErrorCode::kCorrupt, {dir.File("big.csv"), "not an LMDB file"}},
      {"read-only, long text file", dir.File("big.csv"), true,
       ErrorCode::kCorrupt, {dir.File("big.csv"), "not an LMDB file"}},
      {"read-only, empty file", dir.File("empty.lmdb"), true,
       ErrorCode::kCorrupt, {dir.File("empty.lmdb"), "empty"}},
  };
  for (const auto& c : kCases) {
    INFO(c.what << ": " << c.path);
    StoreOptions options;
    options.read_only = c.read_only;
    const auto store = Store::Open(c.path, options);
    const Error error = MustFail(store);
    INFO(Describe(error));
    CHECK(error.code == c.code);
    for (const std::string& mention : c.mentions) {
      CHECK_THAT(error.message, Contains(mention));
    }
  }
  // Nothing was created where it should not be, and foreign files are as
  // they were.
  CHECK_FALSE(std::filesystem::exists(dir.File("missing.lmdb")));
  CHECK_FALSE(std::filesystem::exists(dir.File("no_such_dir")));
  CHECK(testing::ReadFile(dir.File("notes.txt")) == short_text);
  CHECK(testing::ReadFile(dir.File("big.csv")) == long_text);
  CHECK(testing::ReadFile(dir.File("empty.lmdb")).empty());

  // Read-write, an empty file becomes a new store (as LMDB itself does).
  auto store = MustOpen(dir.File("empty.lmdb"), StoreOptions{});
  CHECK(Upsert(*store, MakeDataset("k")) == UpsertOutcome::kCreated);
}

TEST_CASE("A read-only store reads but refuses to write") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Upsert(*store, MakeDataset("k"));
    Commit(*store, "k", MakeOptions(2, "[v1]"));
  }
  const Tables before = DumpAll(path);
  {
    StoreOptions options = OptionsWith(clock);
    options.read_only = true;
    auto store = MustOpen(path, options);
    int calls = 0;
    const Status status = store->Write([&](WriteTxn& txn) -> Status {
      ++calls;
      DS_CHECK(txn.AppendAudit("should.not", "", "happen"));
      return txn.RecordFailure("k", "nope");
    });
    const Error error = MustFail(status);
    INFO(Describe(error));
    CHECK_THAT(error.message, Contains("read-only"));
    CHECK_THAT(error.message, Contains(path));
    CHECK(calls == 0);
    // Reading still works.
    CHECK(GetDataset(*store, "k").has_value());
    CHECK(ListAudit(*store).size() == 2);
  }
  CHECK(DiffTables(before, DumpAll(path)) == "");
}

TEST_CASE("A store of another schema version is refused and left untouched") {
  const struct {
    std::string stored;  // meta.schema_version as written by "someone else"
    ErrorCode code;
    std::vector<std::string> mentions;
  } kCases[] = {
      {"3", ErrorCode::kUnsupported,
       {"schema version 3", std::to_string(kStoreSchemaVersion), "upgrade"}},
      {"17", ErrorCode::kUnsupported, {"schema version 17", "upgrade"}},
      {"0", ErrorCode::kCorrupt, {"schema_version", "'0'"}},
      {"banana", ErrorCode::kCorrupt, {"schema_version", "'banana'"}},
      {"", ErrorCode::kCorrupt, {"schema_version"}},
  };
  for (const auto& c : kCases) {
    INFO("schema_version '" << c.stored << "'");
    TempDir dir;
    FakeClock clock;
    const std::string path = dir.File("s.lmdb");
    {
      auto store = MustOpen(path, OptionsWith(clock));
      Upsert(*store, MakeDataset("k", "Kept"));
      Commit(*store, "k", MakeOptions(4, "[v1]"));
    }
    {
      RawLmdb raw(path);
      raw.Put("meta", "schema_version", c.stored);
    }
    const Tables before = DumpAll(path);

    for (const bool read_only : {false, true}) {
      INFO("read_only=" << read_only);
      StoreOptions options = OptionsWith(clock);
      options.read_only = read_only;
      const auto store = Store::Open(path, options);
      const Error error = MustFail(store);
      INFO(Describe(error));
      CHECK(error.code == c.code);
      CHECK_THAT(error.message, Contains(path));
      for (const std::string& mention : c.mentions) {
        CHECK_THAT(error.message, Contains(mention));
      }
    }
    // Neither open changed a byte, and the newer schema is still recorded.
    const Tables after = DumpAll(path);
    CHECK(DiffTables(before, after) == "");
    RawLmdb raw(path, /*read_only=*/true);
    CHECK(raw.Get("meta", "schema_version") == c.stored);
    CHECK(raw.Get("datasets", "k").has_value());
    CHECK(raw.Get("versions", RawVersionKey("k", 1)).has_value());
  }
}

// -------------------------------------------------------------- Datasets

TEST_CASE("UpsertDataset creates, skips an unchanged dataset and updates") {
  TempDir dir;
  FakeClock clock(1'000'000);
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  const Dataset original = MakeDataset("blood_group", "Blood group");

  CHECK(Upsert(*store, original) == UpsertOutcome::kCreated);
  auto created = GetDataset(*store, "blood_group");
  REQUIRE(created.has_value());
  CHECK(created->dataset == original);
  CHECK(created->sync.version == 0);
  CHECK(created->sync.created_at == 1'000'000);
  CHECK(created->sync.updated_at == 1'000'000);
  CHECK(ListAudit(*store).size() == 1);

  SECTION("the same description again writes nothing") {
    clock.Advance(3600);
    CHECK(Upsert(*store, original) == UpsertOutcome::kUnchanged);
    const auto again = GetDataset(*store, "blood_group");
    REQUIRE(again.has_value());
    CHECK(again->sync == created->sync);  // updated_at unchanged
    CHECK(ListAudit(*store).size() == 1);  // no new audit event
  }

  SECTION("a changed name updates and keeps the sync state") {
    clock.Set(2'000'000);
    const CommitResult commit =
        Commit(*store, "blood_group", MakeOptions(5, "[v1]"));
    const SyncState synced = GetDataset(*store, "blood_group")->sync;
    REQUIRE(synced.version == 1);

    clock.Set(3'000'000);
    Dataset renamed = original;
    renamed.name = "Blood group (ABO)";
    CHECK(Upsert(*store, renamed) == UpsertOutcome::kUpdated);
    const auto updated = GetDataset(*store, "blood_group");
    REQUIRE(updated.has_value());
    CHECK(updated->dataset == renamed);
    CHECK(updated->sync.version == 1);
    CHECK(updated->sync.option_count == 5);
    CHECK(updated->sync.options_sha256 == commit.options_sha256);
    CHECK(updated->sync.last_synced_at == 2'000'000);
    CHECK(updated->sync.last_checked_at == 2'000'000);
    CHECK(updated->sync.created_at == 1'000'000);
    CHECK(updated->sync.updated_at == 3'000'000);
    // The versions are untouched.
    CHECK(ListVersions(*store, "blood_group").size() == 1);
    const auto events = ListAudit(*store, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].action == "dataset.updated");
    CHECK(events[0].dataset == "blood_group");
    CHECK_THAT(events[0].detail, Contains("name"));
  }
}

TEST_CASE("UpsertDataset round-trips every field and names what changed") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  Dataset d = MakeDataset("hospital", "Hospitals");
  REQUIRE(Upsert(*store, d) == UpsertOutcome::kCreated);
  Commit(*store, "hospital", MakeOptions(2, "[v1]"));

  const struct {
    const char* field;
    std::function<void(Dataset&)> change;
  } kChanges[] = {
      {"name", [](Dataset& x) { x.name = "Ysbytai – Hospitals ✓"; }},
      {"description",
       [](Dataset& x) { x.description = "Line one\nLine \"two\"\t\\"; }},
      {"description", [](Dataset& x) { x.description = ""; }},
      {"category", [](Dataset& x) { x.category = Category::kNhsDd; }},
      {"category", [](Dataset& x) { x.category = Category::kRcpch; }},
      {"source_type", [](Dataset& x) { x.source_type = SourceType::kScrape; }},
      {"source_type",
       [](Dataset& x) { x.source_type = SourceType::kImported; }},
      {"reference_url", [](Dataset& x) { x.reference_url = ""; }},
      {"api_endpoint", [](Dataset& x) { x.api_endpoint = "/v1/hospitals"; }},
      {"tags", [](Dataset& x) { x.tags = {}; }},
      {"tags", [](Dataset& x) { x.tags = {"wales", "ĉapelo", ""}; }},
      {"aliases", [](Dataset& x) { x.aliases = {"hospitals_old"}; }},
      {"sync_frequency_hours",
       [](Dataset& x) { x.sync_frequency_hours = 0; }},
      {"sync_frequency_hours",
       [](Dataset& x) { x.sync_frequency_hours = -5; }},
      {"is_custom", [](Dataset& x) { x.is_custom = true; }},
      {"is_global", [](Dataset& x) { x.is_global = false; }},
      {"parent", [](Dataset& x) { x.parent = "hospital_base"; }},
      {"organization", [](Dataset& x) { x.organization = "bcuhb"; }},
      {"is_active", [](Dataset& x) { x.is_active = false; }},
  };
  for (const auto& c : kChanges) {
    INFO("changing " << c.field);
    clock.Advance();
    c.change(d);
    CHECK(Upsert(*store, d) == UpsertOutcome::kUpdated);
    const auto record = GetDataset(*store, "hospital");
    REQUIRE(record.has_value());
    CHECK(record->dataset == d);
    CHECK(record->sync.version == 1);
    CHECK(record->sync.updated_at == clock.now());
    const auto events = ListAudit(*store, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].action == "dataset.updated");
    CHECK_THAT(events[0].detail, Contains(c.field));
    CHECK(Upsert(*store, d) == UpsertOutcome::kUnchanged);
  }
}

TEST_CASE("UpsertDataset refuses bad keys, aliases and names, storing nothing") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  { auto store = MustOpen(path, OptionsWith(clock)); }
  const Tables before = DumpAll(path);

  auto with_key = [](std::string key) {
    Dataset d = MakeDataset("x");
    d.key = std::move(key);
    return d;
  };
  auto with_alias = [](std::string alias) {
    Dataset d = MakeDataset("good_key");
    d.aliases = {"fine_alias", std::move(alias)};
    return d;
  };
  Dataset no_name = MakeDataset("good_key");
  no_name.name = "";
  const struct {
    const char* what;
    Dataset dataset;
    std::string mention;
  } kCases[] = {
      {"empty key", with_key(""), "empty"},
      {"upper case", with_key("Smoking"), "'Smoking'"},
      {"leading dash", with_key("-smoking"), "'-smoking'"},
      {"space", with_key("smoking status"), "'smoking status'"},
      {"too long", with_key(std::string(kMaxKeyBytes + 1, 'k')), "101"},
      {"non-ASCII", with_key("caf\xc3\xa9"), "caf"},
      {"NUL inside", with_key(std::string("ab\0c", 4)), "ab"},
      {"bad alias", with_alias("Old Key"), "'Old Key'"},
      {"empty alias", with_alias(""), "empty"},
      {"empty name", no_name, "good_key"},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto store = MustOpen(path, OptionsWith(clock));
    const auto result = store->Write(
        [&](WriteTxn& txn) { return txn.UpsertDataset(c.dataset); });
    const Error error = MustFail(result);
    INFO(Describe(error));
    CHECK(error.code == ErrorCode::kInvalidArgument);
    CHECK_THAT(error.message, Contains(c.mention));
    store.reset();
    CHECK(DiffTables(before, DumpAll(path)) == "");
  }
}

TEST_CASE("Aliases resolve to their dataset and go when dropped") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  auto resolve = [&](const std::string& alias) {
    return Must(store->Read(
        [&](const ReadTxn& txn) { return txn.ResolveAlias(alias); }));
  };
  auto try_upsert = [&](const Dataset& d) {
    return store->Write([&](WriteTxn& txn) { return txn.UpsertDataset(d); });
  };

  Dataset a = MakeDataset("ethnicity");
  a.aliases = {"ethnic_group", "ethnicity_2001"};
  REQUIRE(Upsert(*store, a) == UpsertOutcome::kCreated);
  Dataset b = MakeDataset("religion");
  REQUIRE(Upsert(*store, b) == UpsertOutcome::kCreated);

  CHECK(resolve("ethnic_group") == "ethnicity");
  CHECK(resolve("ethnicity_2001") == "ethnicity");
  CHECK(resolve("ethnicity") == std::nullopt);  // a key is not an alias
  CHECK(resolve("religion_old") == std::nullopt);
  // GetDataset does not follow aliases.
  CHECK_FALSE(GetDataset(*store, "ethnic_group").has_value());

  const struct {
    const char* what;
    std::string alias;
    std::vector<std::string> mentions;
  } kConflicts[] = {
      {"another dataset's key", "ethnicity", {"'ethnicity'", "religion"}},
      {"another dataset's alias", "ethnic_group",
       {"'ethnic_group'", "'ethnicity'"}},
  };
  for (const auto& c : kConflicts) {
    INFO(c.what);
    Dataset grabby = b;
    grabby.aliases = {"religion_old", c.alias};
    const Error error = MustFail(try_upsert(grabby));
    INFO(Describe(error));
    CHECK(error.code == ErrorCode::kAlreadyExists);
    for (const auto& m : c.mentions) CHECK_THAT(error.message, Contains(m));
    // Nothing of the refused upsert stayed, not even its good alias.
    CHECK(GetDataset(*store, "religion")->dataset == b);
    CHECK(resolve("religion_old") == std::nullopt);
    CHECK(resolve("ethnic_group") == "ethnicity");
  }

  // Dropping an alias stops it resolving; the others stay.
  a.aliases = {"ethnicity_2001"};
  CHECK(Upsert(*store, a) == UpsertOutcome::kUpdated);
  CHECK(resolve("ethnic_group") == std::nullopt);
  CHECK(resolve("ethnicity_2001") == "ethnicity");

  // A dropped alias is free for another dataset.
  b.aliases = {"ethnic_group"};
  CHECK(Upsert(*store, b) == UpsertOutcome::kUpdated);
  CHECK(resolve("ethnic_group") == "religion");

  // Dropping every alias.
  a.aliases = {};
  CHECK(Upsert(*store, a) == UpsertOutcome::kUpdated);
  CHECK(resolve("ethnicity_2001") == std::nullopt);
  CHECK(resolve("ethnic_group") == "religion");
}

TEST_CASE("ListDatasets returns every dataset sorted by key") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  for (const char* key : {"zeta", "alpha", "alpha_2", "mid", "alpha-1", "0"}) {
    Upsert(*store, MakeDataset(key));
  }
  const auto all = Must(
      store->Read([](const ReadTxn& txn) { return txn.ListDatasets(); }));
  std::vector<std::string> keys;
  for (const auto& r : all) keys.push_back(r.dataset.key);
  CHECK(keys == std::vector<std::string>{"0", "alpha", "alpha-1", "alpha_2",
                                         "mid", "zeta"});
}

// -------------------------------------------------------------- Versions

TEST_CASE("CommitOptions stores a new version only when the options change") {
  TempDir dir;
  FakeClock clock(5'000);
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  Upsert(*store, MakeDataset("k"));
  const OptionList first = MakeOptions(
      {{"01", "Yes", std::nullopt}, {"02", "No", std::nullopt}});

  clock.Set(10'000);
  const CommitResult c1 = Commit(*store, "k", first);
  CHECK(c1.version == 1);
  CHECK(c1.changed);
  CHECK(c1.options_sha256 == OptionsSha256(first));
  {
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.version == 1);
    CHECK(s.option_count == 2);
    CHECK(s.options_sha256 == OptionsSha256(first));
    CHECK(s.last_synced_at == 10'000);
    CHECK(s.last_checked_at == 10'000);
    CHECK(s.updated_at == 10'000);
    CHECK(s.last_error.empty());
  }

  // The same options again, even built anew, only record the check.
  clock.Set(20'000);
  const OptionList same = MakeOptions(
      {{"01", "Yes", std::nullopt}, {"02", "No", std::nullopt}});
  const CommitResult c2 = Commit(*store, "k", same);
  CHECK(c2.version == 1);
  CHECK_FALSE(c2.changed);
  CHECK(c2.options_sha256 == c1.options_sha256);
  {
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.version == 1);
    CHECK(s.last_synced_at == 20'000);
    CHECK(s.last_checked_at == 20'000);
  }
  CHECK(ListVersions(*store, "k").size() == 1);

  // Each kind of difference makes a new version.
  const struct {
    const char* what;
    std::vector<Option> options;
  } kChanges[] = {
      {"a label", {{"01", "Yes!", std::nullopt}, {"02", "No", std::nullopt}}},
      {"a value", {{"1", "Yes!", std::nullopt}, {"02", "No", std::nullopt}}},
      {"the order", {{"02", "No", std::nullopt}, {"1", "Yes!", std::nullopt}}},
      {"a parent", {{"02", "No", std::nullopt}, {"1", "Yes!", "02"}}},
      {"an extra option",
       {{"02", "No", std::nullopt},
        {"1", "Yes!", "02"},
        {"99", "Unknown", std::nullopt}}},
      {"a removed option", {{"02", "No", std::nullopt}}},
  };
  std::vector<OptionList> history = {first};
  std::vector<UnixSeconds> times = {10'000};
  for (const auto& c : kChanges) {
    INFO("changing " << c.what);
    clock.Advance(100);
    const OptionList list = MakeOptions(c.options);
    const CommitResult r = Commit(*store, "k", list);
    CHECK(r.changed);
    CHECK(r.version == history.size() + 1);
    CHECK(r.options_sha256 == OptionsSha256(list));
    history.push_back(list);
    times.push_back(clock.now());
  }

  // ListVersions: oldest first, counts and hashes, options only on request.
  const auto listed = ListVersions(*store, "k");
  REQUIRE(listed.size() == history.size());
  for (std::size_t i = 0; i < listed.size(); ++i) {
    INFO("version " << i + 1);
    CHECK(listed[i].key == "k");
    CHECK(listed[i].version == i + 1);
    CHECK(listed[i].created_at == times[i]);
    CHECK(listed[i].option_count == history[i].size());
    CHECK(listed[i].options_sha256 == OptionsSha256(history[i]));
    CHECK(listed[i].options.empty());
  }
  const auto with_options = ListVersions(*store, "k", /*with_options=*/true);
  REQUIRE(with_options.size() == history.size());
  for (std::size_t i = 0; i < with_options.size(); ++i) {
    CHECK(with_options[i].options == history[i]);
  }

  // GetVersion: 0 is the current one; each old one is exactly as stored.
  const auto current = GetVersion(*store, "k", 0);
  REQUIRE(current.has_value());
  CHECK(current->version == history.size());
  CHECK(current->options == history.back());
  for (std::uint32_t v = 1; v <= history.size(); ++v) {
    INFO("version " << v);
    const auto got = GetVersion(*store, "k", v);
    REQUIRE(got.has_value());
    CHECK(got->version == v);
    CHECK(got->options == history[v - 1]);
    CHECK(got->option_count == history[v - 1].size());
    CHECK(got->options_sha256 == OptionsSha256(history[v - 1]));
  }
  CHECK_FALSE(GetVersion(*store, "k", history.size() + 1).has_value());
  CHECK_FALSE(GetVersion(*store, "unknown", 0).has_value());
  CHECK_FALSE(GetVersion(*store, "unknown", 1).has_value());
  CHECK(ListVersions(*store, "unknown").empty());

  // A dataset without options has no current version.
  Upsert(*store, MakeDataset("empty"));
  CHECK_FALSE(GetVersion(*store, "empty", 0).has_value());
  CHECK(ListVersions(*store, "empty").empty());
}

// The stored canonical bytes of `key`@`version` (0: current), or nullopt.
std::optional<std::string> OptionsJson(Store& store, const std::string& key,
                                       std::uint32_t version) {
  return Must(store.Read([&](const ReadTxn& txn)
                             -> Result<std::optional<std::string>> {
    DS_TRY(view, txn.GetOptionsJson(key, version));
    if (!*view) return std::optional<std::string>();
    return std::optional<std::string>(std::string(**view));
  }));
}

TEST_CASE("GetOptionsJson gives each version's canonical bytes, current by 0") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  auto store = MustOpen(path, OptionsWith(clock));
  Upsert(*store, MakeDataset("k"));
  Upsert(*store, MakeDataset("never"));
  const OptionList v1 = MakeOptions(3, "[v1]");
  const OptionList v2 = MakeOptions(
      {{"A", "Caf\xc3\xa9 \"q\"", std::nullopt}, {"A1", "tab\there", "A"}});
  CHECK(OptionsJson(*store, "k", 0) == std::nullopt);
  Commit(*store, "k", v1);
  CHECK(OptionsJson(*store, "k", 0) == CanonicalOptionsJson(v1));
  Commit(*store, "k", v2);
  CHECK(OptionsJson(*store, "k", 1) == CanonicalOptionsJson(v1));
  CHECK(OptionsJson(*store, "k", 2) == CanonicalOptionsJson(v2));
  CHECK(OptionsJson(*store, "k", 0) == CanonicalOptionsJson(v2));
  Commit(*store, "k", v2);  // unchanged: still version 2
  CHECK(OptionsJson(*store, "k", 0) == CanonicalOptionsJson(v2));
  CHECK(OptionsJson(*store, "k", 3) == std::nullopt);
  CHECK(OptionsJson(*store, "never", 0) == std::nullopt);
  CHECK(OptionsJson(*store, "missing", 0) == std::nullopt);
  CHECK(OptionsJson(*store, "", 0) == std::nullopt);
  CHECK(OptionsJson(*store, std::string(300, 'x'), 0) == std::nullopt);
  // The current entry names the version and hashes its bytes.
  {
    store.reset();
    RawLmdb raw(path, /*read_only=*/true);
    const auto current = raw.Get("current", "k");
    REQUIRE(current.has_value());
    REQUIRE(current->size() == 36);
    CHECK(current->substr(0, 4) == std::string("\0\0\0\2", 4));
    CHECK(raw.Get("options", RawVersionKey("k", 2)) == CanonicalOptionsJson(v2));
    CHECK_FALSE(raw.Get("current", "never").has_value());
  }
  store = MustOpen(path, OptionsWith(clock));
  Must(store->Write([](WriteTxn& txn) { return txn.RemoveDataset("k"); }));
  CHECK(OptionsJson(*store, "k", 0) == std::nullopt);
  CHECK(OptionsJson(*store, "k", 1) == std::nullopt);
  store.reset();
  RawLmdb raw(path, /*read_only=*/true);
  CHECK(raw.Dump("options").empty());
  CHECK(raw.Dump("current").empty());
}

TEST_CASE("Each version keeps its provenance exactly") {
  const struct {
    const char* what;
    Provenance provenance;
  } kCases[] = {
      {"everything",
       {"https://www.datadictionary.nhs.uk/data_elements/smoking.html",
        1'700'000'123, "W/\"5e-abc\"", "Tue, 15 Nov 1994 08:12:31 GMT",
        "text/html; charset=utf-8",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "scraped by nightly job"}},
      {"nothing", {}},
      {"a URL only", {"https://api.example.org/v2/list?x=1&y=2", {}, "", "",
                      "", "", ""}},
      {"the epoch as fetch time", {"file:///tmp/x.csv", 0, "", "", "", "", ""}},
      {"non-ASCII and quotes",
       {"https://example.org/ĉapelo?q=%E2%9C%93", 1, "\"etag\\with\"",
        "", "application/json", "", "imported by Siân \"the\" admin ✓\n"}},
  };
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Upsert(*store, MakeDataset("k"));
    std::uint32_t version = 0;
    for (const auto& c : kCases) {
      INFO(c.what);
      clock.Advance();
      ++version;
      const auto r = Commit(*store, "k",
                            MakeOptions(1, "[v" + std::to_string(version) + "]"),
                            c.provenance);
      REQUIRE(r.version == version);
    }
  }
  for (const bool read_only : {false, true}) {
    StoreOptions options = OptionsWith(clock);
    options.read_only = read_only;
    auto store = MustOpen(path, options);
    std::uint32_t version = 0;
    for (const auto& c : kCases) {
      INFO(c.what << ", read_only=" << read_only);
      const auto got = GetVersion(*store, "k", ++version);
      REQUIRE(got.has_value());
      CHECK(got->provenance == c.provenance);
      CHECK(got->provenance.source_url == c.provenance.source_url);
      CHECK(got->provenance.fetched_at == c.provenance.fetched_at);
      CHECK(got->provenance.note == c.provenance.note);
    }
    const auto listed = ListVersions(*store, "k");
    REQUIRE(listed.size() == std::size(kCases));
    for (std::size_t i = 0; i < listed.size(); ++i) {
      CHECK(listed[i].provenance == kCases[i].provenance);
    }
  }
}

TEST_CASE("Options with parents and non-ASCII text round-trip") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  const OptionList options = MakeOptions({
      {"7A1", "Betsi Cadwaladr – Gogledd Cymru", std::nullopt},
      {"7A1A1", "Ysbyty Gwynedd", "7A1"},
      {"7A1A4", "Ysbyty Maelor \"Wrecsam\"", "7A1"},
      {"é", "Ærø 😀 日本語 עברית", std::nullopt},
      {"é-1", "back\\slash, tab\t, newline\n, bell\x07", "é"},
      {"Z", "  leading and trailing spaces  ", "7A1A1"},
  });
  CommitResult committed;
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Upsert(*store, MakeDataset("health_board"));
    committed = Commit(*store, "health_board", options);
    CHECK(committed.options_sha256 == OptionsSha256(options));
    const auto got = GetVersion(*store, "health_board", 0);
    REQUIRE(got.has_value());
    CHECK(got->options == options);
  }
  auto store = MustOpen(path, OptionsWith(clock));
  const auto got = GetVersion(*store, "health_board", 1);
  REQUIRE(got.has_value());
  CHECK(got->options == options);
  CHECK(got->options.options()[1].parent == "7A1");
  CHECK(got->options.options()[0].parent == std::nullopt);
  CHECK(got->options_sha256 == committed.options_sha256);
  CHECK(Labels(got->options) == Labels(options));
  // Same content again: no new version.
  CHECK_FALSE(Commit(*store, "health_board", options).changed);
}

TEST_CASE("CommitOptions refuses unknown datasets and empty lists") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Upsert(*store, MakeDataset("known"));
    Commit(*store, "known", MakeOptions(3, "[v1]"));
  }
  const Tables before = DumpAll(path);

  const struct {
    const char* what;
    std::string key;
    OptionList options;
    ErrorCode code;
  } kCases[] = {
      {"unknown key", "unknown", MakeOptions(3, "[v1]"), ErrorCode::kNotFound},
      {"an alias is not a key", "known_old", MakeOptions(3, "[v1]"),
       ErrorCode::kNotFound},
      {"empty list", "known", OptionList(), ErrorCode::kInvalidArgument},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto store = MustOpen(path, OptionsWith(clock));
    clock.Advance();
    const auto result = store->Write([&](WriteTxn& txn) {
      return txn.CommitOptions(c.key, c.options, Provenance{});
    });
    const Error error = MustFail(result);
    INFO(Describe(error));
    CHECK(error.code == c.code);
    CHECK_THAT(error.message, Contains("'" + c.key + "'"));
    store.reset();
    CHECK(DiffTables(before, DumpAll(path)) == "");
  }
}

TEST_CASE("CommitOptions sets last_scraped only for scraped sources") {
  const struct {
    SourceType source;
    bool scraped;
  } kCases[] = {
      {SourceType::kScrape, true},
      {SourceType::kApi, false},
      {SourceType::kManual, false},
      {SourceType::kImported, false},
  };
  for (const auto& c : kCases) {
    INFO("source " << SourceTypeName(c.source));
    TempDir dir;
    FakeClock clock(1'234);
    auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
    Upsert(*store, MakeDataset("k", "", c.source));
    CHECK_FALSE(GetDataset(*store, "k")->sync.last_scraped.has_value());
    clock.Set(5'678);
    Commit(*store, "k", MakeOptions(1, "x"));
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.last_scraped == (c.scraped ? std::optional<UnixSeconds>(5'678)
                                       : std::nullopt));
  }
}

TEST_CASE("Versions are ordered by number past the one-byte boundary") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  constexpr std::uint32_t kVersions = 260;
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Upsert(*store, MakeDataset("k"));
    for (std::uint32_t v = 1; v <= kVersions; ++v) {
      const auto r = Commit(*store, "k",
                            MakeOptions(1, "[v" + std::to_string(v) + "]"));
      REQUIRE(r.version == v);
    }
    const auto listed = ListVersions(*store, "k");
    REQUIRE(listed.size() == kVersions);
    for (std::uint32_t i = 0; i < kVersions; ++i) {
      REQUIRE(listed[i].version == i + 1);
    }
    const auto v256 = GetVersion(*store, "k", 256);
    REQUIRE(v256.has_value());
    CHECK_THAT(v256->options.options()[0].label, Contains("[v256]"));
  }
  // The key layout is the documented one: key, 0x00, u32 big-endian.
  RawLmdb raw(path, /*read_only=*/true);
  const auto rows = raw.Dump("versions");
  REQUIRE(rows.size() == kVersions);
  CHECK(rows[0].first == RawVersionKey("k", 1));
  CHECK(rows[255].first == RawVersionKey("k", 256));
  CHECK(rows[255].first == std::string("k\0\0\0\x01\x00", 6));
  CHECK(rows.back().first == RawVersionKey("k", kVersions));
}

TEST_CASE("RecordFailure keeps the last good version until a success") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  Upsert(*store, MakeDataset("k"));
  const OptionList good = MakeOptions(4, "[v1]");
  clock.Set(100);
  const CommitResult c1 = Commit(*store, "k", good);

  auto fail = [&](const std::string& error) {
    return store->Write(
        [&](WriteTxn& txn) { return txn.RecordFailure("k", error); });
  };

  const std::string kErrors[] = {
      "HTTP 503 from https://example.org/list",
      "timed out after 30 s",
      "the page has no codes",
  };
  UnixSeconds t = 100;
  for (const std::string& e : kErrors) {
    INFO(e);
    clock.Set(t += 50);
    Must(fail(e));
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.last_error == e);
    CHECK(s.last_checked_at == t);
    CHECK(s.last_synced_at == 100);
    CHECK(s.version == 1);
    CHECK(s.option_count == 4);
    CHECK(s.options_sha256 == c1.options_sha256);
    CHECK(GetVersion(*store, "k", 0)->options == good);
    CHECK(ListVersions(*store, "k").size() == 1);
    const auto events = ListAudit(*store, 1);
    REQUIRE(events.size() == 1);
    CHECK(events[0].dataset == "k");
    CHECK_THAT(events[0].detail, Contains(e));
  }

  // An empty message still leaves an error behind.
  clock.Set(t += 50);
  Must(fail(""));
  CHECK_FALSE(GetDataset(*store, "k")->sync.last_error.empty());

  SECTION("an unchanged success clears the error") {
    clock.Set(1'000);
    CHECK_FALSE(Commit(*store, "k", good).changed);
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.last_error.empty());
    CHECK(s.last_checked_at == 1'000);
    CHECK(s.last_synced_at == 1'000);
  }
  SECTION("a changed success clears the error") {
    clock.Set(1'000);
    CHECK(Commit(*store, "k", MakeOptions(5, "[v2]")).version == 2);
    const SyncState s = GetDataset(*store, "k")->sync;
    CHECK(s.last_error.empty());
    CHECK(s.version == 2);
  }
  SECTION("an unknown dataset is kNotFound") {
    const Error error = MustFail(store->Write(
        [](WriteTxn& txn) { return txn.RecordFailure("nope", "boom"); }));
    CHECK(error.code == ErrorCode::kNotFound);
    CHECK_THAT(error.message, Contains("'nope'"));
  }
}

// ------------------------------------------------------------- Atomicity

TEST_CASE("A failing write leaves nothing behind") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  {
    auto store = MustOpen(path, OptionsWith(clock));
    Dataset base = MakeDataset("base");
    base.aliases = {"base_old"};
    Upsert(*store, base);
    Commit(*store, "base", MakeOptions(3, "[v1]"));
    Must(store->Write([](WriteTxn& txn) -> Status {
      DS_CHECK(txn.PutRaw("kept body"));
      return txn.PutValidators("https://example.org/", {"\"e1\"", "", 1});
    }));
  }
  const Tables before = DumpAll(path);

  const Error kInjected{ErrorCode::kIo, "injected failure"};
  auto then_fail = [&](std::function<Status(WriteTxn&)> step) {
    return std::function<Status(WriteTxn&)>([step, kInjected](WriteTxn& txn) -> Status {
      DS_CHECK(step(txn));
      return std::unexpected(kInjected);
    });
  };
  auto upsert_new = [](WriteTxn& txn) -> Status {
    Dataset d = MakeDataset("fresh");
    d.aliases = {"fresh_old"};
    DS_CHECK(txn.UpsertDataset(d));
    return {};
  };
  auto upsert_changed = [](WriteTxn& txn) -> Status {
    Dataset d = MakeDataset("base", "Renamed");
    DS_CHECK(txn.UpsertDataset(d));  // also drops the alias base_old
    return {};
  };
  auto commit = [](WriteTxn& txn) -> Status {
    DS_CHECK(txn.CommitOptions("base", MakeOptions(9, "[v2]"), {}));
    return {};
  };
  auto recheck = [](WriteTxn& txn) -> Status {
    DS_CHECK(txn.CommitOptions("base", MakeOptions(3, "[v1]"), {}));
    return {};
  };
  auto failure = [](WriteTxn& txn) -> Status {
    return txn.RecordFailure("base", "boom");
  };
  auto remove = [](WriteTxn& txn) -> Status {
    DS_CHECK(txn.RemoveDataset("base"));
    return {};
  };
  auto raw = [](WriteTxn& txn) -> Status {
    DS_CHECK(txn.PutRaw(std::string(100'000, 'r')));
    return {};
  };
  auto validators = [](WriteTxn& txn) -> Status {
    DS_CHECK(txn.PutValidators("https://example.org/", {"\"e2\"", "x", 2}));
    return txn.PutValidators("https://example.org/new", {"\"n\"", "", 2});
  };
  auto audit = [](WriteTxn& txn) -> Status {
    return txn.AppendAudit("seed", "", "seeded");
  };
  auto everything = [=](WriteTxn& txn) -> Status {
    for (const auto& step : std::vector<std::function<Status(WriteTxn&)>>{
             upsert_new, upsert_changed, commit, failure, raw, validators,
             audit, remove}) {
      DS_CHECK(step(txn));
    }
    return {};
  };

  const struct {
    const char* what;
    std::function<Status(WriteTxn&)> fn;
    ErrorCode code;  // of the error Write returns
  } kCases[] = {
      {"upsert of a new dataset", then_fail(upsert_new), ErrorCode::kIo},
      {"upsert of a changed dataset", then_fail(upsert_changed),
       ErrorCode::kIo},
      {"commit of a new version", then_fail(commit), ErrorCode::kIo},
      {"commit of unchanged options", then_fail(recheck), ErrorCode::kIo},
      {"recorded failure", then_fail(failure), ErrorCode::kIo},
      {"removal", then_fail(remove), ErrorCode::kIo},
      {"raw body", then_fail(raw), ErrorCode::kIo},
      {"validators", then_fail(validators), ErrorCode::kIo},
      {"audit event", then_fail(audit), ErrorCode::kIo},
      {"all of it", then_fail(everything), ErrorCode::kIo},
      {"upsert, then the store's own refusal",
       [=](WriteTxn& txn) -> Status {
         DS_CHECK(upsert_new(txn));
         DS_CHECK(txn.CommitOptions("fresh", OptionList(), {}));
         return {};
       },
       ErrorCode::kInvalidArgument},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto store = MustOpen(path, OptionsWith(clock));
    clock.Advance();
    const Error error = MustFail(store->Write(c.fn));
    INFO(Describe(error));
    CHECK(error.code == c.code);
    if (c.code == ErrorCode::kIo) CHECK(error.message == kInjected.message);
    // The same Store still sees the old state and can write.
    CHECK(GetDataset(*store, "base")->dataset.name == "Dataset base");
    CHECK_FALSE(GetDataset(*store, "fresh").has_value());
    store.reset();
    CHECK(DiffTables(before, DumpAll(path)) == "");
  }
}

// ---------------------------------------------------------------- Remove

// Keys that are prefixes of each other, with their number of versions.
const std::pair<std::string, std::uint32_t> kPrefixKeys[] = {
    {"a", 2}, {"ab", 3}, {"ab_c", 1}, {"abc", 2}, {"b", 1}, {"c", 0},
};

TEST_CASE("RemoveDataset removes one dataset's record, versions and aliases") {
  for (const auto& [removed_key, removed_count] : kPrefixKeys) {
    INFO("removing " << removed_key);
    TempDir dir;
    FakeClock clock;
    const std::string path = dir.File("s.lmdb");
    std::string raw_sha;
    {
      auto store = MustOpen(path, OptionsWith(clock));
      for (const auto& [key, count] : kPrefixKeys) {
        Dataset d = MakeDataset(key);
        d.aliases = {key + "_old"};
        Upsert(*store, d);
        for (std::uint32_t v = 1; v <= count; ++v) {
          Commit(*store, key,
                 MakeOptions(v, key + "[v" + std::to_string(v) + "]"));
        }
      }
      raw_sha = Must(store->Write(
          [](WriteTxn& txn) { return txn.PutRaw("upstream body"); }));

      clock.Advance();
      const auto removed = Must(store->Write(
          [&](WriteTxn& txn) { return txn.RemoveDataset(removed_key); }));
      CHECK(removed == removed_count);

      auto resolve = [&](const std::string& alias) {
        return Must(store->Read(
            [&](const ReadTxn& txn) { return txn.ResolveAlias(alias); }));
      };
      CHECK_FALSE(GetDataset(*store, removed_key).has_value());
      CHECK(ListVersions(*store, removed_key).empty());
      CHECK_FALSE(GetVersion(*store, removed_key, 0).has_value());
      CHECK_FALSE(GetVersion(*store, removed_key, 1).has_value());
      CHECK(resolve(removed_key + "_old") == std::nullopt);
      // Everyone else is untouched.
      for (const auto& [key, count] : kPrefixKeys) {
        if (key == removed_key) continue;
        INFO("other dataset " << key);
        CHECK(GetDataset(*store, key).has_value());
        CHECK(resolve(key + "_old") == key);
        const auto versions = ListVersions(*store, key, true);
        REQUIRE(versions.size() == count);
        for (std::uint32_t v = 1; v <= count; ++v) {
          CHECK(versions[v - 1].key == key);
          CHECK(versions[v - 1].options ==
                MakeOptions(v, key + "[v" + std::to_string(v) + "]"));
        }
      }
      // Raw bodies stay.
      CHECK(Must(store->Read([&](const ReadTxn& txn) {
              return txn.GetRaw(raw_sha);
            })) == "upstream body");
      const auto events = ListAudit(*store, 1);
      REQUIRE(events.size() == 1);
      CHECK(events[0].action == "dataset.removed");
      CHECK(events[0].dataset == removed_key);

      // Removed twice: kNotFound, naming it.
      const Error again = MustFail(store->Write(
          [&](WriteTxn& txn) { return txn.RemoveDataset(removed_key); }));
      CHECK(again.code == ErrorCode::kNotFound);
      CHECK_THAT(again.message, Contains("'" + removed_key + "'"));
    }
    // On disk: exactly the other datasets' version keys remain.
    {
      RawLmdb raw(path, /*read_only=*/true);
      std::vector<std::string> expected;
      for (const auto& [key, count] : kPrefixKeys) {
        if (key == removed_key) continue;
        for (std::uint32_t v = 1; v <= count; ++v) {
          expected.push_back(RawVersionKey(key, v));
        }
      }
      std::sort(expected.begin(), expected.end());
      std::vector<std::string> keys;
      for (const auto& row : raw.Dump("versions")) keys.push_back(row.first);
      CHECK(keys == expected);
    }
    // Created again, it continues after the removed versions: a version
    // number, once published, never names other content.
    auto store = MustOpen(path, OptionsWith(clock));
    CHECK(Upsert(*store, MakeDataset(removed_key)) == UpsertOutcome::kCreated);
    CHECK(Commit(*store, removed_key, MakeOptions(1, "new")).version ==
          removed_count + 1);
    CHECK(ListVersions(*store, removed_key, false).size() == 1);
  }
}

TEST_CASE("RemoveDataset of an unknown dataset is kNotFound") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  Dataset d = MakeDataset("ab");
  d.aliases = {"a"};
  Upsert(*store, d);
  Commit(*store, "ab", MakeOptions(1, "x"));
  for (const char* key : {"a", "abc", "", "ab\x01"}) {
    INFO("key " << key);
    const Error error = MustFail(store->Write(
        [&](WriteTxn& txn) { return txn.RemoveDataset(key); }));
    CHECK(error.code == ErrorCode::kNotFound);
  }
  CHECK(ListVersions(*store, "ab").size() == 1);
}

TEST_CASE("Lookups of keys LMDB cannot hold find nothing") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("s.lmdb"), OptionsWith(clock));
  Upsert(*store, MakeDataset("k"));
  Commit(*store, "k", MakeOptions(1, "x"));
  // LMDB keys are 1 to 511 bytes; a lookup outside that range is a miss,
  // not an I/O error.
  for (const std::string& key : {std::string(), std::string(600, 'k')}) {
    INFO("key of " << key.size() << " bytes");
    const auto found = store->Read([&](const ReadTxn& txn) -> Result<bool> {
      DS_TRY(dataset, txn.GetDataset(key));
      DS_TRY(alias, txn.ResolveAlias(key));
      DS_TRY(version, txn.GetVersion(key, 0));
      DS_TRY(versions, txn.ListVersions(key, false));
      DS_TRY(raw, txn.GetRaw(key));
      DS_TRY(validators, txn.GetValidators(key));
      return dataset->has_value() || alias->has_value() ||
             version->has_value() || !versions->empty() || raw->has_value() ||
             validators->has_value();
    });
    CHECK_FALSE(Must(found));
    const struct {
      const char* what;
      std::function<Status(WriteTxn&)> fn;
    } kWrites[] = {
        {"CommitOptions",
         [&](WriteTxn& txn) -> Status {
           DS_CHECK(txn.CommitOptions(key, MakeOptions(1, "x"), {}));
           return {};
         }},
        {"RecordFailure",
         [&](WriteTxn& txn) { return txn.RecordFailure(key, "boom"); }},
        {"RemoveDataset",
         [&](WriteTxn& txn) -> Status {
           DS_CHECK(txn.RemoveDataset(key));
           return {};
         }},
    };
    for (const auto& w : kWrites) {
      INFO(w.what);
      const Error error = MustFail(store->Write(w.fn));
      INFO(Describe(error));
      CHECK(error.code == ErrorCode::kNotFound);
    }
  }
}

// ----------------------------------------------------- Raw and validators

TEST_CASE("PutRaw keeps one compressed copy per body") {
  std::string binary;
  for (int i = 0; i < 300; ++i) binary.push_back(static_cast<char>(i & 0xFF));
  std::string noisy;
  std::uint32_t x = 12345;
  for (int i = 0; i < (1 << 20); ++i) {
    x = x * 1664525u + 1013904223u;
    noisy.push_back(static_cast<char>(x >> 24));
  }
  const std::string repetitive(4 << 20, 'a');
  const struct {
    const char* what;
    std::string body;
    std::string sha;  // known answer, when there is one
  } kBodies[] = {
      {"empty", "",
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"every byte value", binary, ""},
      {"1 MiB of noise", noisy, ""},
      {"4 MiB of one letter", repetitive, ""},
  };
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  std::vector<std::string> shas;
  {
    auto store = MustOpen(path, OptionsWith(clock));
    for (const auto& b : kBodies) {
      INFO(b.what);
      const std::string sha = Must(
          store->Write([&](WriteTxn& txn) { return txn.PutRaw(b.body); }));
      CHECK(sha.size() == 64);
      CHECK(sha.find_first_not_of("0123456789abcdef") == std::string::npos);
      if (!b.sha.empty()) CHECK(sha == b.sha);
      // The same body again: the same key.
      CHECK(Must(store->Write(
                [&](WriteTxn& txn) { return txn.PutRaw(b.body); })) == sha);
      shas.push_back(sha);
    }
    for (std::size_t i = 0; i < shas.size(); ++i) {
      INFO(kBodies[i].what);
      const auto got = Must(
          store->Read([&](const ReadTxn& txn) { return txn.GetRaw(shas[i]); }));
      REQUIRE(got.has_value());
      CHECK(got->size() == kBodies[i].body.size());
      CHECK(*got == kBodies[i].body);
    }
    for (const std::string& unknown :
         {std::string(64, '0'), std::string("not-a-sha"), std::string()}) {
      CHECK(Must(store->Read([&](const ReadTxn& txn) {
              return txn.GetRaw(unknown);
            })) == std::nullopt);
    }
  }
  // One stored copy per distinct body, each a zstd frame.
  RawLmdb raw(path, /*read_only=*/true);
  const auto rows = raw.Dump("raw");
  CHECK(rows.size() == std::size(kBodies));
  for (const auto& [key, value] : rows) {
    INFO("raw " << key);
    CHECK(std::find(shas.begin(), shas.end(), key) != shas.end());
    CHECK(value.substr(0, 4) == std::string("\x28\xb5\x2f\xfd", 4));
  }
  const auto big = raw.Get("raw", shas[4]);
  REQUIRE(big.has_value());
  CHECK(big->size() < repetitive.size() / 100);
}

TEST_CASE("Validators round-trip for short and very long URLs") {
  const std::string base = "https://example.org/api/v1/list?";
  auto url_of_size = [&](std::size_t n, char fill) {
    std::string u = base;
    u.append(n - base.size(), fill);
    return u;
  };
  const std::string long_a = url_of_size(1000, 'q');
  std::string long_b = long_a;
  long_b.back() = 'z';  // differs only in its last byte
  const struct {
    std::string url;
    HttpValidators validators;
  } kCases[] = {
      {"https://example.org/", {"\"abc\"", "Tue, 15 Nov 1994 08:12:31 GMT", 10}},
      {url_of_size(400, 'x'), {"W/\"400\"", "", 20}},
      {url_of_size(401, 'x'), {"", "Wed, 16 Nov 1994 08:12:31 GMT", 30}},
      {url_of_size(511, 'y'), {"\"511\"", "", 35}},
      {long_a, {"\"a\"", "", 40}},
      {long_b, {"\"b\"", "", 50}},
      {url_of_size(8000, 'w'), {"", "", 60}},
  };
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  auto get = [](Store& store, const std::string& url) {
    return Must(store.Read(
        [&](const ReadTxn& txn) { return txn.GetValidators(url); }));
  };
  {
    auto store = MustOpen(path, OptionsWith(clock));
    for (const auto& c : kCases) {
      INFO("URL of " << c.url.size() << " bytes");
      Must(store->Write([&](WriteTxn& txn) {
        return txn.PutValidators(c.url, c.validators);
      }));
    }
    for (const auto& c : kCases) {
      INFO("URL of " << c.url.size() << " bytes");
      const auto got = get(*store, c.url);
      REQUIRE(got.has_value());
      CHECK(got->etag == c.validators.etag);
      CHECK(got->last_modified == c.validators.last_modified);
      CHECK(got->stored_at == c.validators.stored_at);
    }
    CHECK(get(*store, "https://example.org/unknown") == std::nullopt);
    CHECK(get(*store, url_of_size(900, 'q')) == std::nullopt);

    // Replacing one leaves the others.
    Must(store->Write([&](WriteTxn& txn) {
      return txn.PutValidators(long_a, {"\"a2\"", "later", 70});
    }));
    CHECK(get(*store, long_a)->etag == "\"a2\"");
    CHECK(get(*store, long_a)->last_modified == "later");
    CHECK(get(*store, long_b)->etag == "\"b\"");
  }
  RawLmdb raw(path, /*read_only=*/true);
  const auto rows = raw.Dump("http");
  CHECK(rows.size() == std::size(kCases));
  // docs/STORE.md: a URL of up to 400 bytes is its own key; a longer one is
  // keyed "sha256:" + the hex SHA-256 of the URL.
  std::size_t hashed = 0;
  for (const auto& c : kCases) {
    if (c.url.size() <= 400) {
      CHECK(raw.Get("http", c.url).has_value());
    } else {
      ++hashed;
    }
  }
  std::size_t hashed_rows = 0;
  for (const auto& row : rows) {
    if (row.first.starts_with("sha256:")) {
      ++hashed_rows;
      CHECK(row.first.size() == 7 + 64);
    }
  }
  CHECK(hashed_rows == hashed);
}

// ------------------------------------------------------------------ Audit

TEST_CASE("Audit events are numbered in order and listed newest first") {
  TempDir dir;
  FakeClock clock(1'000);
  const std::string path = dir.File("s.lmdb");
  {
    auto store = MustOpen(path, OptionsWith(clock, "datasnap seed-test"));
    clock.Set(1'001);
    Upsert(*store, MakeDataset("k"));
    clock.Set(1'002);
    Provenance provenance;
    provenance.source_url = "https://example.org/k";
    Commit(*store, "k", MakeOptions(2, "[v1]"), provenance);
    clock.Set(1'003);
    Commit(*store, "k", MakeOptions(2, "[v1]"));
    clock.Set(1'004);
    Must(store->Write(
        [](WriteTxn& txn) { return txn.RecordFailure("k", "HTTP 500"); }));
    clock.Set(1'005);
    Must(store->Write([](WriteTxn& txn) -> Status {
      DS_CHECK(txn.AppendAudit("seed", "", "seeded 1 dataset"));
      return txn.AppendAudit("note", "k", "two in one transaction");
    }));
    clock.Set(1'006);
    Upsert(*store, MakeDataset("k"));  // unchanged: no event
    Must(store->Write([](WriteTxn& txn) { return txn.RemoveDataset("k"); }));

    const struct {
      std::uint64_t seq;
      UnixSeconds time;
      const char* action;
      const char* dataset;
      const char* detail_mentions;
    } kExpected[] = {
        {7, 1'006, "dataset.removed", "k", "1 version"},
        {6, 1'005, "note", "k", "two in one transaction"},
        {5, 1'005, "seed", "", "seeded 1 dataset"},
        {4, 1'004, "check.failed", "k", "HTTP 500"},
        {3, 1'003, "version.unchanged", "k", "version 1"},
        {2, 1'002, "version.created", "k", "https://example.org/k"},
        {1, 1'001, "dataset.created", "k", "Dataset k"},
    };
    const auto events = ListAudit(*store, 100);
    REQUIRE(events.size() == std::size(kExpected));
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      const auto& x = kExpected[i];
      INFO("event " << i << ": " << e.seq << " " << e.action << " "
                    << e.detail);
      CHECK(e.seq == x.seq);
      CHECK(e.time == x.time);
      CHECK(e.actor == "datasnap seed-test");
      CHECK(e.action == x.action);
      CHECK(e.dataset == x.dataset);
      CHECK_THAT(e.detail, Contains(x.detail_mentions));
    }
    const struct {
      std::size_t limit;
      std::vector<std::uint64_t> seqs;
    } kLimits[] = {{0, {}}, {1, {7}}, {3, {7, 6, 5}}, {7, {7, 6, 5, 4, 3, 2, 1}},
                   {1000, {7, 6, 5, 4, 3, 2, 1}}};
    for (const auto& l : kLimits) {
      INFO("limit " << l.limit);
      std::vector<std::uint64_t> seqs;
      for (const auto& e : ListAudit(*store, l.limit)) seqs.push_back(e.seq);
      CHECK(seqs == l.seqs);
    }
    // From a number on, oldest first: what an export reads to learn which
    // datasets changed since the event it recorded.
    const struct {
      std::uint64_t first;
      std::vector<std::uint64_t> seqs;
    } kFrom[] = {{0, {1, 2, 3, 4, 5, 6, 7}}, {1, {1, 2, 3, 4, 5, 6, 7}},
                 {5, {5, 6, 7}}, {7, {7}}, {8, {}}, {1'000'000, {}}};
    for (const auto& f : kFrom) {
      INFO("from " << f.first);
      auto from = store->Read(
          [&](const ReadTxn& txn) { return txn.ListAuditFrom(f.first); });
      REQUIRE(from.has_value());
      std::vector<std::uint64_t> seqs;
      for (const auto& e : *from) seqs.push_back(e.seq);
      CHECK(seqs == f.seqs);
    }
    auto created_at =
        store->Read([](const ReadTxn& txn) { return txn.CreatedAt(); });
    REQUIRE(created_at.has_value());
    CHECK(*created_at == FormatIso8601(1'000));
  }
  // A later process continues the sequence under its own actor.
  auto store = MustOpen(path, OptionsWith(clock, "datasnap sync"));
  clock.Set(2'000);
  Must(store->Write(
      [](WriteTxn& txn) { return txn.AppendAudit("sync", "", "nothing due"); }));
  const auto events = ListAudit(*store, 2);
  REQUIRE(events.size() == 2);
  CHECK(events[0].seq == 8);
  CHECK(events[0].actor == "datasnap sync");
  CHECK(events[0].time == 2'000);
  CHECK(events[1].seq == 7);
  CHECK(events[1].actor == "datasnap seed-test");
}

// --------------------------------------------------------------- Map size

TEST_CASE("A full map grows, or fails with kMapFull and keeps the store") {
  // About 7 MB of canonical JSON: more than the 1 MiB map the store starts
  // with.
  const OptionList big = MakeOptions(50'000, "[v2]", 100);
  const struct {
    const char* what;
    std::size_t max_map_size;
    bool fits;
  } kCases[] = {
      {"unlimited", StoreOptions{}.max_map_size, true},
      {"room for 16 MiB", 16 * kMiB, true},
      {"limited to 1 MiB", 1 * kMiB, false},
      {"limited to 3 MiB", 3 * kMiB, false},
      {"limited to 4 MiB", 4 * kMiB, false},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    TempDir dir;
    FakeClock clock;
    const std::string path = dir.File("s.lmdb");
    StoreOptions options = OptionsWith(clock);
    options.initial_map_size = 1 * kMiB;
    options.max_map_size = c.max_map_size;
    const OptionList small = MakeOptions(10, "[v1]");
    {
      auto store = MustOpen(path, options);
      CHECK(store->map_size() == 1 * kMiB);
      Upsert(*store, MakeDataset("k"));
      Commit(*store, "k", small);

      const auto result = store->Write([&](WriteTxn& txn) {
        return txn.CommitOptions("k", big, {});
      });
      if (c.fits) {
        REQUIRE(result.has_value());
        CHECK(result->version == 2);
        CHECK(store->map_size() > 1 * kMiB);
        CHECK(store->map_size() <= c.max_map_size);
        CHECK(GetVersion(*store, "k", 0)->options == big);
      } else {
        const Error error = MustFail(result);
        INFO(Describe(error));
        CHECK(error.code == ErrorCode::kMapFull);
        CHECK_THAT(error.message, Contains("full"));
        CHECK_THAT(error.message, Contains(path));
        CHECK(store->map_size() <= c.max_map_size);
        // The previous state is intact and the store still takes writes.
        CHECK(ListVersions(*store, "k").size() == 1);
        CHECK(GetVersion(*store, "k", 0)->options == small);
        CHECK(GetDataset(*store, "k")->sync.version == 1);
        CHECK(Commit(*store, "k", MakeOptions(11, "[v2]")).version == 2);
      }
    }
    // Reopened (with no limit), everything is there.
    auto store = MustOpen(path, OptionsWith(clock));
    CHECK(GetVersion(*store, "k", 1)->options == small);
    CHECK(GetVersion(*store, "k", 2).has_value());
    if (!c.fits) {
      CHECK(Commit(*store, "k", big).version == 3);
      CHECK(GetVersion(*store, "k", 0)->options == big);
    }
  }
}

// ------------------------------------------------------------ Writer lock

TEST_CASE("A second writer is refused with kBusy naming the holder") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  auto first = MustOpen(path, OptionsWith(clock, "datasnap first-writer"));
  Upsert(*first, MakeDataset("k"));

  for (const int wait_ms : {0, 300}) {
    INFO("writer_wait " << wait_ms << " ms");
    StoreOptions options = OptionsWith(clock, "datasnap second-writer");
    options.writer_wait = std::chrono::milliseconds(wait_ms);
    const auto start = std::chrono::steady_clock::now();
    const auto second = Store::Open(path, options);
    const auto waited = std::chrono::steady_clock::now() - start;
    const Error error = MustFail(second);
    INFO(Describe(error));
    CHECK(error.code == ErrorCode::kBusy);
    CHECK_THAT(error.message, Contains(path));
    CHECK_THAT(error.message, Contains("pid " + std::to_string(getpid())));
    CHECK_THAT(error.message, Contains("datasnap first-writer"));
    CHECK(waited >= std::chrono::milliseconds(wait_ms));
    // Only a guard against hanging: shared machines make timings noisy.
    CHECK(waited < std::chrono::milliseconds(wait_ms + 30000));
  }
  // The refused opens did not disturb the holder.
  CHECK(Upsert(*first, MakeDataset("k2")) == UpsertOutcome::kCreated);

  // Once the first is closed, a writer gets in at once.
  first.reset();
  auto third = MustOpen(path, OptionsWith(clock, "datasnap third"));
  CHECK(GetDataset(*third, "k2").has_value());
}

TEST_CASE("A second writer with writer_wait gets in when the first closes") {
  TempDir dir;
  FakeClock clock;
  const std::string path = dir.File("s.lmdb");
  auto first = MustOpen(path, OptionsWith(clock, "datasnap first"));
  Upsert(*first, MakeDataset("k"));
  Commit(*first, "k", MakeOptions(2, "[v1]"));

  const auto start = std::chrono::steady_clock::now();
  std::thread closer([&first] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    first.reset();
  });
  StoreOptions options = OptionsWith(clock, "datasnap second");
  // Generous, so that a slow machine cannot turn the wait into a failure.
  options.writer_wait = std::chrono::milliseconds(30000);
  auto second = Store::Open(path, options);
  const auto waited = std::chrono::steady_clock::now() - start;
  closer.join();
  INFO((second ? std::string() : Describe(second.error())));
  REQUIRE(second.has_value());
  CHECK(waited >= std::chrono::milliseconds(250));
  // It sees, and can extend, what the first wrote.
  CHECK(GetVersion(**second, "k", 0)->version == 1);
  CHECK(Commit(**second, "k", MakeOptions(3, "[v2]")).version == 2);
}

}  // namespace
}  // namespace datasnap

namespace datasnap {
namespace {

TEST_CASE("A read-write open refuses an LMDB file that is not a store") {
  TempDir dir;
  const std::string path = dir.File("other.lmdb");
  {
    // Another program's LMDB file, with a table of its own.
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 4);
    REQUIRE(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0644) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, "sessions", MDB_CREATE, &dbi) == 0);
    MDB_val k{3, const_cast<char*>("abc")}, v{1, const_cast<char*>("x")};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  const std::string before = testing::ReadFile(path);
  FakeClock clock;
  for (bool read_only : {false, true}) {
    StoreOptions options = OptionsWith(clock);
    options.read_only = read_only;
    const Error e = MustFail(Store::Open(path, options));
    INFO(Describe(e));
    CHECK(e.code == ErrorCode::kCorrupt);
    CHECK_THAT(e.message, Contains("not a datasnap store"));
  }
  CHECK(testing::ReadFile(path) == before);
}

}  // namespace
}  // namespace datasnap
