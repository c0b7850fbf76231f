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
#include "core/sha256.h"
#include "exporters/checktick_fixture.h"
#include "exporters/fhir.h"
#include "exporters/formats.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;

constexpr int kZstdLevel = 19;  // pinned: the bytes are part of the contract
constexpr int kGzipLevel = 9;
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

// The export directory: what this run publishes, and what it found there.
class Tree {
 public:
  explicit Tree(fs::path root, ExportReport& report)
      : root_(std::move(root)), report_(report) {}

  // Publishes `json` as <stem>.<h>.json.zst and .json.gz.
  Result<PublishedDocument> Compressed(const std::string& stem,
                                       const std::string& json) {
    PublishedDocument doc;
    doc.json_sha256 = Sha256Hex(json);
    doc.json_bytes = json.size();
    const std::string base = stem + "." + doc.json_sha256.substr(0, 12) + ".json";
    DS_TRY(zst, Encoded(base + ".zst", "zstd", json, &ZstdDecompress,
                        [](std::string_view j) { return ZstdCompress(j, kZstdLevel); }));
    DS_TRY(gz, Encoded(base + ".gz", "gzip", json, &GzipDecompress,
                       [](std::string_view j) { return GzipCompress(j, kGzipLevel); }));
    doc.files = {std::move(*zst), std::move(*gz)};
    return doc;
  }

  // Publishes `json` encoded at `path`. A file already there is kept when
  // it decodes to `json`: decoding is fast where compressing again at
  // level 19 is slow, and a content-named file must never change its
  // bytes (a CDN may hold them for a year), even if another library
  // version would encode differently.
  Result<PublishedFile> Encoded(
      const std::string& path, const char* encoding, const std::string& json,
      Result<std::string> (*decode)(std::string_view, std::size_t),
      Result<std::string> (*encode)(std::string_view)) {
    std::optional<std::string> bytes = ReadIfExists(root_ / path);
    bool ok = false;
    if (bytes) {
      auto decoded = decode(*bytes, kMaxDocumentBytes);
      ok = decoded && *decoded == json;
    }
    if (ok) {
      Keep(path);
    } else {
      DS_TRY(encoded, encode(json));
      DS_CHECK(Put(path, *encoded));
      bytes = std::move(*encoded);
    }
    return PublishedFile{path, encoding, bytes->size(), Sha256Hex(*bytes)};
  }

  // Publishes `json` as <stem>.<h>.json, uncompressed.
  Result<PublishedFile> Plain(const std::string& stem, const std::string& json) {
    const std::string sha = Sha256Hex(json);
    const std::string path = stem + "." + sha.substr(0, 12) + ".json";
    DS_CHECK(PutIfDifferent(path, json));
    return PublishedFile{path, "identity", json.size(), sha};
  }

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
};

// What one read transaction gives the export.
struct Exported {
  DatasetRecord record;
  std::vector<VersionRecord> versions;  // oldest first, with options
};

Result<std::vector<Exported>> ReadStore(Store& store) {
  return store.Read([&](const ReadTxn& txn) -> Result<std::vector<Exported>> {
    DS_TRY(all, txn.ListDatasets());  // sorted by key
    std::vector<Exported> out;
    for (DatasetRecord& r : *all) {
      if (!r.dataset.is_active || r.sync.version == 0) continue;
      DS_TRY(versions, txn.ListVersions(r.dataset.key, /*with_options=*/true));
      if (versions->empty()) continue;
      out.push_back({std::move(r), std::move(*versions)});
    }
    return out;
  });
}

// The current version: the one the record names.
const VersionRecord* Current(const Exported& e) {
  for (const VersionRecord& v : e.versions) {
    if (v.version == e.record.sync.version) return &v;
  }
  return e.versions.empty() ? nullptr : &e.versions.back();
}


// Publishes one dataset's snapshot, diffs and FHIR file under `prefix`
// ("" for global datasets, "orgs/<org>/" for an organisation's).
Result<ManifestEntry> PublishDataset(Tree& tree, const Exported& e,
                                     const VersionRecord& current,
                                     const std::string& prefix,
                                     const ExportOptions& options) {
  const std::string& key = e.record.dataset.key;
  ManifestEntry entry;
  entry.record = &e.record;
  entry.current = &current;

  const std::string snapshot_dir = prefix + "datasets/" + key + "/";
  DS_TRY(snapshot,
         tree.Compressed(snapshot_dir + std::to_string(current.version),
                         DumpCompact(SnapshotJson(e.record, current))));
  entry.snapshot = std::move(*snapshot);
  if (options.all_versions) {
    for (const VersionRecord& v : e.versions) {
      if (&v == &current) continue;
      DS_TRY(older, tree.Compressed(snapshot_dir + std::to_string(v.version),
                                    DumpCompact(SnapshotJson(e.record, v))));
      entry.older.emplace_back(v.version, std::move(*older));
    }
  }

  // Consecutive pairs, and every older version straight to the current
  // one (the manifest lists the latter: one file for any client).
  const std::string diff_dir = prefix + "diffs/" + key + "/";
  auto publish_diff = [&](const VersionRecord& from, const VersionRecord& to,
                          const OptionsDiff& diff) -> Result<PublishedDocument> {
    return tree.Compressed(diff_dir + std::to_string(from.version) + "-" +
                               std::to_string(to.version),
                           DumpCompact(DiffJson(key, from, to, diff)));
  };
  for (std::size_t i = 0; i + 1 < e.versions.size(); ++i) {
    const VersionRecord& from = e.versions[i];
    const VersionRecord& to = e.versions[i + 1];
    if (&to == &current) continue;  // done below
    if (to.version > current.version) continue;
    DS_CHECK(publish_diff(from, to, DiffOptions(from.options, to.options)));
  }
  for (const VersionRecord& v : e.versions) {
    if (v.version >= current.version) continue;
    // One diff serves the file and the manifest's summary.
    OptionsDiff diff = DiffOptions(v.options, current.options);
    DS_TRY(doc, publish_diff(v, current, diff));
    entry.diffs.push_back(
        {v.version, current.version, std::move(diff), std::move(*doc)});
  }

  if (options.fhir) {
    DS_TRY(fhir, tree.Plain(prefix + "fhir/" + key + "/" +
                                std::to_string(current.version),
                            DumpCompact(FhirValueSet(e.record, current,
                                                     options.fhir_base_url))));
    entry.fhir = std::move(*fhir);
  }
  return entry;
}

// Writes `json` as <path> and <path>.gz; true when <path> changed.
Result<bool> PutManifest(Tree& tree, const std::string& path,
                         const OrderedJson& json) {
  const std::string text = DumpCompact(json);
  DS_TRY(gz, GzipCompress(text, kGzipLevel));
  DS_CHECK(tree.PutIfDifferent(path + ".gz", *gz));
  return tree.PutIfDifferent(path, text);
}

}  // namespace

Result<ExportReport> ExportStore(Store& store, const ExportOptions& options) {
  if (options.out_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no output directory given");
  }
  DS_TRY(data, ReadStore(store));
  ExportReport report;
  Tree tree(options.out_dir, report);
  std::vector<ManifestEntry> entries;  // global datasets
  // An organisation's own datasets, by organisation (sorted).
  std::map<std::string, std::vector<ManifestEntry>> by_org;

  for (const Exported& e : *data) {
    const Dataset& d = e.record.dataset;
    const VersionRecord* current = Current(e);
    if (current == nullptr) continue;
    if (d.is_global) {
      DS_TRY(entry, PublishDataset(tree, e, *current, "", options));
      entries.push_back(std::move(*entry));
    } else if (!d.organization.empty()) {
      // The name becomes a folder: only key-like names (the CLI allows no
      // other), never "../x" or "Org 7".
      if (!ValidateKey(d.organization)) {
        report.warnings.push_back("'" + d.key + "' not exported: its "
                                  "organisation '" + d.organization +
                                  "' is not a valid folder name");
        continue;
      }
      // Under orgs/<org>/ so that a CDN can put access control there.
      DS_TRY(entry, PublishDataset(tree, e, *current,
                                   "orgs/" + d.organization + "/", options));
      by_org[d.organization].push_back(std::move(*entry));
    }
    // A dataset neither global nor an organisation's is not published.
  }
  report.datasets = entries.size();
  // An organisation whose last own dataset went (deleted or published)
  // keeps a manifest, now with global datasets only, rather than a stale
  // one listing what it no longer has.
  std::error_code ec;
  for (auto it = fs::directory_iterator(fs::path(options.out_dir) / "orgs", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string org = it->path().filename().string();
    if (it->is_directory() && ValidateKey(org) &&
        fs::exists(it->path() / "manifest.json")) {
      by_org.try_emplace(org);
    }
  }

  // Manifests last: everything they name is in place before they are. The
  // organisations' first, then the public one.
  for (const auto& [org, own] : by_org) {
    DS_CHECK(PutManifest(tree, "orgs/" + org + "/manifest.json",
                         OrgManifestJson(org, own, entries)));
    ++report.organizations;
  }
  DS_TRY(changed, PutManifest(tree, "manifest.json", ManifestJson(entries)));
  report.manifest_changed = *changed;

  if (!options.checktick_fixture.empty()) {
    std::vector<std::pair<DatasetRecord, VersionRecord>> all;
    for (const Exported& e : *data) {
      if (const VersionRecord* v = Current(e)) all.emplace_back(e.record, *v);
    }
    const std::string fixture = CheckTickFixture(all).dump(
        2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
    const std::optional<std::string> existing =
        ReadIfExists(options.checktick_fixture);
    if (!existing || *existing != fixture) {
      DS_CHECK(WriteAtomically(options.checktick_fixture, fixture));
    }
  }

  if (options.prune) DS_CHECK(tree.Prune({"datasets", "diffs", "fhir", "orgs"}));
  return report;
}

}  // namespace datasnap
