// The export from the record an earlier export left in its directory
// (export_record.h; docs/FORMATS.md, "How an export writes"): the record
// written after every export, and the export that reads from the store
// only the datasets the audit log names since.
//
//   auto earlier = ReadRecordedManifests(root, record, options);
//   if (earlier) {
//     DS_TRY(done, ExportChanged(txn, record, *earlier, options, workers,
//                                tree, report));
//     if (*done) ... exported; else the record does not fit the store
//   }
//
// Private to the exporter library (//exporters:export).
#ifndef DATASNAP_EXPORTERS_EXPORT_FROM_RECORD_H_
#define DATASNAP_EXPORTERS_EXPORT_FROM_RECORD_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "exporters/export.h"
#include "exporters/export_dir.h"
#include "exporters/export_record.h"
#include "exporters/export_tree.h"
#include "store/store.h"

namespace datasnap {

// The warnings of `headers` (datasets left out), by key.
std::map<std::string, std::string> WarningsOf(
    const std::vector<ExportableDataset>& headers);

// The record of an export that read the store in `txn`: its newest audit
// event, whose successors will name what changes.
Result<ExportRecord> NewRecord(const ReadTxn& txn, const TreeOptions& options);

// Writes the record when it differs from the one there: after the
// manifests, so that a crash between the two leaves a record whose
// manifest hashes no longer match, and the next export reads everything.
Status WriteRecord(const std::filesystem::path& root, const ExportRecord& record);

// The manifests `record` lists, read back by path, when the tree is still
// what the record says: written by this datasnap with these options, each
// manifest (.json and .gz) holding the bytes recorded, and no other
// organisation with a manifest (`options.extra_organizations`: those that
// have one, OrganizationsWithManifest). nullopt otherwise: the tree
// changed outside the exports (or the record is another's), and the export
// reads everything.
std::optional<std::map<std::string, std::string>> ReadRecordedManifests(
    const std::filesystem::path& root, const ExportRecord& record,
    const TreeOptions& options);

// The export after an earlier one whose record still describes the tree
// (ReadRecordedManifests): reads only the datasets named by the audit
// events since, builds those whose entries no longer stand, and composes
// the manifests from the earlier ones' entry texts and the new ones. The
// same bytes as a full export of the store (a test holds it to that).
// nullopt, having written nothing, when the audit log does not continue
// the record's: the caller exports in full. `report` is the one `tree`
// counts into.
Result<std::optional<ExportReport>> ExportChanged(
    const ReadTxn& txn, const ExportRecord& recorded,
    const std::map<std::string, std::string>& earlier,
    const TreeOptions& options, unsigned workers, ExportDir& tree,
    ExportReport& report);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_FROM_RECORD_H_
