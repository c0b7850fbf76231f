// An LD_PRELOAD library for export_durability_test: logs every fsync (with
// the path of its descriptor) and every rename of the process to the file
// $SYNC_SPY_LOG, one line per call, in the order the calls completed, then
// does what was asked.
//   fsync <path>
//   rename <from> <to>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <string>

namespace {

std::mutex mu;  // one line at a time, in completion order
int log_fd = -2;

void Log(const std::string& line) {
  if (log_fd == -2) {
    const char* path = getenv("SYNC_SPY_LOG");
    log_fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                  : -1;
  }
  if (log_fd < 0) return;
  const std::string text = line + "\n";
  (void)!write(log_fd, text.data(), text.size());
}

std::string PathOf(int fd) {
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  return n < 0 ? "?" : std::string(target, static_cast<std::size_t>(n));
}

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" int fsync(int fd) {
  static auto real = Next<int (*)(int)>("fsync");
  const std::string path = PathOf(fd);
  std::lock_guard<std::mutex> lock(mu);
  const int rc = real(fd);
  if (rc == 0) Log("fsync " + path);
  return rc;
}

extern "C" int rename(const char* from, const char* to) {
  static auto real = Next<int (*)(const char*, const char*)>("rename");
  char dir[PATH_MAX];
  const std::string cwd = getcwd(dir, sizeof dir) ? dir : "?";
  auto absolute = [&](const char* p) {
    return p[0] == '/' ? std::string(p) : cwd + "/" + p;
  };
  std::lock_guard<std::mutex> lock(mu);
  const int rc = real(from, to);
  if (rc == 0) Log("rename " + absolute(from) + " " + absolute(to));
  return rc;
}
