#include "store/writer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/time.h"

namespace datasnap::store_internal {
namespace {

std::string ReadHolder(int fd) {
  char buf[512];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "unknown process";
  std::string text(buf, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) {
    text.pop_back();
  }
  return text.empty() ? "unknown process" : text;
}

}  // namespace

Result<std::unique_ptr<WriterLock>> WriterLock::Acquire(
    const std::string& lock_path, const std::string& description,
    std::chrono::milliseconds wait) {
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Fail(ErrorCode::kIo, "cannot open writer lock '" + lock_path +
                                    "': " + std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      const int err = errno;
      close(fd);
      return Fail(ErrorCode::kIo, "cannot lock '" + lock_path +
                                      "': " + std::strerror(err));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string holder = ReadHolder(fd);
      close(fd);
      std::string message = "the store is being written by another process (" +
                            holder + ")";
      if (wait.count() > 0) {
        char waited[32];
        std::snprintf(waited, sizeof waited, "%.1f", wait.count() / 1000.0);
        message += " and stayed busy for " + std::string(waited) + " s";
      }
      message += "; wait for it to finish";
      return Fail(ErrorCode::kBusy, std::move(message));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Say who we are, for the next process that finds the store busy.
  const std::string holder = "pid " + std::to_string(getpid()) + ", " +
                             description + ", since " +
                             FormatIso8601(NowUnixSeconds()) + "\n";
  // Written before truncating, so a waiter never reads an empty file.
  // The description is a courtesy: the lock is held whether or not it lands.
  if (pwrite(fd, holder.data(), holder.size(), 0) ==
      static_cast<ssize_t>(holder.size())) {
    (void)!ftruncate(fd, static_cast<off_t>(holder.size()));
  }
  return std::unique_ptr<WriterLock>(new WriterLock(fd));
}

WriterLock::~WriterLock() {
  // No holder any more; closing the descriptor releases the flock.
  (void)!ftruncate(fd_, 0);
  close(fd_);
}

}  // namespace datasnap::store_internal
