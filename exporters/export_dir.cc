#include "exporters/export_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/model.h"

namespace datasnap {

namespace fs = std::filesystem;

namespace {

// Makes the entries of `dir` (a rename into it) durable.
Status SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory", dir, err);
  return {};
}

fs::path TempPath(const fs::path& path) {
  return path.parent_path() / ("." + path.filename().string() + ".tmp" +
                               std::to_string(getpid()));
}

// Writes `bytes` to a new temporary file beside `path` and returns its
// descriptor, open and not yet synced.
Result<int> WriteTemp(const fs::path& tmp, std::string_view bytes) {
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  return fd;
}

}  // namespace

std::unexpected<Error> IoError(const std::string& what, const fs::path& path,
                               int err) {
  return Fail(ErrorCode::kIo, what + " '" + path.string() +
                                  "': " + std::strerror(err));
}

// One read into a buffer of the file's size: a stream copied a 9 MB
// manifest several times over as it grew.
std::optional<std::string> ReadIfExists(const fs::path& path,
                                        std::size_t padding) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::string out;
  out.reserve(size + padding);
  bool ok = true;
  out.resize_and_overwrite(size, [&](char* data, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::read(fd, data + done, n - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ok = got == 0;  // 0: the file shrank meanwhile; keep what was read
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    return done;
  });
  ::close(fd);
  if (!ok) return std::nullopt;
  return out;
}

Status CreateDirectories(const fs::path& dir) {
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create directory", dir, ec.value());
  return {};
}

Status WriteAtomically(const fs::path& path, std::string_view bytes) {
  DS_CHECK(CreateDirectories(path.parent_path()));
  const fs::path tmp = TempPath(path);
  DS_TRY(fd, WriteTemp(tmp, bytes));
  if (::fsync(*fd) != 0 || ::close(*fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot sync", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename into place", path, err);
  }
  return SyncDirectory(path.parent_path());
}

std::set<std::string> OrganizationsWithManifest(const fs::path& out_dir) {
  std::set<std::string> orgs;
  std::error_code ec;
  for (auto it = fs::directory_iterator(out_dir / "orgs", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string org = it->path().filename().string();
    if (it->is_directory() && ValidateKey(org) &&
        fs::exists(it->path() / "manifest.json")) {
      orgs.insert(org);
    }
  }
  return orgs;
}

// --- ExportDir ---------------------------------------------------------

const std::string* ExportDir::KnownContent(const std::string& path) const {
  auto it = known_.find(path);
  return it == known_.end() ? nullptr : &it->second;
}

ExportDir::Batch::~Batch() {
  for (const Staged& s : files) {
    ::close(s.fd);
    ::unlink(s.tmp.c_str());
  }
}

Status ExportDir::Stage(Batch& batch, const std::string& path,
                        std::string_view bytes) {
  const fs::path full = root_ / path;
  DS_CHECK(CreateDirectories(full.parent_path()));
  const fs::path tmp = TempPath(full);
  DS_TRY(fd, WriteTemp(tmp, bytes));
  batch.files.push_back({*fd, tmp, path, bytes.size()});
  return {};
}

Status ExportDir::Commit(Batch& batch) {
  for (const Batch::Staged& s : batch.files) {
    if (::fsync(s.fd) != 0) return IoError("cannot sync", s.tmp, errno);
  }
  std::set<fs::path> dirs;
  for (Batch::Staged& s : batch.files) {
    ::close(s.fd);
    s.fd = -1;
    const fs::path full = root_ / s.path;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (::rename(s.tmp.c_str(), full.c_str()) != 0) {
        return IoError("cannot rename into place", full, errno);
      }
      s.tmp.clear();
      RecordWritten(s.path, s.bytes);
    }
    dirs.insert(full.parent_path());
    dirs.insert(full.parent_path().parent_path());
  }
  batch.files.clear();
  for (const fs::path& dir : dirs) DS_CHECK(SyncDirectory(dir));
  return {};
}

Result<bool> ExportDir::PutIfDifferent(const std::string& path,
                                       std::string_view bytes) {
  auto known = known_.find(path);
  std::optional<std::string> existing =
      known != known_.end() ? std::move(known->second)
                            : ReadIfExists(root_ / path);
  if (known != known_.end()) known_.erase(known);
  if (existing && *existing == bytes) {
    Keep(path);
    return false;
  }
  DS_CHECK(Put(path, bytes));
  return true;
}

Status ExportDir::Put(const std::string& path, std::string_view bytes) {
  DS_CHECK(WriteAtomically(root_ / path, bytes));
  std::lock_guard<std::mutex> lock(mu_);
  RecordWritten(path, bytes.size());
  return {};
}

void ExportDir::Keep(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (track_published_) published_.insert(path);
  ++report_.files_unchanged;
}

void ExportDir::CountBuilt(std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  report_.datasets_built += n;
}

void ExportDir::RecordWritten(const std::string& path, std::size_t bytes) {
  if (track_published_) published_.insert(path);
  ++report_.files_written;
  report_.bytes_written += bytes;
  report_.written.push_back(path);
}

}  // namespace datasnap
