// JSON forms of the model, shared by the store's records (docs/STORE.md),
// canonical options and the CLI's --json output, so they cannot drift apart.
//
// Absent times and empty optional texts are written as null; times as
// ISO 8601 UTC strings.
#ifndef DATASNAP_CORE_MODEL_JSON_H_
#define DATASNAP_CORE_MODEL_JSON_H_

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/model.h"

namespace datasnap {

using OrderedJson = nlohmann::ordered_json;

OrderedJson TimeOrNull(const std::optional<UnixSeconds>& t);
OrderedJson TextOrNull(const std::string& text);

// [{"value","label"[,"parent"][,"default":true]}, ...] in the list's order.
OrderedJson OptionsToJson(const OptionList& options);

// A dataset record as the store keeps it (docs/STORE.md, `datasets`).
OrderedJson DatasetRecordToJson(const DatasetRecord& record);

// {"source_url","fetched_at","etag","last_modified","content_type",
//  "raw_sha256","note"}
OrderedJson ProvenanceToJson(const Provenance& provenance);

// A version record without its options (docs/STORE.md, `versions`):
// {"key","version","created_at","option_count","options_sha256","provenance"}
OrderedJson VersionSummaryToJson(const VersionRecord& version);

// {"seq","time","actor","action","dataset","detail"}
OrderedJson AuditEventToJson(const AuditEvent& event);

// Compact text with UTF-8 written as is. Strings that reach the model were
// validated as UTF-8; a stray invalid byte becomes U+FFFD rather than an
// exception.
std::string DumpCompact(const OrderedJson& json);

}  // namespace datasnap

#endif  // DATASNAP_CORE_MODEL_JSON_H_
