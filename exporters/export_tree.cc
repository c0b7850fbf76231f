#include "exporters/export_tree.h"

#include <map>

#include "core/compression.h"
#include "core/gzip_pieces.h"
#include "core/model_json.h"
#include "core/sha256.h"
#include "exporters/fhir.h"
#include "exporters/formats.h"

namespace datasnap {
namespace {

// Publishes the tree's files to a sink, and gives the manifest what it
// lists of them.
class Publisher {
 public:
  explicit Publisher(TreeSink& sink) : sink_(sink) {}

  // Publishes `json` as <stem>.<h>.json.zst and .json.gz.
  Result<PublishedDocument> Compressed(const std::string& stem,
                                       const std::string& json,
                                       const std::string& current_alias = {}) {
    PublishedDocument doc;
    doc.json_sha256 = Sha256Hex(json);
    doc.json_bytes = json.size();
    const std::string base =
        stem + "." + doc.json_sha256.substr(0, 12) + ".json";
    for (std::string_view encoding : {"zstd", "gzip"}) {
      TreeFile file{base + (encoding == "zstd" ? ".zst" : ".gz"), encoding,
                    /*manifest=*/false, doc.json_sha256, json.size(),
                    current_alias};
      DS_TRY(bytes, sink_.Encode(file, json));
      DS_TRY(published, Publish(file, *bytes, json));
      doc.files.push_back(std::move(*published));
    }
    return doc;
  }

  // Publishes `json` as <stem>.<h>.json, uncompressed.
  Result<PublishedFile> Plain(const std::string& stem, const std::string& json) {
    const std::string sha = Sha256Hex(json);
    TreeFile file{stem + "." + sha.substr(0, 12) + ".json", "identity",
                  /*manifest=*/false, sha, json.size(), {}};
    return Publish(file, json, json);
  }

  // Publishes the manifest `text` as <path>.gz, then <path>.
  Status Manifest(const std::string& path, const std::string& text) {
    const std::string sha = Sha256Hex(text);
    TreeFile gz{path + ".gz", "gzip", /*manifest=*/true, sha, text.size(), {}};
    DS_TRY(bytes, sink_.Encode(gz, text));
    DS_CHECK(Publish(gz, *bytes, text));
    TreeFile plain{path, "identity", /*manifest=*/true, sha, text.size(), {}};
    DS_CHECK(Publish(plain, text, text));
    return {};
  }

 private:
  Result<PublishedFile> Publish(const TreeFile& file, const std::string& bytes,
                                const std::string& json) {
    const std::string sha = Sha256Hex(bytes);
    DS_CHECK(sink_.Publish(file, bytes, sha, json));
    return PublishedFile{file.path, std::string(file.encoding), bytes.size(),
                         sha};
  }

  TreeSink& sink_;
};

// Publishes one dataset's snapshot, diffs and FHIR file under `prefix`
// ("" for global datasets, "orgs/<org>/" for an organisation's).
Result<ManifestEntry> PublishDataset(Publisher& out, const ExportableDataset& e,
                                     const VersionRecord& current,
                                     const std::string& prefix,
                                     const TreeOptions& options) {
  const std::string& key = e.record.dataset.key;
  ManifestEntry entry;
  entry.record = &e.record;
  entry.current = &current;

  const std::string snapshot_dir = prefix + "datasets/" + key + "/";
  DS_TRY(snapshot,
         out.Compressed(snapshot_dir + std::to_string(current.version),
                        DumpCompact(SnapshotJson(e.record, current)),
                        snapshot_dir + "current.json"));
  entry.snapshot = std::move(*snapshot);
  if (options.all_versions) {
    for (const VersionRecord& v : e.versions) {
      if (&v == &current) continue;
      DS_TRY(older, out.Compressed(snapshot_dir + std::to_string(v.version),
                                   DumpCompact(SnapshotJson(e.record, v))));
      entry.older.emplace_back(v.version, std::move(*older));
    }
  }

  // Consecutive pairs, and every older version straight to the current
  // one (the manifest lists the latter: one file for any client).
  const std::string diff_dir = prefix + "diffs/" + key + "/";
  auto publish_diff = [&](const VersionRecord& from, const VersionRecord& to,
                          const OptionsDiff& diff) -> Result<PublishedDocument> {
    return out.Compressed(diff_dir + std::to_string(from.version) + "-" +
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
        {v.version, current.version, Summarize(diff), std::move(*doc)});
  }

  if (options.fhir) {
    DS_TRY(fhir, out.Plain(prefix + "fhir/" + key + "/" +
                               std::to_string(current.version),
                           DumpCompact(FhirValueSet(e.record, current,
                                                    options.fhir_base_url))));
    entry.fhir = std::move(*fhir);
  }
  return entry;
}

// The sink's entry for the dataset when it has one, else the one built.
Result<ManifestEntry> DatasetEntry(Publisher& out, TreeSink& sink,
                                   const ExportableDataset& e,
                                   const VersionRecord& current,
                                   const std::string& prefix,
                                   const TreeOptions& options) {
  if (std::optional<ManifestEntry> kept = sink.Reuse(e, prefix)) {
    kept->record = &e.record;
    kept->current = &current;
    return std::move(*kept);
  }
  return PublishDataset(out, e, current, prefix, options);
}

}  // namespace

std::optional<ManifestEntry> TreeSink::Reuse(const ExportableDataset&,
                                             const std::string&) {
  return std::nullopt;
}

Result<std::string> TreeSink::Encode(const TreeFile& file,
                                     const std::string& json) {
  return EncodeTreeFile(file, json);
}

Result<std::string> EncodeTreeFile(const TreeFile& file, std::string_view json,
                                   unsigned threads, std::string_view earlier) {
  if (file.manifest && file.encoding == "gzip") {
    return GzipCompressPieces(json, kManifestGzipLevel, threads, earlier);
  }
  return EncodeDocument(file.encoding, json);
}

Result<std::string> EncodeDocument(std::string_view encoding,
                                   std::string_view json) {
  if (encoding == "zstd") return ZstdCompress(json, kExportZstdLevel);
  if (encoding == "gzip") return GzipCompress(json, kExportGzipLevel);
  return Fail(ErrorCode::kInvalidArgument,
              "no such encoding '" + std::string(encoding) + "'");
}

Result<std::optional<ExportableDataset>> ReadExportableDataset(
    const ReadTxn& txn, DatasetRecord record, bool with_options) {
  if (!record.dataset.is_active || record.sync.version == 0) return std::nullopt;
  DS_TRY(versions, txn.ListVersions(record.dataset.key, with_options));
  if (versions->empty()) return std::nullopt;
  return ExportableDataset{std::move(record), std::move(*versions)};
}

Result<std::vector<ExportableDataset>> ReadExportable(const ReadTxn& txn) {
  DS_TRY(all, txn.ListDatasets());  // sorted by key
  std::vector<ExportableDataset> out;
  for (DatasetRecord& r : *all) {
    DS_TRY(e, ReadExportableDataset(txn, std::move(r), /*with_options=*/true));
    if (*e) out.push_back(std::move(**e));
  }
  return out;
}

const VersionRecord* CurrentVersion(const ExportableDataset& e) {
  for (const VersionRecord& v : e.versions) {
    if (v.version == e.record.sync.version) return &v;
  }
  return e.versions.empty() ? nullptr : &e.versions.back();
}

std::optional<std::string> ScopeOf(const Dataset& d) {
  if (d.is_global) return std::string();
  // The name becomes a folder: only key-like names (the CLI allows no
  // other), never "../x" or "Org 7". Under orgs/<org>/ so that a CDN can
  // put access control there.
  if (!d.organization.empty() && ValidateKey(d.organization)) {
    return "orgs/" + d.organization + "/";
  }
  // A dataset neither global nor an organisation's is not published.
  return std::nullopt;
}

std::optional<std::string> UnusableOrganizationWarning(const Dataset& d) {
  if (d.is_global || d.organization.empty() || ValidateKey(d.organization)) {
    return std::nullopt;
  }
  return "'" + d.key + "' not exported: its organisation '" + d.organization +
         "' is not a valid folder name";
}

Result<TreeSummary> BuildExportTree(const std::vector<ExportableDataset>& data,
                                    const TreeOptions& options,
                                    TreeSink& sink) {
  TreeSummary summary;
  Publisher out(sink);
  std::vector<ManifestEntry> entries;  // global datasets
  entries.reserve(data.size());
  // An organisation's own datasets, by organisation (sorted).
  std::map<std::string, std::vector<ManifestEntry>> by_org;

  for (const ExportableDataset& e : data) {
    const Dataset& d = e.record.dataset;
    const VersionRecord* current = CurrentVersion(e);
    if (current == nullptr) continue;
    const std::optional<std::string> prefix = ScopeOf(d);
    if (!prefix) {
      if (auto warning = UnusableOrganizationWarning(d)) {
        summary.warnings.push_back(std::move(*warning));
      }
      continue;
    }
    DS_TRY(entry, DatasetEntry(out, sink, e, *current, *prefix, options));
    if (prefix->empty()) {
      entries.push_back(std::move(*entry));
    } else {
      by_org[d.organization].push_back(std::move(*entry));
    }
  }
  summary.datasets = entries.size();
  for (const std::string& org : options.extra_organizations) {
    if (ValidateKey(org)) by_org.try_emplace(org);
  }

  // Manifests last: everything they name is in place before they are. The
  // organisations' first, then the public one.
  if (!by_org.empty()) {
    // Every organisation's manifest lists the same references: rendered
    // once, not once per organisation.
    std::vector<std::string> refs;
    refs.reserve(entries.size());
    for (const ManifestEntry& e : entries) {
      refs.push_back(GlobalRefText(e.record->dataset.key, e.current->version,
                                   e.snapshot.json_sha256));
    }
    const std::vector<std::string_view> global(refs.begin(), refs.end());
    for (const auto& [org, own] : by_org) {
      std::vector<std::string> texts;
      for (const ManifestEntry& e : own) texts.push_back(EntryText(e));
      DS_CHECK(out.Manifest(
          "orgs/" + org + "/manifest.json",
          OrgManifestTextOf(org, {texts.begin(), texts.end()}, global)));
      ++summary.organizations;
    }
  }
  DS_CHECK(out.Manifest("manifest.json", ManifestText(entries)));
  return summary;
}

}  // namespace datasnap
