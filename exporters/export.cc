#include "exporters/export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/compression.h"
#include "core/model_json.h"
#include "exporters/checktick_fixture.h"
#include "exporters/export_tree.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;

// Largest published document read back to check an existing file.
constexpr std::size_t kMaxDocumentBytes = std::size_t{1} << 31;

std::unexpected<Error> IoError(const std::string& what, const fs::path& path,
                               int err) {
  return Fail(ErrorCode::kIo, what + " '" + path.string() +
                                  "': " + std::strerror(err));
}

std::optional<std::string> ReadIfExists(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
// over `path`, so readers see the old file or the new one, never a part.
Status WriteAtomically(const fs::path& path, std::string_view bytes) {
  std::error_code ec;
  if (!path.parent_path().empty()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return IoError("cannot create directory", path.parent_path(), ec.value());
    }
  }
  const fs::path tmp = path.parent_path() /
                       ("." + path.filename().string() + ".tmp" +
                        std::to_string(getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0644);
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
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot sync", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename into place", path, err);
  }
  return {};
}

// The export directory as a TreeSink: writes what this run publishes, and
// leaves alone what is there already.
class DirectorySink : public TreeSink {
 public:
  DirectorySink(fs::path root, ExportReport& report)
      : root_(std::move(root)), report_(report) {}

  // An existing content-named file is kept when it decodes to `json`:
  // decoding is fast where compressing again at level 19 is slow, and a
  // content-named file must never change its bytes (a CDN may hold them
  // for a year), even if another library version would encode
  // differently. Manifests are compressed afresh.
  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (!file.manifest) {
      if (std::optional<std::string> bytes = ReadIfExists(root_ / file.path)) {
        auto decoded = file.encoding == "zstd"
                           ? ZstdDecompress(*bytes, kMaxDocumentBytes)
                           : GzipDecompress(*bytes, kMaxDocumentBytes);
        if (decoded && *decoded == json) {
          verified_.insert(file.path);
          return std::move(*bytes);
        }
      }
    }
    return EncodeDocument(file.encoding, json);
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& /*sha256*/,
                 const std::string& /*json*/) override {
    if (verified_.contains(file.path)) {
      Keep(file.path);
    } else if (file.manifest || file.encoding == "identity") {
      DS_TRY(written, PutIfDifferent(file.path, bytes));
      if (file.path == "manifest.json") manifest_changed_ = *written;
    } else {
      DS_CHECK(Put(file.path, bytes));
    }
    return {};
  }

  bool manifest_changed() const { return manifest_changed_; }

  // Deletes the files under `dirs` that this run did not publish, and
  // temporary files a crashed run left behind.
  Status Prune(const std::vector<std::string>& dirs) {
    for (const std::string& dir : dirs) {
      std::error_code ec;
      if (!fs::exists(root_ / dir, ec)) continue;
      std::vector<fs::path> doomed;
      for (auto it = fs::recursive_directory_iterator(root_ / dir, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        const std::string rel =
            fs::relative(it->path(), root_).generic_string();
        if (!published_.contains(rel)) doomed.push_back(it->path());
      }
      if (ec) return IoError("cannot list", root_ / dir, ec.value());
      std::sort(doomed.begin(), doomed.end());
      for (const fs::path& p : doomed) {
        if (!fs::remove(p, ec) || ec) {
          return IoError("cannot delete", p, ec ? ec.value() : ENOENT);
        }
        ++report_.files_pruned;
      }
    }
    return {};
  }

 private:
  // Writes a mutable file unless it already holds `bytes`; true if written.
  Result<bool> PutIfDifferent(const std::string& path, std::string_view bytes) {
    std::optional<std::string> existing = ReadIfExists(root_ / path);
    if (existing && *existing == bytes) {
      Keep(path);
      return false;
    }
    DS_CHECK(Put(path, bytes));
    return true;
  }
  Status Put(const std::string& path, std::string_view bytes) {
    DS_CHECK(WriteAtomically(root_ / path, bytes));
    published_.insert(path);
    ++report_.files_written;
    report_.bytes_written += bytes.size();
    report_.written.push_back(path);
    return {};
  }
  void Keep(const std::string& path) {
    published_.insert(path);
    ++report_.files_unchanged;
  }

  fs::path root_;
  ExportReport& report_;
  std::set<std::string> published_;
  std::set<std::string> verified_;  // existing files Encode found right
  bool manifest_changed_ = false;
};

// Organisations that have a manifest in `out_dir` from an earlier export:
// one whose last own dataset went (deleted or published) keeps a manifest,
// now with global datasets only, rather than a stale one listing what it
// no longer has.
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

}  // namespace

Result<ExportReport> ExportStore(Store& store, const ExportOptions& options) {
  if (options.out_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no output directory given");
  }
  DS_TRY(data, store.Read([](const ReadTxn& txn) { return ReadExportable(txn); }));
  ExportReport report;
  DirectorySink sink(options.out_dir, report);
  TreeOptions tree;
  tree.all_versions = options.all_versions;
  tree.fhir = options.fhir;
  tree.fhir_base_url = options.fhir_base_url;
  tree.extra_organizations = OrganizationsWithManifest(options.out_dir);
  DS_TRY(summary, BuildExportTree(*data, tree, sink));
  report.datasets = summary->datasets;
  report.organizations = summary->organizations;
  report.warnings = std::move(summary->warnings);
  report.manifest_changed = sink.manifest_changed();

  if (!options.checktick_fixture.empty()) {
    std::vector<std::pair<DatasetRecord, VersionRecord>> all;
    for (const ExportableDataset& e : *data) {
      if (const VersionRecord* v = CurrentVersion(e)) {
        all.emplace_back(e.record, *v);
      }
    }
    const std::string fixture = CheckTickFixture(all).dump(
        2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
    const std::optional<std::string> existing =
        ReadIfExists(options.checktick_fixture);
    if (!existing || *existing != fixture) {
      DS_CHECK(WriteAtomically(options.checktick_fixture, fixture));
    }
  }

  if (options.prune) DS_CHECK(sink.Prune({"datasets", "diffs", "fhir", "orgs"}));
  return report;
}

}  // namespace datasnap
