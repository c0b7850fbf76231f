// Exports the store as static files for a CDN: immutable, content-named
// snapshots and diffs, and a small mutable manifest written last.
//
//   ExportOptions options;
//   options.out_dir = "var/export";
//   auto report = ExportStore(*store, options);   // store opened read-only
//   if (!report) ... the message names the file that could not be written
//
// The tree (docs/FORMATS.md):
//   datasets/<key>/<version>.<h>.json.zst, .json.gz   snapshots
//   diffs/<key>/<from>-<to>.<h>.json.zst, .json.gz    diffs
//   fhir/<key>/<version>.<h>.json                     FHIR ValueSets (--fhir)
//   manifest.json, manifest.json.gz                   global datasets only
//   orgs/<org>/{datasets,diffs,fhir}/...               an organisation's own
//   orgs/<org>/manifest.json, .json.gz                 datasets, and the
//                                                      global ones by reference
// <h> is the first 12 hex digits of the SHA-256 of the uncompressed JSON,
// so a name never changes content and a CDN may cache it forever.
//
// Same store, same bytes. Files that already hold the right content are
// left alone; new files are written under temporary names, synced (in
// batches) and renamed into place; the manifests go last, once everything
// they name is durable, so a reader never sees one point at a missing file.
// Files of earlier exports stay (clients may hold an old manifest) unless
// `prune`.
//
// Incremental: an export leaves a record of what it wrote in `out_dir`
// (export_record.h). When the next finds it still true of the tree and
// the store, it reads only the datasets named by the store's audit events
// since, and composes the manifests from the earlier ones' entries and the
// changed datasets' new ones. Otherwise the manifests already in `out_dir`
// say what an earlier export published: a dataset whose manifest entry is
// still what this export would list, and whose listed files are all there
// at their listed sizes, keeps its entry: its options are not read and
// nothing of it is compressed or written. The others are built, on every
// core. `verify` (or `prune`) builds every dataset instead, checking each
// existing file by decoding it and repairing what is wrong or missing
// (docs/FORMATS.md, "How an export writes").
//
// The files and their bytes come from export_tree.h, which `datasnap
// serve` shares; this module writes them.
#ifndef DATASNAP_EXPORTERS_EXPORT_H_
#define DATASNAP_EXPORTERS_EXPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace datasnap {

struct ExportOptions {
  std::string out_dir;  // created when missing
  // Also publish every older version's snapshot. Default: current only.
  bool all_versions = false;
  // Delete files under datasets/, diffs/ and fhir/ that this export does
  // not list. Default: keep them.
  bool prune = false;
  // Also publish a FHIR R4 ValueSet per dataset. Default: false.
  bool fhir = false;
  std::string fhir_base_url = "https://datasnap.rcpch.ac.uk/fhir";
  // When set, also write a Django fixture of CheckTick's DataSet model
  // here. Default: none.
  std::string checktick_fixture;
  // Build every dataset and check every existing file by decoding it
  // (repairing damaged ones), rather than trusting the earlier manifests'
  // entries whose files are present at their listed sizes. Default: false.
  bool verify = false;
  // Threads that build and compress datasets. Default 0: one per core.
  unsigned workers = 0;
};

struct ExportReport {
  std::size_t datasets = 0;          // listed in the public manifest
  std::size_t organizations = 0;     // with a manifest of their own
  std::size_t files_written = 0;     // new or repaired files
  std::size_t files_unchanged = 0;   // already there with the right content
  std::size_t datasets_built = 0;    // the others kept their earlier entry
  std::size_t files_pruned = 0;
  std::uint64_t bytes_written = 0;
  bool manifest_changed = false;
  // True when only the datasets changed since the export the directory's
  // record describes were read (docs/FORMATS.md, "How an export writes").
  bool incremental = false;
  // Paths relative to out_dir in the order they were renamed into place
  // (workers interleave; the manifests are always last).
  std::vector<std::string> written;
  // Datasets left out for a reason the operator should fix.
  std::vector<std::string> warnings;
};

// Exports the active datasets that have a version: global ones publicly,
// an organisation's own ones under orgs/<org>/ (a CDN puts access control
// there); others are not published. Reads one consistent snapshot of
// `store`. Errors are kIo and name the path.
Result<ExportReport> ExportStore(Store& store, const ExportOptions& options);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_H_
