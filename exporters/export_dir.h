// The export directory as `datasnap export` writes it (export.h): whole
// files read in one go, mutable files (manifests, the record) replaced
// atomically, content files staged under temporary names and synced and
// renamed in batches, and the report's counts of what was written and
// kept.
//
//   ExportDir dir(root, report, /*track_published=*/false);
//   ExportDir::Batch batch;
//   DS_CHECK(dir.Stage(batch, "datasets/k/1.ab12.json.zst", bytes));
//   DS_CHECK(dir.Commit(batch));        // durable, then renamed into place
//   DS_CHECK(dir.PutIfDifferent("manifest.json", text));
//
// Private to the exporter library (//exporters:export).
#ifndef DATASNAP_EXPORTERS_EXPORT_DIR_H_
#define DATASNAP_EXPORTERS_EXPORT_DIR_H_

#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "exporters/export.h"

namespace datasnap {

// kIo naming `what` and `path`, with strerror(err).
std::unexpected<Error> IoError(const std::string& what,
                               const std::filesystem::path& path, int err);

// The whole file, or nullopt when it cannot be read, with room for
// `padding` more bytes (simdjson parses in place when there are
// SIMDJSON_PADDING).
std::optional<std::string> ReadIfExists(const std::filesystem::path& path,
                                        std::size_t padding = 0);

Status CreateDirectories(const std::filesystem::path& dir);

// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
// over `path`, then syncs the directory, so readers see the old file or the
// new one, never a part, and a crash keeps one of the two.
Status WriteAtomically(const std::filesystem::path& path, std::string_view bytes);

// Organisations that have a manifest in `out_dir` from an earlier export:
// one whose last own dataset went (deleted or published) keeps a manifest,
// now with global datasets only, rather than a stale one listing what it
// no longer has.
std::set<std::string> OrganizationsWithManifest(const std::filesystem::path& out_dir);

// The export directory, shared by the workers: counts what is written and
// kept into the report, and knows every path this export publishes.
class ExportDir {
 public:
  // `track_published`: remember every path published, for Published()
  // (--prune); 20,000 of them are a cost an export after one change
  // need not pay.
  ExportDir(std::filesystem::path root, ExportReport& report,
            bool track_published)
      : root_(std::move(root)),
        report_(report),
        track_published_(track_published) {}

  const std::filesystem::path& root() const { return root_; }

  // The current content of a mutable file, read earlier: PutIfDifferent
  // compares with it instead of reading the file again.
  void KnowContent(const std::string& path, std::string text) {
    known_[path] = std::move(text);
  }
  const std::string* KnownContent(const std::string& path) const;

  // Files staged by one worker: written under temporary names, synced and
  // renamed into place together by Commit.
  struct Batch {
    struct Staged {
      int fd;
      std::filesystem::path tmp;
      std::string path;
      std::size_t bytes;
    };
    std::vector<Staged> files;
    ~Batch();  // closes and deletes what was not committed
  };
  Status Stage(Batch& batch, const std::string& path, std::string_view bytes);
  // Syncs every staged file, then renames them into place, then syncs
  // their directories: each file's bytes are durable before its name
  // appears, and its name before Commit returns (before any manifest).
  Status Commit(Batch& batch);

  // A mutable file (a manifest), written at once unless it already holds
  // `bytes`; true if written.
  Result<bool> PutIfDifferent(const std::string& path, std::string_view bytes);
  // A mutable file, written at once.
  Status Put(const std::string& path, std::string_view bytes);

  // A file already there with the right content.
  void Keep(const std::string& path);
  // Whether this export published `path` (only with `track_published`).
  bool Published(const std::string& path) const {
    return published_.contains(path);
  }
  void CountBuilt(std::size_t n);

 private:
  void RecordWritten(const std::string& path, std::size_t bytes);

  std::filesystem::path root_;
  ExportReport& report_;
  std::mutex mu_;
  const bool track_published_;
  std::set<std::string> published_;
  std::map<std::string, std::string> known_;
};

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_DIR_H_
