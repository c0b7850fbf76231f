#include "exporters/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/compression.h"
#include "core/model_json.h"
#include "core/sha256.h"
#include "core/time.h"
#include "core/version.h"
#include "exporters/checktick_fixture.h"
#include "exporters/export_record.h"
#include "exporters/export_tree.h"
#include "exporters/formats.h"
#include "exporters/manifest_reader.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
namespace dom = simdjson::dom;

// Largest published document read back to check an existing file.
constexpr std::size_t kMaxDocumentBytes = std::size_t{1} << 31;
// Datasets per unit of work: a worker builds them and syncs their files in
// one batch. Small enough to bound memory (their options are loaded only
// while they are built), large enough that one sync covers many files.
constexpr std::size_t kSliceDatasets = 64;

std::unexpected<Error> IoError(const std::string& what, const fs::path& path,
                               int err) {
  return Fail(ErrorCode::kIo, what + " '" + path.string() +
                                  "': " + std::strerror(err));
}

// The whole file, or nullopt when it cannot be read, with room for
// `padding` more bytes (simdjson parses in place when there are
// SIMDJSON_PADDING). One read into a buffer of the file's size: a stream
// copied a 9 MB manifest several times over as it grew.
std::optional<std::string> ReadIfExists(const fs::path& path,
                                        std::size_t padding = 0) {
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

// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
// over `path`, then syncs the directory, so readers see the old file or the
// new one, never a part, and a crash keeps one of the two.
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

// What the manifests in `out_dir` (public and organisations') say.
struct EarlierManifests {
  EntryIndex entries;
  // Each manifest's bytes by its path ("manifest.json", "manifest.json.gz",
  // "orgs/<org>/manifest.json", ...): the export compares its new
  // manifests with these rather than reading them again, and reuses the
  // pieces of the gzip that still stand.
  std::map<std::string, std::string> texts;
};

EarlierManifests ReadEarlierManifests(const fs::path& out_dir,
                                      const std::set<std::string>& orgs) {
  EarlierManifests earlier;
  dom::parser parser;
  std::vector<std::string> paths = {"manifest.json"};
  for (const std::string& org : orgs) {
    paths.push_back("orgs/" + org + "/manifest.json");
  }
  for (const std::string& path : paths) {
    std::optional<std::string> text =
        ReadIfExists(out_dir / path, simdjson::SIMDJSON_PADDING);
    if (!text) continue;
    IndexManifest(parser, *text, path.substr(0, path.size() - 13),
                  earlier.entries);  // the prefix before "manifest.json"
    earlier.texts.emplace(path, std::move(*text));
    if (std::optional<std::string> gz = ReadIfExists(out_dir / (path + ".gz"))) {
      earlier.texts.emplace(path + ".gz", std::move(*gz));
    }
  }
  return earlier;
}

// Every file an entry lists.
std::vector<const PublishedFile*> FilesOf(const ManifestEntry& e) {
  std::vector<const PublishedFile*> files;
  for (const PublishedFile& f : e.snapshot.files) files.push_back(&f);
  for (const ManifestDiff& d : e.diffs) {
    for (const PublishedFile& f : d.document.files) files.push_back(&f);
  }
  for (const auto& [version, doc] : e.older) {
    for (const PublishedFile& f : doc.files) files.push_back(&f);
  }
  if (e.fhir) files.push_back(&*e.fhir);
  return files;
}

std::optional<std::string> NullIfEmpty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// True when `known` is the entry this export would list for `e` under
// `prefix`, and its files are in `root` at their listed sizes. Versions are
// immutable and never renumbered (docs/STORE.md), so a version's number,
// options hash and creation time name its snapshot and diffs; the dataset's
// own fields are compared one by one. A file of the right size with other
// bytes is left to `verify`.
bool StillStands(const KnownEntry& known, const ExportableDataset& e,
                 const VersionRecord& current, const std::string& prefix,
                 const TreeOptions& options, const fs::path& root) {
  const Dataset& d = e.record.dataset;
  if (known.name != d.name || known.description != d.description ||
      known.category != CategoryName(d.category) || known.tags != d.tags ||
      known.parent != NullIfEmpty(d.parent) ||
      known.version != current.version ||
      known.option_count != current.option_count ||
      known.options_sha256 != current.options_sha256 ||
      known.created_at != FormatIso8601(current.created_at) ||
      known.source_url != NullIfEmpty(current.provenance.source_url)) {
    return false;
  }
  std::vector<std::uint32_t> older;
  for (const VersionRecord& v : e.versions) {
    if (v.version < current.version) older.push_back(v.version);
  }
  const ManifestEntry& k = known.entry;
  if (k.diffs.size() != older.size()) return false;
  for (std::size_t i = 0; i < older.size(); ++i) {
    if (k.diffs[i].from != older[i] || k.diffs[i].to != current.version) {
      return false;
    }
  }
  if (options.all_versions) {
    if (k.older.size() != older.size()) return false;
    for (std::size_t i = 0; i < older.size(); ++i) {
      if (k.older[i].first != older[i]) return false;
    }
  } else if (!k.older.empty()) {
    return false;
  }
  // A FHIR file also depends on the base URL, which no manifest records:
  // only the default is trusted.
  if (options.fhir != k.fhir.has_value() ||
      (options.fhir && options.fhir_base_url != TreeOptions{}.fhir_base_url)) {
    return false;
  }
  const std::string snapshot_stem = prefix + "datasets/" + d.key + "/" +
                                    std::to_string(current.version) + ".";
  for (const PublishedFile& f : k.snapshot.files) {
    if (!f.path.starts_with(snapshot_stem)) return false;
  }
  for (const PublishedFile* f : FilesOf(k)) {
    if (!f->path.starts_with(prefix) || f->path.find("..") != std::string::npos) {
      return false;
    }
    struct stat st {};
    if (::stat((root / f->path).c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != f->bytes) {
      return false;
    }
  }
  return true;
}

// --- Writing files --------------------------------------------------------

// The export directory, shared by the workers: counts what is written and
// kept, and knows every path this export publishes.
class Tree {
 public:
  // `track_published`: remember every path published, for Published()
  // (--prune); 20,000 of them are a cost an export after one change
  // need not pay.
  Tree(fs::path root, ExportReport& report, bool track_published)
      : root_(std::move(root)),
        report_(report),
        track_published_(track_published) {}

  // The current content of a mutable file, read earlier: PutIfDifferent
  // compares with it instead of reading the file again.
  void KnowContent(const std::string& path, std::string text) {
    known_[path] = std::move(text);
  }
  const std::string* KnownContent(const std::string& path) const {
    auto it = known_.find(path);
    return it == known_.end() ? nullptr : &it->second;
  }

  const fs::path& root() const { return root_; }

  // Files staged by one worker: written under temporary names, synced and
  // renamed into place together by Commit.
  struct Batch {
    struct Staged {
      int fd;
      fs::path tmp;
      std::string path;
      std::size_t bytes;
    };
    std::vector<Staged> files;
    ~Batch() {
      for (const Staged& s : files) {
        ::close(s.fd);
        ::unlink(s.tmp.c_str());
      }
    }
  };

  Status Stage(Batch& batch, const std::string& path, std::string_view bytes) {
    const fs::path full = root_ / path;
    DS_CHECK(CreateDirectories(full.parent_path()));
    const fs::path tmp = TempPath(full);
    DS_TRY(fd, WriteTemp(tmp, bytes));
    batch.files.push_back({*fd, tmp, path, bytes.size()});
    return {};
  }

  // Syncs every staged file, then renames them into place, then syncs
  // their directories: each file's bytes are durable before its name
  // appears, and its name before Commit returns (before any manifest).
  Status Commit(Batch& batch) {
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

  // A mutable file (a manifest), written at once unless it already holds
  // `bytes`; true if written.
  Result<bool> PutIfDifferent(const std::string& path, std::string_view bytes) {
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

  // A mutable file, written at once.
  Status Put(const std::string& path, std::string_view bytes) {
    DS_CHECK(WriteAtomically(root_ / path, bytes));
    std::lock_guard<std::mutex> lock(mu_);
    RecordWritten(path, bytes.size());
    return {};
  }

  // A file already there with the right content.
  void Keep(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    if (track_published_) published_.insert(path);
    ++report_.files_unchanged;
  }

  // Whether this export published `path` (only with `track_published`).
  bool Published(const std::string& path) const {
    return published_.contains(path);
  }

  void CountBuilt(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    report_.datasets_built += n;
  }

 private:
  void RecordWritten(const std::string& path, std::size_t bytes) {
    if (track_published_) published_.insert(path);
    ++report_.files_written;
    report_.bytes_written += bytes;
    report_.written.push_back(path);
  }

  fs::path root_;
  ExportReport& report_;
  std::mutex mu_;
  const bool track_published_;
  std::set<std::string> published_;
  std::map<std::string, std::string> known_;
};

// Builds one slice of datasets into the directory: content files only. An
// existing content-named file is kept when it decodes to its document:
// decoding is faster than compressing again, and a content-named file must
// never change its bytes (a CDN may hold them for a year), even if another
// library version or level would encode differently. The
// slice's manifests are not written; their entries are read back into
// `built`, for the manifests the export writes at the end.
class SliceSink : public TreeSink {
 public:
  SliceSink(Tree& tree, EntryIndex& built) : tree_(tree), built_(built) {}

  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (file.manifest) return std::string();  // never written
    if (std::optional<std::string> bytes = ReadIfExists(tree_.root() / file.path)) {
      auto decoded = file.encoding == "zstd"
                         ? ZstdDecompress(*bytes, kMaxDocumentBytes)
                     : file.encoding == "gzip"
                         ? GzipDecompress(*bytes, kMaxDocumentBytes)
                         : Result<std::string>(*bytes);
      if (decoded && *decoded == json) {
        verified_.insert(file.path);
        return std::move(*bytes);
      }
    }
    if (file.encoding == "identity") return json;
    return EncodeDocument(file.encoding, json);
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& /*sha256*/,
                 const std::string& json) override {
    if (file.manifest) {
      if (file.encoding == "identity") {
        const std::string prefix =
            file.path.substr(0, file.path.size() - 13);  // "manifest.json"
        if (!IndexManifest(parser_, PaddedCopy(json), prefix, built_)) {
          return Fail(ErrorCode::kCorrupt,
                      "export: cannot read back the manifest of a slice");
        }
      }
      return {};
    }
    if (verified_.contains(file.path)) {
      tree_.Keep(file.path);
      return {};
    }
    return tree_.Stage(batch_, file.path, bytes);
  }

  Status Commit() { return tree_.Commit(batch_); }

 private:
  Tree& tree_;
  EntryIndex& built_;
  Tree::Batch batch_;
  dom::parser parser_;
  std::set<std::string> verified_;
};

// Builds the datasets `todo` (indices into `headers`, which lack options)
// on `workers` threads. This thread loads each slice's options from `txn`
// (LMDB read transactions belong to their thread) a few slices ahead of
// the workers; each worker builds a slice into a SliceSink and commits its
// files in one batch. Entries go to `built`.
Status BuildDatasets(const ReadTxn& txn,
                     const std::vector<ExportableDataset>& headers,
                     const std::vector<std::size_t>& todo,
                     const TreeOptions& options, unsigned workers, Tree& tree,
                     EntryIndex& built) {
  if (todo.empty()) return {};
  const std::size_t slices = (todo.size() + kSliceDatasets - 1) / kSliceDatasets;
  workers = static_cast<unsigned>(std::min<std::size_t>(workers, slices));
  TreeOptions slice_options = options;
  slice_options.extra_organizations.clear();

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<ExportableDataset>> queue;
  bool loaded = false;
  std::optional<Error> error;
  auto fail = [&](const Error& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = e;
    cv.notify_all();
  };

  auto work = [&] {
    for (;;) {
      std::vector<ExportableDataset> slice;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || loaded || error; });
        if (error || queue.empty()) return;
        slice = std::move(queue.front());
        queue.pop_front();
        cv.notify_all();
      }
      EntryIndex entries;
      SliceSink sink(tree, entries);
      auto summary = BuildExportTree(slice, slice_options, sink);
      Status committed = summary ? sink.Commit() : Status{};
      if (!summary) return fail(summary.error());
      if (!committed) return fail(committed.error());
      tree.CountBuilt(slice.size());
      std::lock_guard<std::mutex> lock(mu);
      built.merge(entries);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) threads.emplace_back(work);

  Status load_status;
  for (std::size_t first = 0; first < todo.size(); first += kSliceDatasets) {
    std::vector<ExportableDataset> slice;
    const std::size_t last = std::min(todo.size(), first + kSliceDatasets);
    for (std::size_t i = first; i < last; ++i) {
      const ExportableDataset& h = headers[todo[i]];
      auto versions = txn.ListVersions(h.record.dataset.key, /*with_options=*/true);
      if (!versions) {
        load_status = std::unexpected(versions.error());
        break;
      }
      slice.push_back({h.record, std::move(*versions)});
    }
    if (!load_status) break;
    std::unique_lock<std::mutex> lock(mu);
    // At most two slices waiting per worker: memory stays bounded.
    cv.wait(lock, [&] { return queue.size() < 2 * workers || error; });
    if (error) break;
    queue.push_back(std::move(slice));
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    loaded = true;
    if (!load_status && !error) error = load_status.error();
    cv.notify_all();
  }
  for (std::thread& t : threads) t.join();
  if (error) return std::unexpected(*error);
  return {};
}

// The final pass: every dataset's entry is known (kept or just built), so
// this sink writes only the manifests.
class ManifestSink : public TreeSink {
 public:
  // Moves each entry out of `kept` or `built` as the tree asks for it
  // (once per dataset): copying 10,000 entries' strings cost more than
  // listing them.
  ManifestSink(Tree& tree, EntryIndex& kept, EntryIndex& built,
               unsigned workers)
      : tree_(tree), kept_(kept), built_(built), workers_(workers) {}

  std::optional<ManifestEntry> Reuse(const ExportableDataset& dataset,
                                     const std::string& prefix) override {
    const std::string id = prefix + dataset.record.dataset.key;
    if (auto it = built_.find(id); it != built_.end()) {
      listed_files_ += FilesOf(it->second.entry).size();
      return std::move(it->second.entry);
    }
    auto it = kept_.find(id);
    if (it == kept_.end()) return std::nullopt;
    const std::vector<const PublishedFile*> files = FilesOf(it->second.entry);
    for (const PublishedFile* f : files) tree_.Keep(f->path);
    listed_files_ += files.size();
    return std::move(it->second.entry);
  }

  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (!file.manifest) return Unbuilt(file);
    // On every core, and reusing the pieces of the file as it stands that
    // still hold: the public manifest lists every dataset (megabytes at
    // 10,000), and compressing it all again was most of an incremental
    // export.
    const std::string* earlier = tree_.KnownContent(file.path);
    return EncodeTreeFile(file, json, workers_,
                          earlier != nullptr ? *earlier : std::string_view());
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& sha256,
                 const std::string& /*json*/) override {
    if (!file.manifest) return Unbuilt(file);
    DS_TRY(written, tree_.PutIfDifferent(file.path, bytes));
    if (file.path == "manifest.json") manifest_changed_ = *written;
    manifests_[file.path] = sha256;
    return {};
  }

  bool manifest_changed() const { return manifest_changed_; }
  // For the export record: the SHA-256 of each manifest published, by
  // path, and how many files their entries list.
  const std::map<std::string, std::string>& manifests() const {
    return manifests_;
  }
  std::uint64_t listed_files() const { return listed_files_; }

 private:
  static std::unexpected<Error> Unbuilt(const TreeFile& file) {
    return Fail(ErrorCode::kCorrupt,
                "export: '" + file.path + "' was not built before the manifests");
  }

  Tree& tree_;
  EntryIndex& kept_;
  EntryIndex& built_;
  unsigned workers_;
  bool manifest_changed_ = false;
  std::map<std::string, std::string> manifests_;
  std::uint64_t listed_files_ = 0;
};

// Where a dataset's files go ("" or "orgs/<org>/"), or nullopt when it is
// not published (BuildExportTree warns about an unusable organisation).
std::optional<std::string> ScopeOf(const Dataset& d) {
  if (d.is_global) return std::string();
  if (!d.organization.empty() && ValidateKey(d.organization)) {
    return "orgs/" + d.organization + "/";
  }
  return std::nullopt;
}

// As ReadExportable, without the options.
Result<std::vector<ExportableDataset>> ReadHeaders(const ReadTxn& txn) {
  DS_TRY(all, txn.ListDatasets());  // sorted by key
  std::vector<ExportableDataset> out;
  out.reserve(all->size());
  for (DatasetRecord& r : *all) {
    if (!r.dataset.is_active || r.sync.version == 0) continue;
    DS_TRY(versions, txn.ListVersions(r.dataset.key, /*with_options=*/false));
    if (versions->empty()) continue;
    out.push_back({std::move(r), std::move(*versions)});
  }
  return out;
}

// Deletes the files under `dirs` that this run did not publish, and
// temporary files a crashed run left behind.
Status Prune(const Tree& tree, const std::vector<std::string>& dirs,
             ExportReport& report) {
  const fs::path& root = tree.root();
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::exists(root / dir, ec)) continue;
    std::vector<fs::path> doomed;
    for (auto it = fs::recursive_directory_iterator(root / dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string rel = fs::relative(it->path(), root).generic_string();
      if (!tree.Published(rel)) doomed.push_back(it->path());
    }
    if (ec) return IoError("cannot list", root / dir, ec.value());
    std::sort(doomed.begin(), doomed.end());
    for (const fs::path& p : doomed) {
      if (!fs::remove(p, ec) || ec) {
        return IoError("cannot delete", p, ec ? ec.value() : ENOENT);
      }
      ++report.files_pruned;
    }
  }
  return {};
}

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

Status WriteFixture(const ReadTxn& txn,
                    const std::vector<ExportableDataset>& headers,
                    const std::string& path) {
  std::vector<std::pair<DatasetRecord, VersionRecord>> all;
  for (const ExportableDataset& e : headers) {
    const VersionRecord* v = CurrentVersion(e);
    if (v == nullptr) continue;
    DS_TRY(full, txn.GetVersion(e.record.dataset.key, v->version));
    if (*full) all.emplace_back(e.record, std::move(**full));
  }
  const std::string fixture =
      CheckTickFixture(all).dump(2, ' ', false,
                                 OrderedJson::error_handler_t::replace) +
      "\n";
  const std::optional<std::string> existing = ReadIfExists(path);
  if (!existing || *existing != fixture) {
    DS_CHECK(WriteAtomically(path, fixture));
  }
  return {};
}

// --- The export record, and exporting only what changed -------------------

std::string Generator() { return std::string("datasnap ") + kVersion; }

// The warnings of `headers` (datasets left out), by key.
std::map<std::string, std::string> WarningsOf(
    const std::vector<ExportableDataset>& headers) {
  std::map<std::string, std::string> warnings;
  for (const ExportableDataset& e : headers) {
    const Dataset& d = e.record.dataset;
    if (!d.is_global && !d.organization.empty() && !ScopeOf(d)) {
      warnings.emplace(d.key, UnusableOrganizationWarning(d));
    }
  }
  return warnings;
}

// The record of an export that read the store in `txn`: its newest audit
// event, whose successors will name what changes.
Result<ExportRecord> NewRecord(const ReadTxn& txn, const TreeOptions& options) {
  ExportRecord record;
  record.generator = Generator();
  // Every store has had one since it was created; one without could not
  // be told from another, and its exports would read everything.
  if (Result<std::string> created_at = txn.CreatedAt()) {
    record.store_created_at = std::move(*created_at);
  }
  DS_TRY(newest, txn.ListAudit(1));
  if (!newest->empty()) {
    record.audit_seq = newest->front().seq;
    record.audit_event_sha256 = AuditFingerprint(newest->front());
  }
  record.all_versions = options.all_versions;
  record.fhir = options.fhir;
  record.fhir_base_url = options.fhir_base_url;
  return record;
}

// Writes the record when it differs from the one there: after the
// manifests, so that a crash between the two leaves a record whose
// manifest hashes no longer match, and the next export reads everything.
Status WriteRecord(const fs::path& root, const ExportRecord& record) {
  const std::string text = ExportRecordJson(record);
  if (ReadIfExists(root / kExportRecordName) == text) return {};
  return WriteAtomically(root / kExportRecordName, text);
}

// The organisation of a manifest path the record may list
// ("orgs/<org>/manifest.json" or its .gz): "" for the public manifest,
// nullopt for any other path.
std::optional<std::string> OrgOfManifestPath(std::string_view path) {
  if (path.ends_with(".gz")) path.remove_suffix(3);
  if (path == "manifest.json") return std::string();
  constexpr std::string_view kHead = "orgs/", kTail = "/manifest.json";
  if (!path.starts_with(kHead) || !path.ends_with(kTail)) return std::nullopt;
  const std::string org(
      path.substr(kHead.size(), path.size() - kHead.size() - kTail.size()));
  if (!ValidateKey(org)) return std::nullopt;
  return org;
}

// The manifests `record` lists, read back by path, when the tree is still
// what the record says: written by this datasnap with these options, each
// manifest (.json and .gz) holding the bytes recorded, and no other
// organisation with a manifest. nullopt otherwise: the tree changed
// outside the exports (or the record is another's), and the export reads
// everything.
std::optional<std::map<std::string, std::string>> ReadRecordedManifests(
    const fs::path& root, const ExportRecord& record,
    const TreeOptions& options) {
  if (record.generator != Generator() ||
      record.all_versions != options.all_versions ||
      record.fhir != options.fhir ||
      record.fhir_base_url != options.fhir_base_url ||
      record.audit_seq == 0) {
    return std::nullopt;
  }
  std::set<std::string> orgs;
  for (const auto& [path, sha] : record.manifests) {
    const std::optional<std::string> org = OrgOfManifestPath(path);
    if (!org) return std::nullopt;
    if (!org->empty()) orgs.insert(*org);
  }
  // Both files of every manifest, and the public one.
  if (record.manifests.size() != 2 * (orgs.size() + 1) ||
      !record.manifests.contains("manifest.json") ||
      orgs != OrganizationsWithManifest(root)) {
    return std::nullopt;
  }
  std::map<std::string, std::string> texts;
  for (const auto& [path, sha] : record.manifests) {
    std::optional<std::string> text = ReadIfExists(
        root / path, path.ends_with(".gz") ? 0 : simdjson::SIMDJSON_PADDING);
    if (!text || Sha256Hex(*text) != sha) return std::nullopt;
    texts.emplace(path, std::move(*text));
  }
  return texts;
}

// One manifest as this export composes it: entry (or reference) texts by
// key, which point into the earlier manifests' bytes or into texts
// rendered by this export.
using EntryTexts = std::map<std::string, std::string_view, std::less<>>;

std::vector<std::string_view> InKeyOrder(const EntryTexts& texts) {
  std::vector<std::string_view> out;
  out.reserve(texts.size());
  for (const auto& [key, text] : texts) out.push_back(text);
  return out;
}

// Splits an earlier manifest's entries (or references) by key. False when
// one has no key this datasnap writes.
bool IndexTexts(const std::vector<std::string_view>& texts, EntryTexts& out) {
  for (std::string_view text : texts) {
    const std::string_view key = KeyOfEntryText(text);
    if (key.empty()) return false;
    out.emplace(std::string(key), text);
  }
  return true;
}

// What the audit log says changed since `record`'s event: the datasets
// named by the later events, and the newest event. nullopt when the log
// does not continue the recorded one (another store, a copy restored from
// before the record, a migration since): then the export reads everything.
struct ChangesSince {
  std::set<std::string> keys;
  AuditEvent newest;
};
Result<std::optional<ChangesSince>> ReadChanges(const ReadTxn& txn,
                                                const ExportRecord& record) {
  const Result<std::string> created_at = txn.CreatedAt();
  if (!created_at || created_at->empty() ||
      *created_at != record.store_created_at) {
    return std::nullopt;
  }
  DS_TRY(events, txn.ListAuditFrom(record.audit_seq));
  if (events->empty() || events->front().seq != record.audit_seq ||
      AuditFingerprint(events->front()) != record.audit_event_sha256) {
    return std::nullopt;
  }
  ChangesSince changes;
  for (std::size_t i = 1; i < events->size(); ++i) {
    const AuditEvent& e = (*events)[i];
    // A store-wide rewrite names no dataset; a command's summary names
    // none either, but each write it summarises has its own event.
    if (e.action.starts_with("store.")) return std::nullopt;
    if (!e.dataset.empty()) changes.keys.insert(e.dataset);
  }
  changes.newest = std::move(events->back());
  return changes;
}

// Publishes a manifest's .gz and then its .json unless the text is the
// earlier one, whose files (checked against the record `recorded`) stand.
// Sets their hashes in `record`.
Status PublishManifest(Tree& tree, const std::string& path,
                       const std::string& text,
                       const std::map<std::string, std::string>& earlier,
                       const ExportRecord& recorded, unsigned workers,
                       ExportRecord& record, bool& changed) {
  const std::string gz_path = path + ".gz";
  auto old_text = earlier.find(path);
  auto old_gz = earlier.find(gz_path);
  if (old_text != earlier.end() && old_gz != earlier.end() &&
      old_text->second == text) {
    tree.Keep(gz_path);
    tree.Keep(path);
    record.manifests[gz_path] = recorded.manifests.at(gz_path);
    record.manifests[path] = recorded.manifests.at(path);
    changed = false;
    return {};
  }
  const TreeFile gz{gz_path, "gzip", /*manifest=*/true, {}, text.size(), {}};
  DS_TRY(bytes, EncodeTreeFile(gz, text, workers,
                               old_gz != earlier.end() ? std::string_view(old_gz->second)
                                                       : std::string_view()));
  DS_CHECK(tree.Put(gz_path, *bytes));
  DS_CHECK(tree.Put(path, text));
  record.manifests[gz_path] = Sha256Hex(*bytes);
  record.manifests[path] = Sha256Hex(text);
  changed = true;
  return {};
}

// The export after an earlier one whose record still describes the tree
// (ReadRecordedManifests): reads only the datasets named by the audit
// events since, builds those whose entries no longer stand, and composes
// the manifests from the earlier ones' entry texts and the new ones. The
// same bytes as a full export of the store (a test holds it to that).
// nullopt, having written nothing, when the audit log does not continue
// the record's: the caller exports in full.
Result<std::optional<ExportReport>> ExportChanged(
    const ReadTxn& txn, const ExportRecord& recorded,
    const std::map<std::string, std::string>& earlier,
    const TreeOptions& options, unsigned workers, Tree& tree,
    ExportReport& report) {
  DS_TRY(changes, ReadChanges(txn, recorded));
  if (!*changes) return std::nullopt;
  const std::set<std::string>& keys = (*changes)->keys;

  // The earlier manifests, split into entry texts by key.
  std::map<std::string, EntryTexts> manifests;  // by prefix ("", "orgs/x/")
  EntryTexts refs;  // the global references, the same in every organisation's
  for (const auto& [path, text] : earlier) {
    if (path.ends_with(".gz")) continue;
    const std::optional<ManifestTexts> split = SplitManifest(text);
    const std::string prefix = path.substr(0, path.size() - 13);
    if (!split || !IsOwnManifest(*split) ||
        !IndexTexts(split->entries, manifests[prefix]) ||
        (!prefix.empty() && refs.empty() && !IndexTexts(split->global, refs))) {
      return std::nullopt;
    }
  }
  const bool had_orgs = manifests.size() > 1;

  // The changed datasets as they are now, and where each goes.
  std::vector<ExportableDataset> headers;
  std::vector<std::string> prefixes;
  std::map<std::string, std::string> warnings = recorded.warnings;
  for (const std::string& key : keys) {
    warnings.erase(key);
    DS_TRY(record, txn.GetDataset(key));
    if (!*record || !(*record)->dataset.is_active || (*record)->sync.version == 0) {
      continue;
    }
    DS_TRY(versions, txn.ListVersions(key, /*with_options=*/false));
    if (versions->empty()) continue;
    ExportableDataset e{std::move(**record), std::move(*versions)};
    const std::optional<std::string> prefix = ScopeOf(e.record.dataset);
    if (!prefix) {
      const Dataset& d = e.record.dataset;
      if (!d.is_global && !d.organization.empty()) {
        warnings.emplace(key, UnusableOrganizationWarning(d));
      }
      continue;
    }
    headers.push_back(std::move(e));
    prefixes.push_back(*prefix);
  }
  // A new organisation needs the global references, known only from
  // another organisation's manifest (or every public entry parsed): rare
  // enough to export in full.
  if (!had_orgs && std::any_of(prefixes.begin(), prefixes.end(),
                               [](const std::string& p) { return !p.empty(); })) {
    return std::nullopt;
  }

  // Each changed dataset's earlier entries go, wherever they were; an
  // entry that still stands (an event that changed nothing published)
  // comes back as it was.
  dom::parser parser;
  std::uint64_t listed_files = recorded.listed_files;
  std::map<std::string, KnownEntry> old_entries;  // by prefix + key
  for (auto& [prefix, texts] : manifests) {
    for (const std::string& key : keys) {
      auto it = texts.find(key);
      if (it == texts.end()) continue;
      const std::string padded = PaddedCopy(it->second);
      std::string parsed_key;
      std::optional<KnownEntry> known = ParseEntry(parser, padded, parsed_key);
      if (!known || parsed_key != key) return std::nullopt;
      known->entry.json = it->second;  // ParseEntry's view is into `padded`
      listed_files -= std::min<std::uint64_t>(listed_files,
                                              FilesOf(known->entry).size());
      old_entries.emplace(prefix + key, std::move(*known));
      texts.erase(it);
    }
  }
  for (const std::string& key : keys) refs.erase(key);

  std::vector<std::size_t> todo;
  std::vector<std::string_view> kept_texts(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const ExportableDataset& e = headers[i];
    auto it = old_entries.find(prefixes[i] + e.record.dataset.key);
    const VersionRecord* current = CurrentVersion(e);
    if (it != old_entries.end() &&
        StillStands(it->second, e, *current, prefixes[i], options, tree.root())) {
      kept_texts[i] = it->second.entry.json;
      listed_files += FilesOf(it->second.entry).size();
    } else {
      todo.push_back(i);
    }
  }
  EntryIndex built;
  DS_CHECK(BuildDatasets(txn, headers, todo, options, workers, tree, built));

  // The new entries, and the global references of the new global ones.
  // Texts rendered here; a deque, so that the views into them stay valid
  // as it grows.
  std::deque<std::string> owned;
  std::uint64_t built_files = 0;  // counted by the tree as written or kept
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const ExportableDataset& e = headers[i];
    const std::string& key = e.record.dataset.key;
    const VersionRecord* current = CurrentVersion(e);
    std::string_view text = kept_texts[i];
    std::string sha256;
    if (text.empty()) {
      auto it = built.find(prefixes[i] + key);
      if (it == built.end()) {
        return Fail(ErrorCode::kCorrupt,
                    "export: '" + key + "' was not built before the manifests");
      }
      ManifestEntry& m = it->second.entry;
      m.record = &e.record;
      m.current = current;
      listed_files += FilesOf(m).size();
      built_files += FilesOf(m).size();
      owned.push_back(EntryText(m));
      text = owned.back();
      sha256 = m.snapshot.json_sha256;
    } else {
      sha256 = old_entries.at(prefixes[i] + key).entry.snapshot.json_sha256;
    }
    manifests[prefixes[i]].emplace(key, text);
    if (prefixes[i].empty()) {
      owned.push_back(GlobalRefText(key, current->version, sha256));
      refs.emplace(key, owned.back());
    }
  }

  // Publish: the organisations' manifests, then the public one.
  ExportRecord record = recorded;
  record.audit_seq = (*changes)->newest.seq;
  record.audit_event_sha256 = AuditFingerprint((*changes)->newest);
  record.manifests.clear();
  record.listed_files = listed_files;
  record.warnings = std::move(warnings);
  const std::vector<std::string_view> global = InKeyOrder(refs);
  for (const auto& [prefix, texts] : manifests) {
    if (prefix.empty()) continue;
    const std::string org = prefix.substr(5, prefix.size() - 6);
    bool changed = false;
    DS_CHECK(PublishManifest(tree, prefix + "manifest.json",
                             OrgManifestTextOf(org, InKeyOrder(texts), global),
                             earlier, recorded, workers, record, changed));
    ++report.organizations;
  }
  const EntryTexts& public_texts = manifests[""];
  DS_CHECK(PublishManifest(tree, "manifest.json",
                           ManifestTextOf(InKeyOrder(public_texts)), earlier,
                           recorded, workers, record, report.manifest_changed));
  report.datasets = public_texts.size();
  // Every listed file not built here stands as the earlier export left it.
  report.files_unchanged += record.listed_files - built_files;
  for (const auto& [key, warning] : record.warnings) report.warnings.push_back(warning);
  DS_CHECK(WriteRecord(tree.root(), record));
  report.incremental = true;
  return std::optional<ExportReport>(std::move(report));
}

}  // namespace

Result<ExportReport> ExportStore(Store& store, const ExportOptions& options) {
  if (options.out_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no output directory given");
  }
  const fs::path root(options.out_dir);
  DS_CHECK(CreateDirectories(root));
  TreeOptions tree_options;
  tree_options.all_versions = options.all_versions;
  tree_options.fhir = options.fhir;
  tree_options.fhir_base_url = options.fhir_base_url;
  tree_options.extra_organizations = OrganizationsWithManifest(root);
  unsigned workers = options.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  ExportReport report;
  Tree tree(root, report, /*track_published=*/options.prune);

  // After an earlier export whose record still describes the tree, only
  // the datasets changed since are read. --verify and --prune look at
  // every file, and the fixture lists every dataset: they read everything.
  if (!options.verify && !options.prune && options.checktick_fixture.empty()) {
    std::optional<ExportRecord> record;
    if (std::optional<std::string> text = ReadIfExists(root / kExportRecordName)) {
      record = ParseExportRecord(*text);
    }
    std::optional<std::map<std::string, std::string>> recorded;
    if (record) recorded = ReadRecordedManifests(root, *record, tree_options);
    if (recorded) {
      DS_TRY(done, store.Read([&](const ReadTxn& txn) {
        return ExportChanged(txn, *record, *recorded, tree_options, workers,
                             tree, report);
      }));
      if (*done) return std::move(**done);
    }
  }

  // The earlier manifests are read on a thread of their own while this one
  // lists the store: at 10,000 datasets each takes a fifth of an export
  // after one change. --prune must know every file of every dataset, and
  // the consecutive diffs are in no manifest: it builds everything, as
  // --verify does.
  EarlierManifests earlier;
  std::jthread reader;  // joined at the latest when this returns
  if (!options.verify && !options.prune) {
    reader = std::jthread([&] {
      earlier = ReadEarlierManifests(root, tree_options.extra_organizations);
    });
  }

  return store.Read([&](const ReadTxn& txn) -> Result<ExportReport> {
    auto headers = ReadHeaders(txn);
    if (reader.joinable()) reader.join();
    if (!headers) return std::unexpected(headers.error());
    for (auto& [path, text] : earlier.texts) tree.KnowContent(path, std::move(text));
    // What becomes of each dataset: not published, built, or kept as its
    // earlier entry (which moves: `earlier` is not read again). The checks
    // (a stat of each listed file: 20,000 at 10,000 datasets) run on every
    // core.
    struct Verdict {
      enum { kUnpublished, kBuild, kKeep } what = kUnpublished;
      EntryIndex::iterator entry;  // kKeep
    };
    std::vector<Verdict> verdicts(headers->size());
    auto judge = [&](std::size_t first, std::size_t step) {
      for (std::size_t i = first; i < headers->size(); i += step) {
        const ExportableDataset& e = (*headers)[i];
        const std::optional<std::string> prefix = ScopeOf(e.record.dataset);
        const VersionRecord* current = CurrentVersion(e);
        if (!prefix || current == nullptr) continue;
        auto it = earlier.entries.find(*prefix + e.record.dataset.key);
        verdicts[i] = it != earlier.entries.end() &&
                              StillStands(it->second, e, *current, *prefix,
                                          tree_options, root)
                          ? Verdict{Verdict::kKeep, it}
                          : Verdict{Verdict::kBuild, {}};
      }
    };
    {
      std::vector<std::jthread> judges;
      for (unsigned t = 1; t < workers; ++t) judges.emplace_back(judge, t, workers);
      judge(0, workers);
    }
    EntryIndex kept, built;
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      if (verdicts[i].what == Verdict::kKeep) kept.insert(std::move(*verdicts[i].entry));
      if (verdicts[i].what == Verdict::kBuild) todo.push_back(i);
    }
    DS_CHECK(BuildDatasets(txn, *headers, todo, tree_options, workers, tree,
                           built));
    // Everything the manifests name is durable now: write them.
    ManifestSink sink(tree, kept, built, workers);
    DS_TRY(summary, BuildExportTree(*headers, tree_options, sink));
    report.datasets = summary->datasets;
    report.organizations = summary->organizations;
    report.warnings = std::move(summary->warnings);
    report.manifest_changed = sink.manifest_changed();
    if (!options.checktick_fixture.empty()) {
      DS_CHECK(WriteFixture(txn, *headers, options.checktick_fixture));
    }
    if (options.prune) {
      DS_CHECK(Prune(tree, {"datasets", "diffs", "fhir", "orgs"}, report));
    }
    DS_TRY(record, NewRecord(txn, tree_options));
    record->manifests = sink.manifests();
    record->listed_files = sink.listed_files();
    record->warnings = WarningsOf(*headers);
    DS_CHECK(WriteRecord(root, *record));
    return std::move(report);
  });
}

}  // namespace datasnap
