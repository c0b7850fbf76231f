#include "exporters/export_build.h"

#include <sys/stat.h>

#include <simdjson.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/compression.h"
#include "core/time.h"

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

std::optional<std::string> NullIfEmpty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// Builds one slice of datasets into the directory: content files only. An
// existing content-named file is kept when it decodes to its document:
// decoding is faster than compressing again, and a content-named file must
// never change its bytes (a CDN may hold them for a year), even if another
// library version or level would encode differently. The
// slice's manifests are not written; their entries are read back into
// `built`, for the manifests the export writes at the end.
class SliceSink : public TreeSink {
 public:
  SliceSink(ExportDir& tree, EntryIndex& built) : tree_(tree), built_(built) {}

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
  ExportDir& tree_;
  EntryIndex& built_;
  ExportDir::Batch batch_;
  dom::parser parser_;
  std::set<std::string> verified_;
};

}  // namespace

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

Status BuildDatasets(const ReadTxn& txn,
                     const std::vector<ExportableDataset>& headers,
                     const std::vector<std::size_t>& todo,
                     const TreeOptions& options, unsigned workers, ExportDir& tree,
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

}  // namespace datasnap
