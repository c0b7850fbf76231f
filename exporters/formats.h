// The JSON documents datasnap publishes: dataset snapshots, version diffs
// and the manifest. docs/FORMATS.md documents them (a contract: CDNs and
// browsers read them) and docs/schemas/ holds their JSON Schemas.
//
//   OrderedJson snapshot = SnapshotJson(record, version);
//   std::string bytes = DumpCompact(snapshot);   // what is published
//   OrderedJson diff = DiffJson(record.dataset.key, older, newer);
//
// Pure functions of the store's records: no clock, no host, no paths
// beyond the ones given. Keys come in a fixed order, so the same records
// always give the same bytes.
#ifndef DATASNAP_EXPORTERS_FORMATS_H_
#define DATASNAP_EXPORTERS_FORMATS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model.h"
#include "core/model_json.h"
#include "core/options_diff.h"

namespace datasnap {

// The version of the published formats; bumped on incompatible changes.
inline constexpr int kExportFormatVersion = 1;

// {"format","key","name","version","created_at","option_count","sha256"
//  (of the canonical options),"provenance","options"}
OrderedJson SnapshotJson(const DatasetRecord& record,
                         const VersionRecord& version);

// {"format","key","from","to","from_sha256","to_sha256","summary":
//  {"added","removed","changed","reordered"},"added","removed","changed":
//  [{"value","before","after"}],["order"],"patch"}. "order" (the values of
// `to` in order) is present when added or moved options make the order
// impossible to derive from `from`'s; "patch" is an RFC 6902 JSON Patch
// over the options keyed by value.
OrderedJson DiffJson(const std::string& key, const VersionRecord& from,
                     const VersionRecord& to);
// The same, from `diff` = DiffOptions(from.options, to.options) when the
// caller has it already.
OrderedJson DiffJson(const std::string& key, const VersionRecord& from,
                     const VersionRecord& to, const OptionsDiff& diff);

// One published file, as the manifest lists it.
struct PublishedFile {
  std::string path;      // relative to the export directory, '/'-separated
  std::string encoding;  // "zstd", "gzip" or "identity"
  std::uint64_t bytes = 0;
  std::string sha256;  // of the file's bytes
};

// A JSON document published under several encodings.
struct PublishedDocument {
  std::string json_sha256;  // of the uncompressed JSON
  std::uint64_t json_bytes = 0;
  std::vector<PublishedFile> files;
};

// A diff's "summary": how many options it adds, removes and changes.
struct DiffSummary {
  std::size_t added = 0;
  std::size_t removed = 0;
  std::size_t changed = 0;
  bool reordered = false;
};
DiffSummary Summarize(const OptionsDiff& diff);

struct ManifestDiff {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  DiffSummary summary;
  PublishedDocument document;
};

// What the manifest lists of one dataset. `current` need not carry its
// options (the manifest's option_count is current->option_count).
struct ManifestEntry {
  const DatasetRecord* record = nullptr;
  const VersionRecord* current = nullptr;
  PublishedDocument snapshot;
  std::vector<ManifestDiff> diffs;  // from each older version to `current`
  // Older snapshots (with --all-versions), oldest first.
  std::vector<std::pair<std::uint32_t, PublishedDocument>> older;
  std::optional<PublishedFile> fhir;
  // This entry's JSON exactly as EntriesJson renders it, when known already
  // (an earlier manifest of this same datasnap version listed it, and the
  // dataset has not changed since): ManifestText copies it instead of
  // rendering the entry again. Empty: rendered.
  std::string json;
};

// {"format","generator","datasets":[...]}, datasets in the given order
// (the exporter sorts them by key).
OrderedJson ManifestJson(const std::vector<ManifestEntry>& entries);

// DumpCompact(ManifestJson(entries)), with each entry's `json` copied where
// it is set instead of rendered: at 10,000 datasets rendering them all
// again was a fifth of an export after one change.
std::string ManifestText(const std::vector<ManifestEntry>& entries);

// An entry's text in a manifest: its `json` when set, else as EntriesJson
// renders it (which needs its record and current version).
std::string EntryText(const ManifestEntry& entry);

// DumpCompact(ManifestJson(...)) from the entries' texts (EntryText), in
// the given order: what ManifestText writes.
std::string ManifestTextOf(const std::vector<std::string_view>& entries);

// orgs/<org>/manifest.json: {"format","generator","organization",
// "datasets":[the organisation's own, as in the public manifest],
// "global":[{"key","version","sha256","manifest":"manifest.json"}]} — the
// global datasets by reference (their files are the public ones).
OrderedJson OrgManifestJson(const std::string& organization,
                            const std::vector<ManifestEntry>& own,
                            const std::vector<ManifestEntry>& global);

// An organisation manifest's reference to a global dataset, as
// OrgManifestJson renders it: {"key","version","sha256","manifest"}.
std::string GlobalRefText(std::string_view key, std::uint32_t version,
                          std::string_view sha256);

// DumpCompact(OrgManifestJson(...)) from the texts of the organisation's
// own entries (EntryText) and of its global references (GlobalRefText),
// in the given order.
std::string OrgManifestTextOf(const std::string& organization,
                              const std::vector<std::string_view>& own,
                              const std::vector<std::string_view>& global);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_FORMATS_H_
