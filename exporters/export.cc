#include "exporters/export.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "core/model_json.h"
#include "exporters/checktick_fixture.h"
#include "exporters/export_build.h"
#include "exporters/export_dir.h"
#include "exporters/export_from_record.h"
#include "exporters/export_record.h"
#include "exporters/export_tree.h"
#include "exporters/formats.h"
#include "exporters/manifest_reader.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
namespace dom = simdjson::dom;

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

// The final pass: every dataset's entry is known (kept or just built), so
// this sink writes only the manifests.
class ManifestSink : public TreeSink {
 public:
  // Moves each entry out of `kept` or `built` as the tree asks for it
  // (once per dataset): copying 10,000 entries' strings cost more than
  // listing them.
  ManifestSink(ExportDir& tree, EntryIndex& kept, EntryIndex& built,
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

  ExportDir& tree_;
  EntryIndex& kept_;
  EntryIndex& built_;
  unsigned workers_;
  bool manifest_changed_ = false;
  std::map<std::string, std::string> manifests_;
  std::uint64_t listed_files_ = 0;
};

// As ReadExportable, without the options.
Result<std::vector<ExportableDataset>> ReadHeaders(const ReadTxn& txn) {
  DS_TRY(all, txn.ListDatasets());  // sorted by key
  std::vector<ExportableDataset> out;
  out.reserve(all->size());
  for (DatasetRecord& r : *all) {
    DS_TRY(e, ReadExportableDataset(txn, std::move(r), /*with_options=*/false));
    if (*e) out.push_back(std::move(**e));
  }
  return out;
}

// Deletes the files under `dirs` that this run did not publish, and
// temporary files a crashed run left behind.
Status Prune(const ExportDir& tree, const std::vector<std::string>& dirs,
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
  ExportDir tree(root, report, /*track_published=*/options.prune);

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
