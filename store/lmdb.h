// Private to store/: RAII over LMDB handles, and the one place LMDB's
// return codes become Errors.
//
// LMDB's lifecycle rules live here: an environment is closed even after a
// failed mdb_env_open; mdb_txn_commit frees the transaction whether or not
// it succeeds, so a committed Txn never aborts it again.
#ifndef DATASNAP_STORE_LMDB_H_
#define DATASNAP_STORE_LMDB_H_

#include <lmdb.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace datasnap::store_internal {

// Translates `rc` from `call` (e.g. "mdb_put(versions)") into an Error whose
// message names the call, the subject and LMDB's own text. MDB_MAP_FULL
// becomes kMapFull so that the store can grow the map and retry.
Error MdbError(int rc, std::string_view call, std::string_view subject = {});

struct EnvClose {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using Env = std::unique_ptr<MDB_env, EnvClose>;

inline MDB_val ToVal(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view FromVal(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A transaction that aborts itself unless committed.
class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  Txn(Txn&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }
  Txn& operator=(Txn&& other) noexcept {
    Abort();
    txn_ = other.txn_;
    other.txn_ = nullptr;
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { Abort(); }

  MDB_txn* get() const { return txn_; }

  // Commits; the handle is gone afterwards whatever the outcome.
  int Commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    return mdb_txn_commit(t);
  }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }

 private:
  MDB_txn* txn_ = nullptr;
};

struct CursorClose {
  void operator()(MDB_cursor* c) const { mdb_cursor_close(c); }
};
using Cursor = std::unique_ptr<MDB_cursor, CursorClose>;

}  // namespace datasnap::store_internal

#endif  // DATASNAP_STORE_LMDB_H_
