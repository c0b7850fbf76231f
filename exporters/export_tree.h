// The export tree, computed from the store's records: which files a store
// publishes, their bytes, and the order they go out in. One source of truth
// for the two ways datasnap publishes: `datasnap export` writes the files
// to a directory (export.h), `datasnap serve` keeps them in memory and
// answers HTTP requests with them (serve/).
//
//   auto data = store.Read([](const ReadTxn& txn) { return ReadExportable(txn); });
//   MySink sink;                      // a TreeSink: where the files go
//   auto summary = BuildExportTree(*data, TreeOptions{}, sink);
//
// docs/FORMATS.md describes the tree. Pure: no clock, no file system, no
// network; the sink decides what to do with each file.
#ifndef DATASNAP_EXPORTERS_EXPORT_TREE_H_
#define DATASNAP_EXPORTERS_EXPORT_TREE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "exporters/formats.h"
#include "store/store.h"

namespace datasnap {

// Compression of published files: pinned, the bytes are part of the
// contract (docs/FORMATS.md, "Encodings"). zstd 9, not 19: on the
// catalogue's snapshots 19 saves 0.09 % of the bytes and costs ~50x the CPU
// (docs/BENCHMARKS.md, section 4), which made a 10,000-dataset export
// CPU-bound on compression.
inline constexpr int kExportZstdLevel = 9;
inline constexpr int kExportGzipLevel = 9;
// manifest.json.gz is rewritten by every export that changes anything, and
// at 10,000 datasets (9 MB) level 9 costs 1.5x level 6's CPU for 0.2 % of
// its bytes.
inline constexpr int kManifestGzipLevel = 6;

struct TreeOptions {
  // Also publish every older version's snapshot. Default: current only.
  bool all_versions = false;
  // Also publish a FHIR R4 ValueSet per dataset. Default: false.
  bool fhir = false;
  std::string fhir_base_url = "https://datasnap.rcpch.ac.uk/fhir";
  // Organisations that get orgs/<org>/manifest.json even without datasets
  // of their own (the export: those that had one before, so that it does
  // not go stale). Names that are not folder-safe are ignored. Default: none.
  std::set<std::string> extra_organizations;
};

// One published file.
struct TreeFile {
  std::string path;           // relative to the tree's root, '/'-separated
  std::string_view encoding;  // "zstd", "gzip" or "identity"
  bool manifest = false;      // a mutable manifest; else content-named
  std::string json_sha256;    // of the uncompressed JSON it encodes
  std::uint64_t json_bytes = 0;
  // For the current snapshot's files: "<prefix>datasets/<key>/current.json",
  // a mutable name for it that serve answers (the export writes none).
  std::string current_alias;
};

struct ExportableDataset;

// Where the files go.
class TreeSink {
 public:
  virtual ~TreeSink() = default;
  // The bytes of `json` in `file.encoding` ("zstd" or "gzip") for `file`.
  // The default compresses with EncodeTreeFile; a sink may instead return
  // bytes it has already (a cache, a file that decodes to `json`), which
  // must decode to `json`.
  virtual Result<std::string> Encode(const TreeFile& file,
                                     const std::string& json);
  // Publishes `bytes` (SHA-256 `sha256`) at `file.path`; `json` is the
  // document they encode (for "identity", `bytes` itself). Called in
  // publication order: every content-named file first, then each
  // organisation's manifest.json.gz and manifest.json, then the public
  // manifest.json.gz and, last of all, manifest.json. Each path once.
  virtual Status Publish(const TreeFile& file, const std::string& bytes,
                         const std::string& sha256,
                         const std::string& json) = 0;
  // The manifest entry of `dataset` under `prefix` ("" or "orgs/<org>/")
  // when the sink has it already, from an earlier build whose files still
  // stand: BuildExportTree then lists it as it is (setting its record and
  // current version) and neither builds nor publishes any of the dataset's
  // files, so the dataset's versions need no options. The default has
  // none: every dataset is built.
  virtual std::optional<ManifestEntry> Reuse(const ExportableDataset& dataset,
                                             const std::string& prefix);
};

// `json` compressed as the tree publishes it: "zstd" at level 9, "gzip" at
// level 9 (docs/FORMATS.md). kInvalidArgument for another encoding.
Result<std::string> EncodeDocument(std::string_view encoding,
                                   std::string_view json);

// `json` compressed as the tree publishes `file`: as EncodeDocument, but a
// manifest's gzip at kManifestGzipLevel in GzipCompressPieces's pieces, on
// up to `threads` cores, copying the pieces of `earlier` (the file's
// previous bytes, when known) that still stand. The same bytes for any
// `threads` and `earlier`, so that the export and `serve` agree at any size.
Result<std::string> EncodeTreeFile(const TreeFile& file, std::string_view json,
                                   unsigned threads = 1,
                                   std::string_view earlier = {});

// A dataset as the export reads it, from one transaction.
struct ExportableDataset {
  DatasetRecord record;
  std::vector<VersionRecord> versions;  // oldest first, with options
};

// The active datasets that have a version, sorted by key, with every
// version's options.
Result<std::vector<ExportableDataset>> ReadExportable(const ReadTxn& txn);

// `record` with its versions (and their options, when `with_options`), or
// nullopt when the export leaves it out: deleted, or without a version.
// What ReadExportable reads of each dataset.
Result<std::optional<ExportableDataset>> ReadExportableDataset(
    const ReadTxn& txn, DatasetRecord record, bool with_options);

// The current version of `dataset` (the one its record names), or nullptr.
const VersionRecord* CurrentVersion(const ExportableDataset& dataset);

struct TreeSummary {
  std::size_t datasets = 0;       // listed in the public manifest
  std::size_t organizations = 0;  // with a manifest of their own
  // Datasets left out for a reason the operator should fix.
  std::vector<std::string> warnings;
};

// Where a dataset's files go: "" (public) for a global one, "orgs/<org>/"
// for an organisation's own; nullopt when it is not published: neither
// global nor an organisation's, or of an organisation whose name cannot be
// a folder (UnusableOrganizationWarning).
std::optional<std::string> ScopeOf(const Dataset& dataset);

// The warning for a dataset left out because its organisation's name is
// not key-like (it would become a folder), or nullopt when it is not one.
std::optional<std::string> UnusableOrganizationWarning(const Dataset& dataset);

// Publishes `data` to `sink`: global datasets publicly, an organisation's
// own ones under orgs/<org>/ with its manifest (docs/FORMATS.md); others
// not at all. Fails with the first error of the sink.
Result<TreeSummary> BuildExportTree(const std::vector<ExportableDataset>& data,
                                    const TreeOptions& options, TreeSink& sink);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_TREE_H_
