#include "core/model_json.h"

namespace datasnap {

OrderedJson TimeOrNull(const std::optional<UnixSeconds>& t) {
  return t ? OrderedJson(FormatIso8601(*t)) : OrderedJson(nullptr);
}

OrderedJson TextOrNull(const std::string& text) {
  return text.empty() ? OrderedJson(nullptr) : OrderedJson(text);
}

OrderedJson OptionsToJson(const OptionList& options) {
  OrderedJson array = OrderedJson::array();
  for (const Option& o : options.options()) {
    OrderedJson item;
    item["value"] = o.value;
    item["label"] = o.label;
    if (o.parent) item["parent"] = *o.parent;
    if (o.is_default) item["default"] = true;
    array.push_back(std::move(item));
  }
  return array;
}

OrderedJson DatasetRecordToJson(const DatasetRecord& record) {
  const Dataset& d = record.dataset;
  const SyncState& s = record.sync;
  OrderedJson j;
  j["key"] = d.key;
  j["name"] = d.name;
  j["description"] = d.description;
  j["category"] = CategoryName(d.category);
  j["source_type"] = SourceTypeName(d.source_type);
  j["reference_url"] = TextOrNull(d.reference_url);
  j["api_endpoint"] = TextOrNull(d.api_endpoint);
  j["tags"] = d.tags;
  j["aliases"] = d.aliases;
  j["sync_frequency_hours"] = d.sync_frequency_hours;
  j["is_custom"] = d.is_custom;
  j["is_global"] = d.is_global;
  j["parent"] = TextOrNull(d.parent);
  j["organization"] = TextOrNull(d.organization);
  j["is_active"] = d.is_active;
  j["version"] = s.version;
  j["option_count"] = s.option_count;
  j["options_sha256"] = TextOrNull(s.options_sha256);
  j["last_synced_at"] = TimeOrNull(s.last_synced_at);
  j["last_scraped"] = TimeOrNull(s.last_scraped);
  j["last_checked_at"] = TimeOrNull(s.last_checked_at);
  j["last_error"] = TextOrNull(s.last_error);
  j["created_at"] = TimeOrNull(s.created_at);
  j["updated_at"] = TimeOrNull(s.updated_at);
  return j;
}

OrderedJson ProvenanceToJson(const Provenance& p) {
  OrderedJson j;
  j["source_url"] = TextOrNull(p.source_url);
  j["fetched_at"] = TimeOrNull(p.fetched_at);
  j["etag"] = TextOrNull(p.etag);
  j["last_modified"] = TextOrNull(p.last_modified);
  j["content_type"] = TextOrNull(p.content_type);
  j["raw_sha256"] = TextOrNull(p.raw_sha256);
  j["note"] = TextOrNull(p.note);
  return j;
}

OrderedJson VersionSummaryToJson(const VersionRecord& v) {
  OrderedJson j;
  j["key"] = v.key;
  j["version"] = v.version;
  j["created_at"] = FormatIso8601(v.created_at);
  j["option_count"] = v.option_count;
  j["options_sha256"] = v.options_sha256;
  j["provenance"] = ProvenanceToJson(v.provenance);
  return j;
}

OrderedJson AuditEventToJson(const AuditEvent& e) {
  OrderedJson j;
  j["seq"] = e.seq;
  j["time"] = FormatIso8601(e.time);
  j["actor"] = e.actor;
  j["action"] = e.action;
  j["dataset"] = TextOrNull(e.dataset);
  j["detail"] = e.detail;
  return j;
}

std::string DumpCompact(const OrderedJson& json) {
  return json.dump(-1, ' ', /*ensure_ascii=*/false,
                   OrderedJson::error_handler_t::replace);
}

}  // namespace datasnap
