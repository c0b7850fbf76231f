// Private to store/: the lock that admits one writing process at a time.
//
// LMDB serialises write transactions itself, but a waiting writer would
// block forever without saying why. This lock is an flock(2) on
// `<store>-writer`, which also records who holds it, so a second writer can
// wait a bounded time and then name the holder. The kernel drops the lock
// when its holder exits, however it exits.
#ifndef DATASNAP_STORE_WRITER_LOCK_H_
#define DATASNAP_STORE_WRITER_LOCK_H_

#include <chrono>
#include <memory>
#include <string>

#include "core/error.h"

namespace datasnap::store_internal {

class WriterLock {
 public:
  // Takes the lock at `lock_path`, waiting up to `wait`. `description` says
  // who takes it ("datasnap seed-nhs-dd"). kBusy names the holder: pid,
  // description and since when.
  static Result<std::unique_ptr<WriterLock>> Acquire(
      const std::string& lock_path, const std::string& description,
      std::chrono::milliseconds wait);
  ~WriterLock();
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace datasnap::store_internal

#endif  // DATASNAP_STORE_WRITER_LOCK_H_
