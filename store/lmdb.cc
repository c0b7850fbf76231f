#include "store/lmdb.h"

namespace datasnap::store_internal {

Error MdbError(int rc, std::string_view call, std::string_view subject) {
  ErrorCode code = ErrorCode::kIo;
  switch (rc) {
    case MDB_MAP_FULL: code = ErrorCode::kMapFull; break;
    case MDB_NOTFOUND: code = ErrorCode::kNotFound; break;
    case MDB_KEYEXIST: code = ErrorCode::kAlreadyExists; break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: code = ErrorCode::kCorrupt; break;
    default: break;
  }
  std::string message = std::string(call) + " failed";
  if (!subject.empty()) message += " [" + std::string(subject) + "]";
  message += ": ";
  message += mdb_strerror(rc);
  return Error{code, std::move(message)};
}

}  // namespace datasnap::store_internal
