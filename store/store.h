// The versioned store: every dataset, every version of its options with
// provenance, raw upstream bodies, HTTP validators and an audit log, in one
// LMDB file. docs/STORE.md documents the on-disk layout (a contract: web
// servers read it).
//
//   StoreOptions options;
//   auto store = Store::Open("datasnap.lmdb", options);
//   if (!store) ... the message names the file and what to do
//   auto commit = (*store)->Write([&](WriteTxn& txn) {
//     return txn.CommitOptions("smoking_status_code", options, provenance);
//   });
//   auto record = (*store)->Read([&](const ReadTxn& txn) {
//     return txn.GetVersion("smoking_status_code", 0);
//   });
//
// One writer, many readers. A read-write Store holds the writer lock for its
// whole life; a second one waits up to StoreOptions::writer_wait and then
// fails with kBusy, naming the process that holds the store. Readers (in
// this process or others) see either all of a write transaction or none of
// it. A Store is safe to use from several threads.
#ifndef DATASNAP_STORE_STORE_H_
#define DATASNAP_STORE_STORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "core/time.h"

struct MDB_txn;  // lmdb.h; kept out of this header

namespace datasnap {
namespace store_internal {
struct StoreState;
}  // namespace store_internal

// The layout version this code writes; see docs/STORE.md. A read-write open
// migrates a store of an older version in place (1 -> 2: options move out of
// the version records into their own table, and a current table points at
// each dataset's current version).
inline constexpr std::int64_t kStoreSchemaVersion = 2;

struct StoreOptions {
  // Open without the writer lock and without write access to the data file.
  // Default: false.
  bool read_only = false;
  // LMDB map size given to a store created by this open. Default: 64 MiB.
  // The map doubles, up to max_map_size, whenever a write finds it full.
  std::size_t initial_map_size = std::size_t{64} << 20;
  // The map never grows past this; a write that needs more fails with
  // kMapFull. Default: 64 GiB (the map is sparse; only used pages take disk).
  std::size_t max_map_size = std::size_t{64} << 30;
  // How long a read-write open waits for another writer to finish.
  // Default: 0, fail at once.
  std::chrono::milliseconds writer_wait{0};
  // Who acts: the actor of audit events, and named in the writer lock.
  // Default: "datasnap".
  std::string actor = "datasnap";
  // What the writer is doing, shown to a second writer that finds the store
  // busy ("datasnap seed-nhs-dd"). Default: "datasnap".
  std::string purpose = "datasnap";
  // Source of timestamps. Default (empty): the system clock.
  std::function<UnixSeconds()> clock;
};

enum class UpsertOutcome { kCreated, kUpdated, kUnchanged };

struct CommitResult {
  std::uint32_t version = 0;  // the current version after the commit
  bool changed = false;       // true when this commit created it
  std::string options_sha256;
};

// The audit events a commit records. Callers that know why they commit (a
// scrape, a sync, an import) name their own actions.
struct CommitAudit {
  std::string first = "version.created";    // the dataset's first version
  std::string changed = "version.created";  // a later, different version
  std::string unchanged = "version.unchanged";
  std::string note;  // appended to the event's detail when not empty
};

struct HttpValidators {
  std::string etag;
  std::string last_modified;
  UnixSeconds stored_at = 0;
};


// A consistent snapshot of the store. Valid only inside Store::Read or
// Store::Write; everything returned is owned by the caller.
class ReadTxn {
 public:
  // The dataset stored under `key` (aliases are not followed), or nullopt.
  Result<std::optional<DatasetRecord>> GetDataset(std::string_view key) const;
  // All datasets, sorted by key.
  Result<std::vector<DatasetRecord>> ListDatasets() const;
  // The key an alias points at, or nullopt.
  Result<std::optional<std::string>> ResolveAlias(std::string_view alias) const;
  // Version `version` of `key`, or the current one when `version` is 0;
  // nullopt when there is no such version.
  Result<std::optional<VersionRecord>> GetVersion(std::string_view key,
                                                  std::uint32_t version) const;
  // The canonical options JSON (docs/STORE.md) of version `version` of
  // `key`, or of its current version when `version` is 0: the bytes that
  // options_sha256 hashes and that a server can send as they are, stored
  // once when the version was written. Nothing is decoded or copied: the
  // view points into LMDB's map and is valid only until this transaction
  // ends. nullopt when there is no such version. Aliases are not followed.
  // kUnsupported on a schema-1 store opened read-only (a writer migrates it).
  Result<std::optional<std::string_view>> GetOptionsJson(
      std::string_view key, std::uint32_t version) const;
  // Every version of `key`, oldest first; options are left empty unless
  // `with_options`.
  Result<std::vector<VersionRecord>> ListVersions(std::string_view key,
                                                  bool with_options) const;
  // A raw upstream body by its SHA-256 (hex), decompressed; nullopt if absent.
  Result<std::optional<std::string>> GetRaw(std::string_view sha256) const;
  Result<std::optional<HttpValidators>> GetValidators(std::string_view url) const;
  // The newest `limit` audit events, newest first.
  Result<std::vector<AuditEvent>> ListAudit(std::size_t limit) const;
  // The audit events numbered `first` and later, oldest first. Every write
  // of a dataset's record, versions or aliases appends an event naming the
  // dataset in the same transaction (docs/STORE.md), so the events after
  // an earlier snapshot's newest name every dataset changed since: the
  // export reads only those.
  Result<std::vector<AuditEvent>> ListAuditFrom(std::uint64_t first) const;
  // When the store was created (meta `created_at`, ISO 8601): with the
  // audit log, what tells one store from another.
  Result<std::string> CreatedAt() const;
  // LMDB's id of this snapshot: it grows with every committed write, so two
  // snapshots with one id hold the same data (serve keys its cache on it).
  std::uint64_t TxnId() const;

 protected:
  friend class Store;
  ReadTxn(const store_internal::StoreState* state, MDB_txn* txn)
      : state_(state), txn_(txn) {}
  const store_internal::StoreState* state_;
  MDB_txn* txn_;
};

// A write transaction: all of it is committed, or none of it.
class WriteTxn : public ReadTxn {
 public:
  // Creates `dataset`, or replaces what is said about it, keeping its sync
  // state and versions. Aliases are (re)pointed at its key; an alias that
  // another dataset already owns is an error.
  Result<UpsertOutcome> UpsertDataset(const Dataset& dataset);
  // Deletes a dataset, its versions and its aliases (raw bodies stay).
  // Returns how many versions went; kNotFound when there is no such dataset.
  Result<std::size_t> RemoveDataset(std::string_view key);
  // Stores `options` as a new version when their canonical SHA-256 differs
  // from the current version's; otherwise only records the successful check.
  // Empty lists are refused (kInvalidArgument); an unknown key is kNotFound.
  // One audit event, named by `audit`, says what happened and the version.
  Result<CommitResult> CommitOptions(std::string_view key,
                                     const OptionList& options,
                                     const Provenance& provenance,
                                     const CommitAudit& audit = {});
  // Records a failed check: last_checked_at and last_error, and an audit
  // event `action`. Versions and options stay as they were.
  Status RecordFailure(std::string_view key, std::string_view error,
                       std::string_view action = "check.failed");
  // Keeps `body` (zstd-compressed) under its SHA-256, which it returns.
  Result<std::string> PutRaw(std::string_view body);
  Status PutValidators(std::string_view url, const HttpValidators& validators);
  Status AppendAudit(std::string_view action, std::string_view dataset,
                     std::string_view detail);

 private:
  friend class Store;
  using ReadTxn::ReadTxn;
};

class Store {
 public:
  // Opens (read-write: creating) the store at `path`, a single LMDB data
  // file; LMDB keeps its lock table in `path`-lock and datasnap its writer
  // lock in `path`-writer. LMDB forbids opening one file twice in a process,
  // so a second open of the same file while a Store has it is refused.
  // A child forked while a read-write Store is open keeps the writer lock
  // until it exits or execs. Errors:
  //   kNotFound     read-only open of a missing file, or a missing directory
  //   kBusy         another process holds the writer lock (after writer_wait)
  //   kUnsupported  the store was written by a newer datasnap
  // A read-write open migrates a store of an older schema in place, in one
  // write transaction (all or nothing). A read-only open of an older store
  // reads it as it is: everything works but GetOptionsJson.
  //   kInvalidArgument  this process already has the store open
  //   kIo/kCorrupt  permissions, or not an LMDB/datasnap file
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  bool read_only() const;
  // The store's layout version: kStoreSchemaVersion, or an older one on a
  // store opened read-only that no writer has migrated yet.
  std::int64_t schema_version() const;
  // Bytes of the current LMDB map.
  std::size_t map_size() const;

  // Runs `fn(const ReadTxn&)` on a snapshot and returns its result, which
  // must be a Result<T> or Status.
  template <typename F>
  auto Read(F&& fn) -> std::invoke_result_t<F, const ReadTxn&> {
    std::optional<std::invoke_result_t<F, const ReadTxn&>> out;
    DS_CHECK(RunRead([&](const ReadTxn& txn) -> Status {
      out.emplace(fn(txn));
      return {};
    }));
    return std::move(*out);
  }

  // Runs `fn(WriteTxn&)` in one write transaction, committed when `fn`
  // succeeds and aborted when it fails. `fn` may run more than once (the
  // store retries after growing a full map), so it must not have effects
  // outside the transaction that a retry would repeat.
  template <typename F>
  auto Write(F&& fn) -> std::invoke_result_t<F, WriteTxn&> {
    std::optional<std::invoke_result_t<F, WriteTxn&>> out;
    DS_CHECK(RunWrite([&](WriteTxn& txn) -> Status {
      out.emplace(fn(txn));
      if (!*out) return std::unexpected(out->error());
      return {};
    }));
    return std::move(*out);
  }

 private:
  explicit Store(std::unique_ptr<store_internal::StoreState> state);
  Status MigrateToCurrentSchema();
  Status RunRead(const std::function<Status(const ReadTxn&)>& fn);
  Status RunWrite(const std::function<Status(WriteTxn&)>& fn);

  std::unique_ptr<store_internal::StoreState> state_;
};

}  // namespace datasnap

#endif  // DATASNAP_STORE_STORE_H_
