#include "store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <tuple>
#include <shared_mutex>

#include "core/canonical_json.h"
#include "core/compression.h"
#include "core/sha256.h"
#include "store/lmdb.h"
#include "store/record_codec.h"
#include "store/writer_lock.h"

namespace datasnap {
namespace store_internal {

// Names of the LMDB databases; docs/STORE.md describes each.
constexpr const char* kMetaDb = "meta";
constexpr const char* kDatasetsDb = "datasets";
constexpr const char* kVersionsDb = "versions";
constexpr const char* kAliasesDb = "aliases";
constexpr const char* kRawDb = "raw";
constexpr const char* kHttpDb = "http";
constexpr const char* kAuditDb = "audit";
// Schema 2: each version's canonical options JSON, under its versions key,
// and per dataset where its current version is.
constexpr const char* kOptionsDb = "options";
constexpr const char* kCurrentDb = "current";

// Raw bodies are kept at a moderate level: they are written on every
// changed fetch and read rarely.
constexpr int kRawCompressionLevel = 9;
constexpr std::size_t kMaxRawBytes = std::size_t{256} << 20;
// URLs longer than this are keyed by their SHA-256 (LMDB keys are at most
// 511 bytes).
constexpr std::size_t kMaxUrlKeyBytes = 400;

// The files this process has open as stores, by device and inode: LMDB
// forbids opening one environment twice in a process (closing the second
// would drop the first's locks).
// Entries carry the pid that made them: a child forked while its parent
// had a store open has not opened it itself.
class OpenFiles {
 public:
  using Id = std::tuple<pid_t, dev_t, ino_t>;
  static bool Add(Id id) {
    std::lock_guard lock(mutex());
    return ids().insert(id).second;
  }
  static void Remove(Id id) {
    std::lock_guard lock(mutex());
    ids().erase(id);
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::set<Id>& ids() {
    static std::set<Id> s;
    return s;
  }
};

// Holds a file's place in OpenFiles for the life of a Store.
struct OpenFileClaim {
  std::optional<OpenFiles::Id> id;
  ~OpenFileClaim() {
    if (id) OpenFiles::Remove(*id);
  }
};

struct StoreState {
  std::string path;
  StoreOptions options;
  // Destroyed in reverse order: the environment closes first, then the
  // file leaves OpenFiles, then the writer lock goes, so that a process
  // that was waiting for the lock finds the file free in both senses.
  std::unique_ptr<WriterLock> writer_lock;
  OpenFileClaim claim;
  Env env;
  MDB_dbi meta = 0, datasets = 0, versions = 0, aliases = 0, raw = 0,
          http = 0, audit = 0, options_db = 0, current = 0;
  // The layout of the open store: kStoreSchemaVersion, or 1 on a read-only
  // open of a store that no writer has migrated (then options_db and
  // current do not exist).
  std::int64_t schema = kStoreSchemaVersion;
  // Shared by every transaction of this process; held exclusively while the
  // map size changes, which LMDB allows only with no transaction open.
  mutable std::shared_mutex map_mutex;
  // Taken before map_mutex, shared or exclusive. Whoever waits for
  // map_mutex exclusively holds it, so that new transactions queue behind
  // the resize instead of starving it (std::shared_mutex prefers readers).
  mutable std::mutex map_gate;

  std::shared_lock<std::shared_mutex> ShareMap() const {
    std::lock_guard gate(map_gate);
    return std::shared_lock(map_mutex);
  }
  // One write transaction at a time within this process.
  std::mutex write_mutex;

  UnixSeconds Now() const {
    return options.clock ? options.clock() : NowUnixSeconds();
  }
};

}  // namespace store_internal

using namespace store_internal;

namespace {

Result<std::optional<std::string>> Get(MDB_txn* txn, MDB_dbi dbi,
                                       std::string_view key,
                                       std::string_view table) {
  // LMDB refuses empty and oversized keys (MDB_BAD_VALSIZE); no such key can
  // be stored, so looking one up finds nothing.
  if (key.empty() ||
      key.size() > static_cast<std::size_t>(
                       mdb_env_get_maxkeysize(mdb_txn_env(txn)))) {
    return std::optional<std::string>();
  }
  MDB_val k = ToVal(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_get", table));
  return std::optional<std::string>(std::string(FromVal(v)));
}

// Like Get, but the value is a view into the map, valid until the
// transaction ends.
Result<std::optional<std::string_view>> GetView(MDB_txn* txn, MDB_dbi dbi,
                                                std::string_view key,
                                                std::string_view table) {
  if (key.empty() ||
      key.size() > static_cast<std::size_t>(
                       mdb_env_get_maxkeysize(mdb_txn_env(txn)))) {
    return std::optional<std::string_view>();
  }
  MDB_val k = ToVal(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_get", table));
  return std::optional<std::string_view>(FromVal(v));
}

Status Put(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
           std::string_view value, unsigned flags, std::string_view table) {
  MDB_val k = ToVal(key), v = ToVal(value);
  const int rc = mdb_put(txn, dbi, &k, &v, flags);
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_put", table));
  return {};
}

Status Del(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
           std::string_view table) {
  MDB_val k = ToVal(key);
  const int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_del", table));
  }
  return {};
}

Result<Cursor> OpenCursor(MDB_txn* txn, MDB_dbi dbi, std::string_view table) {
  MDB_cursor* c = nullptr;
  const int rc = mdb_cursor_open(txn, dbi, &c);
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_cursor_open", table));
  return Cursor(c);
}

// The highest version number stored for `dataset`, 0 if none: one cursor
// step from the largest key the dataset could have.
Result<std::uint32_t> NewestStoredVersion(MDB_txn* txn, MDB_dbi dbi,
                                          std::string_view dataset) {
  DS_TRY(cursor, OpenCursor(txn, dbi, kVersionsDb));
  const std::string prefix = VersionPrefix(dataset);
  const std::string limit = VersionKey(dataset, UINT32_MAX);
  MDB_val k = ToVal(limit), v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0 && FromVal(k) == limit) return UINT32_MAX;
  // Now at the first key past the dataset's range (or past the end).
  rc = mdb_cursor_get(cursor->get(), &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
  if (rc == MDB_NOTFOUND) return 0u;
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_cursor_get", kVersionsDb));
  if (!FromVal(k).starts_with(prefix)) return 0u;
  auto version = VersionOfKey(FromVal(k));
  if (!version) return Fail(ErrorCode::kCorrupt, "versions table has a bad key");
  return *version;
}

// meta key holding the highest version a removed dataset of `key` had.
std::string VersionFloorKey(std::string_view key) {
  return "version_floor/" + std::string(key);
}

Result<std::uint32_t> VersionFloor(MDB_txn* txn, MDB_dbi meta,
                                   std::string_view key) {
  DS_TRY(text, Get(txn, meta, VersionFloorKey(key), kMetaDb));
  if (!*text) return 0u;
  try {
    return static_cast<std::uint32_t>(std::stoul(**text));
  } catch (...) {
    return Fail(ErrorCode::kCorrupt,
                "meta " + VersionFloorKey(key) + " is not a number");
  }
}

std::string UrlKey(std::string_view url) {
  if (url.size() <= kMaxUrlKeyBytes) return std::string(url);
  return "sha256:" + Sha256Hex(url);
}

// Names the fields that differ between two descriptions of a dataset.
std::string ChangedFields(const Dataset& a, const Dataset& b) {
  std::string out;
  auto note = [&](bool differs, const char* name) {
    if (!differs) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  note(a.name != b.name, "name");
  note(a.description != b.description, "description");
  note(a.category != b.category, "category");
  note(a.source_type != b.source_type, "source_type");
  note(a.reference_url != b.reference_url, "reference_url");
  note(a.api_endpoint != b.api_endpoint, "api_endpoint");
  note(a.tags != b.tags, "tags");
  note(a.aliases != b.aliases, "aliases");
  note(a.sync_frequency_hours != b.sync_frequency_hours,
       "sync_frequency_hours");
  note(a.is_custom != b.is_custom, "is_custom");
  note(a.is_global != b.is_global, "is_global");
  note(a.parent != b.parent, "parent");
  note(a.organization != b.organization, "organization");
  note(a.is_active != b.is_active, "is_active");
  return out;
}

std::unexpected<Error> NoDataset(std::string_view key) {
  return Fail(ErrorCode::kNotFound, "no dataset '" + std::string(key) + "'");
}

}  // namespace

// ---------------------------------------------------------------- ReadTxn

Result<std::optional<DatasetRecord>> ReadTxn::GetDataset(
    std::string_view key) const {
  DS_TRY(text, Get(txn_, state_->datasets, key, kDatasetsDb));
  if (!*text) return std::optional<DatasetRecord>();
  DS_TRY(record, DecodeDataset(**text));
  return std::optional<DatasetRecord>(std::move(*record));
}

Result<std::vector<DatasetRecord>> ReadTxn::ListDatasets() const {
  DS_TRY(cursor, OpenCursor(txn_, state_->datasets, kDatasetsDb));
  std::vector<DatasetRecord> out;
  // Room for all at once: growing a vector of 10,000 records moves them
  // all a dozen times and touches twice the memory.
  MDB_stat stat;
  if (mdb_stat(txn_, state_->datasets, &stat) == 0) out.reserve(stat.ms_entries);
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT)) {
    DS_TRY(record, DecodeDataset(FromVal(v)));
    out.push_back(std::move(*record));
  }
  if (rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kDatasetsDb));
  }
  return out;
}

Result<std::optional<std::string>> ReadTxn::ResolveAlias(
    std::string_view alias) const {
  return Get(txn_, state_->aliases, alias, kAliasesDb);
}

Result<std::optional<VersionRecord>> ReadTxn::GetVersion(
    std::string_view key, std::uint32_t version) const {
  if (state_->schema < 2) {
    // A schema-1 store opened read-only: the record carries its options.
    if (version == 0) {
      DS_TRY(record, GetDataset(key));
      if (!*record || (*record)->sync.version == 0) {
        return std::optional<VersionRecord>();
      }
      version = (*record)->sync.version;
    }
    DS_TRY(text, Get(txn_, state_->versions, VersionKey(key, version),
                     kVersionsDb));
    if (!*text) return std::optional<VersionRecord>();
    DS_TRY(record, DecodeVersion(**text, /*with_options=*/true));
    return std::optional<VersionRecord>(std::move(*record));
  }
  if (version == 0) {
    DS_TRY(current, GetView(txn_, state_->current, key, kCurrentDb));
    if (!*current) return std::optional<VersionRecord>();
    auto number = VersionOfCurrentValue(**current);
    if (!number) {
      return Fail(ErrorCode::kCorrupt,
                  "current table has a bad value for '" + std::string(key) + "'");
    }
    version = *number;
  }
  const std::string version_key = VersionKey(key, version);
  DS_TRY(text, GetView(txn_, state_->versions, version_key, kVersionsDb));
  if (!*text) return std::optional<VersionRecord>();
  DS_TRY(options, GetView(txn_, state_->options_db, version_key, kOptionsDb));
  if (!*options) {
    return Fail(ErrorCode::kCorrupt, "version " + std::to_string(version) +
                                         " of '" + std::string(key) +
                                         "' has no options in the store");
  }
  DS_TRY(record, DecodeVersion(**text, /*with_options=*/true, **options));
  return std::optional<VersionRecord>(std::move(*record));
}

Result<std::optional<std::string_view>> ReadTxn::GetOptionsJson(
    std::string_view key, std::uint32_t version) const {
  if (state_->schema < 2) {
    return Fail(ErrorCode::kUnsupported,
                "store has schema version " + std::to_string(state_->schema) +
                    ", which keeps no options JSON; open it once with a "
                    "datasnap command that writes (e.g. `datasnap refresh`) "
                    "to migrate it to " + std::to_string(kStoreSchemaVersion));
  }
  // Keys are at most 100 bytes; the versions key is built on the stack.
  char buffer[128];
  if (key.empty() || key.size() + 5 > sizeof buffer) {
    return std::optional<std::string_view>();
  }
  if (version == 0) {
    DS_TRY(current, GetView(txn_, state_->current, key, kCurrentDb));
    if (!*current) return std::optional<std::string_view>();
    if ((*current)->size() != kCurrentValueBytes) {
      return Fail(ErrorCode::kCorrupt,
                  "current table has a bad value for '" + std::string(key) + "'");
    }
    std::memcpy(buffer + key.size() + 1, (*current)->data(), 4);
  } else {
    for (int i = 0; i < 4; ++i) {
      buffer[key.size() + 1 + i] = static_cast<char>(version >> (24 - 8 * i));
    }
  }
  std::memcpy(buffer, key.data(), key.size());
  buffer[key.size()] = '\0';
  return GetView(txn_, state_->options_db,
                 std::string_view(buffer, key.size() + 5), kOptionsDb);
}

Result<std::vector<VersionRecord>> ReadTxn::ListVersions(
    std::string_view key, bool with_options) const {
  DS_TRY(cursor, OpenCursor(txn_, state_->versions, kVersionsDb));
  const std::string prefix = VersionPrefix(key);
  std::vector<VersionRecord> out;
  MDB_val k = ToVal(prefix), v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT)) {
    if (!FromVal(k).starts_with(prefix)) break;
    std::optional<std::string_view> options;
    if (with_options && state_->schema >= 2) {
      DS_TRY(stored, GetView(txn_, state_->options_db, FromVal(k), kOptionsDb));
      if (!*stored) {
        return Fail(ErrorCode::kCorrupt,
                    "a version of '" + std::string(key) +
                        "' has no options in the store");
      }
      options = **stored;
    }
    DS_TRY(record, DecodeVersion(FromVal(v), with_options, options));
    out.push_back(std::move(*record));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kVersionsDb));
  }
  return out;
}

Result<std::optional<std::string>> ReadTxn::GetRaw(
    std::string_view sha256) const {
  DS_TRY(frame, Get(txn_, state_->raw, sha256, kRawDb));
  if (!*frame) return std::optional<std::string>();
  DS_TRY(body, ZstdDecompress(**frame, kMaxRawBytes));
  if (Sha256Hex(*body) != sha256) {
    return Fail(ErrorCode::kCorrupt, "raw body " + std::string(sha256) +
                                         " does not match its SHA-256");
  }
  return std::optional<std::string>(std::move(*body));
}

Result<std::optional<HttpValidators>> ReadTxn::GetValidators(
    std::string_view url) const {
  DS_TRY(text, Get(txn_, state_->http, UrlKey(url), kHttpDb));
  if (!*text) return std::optional<HttpValidators>();
  DS_TRY(v, DecodeValidators(**text));
  return std::optional<HttpValidators>(std::move(*v));
}

std::uint64_t ReadTxn::TxnId() const { return mdb_txn_id(txn_); }

Result<std::vector<AuditEvent>> ReadTxn::ListAudit(std::size_t limit) const {
  DS_TRY(cursor, OpenCursor(txn_, state_->audit, kAuditDb));
  std::vector<AuditEvent> out;
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_LAST);
  for (; rc == 0 && out.size() < limit;
       rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_PREV)) {
    DS_TRY(event, DecodeAudit(FromVal(v)));
    out.push_back(std::move(*event));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kAuditDb));
  }
  return out;
}

Result<std::vector<AuditEvent>> ReadTxn::ListAuditFrom(
    std::uint64_t first) const {
  DS_TRY(cursor, OpenCursor(txn_, state_->audit, kAuditDb));
  std::vector<AuditEvent> out;
  const std::string from = AuditKey(first);
  MDB_val k = ToVal(from), v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT)) {
    DS_TRY(event, DecodeAudit(FromVal(v)));
    out.push_back(std::move(*event));
  }
  if (rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kAuditDb));
  }
  return out;
}

Result<std::string> ReadTxn::CreatedAt() const {
  DS_TRY(text, Get(txn_, state_->meta, "created_at", kMetaDb));
  // Stored as a JSON string of an ISO 8601 time (no escapes in it).
  const std::string t = text->value_or("");
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') {
    return Fail(ErrorCode::kCorrupt, "the store's created_at is missing or "
                                     "not a quoted time");
  }
  return t.substr(1, t.size() - 2);
}

// --------------------------------------------------------------- WriteTxn

Result<UpsertOutcome> WriteTxn::UpsertDataset(const Dataset& dataset) {
  DS_CHECK(ValidateKey(dataset.key));
  if (dataset.name.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "dataset '" + dataset.key + "' has an empty name");
  }
  DS_TRY(existing, GetDataset(dataset.key));
  if (*existing && (*existing)->dataset == dataset) {
    return UpsertOutcome::kUnchanged;
  }
  if (!*existing) {
    DS_TRY(aliased, ResolveAlias(dataset.key));
    if (*aliased) {
      return Fail(ErrorCode::kAlreadyExists,
                  "key '" + dataset.key + "' is an alias of '" + **aliased +
                      "'; choose another key");
    }
  }
  // Point every alias at this key, and drop the ones it no longer has.
  for (const std::string& alias : dataset.aliases) {
    DS_CHECK(ValidateKey(alias));
    if (alias == dataset.key) {
      return Fail(ErrorCode::kInvalidArgument,
                  "dataset '" + dataset.key + "' lists its own key as an alias");
    }
    DS_TRY(owner, GetDataset(alias));
    if (*owner) {
      return Fail(ErrorCode::kAlreadyExists,
                  "alias '" + alias + "' of '" + dataset.key +
                      "' is the key of another dataset");
    }
    DS_TRY(target, ResolveAlias(alias));
    if (*target && **target != dataset.key) {
      return Fail(ErrorCode::kAlreadyExists,
                  "alias '" + alias + "' of '" + dataset.key +
                      "' already points at '" + **target + "'");
    }
    DS_CHECK(Put(txn_, state_->aliases, alias, dataset.key, 0, kAliasesDb));
  }
  const UnixSeconds now = state_->Now();
  DatasetRecord record;
  record.dataset = dataset;
  std::string detail;
  if (*existing) {
    for (const std::string& old : (*existing)->dataset.aliases) {
      if (std::find(dataset.aliases.begin(), dataset.aliases.end(), old) ==
          dataset.aliases.end()) {
        DS_CHECK(Del(txn_, state_->aliases, old, kAliasesDb));
      }
    }
    record.sync = (*existing)->sync;
    detail = "changed: " + ChangedFields((*existing)->dataset, dataset);
  } else {
    record.sync.created_at = now;
    detail = std::string(CategoryName(dataset.category)) + " dataset \"" +
             dataset.name + "\"";
  }
  record.sync.updated_at = now;
  DS_CHECK(Put(txn_, state_->datasets, dataset.key, EncodeDataset(record), 0,
               kDatasetsDb));
  const bool created = !*existing;
  DS_CHECK(AppendAudit(created ? "dataset.created" : "dataset.updated",
                       dataset.key, detail));
  return created ? UpsertOutcome::kCreated : UpsertOutcome::kUpdated;
}

Result<std::size_t> WriteTxn::RemoveDataset(std::string_view key) {
  DS_TRY(existing, GetDataset(key));
  if (!*existing) return NoDataset(key);
  // Remember the highest version number given out, so that a dataset of
  // the same key never reuses one (published files are named by version).
  DS_TRY(newest, NewestStoredVersion(txn_, state_->versions, key));
  DS_TRY(floor, VersionFloor(txn_, state_->meta, key));
  const std::uint32_t highest =
      std::max({*newest, *floor, (*existing)->sync.version});
  if (highest > 0) {
    DS_CHECK(Put(txn_, state_->meta, VersionFloorKey(key),
                 std::to_string(highest), 0, kMetaDb));
  }
  DS_TRY(cursor, OpenCursor(txn_, state_->versions, kVersionsDb));
  const std::string prefix = VersionPrefix(key);
  std::size_t removed = 0;
  MDB_val k = ToVal(prefix), v;
  int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_SET_RANGE);
  while (rc == 0 && FromVal(k).starts_with(prefix)) {
    DS_CHECK(Del(txn_, state_->options_db, FromVal(k), kOptionsDb));
    if (int del = mdb_cursor_del(cursor->get(), 0); del != 0) {
      return std::unexpected(MdbError(del, "mdb_cursor_del", kVersionsDb));
    }
    ++removed;
    rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_GET_CURRENT);
    if (rc == MDB_NOTFOUND || rc == EINVAL) {
      // After deleting the last entry the cursor has no current item.
      rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT);
    }
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kVersionsDb));
  }
  for (const std::string& alias : (*existing)->dataset.aliases) {
    DS_TRY(target, ResolveAlias(alias));
    if (*target && **target == key) {
      DS_CHECK(Del(txn_, state_->aliases, alias, kAliasesDb));
    }
  }
  // Its page's validators would make the next fetch a 304 with nothing to
  // store.
  if (const std::string& url = (*existing)->dataset.reference_url; !url.empty()) {
    DS_CHECK(Del(txn_, state_->http, UrlKey(url), kHttpDb));
  }
  DS_CHECK(Del(txn_, state_->current, key, kCurrentDb));
  DS_CHECK(Del(txn_, state_->datasets, key, kDatasetsDb));
  DS_CHECK(AppendAudit("dataset.removed", key,
                       "removed with " + std::to_string(removed) +
                           " version(s)"));
  return removed;
}

Result<CommitResult> WriteTxn::CommitOptions(std::string_view key,
                                             const OptionList& options,
                                             const Provenance& provenance,
                                             const CommitAudit& audit) {
  DS_TRY(existing, GetDataset(key));
  if (!*existing) return NoDataset(key);
  if (options.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "refusing to store an empty option list for '" +
                    std::string(key) + "'");
  }
  DatasetRecord record = std::move(**existing);
  SyncState& sync = record.sync;
  const UnixSeconds now = state_->Now();
  // Canonical once: these bytes are stored, hashed and later served.
  const std::string canonical = CanonicalOptionsJson(options);
  const std::string sha = Sha256Hex(canonical);
  const bool changed = sync.version == 0 || sha != sync.options_sha256;
  sync.last_synced_at = now;
  sync.last_checked_at = now;
  if (record.dataset.source_type == SourceType::kScrape) {
    sync.last_scraped = now;
  }
  sync.last_error.clear();
  if (changed) {
    // Number after the newest stored version, even if the record lags.
    std::uint32_t next = sync.version + 1;
    DS_TRY(newest, NewestStoredVersion(txn_, state_->versions, key));
    DS_TRY(floor, VersionFloor(txn_, state_->meta, key));
    next = std::max({next, *newest + 1, *floor + 1});
    VersionRecord v;
    v.key = std::string(key);
    v.version = next;
    v.created_at = now;
    v.option_count = options.size();
    v.options_sha256 = sha;
    v.provenance = provenance;
    const std::string version_key = VersionKey(key, next);
    DS_CHECK(Put(txn_, state_->versions, version_key, EncodeVersion(v),
                 MDB_NOOVERWRITE, kVersionsDb));
    DS_CHECK(Put(txn_, state_->options_db, version_key, canonical,
                 MDB_NOOVERWRITE, kOptionsDb));
    DS_CHECK(Put(txn_, state_->current, key, CurrentValue(next, sha), 0,
                 kCurrentDb));
    const std::size_t previous_count = sync.option_count;
    const std::uint32_t previous = sync.version;
    sync.version = next;
    sync.option_count = options.size();
    sync.options_sha256 = sha;
    sync.updated_at = now;
    std::string detail = "version " + std::to_string(next) + ": " +
                         std::to_string(options.size()) + " options";
    if (previous > 0) {
      detail += " (version " + std::to_string(previous) + " had " +
                std::to_string(previous_count) + ")";
    }
    if (!provenance.source_url.empty()) {
      detail += " from " + provenance.source_url;
    }
    if (!audit.note.empty()) detail += "; " + audit.note;
    DS_CHECK(AppendAudit(previous == 0 ? audit.first : audit.changed, key,
                         detail));
  } else {
    std::string detail =
        "content matches version " + std::to_string(sync.version);
    if (!audit.note.empty()) detail += "; " + audit.note;
    DS_CHECK(AppendAudit(audit.unchanged, key, detail));
  }
  DS_CHECK(Put(txn_, state_->datasets, key, EncodeDataset(record), 0,
               kDatasetsDb));
  return CommitResult{sync.version, changed, sha};
}

Status WriteTxn::RecordFailure(std::string_view key, std::string_view error,
                               std::string_view action) {
  DS_TRY(existing, GetDataset(key));
  if (!*existing) return NoDataset(key);
  DatasetRecord record = std::move(**existing);
  record.sync.last_checked_at = state_->Now();
  record.sync.last_error = error.empty() ? "unknown error" : std::string(error);
  DS_CHECK(Put(txn_, state_->datasets, key, EncodeDataset(record), 0,
               kDatasetsDb));
  std::string detail = record.sync.last_error;
  if (record.sync.version > 0) {
    detail += " (version " + std::to_string(record.sync.version) + " kept)";
  }
  return AppendAudit(action, key, detail);
}

Result<std::string> WriteTxn::PutRaw(std::string_view body) {
  std::string sha = Sha256Hex(body);
  DS_TRY(existing, Get(txn_, state_->raw, sha, kRawDb));
  if (*existing) return sha;
  DS_TRY(frame, ZstdCompress(body, kRawCompressionLevel));
  DS_CHECK(Put(txn_, state_->raw, sha, *frame, 0, kRawDb));
  return sha;
}

Status WriteTxn::PutValidators(std::string_view url,
                               const HttpValidators& validators) {
  return Put(txn_, state_->http, UrlKey(url), EncodeValidators(validators), 0,
             kHttpDb);
}

Status WriteTxn::AppendAudit(std::string_view action, std::string_view dataset,
                             std::string_view detail) {
  DS_TRY(cursor, OpenCursor(txn_, state_->audit, kAuditDb));
  MDB_val k, v;
  std::uint64_t seq = 1;
  const int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_LAST);
  if (rc == 0) {
    auto last = SeqOfAuditKey(FromVal(k));
    if (!last) return Fail(ErrorCode::kCorrupt, "audit table has a bad key");
    seq = *last + 1;
  } else if (rc != MDB_NOTFOUND) {
    return std::unexpected(MdbError(rc, "mdb_cursor_get", kAuditDb));
  }
  AuditEvent event{seq,
                   state_->Now(),
                   state_->options.actor,
                   std::string(action),
                   std::string(dataset),
                   std::string(detail)};
  return Put(txn_, state_->audit, AuditKey(seq), EncodeAudit(event),
             MDB_APPEND, kAuditDb);
}

// ------------------------------------------------------------------ Store

Store::Store(std::unique_ptr<StoreState> state) : state_(std::move(state)) {}
Store::~Store() = default;

const std::string& Store::path() const { return state_->path; }
bool Store::read_only() const { return state_->options.read_only; }
std::int64_t Store::schema_version() const { return state_->schema; }

std::size_t Store::map_size() const {
  MDB_envinfo info;
  mdb_env_info(state_->env.get(), &info);
  return info.me_mapsize;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                           const StoreOptions& options) {
  auto state = std::make_unique<StoreState>();
  state->path = path;
  state->options = options;
  const bool ro = options.read_only;
  const std::string quoted = "'" + path + "'";

  struct stat st;
  const bool exists = stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument,
                quoted + " is a directory; a store is a single file");
  }
  if (exists && ro && st.st_size == 0) {
    // LMDB would take it for a new environment and fail with EBADF.
    return Fail(ErrorCode::kCorrupt,
                quoted + " is empty, not a datasnap store (is --store "
                         "pointing at something else?)");
  }
  if (!exists) {
    if (ro) return Fail(ErrorCode::kNotFound, "no store at " + quoted);
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." :
                            slash == 0 ? "/" : path.substr(0, slash);
    struct stat dst;
    if (stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
      return Fail(ErrorCode::kNotFound, "cannot create store " + quoted +
                                            ": directory '" + dir +
                                            "' does not exist");
    }
  }
  auto claim_open_file = [&](const struct stat& file) -> Status {
    const OpenFiles::Id id{getpid(), file.st_dev, file.st_ino};
    if (!OpenFiles::Add(id)) {
      return Fail(ErrorCode::kInvalidArgument,
                  "store " + quoted + " is already open in this process");
    }
    state->claim.id = id;
    return {};
  };
  if (!ro) {
    // The writer lock comes first, so that a second writer in this process
    // hears who holds the store, as one in another process would.
    auto lock = WriterLock::Acquire(path + "-writer",
                                    options.actor + ": " + options.purpose,
                                    options.writer_wait);
    if (!lock) return Wrap(lock.error(), "store " + quoted);
    state->writer_lock = std::move(*lock);
  }
  if (exists) DS_CHECK(claim_open_file(st));

  MDB_env* raw_env = nullptr;
  if (int rc = mdb_env_create(&raw_env); rc != 0) {
    return std::unexpected(MdbError(rc, "mdb_env_create", path));
  }
  state->env.reset(raw_env);  // closed on every path below, even if open fails
  MDB_env* env = raw_env;
  if (int rc = mdb_env_set_maxdbs(env, 16); rc != 0) {
    return std::unexpected(MdbError(rc, "mdb_env_set_maxdbs", path));
  }
  if (!exists) {
    if (int rc = mdb_env_set_mapsize(env, options.initial_map_size); rc != 0) {
      return std::unexpected(MdbError(rc, "mdb_env_set_mapsize", path));
    }
  }
  const unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | (ro ? MDB_RDONLY : 0);
  if (int rc = mdb_env_open(env, path.c_str(), flags, 0644); rc != 0) {
    if (rc == EACCES || rc == EROFS || rc == EPERM) {
      std::string message = "permission denied opening store " + quoted;
      if (ro) {
        message += " (readers need write access to '" + path +
                   "-lock' too, unless the file system is read-only)";
      }
      return Fail(ErrorCode::kIo, message);
    }
    if (rc == MDB_INVALID) {
      return Fail(ErrorCode::kCorrupt,
                  quoted + " is not an LMDB file (is --store pointing at "
                           "something else?)");
    }
    return std::unexpected(MdbError(rc, "mdb_env_open", path));
  }
  if (!exists) {
    if (stat(path.c_str(), &st) != 0) {
      return Fail(ErrorCode::kIo, "store " + quoted + " vanished after creation");
    }
    DS_CHECK(claim_open_file(st));
  }
  if (!ro) {
    int dead = 0;
    mdb_reader_check(env, &dead);  // frees slots of readers that died
  }

  // Open (read-write: create) the tables and check the schema version.
  MDB_txn* raw_txn = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, ro ? MDB_RDONLY : 0, &raw_txn);
      rc != 0) {
    return std::unexpected(MdbError(rc, "mdb_txn_begin", path));
  }
  Txn txn(raw_txn);
  if (!ro) {
    // Only a new (empty) environment may be made into a store: never write
    // datasnap's tables into some other program's LMDB file.
    MDB_dbi meta = 0;
    const int rc = mdb_dbi_open(txn.get(), kMetaDb, 0, &meta);
    if (rc == MDB_NOTFOUND) {
      MDB_dbi main_db = 0;
      MDB_stat main_stat{};
      if (int m = mdb_dbi_open(txn.get(), nullptr, 0, &main_db); m != 0) {
        return std::unexpected(MdbError(m, "mdb_dbi_open", "main"));
      }
      if (int m = mdb_stat(txn.get(), main_db, &main_stat); m != 0) {
        return std::unexpected(MdbError(m, "mdb_stat", "main"));
      }
      if (main_stat.ms_entries > 0) {
        return Fail(ErrorCode::kCorrupt,
                    quoted + " is an LMDB file but not a datasnap store; "
                             "nothing was written to it");
      }
    } else if (rc != 0) {
      return std::unexpected(MdbError(rc, "mdb_dbi_open", kMetaDb));
    }
  }
  const std::pair<const char*, MDB_dbi*> tables[] = {
      {kMetaDb, &state->meta},       {kDatasetsDb, &state->datasets},
      {kVersionsDb, &state->versions}, {kAliasesDb, &state->aliases},
      {kRawDb, &state->raw},         {kHttpDb, &state->http},
      {kAuditDb, &state->audit}};
  for (auto [name, dbi] : tables) {
    const int rc = mdb_dbi_open(txn.get(), name, ro ? 0 : MDB_CREATE, dbi);
    if (rc == MDB_NOTFOUND) {
      return Fail(ErrorCode::kCorrupt, quoted + " is not a datasnap store (it "
                                                "has no '" + name + "' table)");
    }
    if (rc != 0) return std::unexpected(MdbError(rc, "mdb_dbi_open", name));
  }
  DS_TRY(schema, Get(txn.get(), state->meta, "schema_version", kMetaDb));
  if (!*schema) {
    if (ro) {
      return Fail(ErrorCode::kCorrupt, quoted + " is not a datasnap store "
                                                "(no schema_version)");
    }
    MDB_stat tables_stat{};
    mdb_stat(txn.get(), state->datasets, &tables_stat);
    if (tables_stat.ms_entries > 0) {
      return Fail(ErrorCode::kCorrupt, quoted + " has datasnap's tables but "
                                                "no schema_version; it is damaged");
    }
    const std::string now = FormatIso8601(state->Now());
    DS_CHECK(Put(txn.get(), state->meta, "schema_version",
                 std::to_string(kStoreSchemaVersion), 0, kMetaDb));
    DS_CHECK(Put(txn.get(), state->meta, "created_at", "\"" + now + "\"", 0,
                 kMetaDb));
    state->schema = kStoreSchemaVersion;
  } else {
    std::int64_t version = 0;
    try {
      version = std::stoll(**schema);
    } catch (...) {
      version = 0;
    }
    if (version < 1) {
      return Fail(ErrorCode::kCorrupt, quoted + " has an unreadable "
                                                "schema_version '" +
                                                **schema + "'");
    }
    if (version > kStoreSchemaVersion) {
      return Fail(ErrorCode::kUnsupported,
                  "store " + quoted + " has schema version " +
                      std::to_string(version) + ", newer than this datasnap "
                      "reads (" + std::to_string(kStoreSchemaVersion) +
                      "); upgrade datasnap to use it");
    }
    state->schema = version;
  }
  // The tables of schema 2. An older store gets them in its migration (so a
  // failed one leaves it as it was); a reader of one goes without.
  if (state->schema >= 2) {
    for (auto [name, dbi] : {std::pair{kOptionsDb, &state->options_db},
                             std::pair{kCurrentDb, &state->current}}) {
      const int rc = mdb_dbi_open(txn.get(), name, ro ? 0 : MDB_CREATE, dbi);
      if (rc == MDB_NOTFOUND) {
        return Fail(ErrorCode::kCorrupt,
                    quoted + " has schema version " +
                        std::to_string(state->schema) + " but no '" + name +
                        "' table; it is damaged");
      }
      if (rc != 0) return std::unexpected(MdbError(rc, "mdb_dbi_open", name));
    }
  }
  // Committing (even a read-only transaction) keeps the table handles open
  // for the life of the environment.
  if (int rc = txn.Commit(); rc != 0) {
    return std::unexpected(MdbError(rc, "mdb_txn_commit", path));
  }
  std::unique_ptr<Store> store(new Store(std::move(state)));
  if (store->state_->schema < kStoreSchemaVersion && !ro) {
    if (Status migrated = store->MigrateToCurrentSchema(); !migrated) {
      return Wrap(migrated.error(),
                  "store " + quoted + ": migrating schema version " +
                      std::to_string(store->state_->schema) + " to " +
                      std::to_string(kStoreSchemaVersion) +
                      " failed; the store was left as it was");
    }
  }
  return store;
}

// Schema 1 -> 2: each version record's "options" move to the options table
// (the canonical bytes its options_sha256 hashes) and each dataset with a
// version gets its current entry. One write transaction: a crash or an
// error leaves schema 1 whole, and the next writer tries again.
Status Store::MigrateToCurrentSchema() {
  std::size_t migrated = 0;
  DS_CHECK(RunWrite([&](WriteTxn& txn) -> Status {
    StoreState& s = *state_;
    MDB_txn* t = txn.txn_;
    migrated = 0;
    for (auto [name, dbi] : {std::pair{kOptionsDb, &s.options_db},
                             std::pair{kCurrentDb, &s.current}}) {
      if (int rc = mdb_dbi_open(t, name, MDB_CREATE, dbi); rc != 0) {
        return std::unexpected(MdbError(rc, "mdb_dbi_open", name));
      }
    }
    std::vector<std::string> keys;
    {
      DS_TRY(cursor, OpenCursor(t, s.versions, kVersionsDb));
      MDB_val k, v;
      int rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_FIRST);
      for (; rc == 0; rc = mdb_cursor_get(cursor->get(), &k, &v, MDB_NEXT)) {
        keys.emplace_back(FromVal(k));
      }
      if (rc != MDB_NOTFOUND) {
        return std::unexpected(MdbError(rc, "mdb_cursor_get", kVersionsDb));
      }
    }
    for (const std::string& key : keys) {
      DS_TRY(text, Get(t, s.versions, key, kVersionsDb));
      // Checks the options against their SHA-256 on the way.
      DS_TRY(record, DecodeVersion(**text, /*with_options=*/true));
      DS_CHECK(Put(t, s.options_db, key, CanonicalOptionsJson(record->options),
                   0, kOptionsDb));
      DS_CHECK(Put(t, s.versions, key, EncodeVersion(*record), 0, kVersionsDb));
      ++migrated;
    }
    DS_TRY(datasets, txn.ListDatasets());
    for (const DatasetRecord& d : *datasets) {
      if (d.sync.version == 0) continue;
      const std::string key = VersionKey(d.dataset.key, d.sync.version);
      DS_TRY(text, Get(t, s.versions, key, kVersionsDb));
      // A record pointing at a missing version read as "no options" before;
      // without a current entry it still does.
      if (!*text) continue;
      DS_TRY(record, DecodeVersion(**text, /*with_options=*/false));
      DS_CHECK(Put(t, s.current, d.dataset.key,
                   CurrentValue(d.sync.version, record->options_sha256), 0,
                   kCurrentDb));
    }
    DS_CHECK(Put(t, s.meta, "schema_version",
                 std::to_string(kStoreSchemaVersion), 0, kMetaDb));
    return txn.AppendAudit(
        "store.migrated", "",
        "schema version " + std::to_string(s.schema) + " to " +
            std::to_string(kStoreSchemaVersion) + ": options of " +
            std::to_string(migrated) + " version(s) moved to the options table");
  }));
  state_->schema = kStoreSchemaVersion;
  return {};
}

Status Store::RunRead(const std::function<Status(const ReadTxn&)>& fn) {
  MDB_env* env = state_->env.get();
  std::shared_lock lock = state_->ShareMap();
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &raw);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map: adopt its size and try again.
    lock.unlock();
    {
      std::lock_guard gate(state_->map_gate);
      std::unique_lock exclusive(state_->map_mutex);
      if (int resized = mdb_env_set_mapsize(env, 0); resized != 0) {
        return std::unexpected(MdbError(resized, "mdb_env_set_mapsize", path()));
      }
    }
    lock = state_->ShareMap();
    rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &raw);
  }
  if (rc != 0) return std::unexpected(MdbError(rc, "mdb_txn_begin", path()));
  Txn txn(raw);
  return fn(ReadTxn(state_.get(), txn.get()));
}

Status Store::RunWrite(const std::function<Status(WriteTxn&)>& fn) {
  if (read_only()) {
    return Fail(ErrorCode::kInvalidArgument,
                "store '" + path() + "' is open read-only");
  }
  MDB_env* env = state_->env.get();
  std::lock_guard one_writer(state_->write_mutex);
  for (;;) {
    Status status;
    {
      std::shared_lock lock = state_->ShareMap();
      MDB_txn* raw = nullptr;
      if (int rc = mdb_txn_begin(env, nullptr, 0, &raw); rc != 0) {
        return std::unexpected(MdbError(rc, "mdb_txn_begin", path()));
      }
      Txn txn(raw);
      WriteTxn write(state_.get(), txn.get());
      status = fn(write);
      if (status) {
        if (int rc = txn.Commit(); rc != 0) {
          status = std::unexpected(MdbError(rc, "mdb_txn_commit", path()));
        }
      }
    }
    if (status || status.error().code != ErrorCode::kMapFull) return status;

    // The map is full: the transaction is gone; grow the map and run again.
    std::lock_guard gate(state_->map_gate);
    std::unique_lock exclusive(state_->map_mutex);
    const std::size_t current = map_size();
    const std::size_t limit = state_->options.max_map_size;
    if (current >= limit) {
      return Fail(ErrorCode::kMapFull,
                  "store '" + path() + "' is full: its map reached the limit "
                  "of " + std::to_string(limit >> 20) + " MiB; nothing from "
                  "this write was stored");
    }
    const std::size_t grown = std::min(limit, std::max(current * 2, current + (std::size_t{1} << 20)));
    if (int rc = mdb_env_set_mapsize(env, grown); rc != 0) {
      return std::unexpected(MdbError(rc, "mdb_env_set_mapsize", path()));
    }
  }
}

}  // namespace datasnap
