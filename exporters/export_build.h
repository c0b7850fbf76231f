// Building datasets into the export directory: which earlier manifest
// entries still stand, and the datasets built (compressed, staged, synced
// in batches) on every core, with their new manifest entries. Shared by
// the full export and the export from the record (export.h).
//
//   EntryIndex built;
//   DS_CHECK(BuildDatasets(txn, headers, todo, options, workers, tree, built));
//
// Private to the exporter library (//exporters:export).
#ifndef DATASNAP_EXPORTERS_EXPORT_BUILD_H_
#define DATASNAP_EXPORTERS_EXPORT_BUILD_H_

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "exporters/export_dir.h"
#include "exporters/export_tree.h"
#include "exporters/formats.h"
#include "exporters/manifest_reader.h"
#include "store/store.h"

namespace datasnap {

// Every file an entry lists.
std::vector<const PublishedFile*> FilesOf(const ManifestEntry& entry);

// True when `known` is the entry this export would list for `e` under
// `prefix`, and its files are in `root` at their listed sizes. Versions are
// immutable and never renumbered (docs/STORE.md), so a version's number,
// options hash and creation time name its snapshot and diffs; the dataset's
// own fields are compared one by one. A file of the right size with other
// bytes is left to `verify`.
bool StillStands(const KnownEntry& known, const ExportableDataset& e,
                 const VersionRecord& current, const std::string& prefix,
                 const TreeOptions& options, const std::filesystem::path& root);

// Builds the datasets `todo` (indices into `headers`, which lack options)
// on `workers` threads. This thread loads each slice's options from `txn`
// (LMDB read transactions belong to their thread) a few slices ahead of
// the workers; each worker builds a slice into `tree` and commits its
// files in one batch. Entries go to `built`.
Status BuildDatasets(const ReadTxn& txn,
                     const std::vector<ExportableDataset>& headers,
                     const std::vector<std::size_t>& todo,
                     const TreeOptions& options, unsigned workers,
                     ExportDir& tree, EntryIndex& built);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_BUILD_H_
