#include "exporters/export_record.h"

#include <nlohmann/json.hpp>

#include "core/model_json.h"
#include "core/sha256.h"

namespace datasnap {
namespace {

// Bumped whenever the record's meaning changes: an export ignores a record
// of another format and reads everything.
constexpr int kRecordFormat = 1;

}  // namespace

std::string AuditFingerprint(const AuditEvent& event) {
  return Sha256Hex(DumpCompact(AuditEventToJson(event)));
}

std::string ExportRecordJson(const ExportRecord& r) {
  OrderedJson j;
  j["format"] = kRecordFormat;
  j["generator"] = r.generator;
  j["store"] = {{"created_at", r.store_created_at},
                {"audit_seq", r.audit_seq},
                {"audit_event_sha256", r.audit_event_sha256}};
  j["options"] = {{"all_versions", r.all_versions},
                  {"fhir", r.fhir},
                  {"fhir_base_url", r.fhir_base_url}};
  j["manifests"] = OrderedJson::object();
  for (const auto& [path, sha] : r.manifests) j["manifests"][path] = sha;
  j["listed_files"] = r.listed_files;
  j["warnings"] = OrderedJson::object();
  for (const auto& [key, text] : r.warnings) j["warnings"][key] = text;
  return DumpCompact(j) + "\n";
}

std::optional<ExportRecord> ParseExportRecord(std::string_view text) {
  const nlohmann::json j =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  try {
    if (j.at("format").get<int>() != kRecordFormat) return std::nullopt;
    ExportRecord r;
    r.generator = j.at("generator").get<std::string>();
    const nlohmann::json& store = j.at("store");
    r.store_created_at = store.at("created_at").get<std::string>();
    r.audit_seq = store.at("audit_seq").get<std::uint64_t>();
    r.audit_event_sha256 = store.at("audit_event_sha256").get<std::string>();
    const nlohmann::json& options = j.at("options");
    r.all_versions = options.at("all_versions").get<bool>();
    r.fhir = options.at("fhir").get<bool>();
    r.fhir_base_url = options.at("fhir_base_url").get<std::string>();
    for (const auto& [path, sha] : j.at("manifests").items()) {
      r.manifests[path] = sha.get<std::string>();
    }
    r.listed_files = j.at("listed_files").get<std::uint64_t>();
    for (const auto& [key, warning] : j.at("warnings").items()) {
      r.warnings[key] = warning.get<std::string>();
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a field missing or of another type
  }
}

}  // namespace datasnap
