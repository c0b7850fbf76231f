// What an export wrote, kept beside its tree in DIR/.datasnap-export.json
// so that the next export can read only what changed since (docs/
// FORMATS.md, "How an export writes"): which store and which point of its
// audit log the tree shows, with which options, and the SHA-256 of every
// manifest it wrote. The next export trusts the tree's manifests only when
// their bytes are still these, the store is the same one and its audit
// event at that point is the one recorded; then the datasets named by the
// later events are the only ones it reads.
//
//   ExportRecord r = ...;
//   std::string text = ExportRecordJson(r);
//   std::optional<ExportRecord> back = ParseExportRecord(text);
//
// Not published: it says nothing a client needs (upload skips it).
#ifndef DATASNAP_EXPORTERS_EXPORT_RECORD_H_
#define DATASNAP_EXPORTERS_EXPORT_RECORD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/model.h"

namespace datasnap {

// The record's name in the export directory.
inline constexpr char kExportRecordName[] = ".datasnap-export.json";

struct ExportRecord {
  std::string generator;          // "datasnap <version>" that wrote the tree
  std::string store_created_at;   // the store's created_at (ReadTxn::CreatedAt)
  std::uint64_t audit_seq = 0;    // its newest audit event the export saw
  std::string audit_event_sha256; // AuditFingerprint of that event
  // The options the tree was written with.
  bool all_versions = false;
  bool fhir = false;
  std::string fhir_base_url;
  // SHA-256 of each manifest's bytes, by path ("manifest.json",
  // "manifest.json.gz", "orgs/<org>/manifest.json", ...).
  std::map<std::string, std::string> manifests;
  // Content files (snapshots, diffs, FHIR) the manifests list in all.
  std::uint64_t listed_files = 0;
  // Datasets left out with a warning, by key: an export that does not
  // read them again still reports them.
  std::map<std::string, std::string> warnings;
};

// What identifies an audit event: SHA-256 of its JSON (all of its fields).
std::string AuditFingerprint(const AuditEvent& event);

// The record as JSON text (keys in a fixed order, one line, newline-ended).
std::string ExportRecordJson(const ExportRecord& record);

// The record in `text`, or nullopt when it is not one (another format,
// damaged): the export then reads everything, as without a record.
std::optional<ExportRecord> ParseExportRecord(std::string_view text);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_EXPORT_RECORD_H_
