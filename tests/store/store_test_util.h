// Helpers shared by the store tests: a controllable clock, option lists
// built to order, unwrapping results inside Catch2 tests, and direct access
// to the LMDB file through LMDB's C API (to tamper with a store, or to check
// the on-disk layout that docs/STORE.md promises to other readers).
//
// The raw LMDB helpers open their own environment: never call them while a
// Store on the same file is open in this process (LMDB forbids opening one
// environment twice in a process).
#ifndef DATASNAP_TESTS_STORE_STORE_TEST_UTIL_H_
#define DATASNAP_TESTS_STORE_STORE_TEST_UTIL_H_

#include <lmdb.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

namespace datasnap::testing {

// A clock the test moves by hand. Copies share the same time.
class FakeClock {
 public:
  explicit FakeClock(UnixSeconds start = 1'700'000'000)
      : now_(std::make_shared<std::atomic<UnixSeconds>>(start)) {}
  UnixSeconds now() const { return now_->load(); }
  void Set(UnixSeconds t) { now_->store(t); }
  UnixSeconds Advance(UnixSeconds seconds = 60) { return *now_ += seconds; }
  std::function<UnixSeconds()> fn() const {
    auto now = now_;
    return [now] { return now->load(); };
  }

 private:
  std::shared_ptr<std::atomic<UnixSeconds>> now_;
};

inline StoreOptions OptionsWith(const FakeClock& clock,
                                std::string actor = "store-test") {
  StoreOptions options;
  options.clock = clock.fn();
  options.actor = std::move(actor);
  return options;
}

// Catch2 cannot print these on its own.
inline std::string Describe(const Error& e) {
  return std::string(ErrorCodeName(e.code)) + ": " + e.message;
}

// REQUIREs that `r` holds a value and returns it.
template <typename T>
T Must(Result<T> r) {
  INFO("unexpected error: " << (r ? std::string() : Describe(r.error())));
  REQUIRE(r.has_value());
  return std::move(*r);
}
inline void Must(Status s) {
  INFO("unexpected error: " << (s ? std::string() : Describe(s.error())));
  REQUIRE(s.has_value());
}

// REQUIREs that `r` failed and returns its error.
template <typename T>
Error MustFail(const Result<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}
inline Error MustFail(const Status& s) {
  REQUIRE_FALSE(s.has_value());
  return s.error();
}

inline std::unique_ptr<Store> MustOpen(const std::string& path,
                                       const StoreOptions& options) {
  return Must(Store::Open(path, options));
}

inline Dataset MakeDataset(std::string key, std::string name = "",
                           SourceType source = SourceType::kApi) {
  Dataset d;
  d.name = name.empty() ? "Dataset " + key : std::move(name);
  d.key = std::move(key);
  d.description = "Codes for " + d.key;
  d.category = Category::kExternalApi;
  d.source_type = source;
  d.reference_url = "https://example.org/" + d.key;
  d.tags = {"test", "store"};
  return d;
}

// `count` options "0001".."count" whose labels all carry `marker`
// (e.g. "[v7]"), padded with `padding` extra bytes.
inline OptionList MakeOptions(std::size_t count, const std::string& marker,
                              std::size_t padding = 0) {
  std::vector<Option> options;
  options.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    std::string value = std::to_string(i);
    if (value.size() < 4) value.insert(0, 4 - value.size(), '0');
    std::string label = "Option " + value + " " + marker;
    label.append(padding, 'x');
    options.push_back({std::move(value), std::move(label), std::nullopt});
  }
  return Must(OptionList::Make(std::move(options)));
}

inline OptionList MakeOptions(std::vector<Option> options) {
  return Must(OptionList::Make(std::move(options)));
}

// Upserts `dataset` in its own write transaction.
inline UpsertOutcome Upsert(Store& store, const Dataset& dataset) {
  return Must(store.Write(
      [&](WriteTxn& txn) { return txn.UpsertDataset(dataset); }));
}

inline CommitResult Commit(Store& store, const std::string& key,
                           const OptionList& options,
                           const Provenance& provenance = {}) {
  return Must(store.Write([&](WriteTxn& txn) {
    return txn.CommitOptions(key, options, provenance);
  }));
}

inline std::optional<DatasetRecord> GetDataset(Store& store,
                                               const std::string& key) {
  return Must(
      store.Read([&](const ReadTxn& txn) { return txn.GetDataset(key); }));
}

inline std::optional<VersionRecord> GetVersion(Store& store,
                                               const std::string& key,
                                               std::uint32_t version) {
  return Must(store.Read(
      [&](const ReadTxn& txn) { return txn.GetVersion(key, version); }));
}

inline std::vector<VersionRecord> ListVersions(Store& store,
                                               const std::string& key,
                                               bool with_options = false) {
  return Must(store.Read([&](const ReadTxn& txn) {
    return txn.ListVersions(key, with_options);
  }));
}

inline std::vector<AuditEvent> ListAudit(Store& store,
                                         std::size_t limit = 1000) {
  return Must(
      store.Read([&](const ReadTxn& txn) { return txn.ListAudit(limit); }));
}

// ------------------------------------------------------------ raw LMDB

// An LMDB environment opened directly on a store file (MDB_NOSUBDIR).
class RawLmdb {
 public:
  explicit RawLmdb(const std::string& path, bool read_only = false) {
    REQUIRE(mdb_env_create(&env_) == 0);
    REQUIRE(mdb_env_set_maxdbs(env_, 16) == 0);
    const int rc = mdb_env_open(
        env_, path.c_str(), MDB_NOSUBDIR | (read_only ? MDB_RDONLY : 0), 0644);
    INFO("mdb_env_open(" << path << "): " << mdb_strerror(rc));
    REQUIRE(rc == 0);
  }
  ~RawLmdb() { mdb_env_close(env_); }
  RawLmdb(const RawLmdb&) = delete;
  RawLmdb& operator=(const RawLmdb&) = delete;

  void Put(const std::string& table, const std::string& key,
           const std::string& value) {
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env_, nullptr, 0, &txn) == 0);
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, table.c_str(), 0, &dbi) == 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    const int rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc != 0) mdb_txn_abort(txn);
    REQUIRE(rc == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
  }

  // Every key and value of `table`, in LMDB's (byte) order.
  std::vector<std::pair<std::string, std::string>> Dump(
      const std::string& table) {
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) == 0);
    std::vector<std::pair<std::string, std::string>> out;
    MDB_dbi dbi;
    const int open_rc = mdb_dbi_open(txn, table.c_str(), 0, &dbi);
    if (open_rc == 0) {
      MDB_cursor* cursor = nullptr;
      REQUIRE(mdb_cursor_open(txn, dbi, &cursor) == 0);
      MDB_val k, v;
      int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
      for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        out.emplace_back(
            std::string(static_cast<const char*>(k.mv_data), k.mv_size),
            std::string(static_cast<const char*>(v.mv_data), v.mv_size));
      }
      mdb_cursor_close(cursor);
      CHECK(rc == MDB_NOTFOUND);
    }
    mdb_txn_abort(txn);
    INFO("mdb_dbi_open(" << table << "): " << mdb_strerror(open_rc));
    REQUIRE(open_rc == 0);
    return out;
  }

  std::optional<std::string> Get(const std::string& table,
                                 const std::string& key) {
    for (auto& [k, v] : Dump(table)) {
      if (k == key) return v;
    }
    return std::nullopt;
  }

 private:
  MDB_env* env_ = nullptr;
};

// The versions table key of docs/STORE.md, built by hand: key, 0x00,
// version as 4 big-endian bytes.
inline std::string RawVersionKey(const std::string& key, std::uint32_t v) {
  std::string out = key;
  out.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
  return out;
}

}  // namespace datasnap::testing

#endif  // DATASNAP_TESTS_STORE_STORE_TEST_UTIL_H_
