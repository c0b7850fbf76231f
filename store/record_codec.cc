#include "store/record_codec.h"

#include "core/canonical_json.h"
#include "core/json_read.h"
#include "core/model_json.h"

namespace datasnap::store_internal {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

void PutBigEndian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
}

std::uint64_t GetBigEndian(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

// A simdjson parser allocates its buffers on its first parse and keeps
// them: a fresh one per record cost an export listing 10,000 records more
// than the parsing itself. Each thread keeps one parser per use and lends
// it out; a decode nested inside another on the same thread gets a fresh
// parser of its own.
struct ParserSlot {
  simdjson::dom::parser parser;
  bool lent = false;
};

class ParserLease {
 public:
  explicit ParserLease(ParserSlot& slot) : slot_(slot.lent ? nullptr : &slot) {
    if (slot_ != nullptr) slot_->lent = true;
  }
  ~ParserLease() {
    if (slot_ != nullptr) slot_->lent = false;
  }
  ParserLease(const ParserLease&) = delete;
  ParserLease& operator=(const ParserLease&) = delete;
  simdjson::dom::parser& get() { return slot_ != nullptr ? slot_->parser : own_; }

 private:
  ParserSlot* slot_;
  simdjson::dom::parser own_;  // allocates nothing until it parses
};

thread_local ParserSlot record_parser;
thread_local ParserSlot options_parser;

// Decoding: records are our own output, so a mismatch is kCorrupt.
class Decoder {
 public:
  Decoder(std::string_view json, std::string what)
      : what_(std::move(what)), parser_(record_parser) {
    auto root = json::Parse(parser_.get(), json, what_);
    if (!root) {
      error_ = root.error();
      return;
    }
    object o;
    if (root->get(o)) {
      error_ = Error{ErrorCode::kCorrupt, what_ + ": expected a JSON object"};
      return;
    }
    reader_.emplace(o, what_, "", /*input_is_user_data=*/false);
  }
  const std::optional<Error>& error() const { return error_; }
  json::ObjectReader& r() { return *reader_; }

  Result<std::optional<UnixSeconds>> OptionalTime(std::string_view field) {
    DS_TRY(text, r().OptionalString(field));
    if (!*text) return std::optional<UnixSeconds>();
    auto t = ParseIso8601(**text);
    if (!t) {
      return Fail(ErrorCode::kCorrupt,
                  r().Where(field) + ": \"" + **text + "\" is not a timestamp");
    }
    return std::optional<UnixSeconds>(*t);
  }
  Result<UnixSeconds> Time(std::string_view field) {
    DS_TRY(t, OptionalTime(field));
    if (!*t) return Fail(ErrorCode::kCorrupt, r().Where(field) + ": is missing");
    return **t;
  }
  Result<std::string> TextOrEmpty(std::string_view field) {
    DS_TRY(s, r().OptionalString(field));
    return s->value_or("");
  }

 private:
  std::string what_;
  ParserLease parser_;
  std::optional<json::ObjectReader> reader_;
  std::optional<Error> error_;
};


}  // namespace

std::string VersionPrefix(std::string_view dataset) {
  std::string key(dataset);
  key.push_back('\0');
  return key;
}

std::string VersionKey(std::string_view dataset, std::uint32_t version) {
  std::string key = VersionPrefix(dataset);
  PutBigEndian(key, version, 4);
  return key;
}

std::optional<std::uint32_t> VersionOfKey(std::string_view key) {
  if (key.size() < 5 || key[key.size() - 5] != '\0') return std::nullopt;
  return static_cast<std::uint32_t>(GetBigEndian(key.substr(key.size() - 4)));
}

std::string AuditKey(std::uint64_t seq) {
  std::string key;
  PutBigEndian(key, seq, 8);
  return key;
}

std::optional<std::uint64_t> SeqOfAuditKey(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return GetBigEndian(key);
}

std::string EncodeDataset(const DatasetRecord& record) {
  return DumpCompact(DatasetRecordToJson(record));
}

Result<DatasetRecord> DecodeDataset(std::string_view text) {
  Decoder dec(text, "datasets record");
  if (dec.error()) return std::unexpected(*dec.error());
  auto& r = dec.r();
  DatasetRecord out;
  Dataset& d = out.dataset;
  SyncState& s = out.sync;
  DS_TRY(key, r.String("key"));
  d.key = std::move(*key);
  DS_TRY(name, r.String("name"));
  d.name = std::move(*name);
  DS_TRY(description, dec.TextOrEmpty("description"));
  d.description = std::move(*description);
  DS_TRY(category_name, r.String("category"));
  auto category = ParseCategory(*category_name);
  if (!category) {
    return Fail(ErrorCode::kCorrupt, "datasets record '" + d.key +
                                         "': unknown category '" +
                                         *category_name + "'");
  }
  d.category = *category;
  DS_TRY(source_name, r.String("source_type"));
  auto source = ParseSourceType(*source_name);
  if (!source) {
    return Fail(ErrorCode::kCorrupt, "datasets record '" + d.key +
                                         "': unknown source_type '" +
                                         *source_name + "'");
  }
  d.source_type = *source;
  DS_TRY(reference_url, dec.TextOrEmpty("reference_url"));
  d.reference_url = std::move(*reference_url);
  DS_TRY(api_endpoint, dec.TextOrEmpty("api_endpoint"));
  d.api_endpoint = std::move(*api_endpoint);
  DS_TRY(tags, r.StringArray("tags"));
  d.tags = std::move(*tags);
  DS_TRY(aliases, r.StringArray("aliases"));
  d.aliases = std::move(*aliases);
  DS_TRY(hours, r.Int("sync_frequency_hours"));
  d.sync_frequency_hours = static_cast<std::int32_t>(*hours);
  DS_TRY(is_custom, r.Bool("is_custom"));
  d.is_custom = *is_custom;
  DS_TRY(is_global, r.Bool("is_global"));
  d.is_global = *is_global;
  DS_TRY(parent, dec.TextOrEmpty("parent"));
  d.parent = std::move(*parent);
  DS_TRY(organization, dec.TextOrEmpty("organization"));
  d.organization = std::move(*organization);
  DS_TRY(is_active, r.Bool("is_active"));
  d.is_active = *is_active;

  DS_TRY(version, r.Int("version"));
  s.version = static_cast<std::uint32_t>(*version);
  DS_TRY(count, r.Int("option_count"));
  s.option_count = static_cast<std::size_t>(*count);
  DS_TRY(sha, dec.TextOrEmpty("options_sha256"));
  s.options_sha256 = std::move(*sha);
  DS_TRY(last_synced_at, dec.OptionalTime("last_synced_at"));
  s.last_synced_at = *last_synced_at;
  DS_TRY(last_scraped, dec.OptionalTime("last_scraped"));
  s.last_scraped = *last_scraped;
  DS_TRY(last_checked_at, dec.OptionalTime("last_checked_at"));
  s.last_checked_at = *last_checked_at;
  DS_TRY(last_error, dec.TextOrEmpty("last_error"));
  s.last_error = std::move(*last_error);
  DS_TRY(created_at, dec.OptionalTime("created_at"));
  s.created_at = *created_at;
  DS_TRY(updated_at, dec.OptionalTime("updated_at"));
  s.updated_at = *updated_at;
  return out;
}

std::string EncodeVersion(const VersionRecord& v) {
  return DumpCompact(VersionSummaryToJson(v));
}

std::string CurrentValue(std::uint32_t version, std::string_view sha256_hex) {
  std::string out;
  out.reserve(kCurrentValueBytes);
  PutBigEndian(out, version, 4);
  auto nibble = [](char c) -> int {
    return c <= '9' ? c - '0' : c - 'a' + 10;
  };
  for (std::size_t i = 0; i + 1 < sha256_hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(sha256_hex[i]) << 4 |
                                    nibble(sha256_hex[i + 1])));
  }
  return out;
}

std::optional<std::uint32_t> VersionOfCurrentValue(std::string_view value) {
  if (value.size() != kCurrentValueBytes) return std::nullopt;
  return static_cast<std::uint32_t>(GetBigEndian(value.substr(0, 4)));
}

Result<VersionRecord> DecodeVersion(std::string_view text, bool with_options,
                                    std::optional<std::string_view> options_json) {
  Decoder dec(text, "versions record");
  if (dec.error()) return std::unexpected(*dec.error());
  auto& r = dec.r();
  VersionRecord v;
  DS_TRY(key, r.String("key"));
  v.key = std::move(*key);
  DS_TRY(version, r.Int("version"));
  v.version = static_cast<std::uint32_t>(*version);
  DS_TRY(created_at, dec.Time("created_at"));
  v.created_at = *created_at;
  DS_TRY(count, r.Int("option_count"));
  v.option_count = static_cast<std::size_t>(*count);
  DS_TRY(sha, r.String("options_sha256"));
  v.options_sha256 = std::move(*sha);

  DS_TRY(prov, r.Object("provenance"));
  json::ObjectReader p(*prov, "versions record", "provenance", false);
  Provenance& pv = v.provenance;
  for (auto [field, target] :
       {std::pair{"source_url", &pv.source_url}, std::pair{"etag", &pv.etag},
        std::pair{"last_modified", &pv.last_modified},
        std::pair{"content_type", &pv.content_type},
        std::pair{"raw_sha256", &pv.raw_sha256}, std::pair{"note", &pv.note}}) {
    DS_TRY(value, p.OptionalString(field));
    *target = value->value_or("");
  }
  DS_TRY(fetched, p.OptionalString("fetched_at"));
  if (*fetched) pv.fetched_at = ParseIso8601(**fetched);

  if (!with_options) return v;
  const std::string what = "versions record " + v.key + "@" +
                           std::to_string(v.version);
  // Schema 2 keeps the options apart; a schema-1 record still has them.
  ParserLease parser(options_parser);
  simdjson::dom::array options;
  if (options_json) {
    DS_TRY(root, json::Parse(parser.get(), *options_json, "options of " + what));
    if (root->get(options)) {
      return Fail(ErrorCode::kCorrupt, "options of " + what + ": not an array");
    }
  } else {
    DS_TRY(array, r.Array("options"));
    options = *array;
  }
  DS_TRY(list, json::ReadOptions(options, what, "options"));
  if (OptionsSha256(*list) != v.options_sha256) {
    return Fail(ErrorCode::kCorrupt,
                what + ": options do not match their recorded SHA-256");
  }
  v.options = std::move(*list);
  return v;
}

std::string EncodeValidators(const HttpValidators& v) {
  OrderedJson j;
  j["etag"] = TextOrNull(v.etag);
  j["last_modified"] = TextOrNull(v.last_modified);
  j["stored_at"] = FormatIso8601(v.stored_at);
  return DumpCompact(j);
}

Result<HttpValidators> DecodeValidators(std::string_view text) {
  Decoder dec(text, "http record");
  if (dec.error()) return std::unexpected(*dec.error());
  HttpValidators v;
  DS_TRY(etag, dec.TextOrEmpty("etag"));
  v.etag = std::move(*etag);
  DS_TRY(last_modified, dec.TextOrEmpty("last_modified"));
  v.last_modified = std::move(*last_modified);
  DS_TRY(stored_at, dec.Time("stored_at"));
  v.stored_at = *stored_at;
  return v;
}

std::string EncodeAudit(const AuditEvent& e) {
  return DumpCompact(AuditEventToJson(e));
}

Result<AuditEvent> DecodeAudit(std::string_view text) {
  Decoder dec(text, "audit record");
  if (dec.error()) return std::unexpected(*dec.error());
  auto& r = dec.r();
  AuditEvent e;
  DS_TRY(seq, r.Int("seq"));
  e.seq = static_cast<std::uint64_t>(*seq);
  DS_TRY(time, dec.Time("time"));
  e.time = *time;
  DS_TRY(actor, r.String("actor"));
  e.actor = std::move(*actor);
  DS_TRY(action, r.String("action"));
  e.action = std::move(*action);
  DS_TRY(dataset, dec.TextOrEmpty("dataset"));
  e.dataset = std::move(*dataset);
  DS_TRY(detail, r.String("detail"));
  e.detail = std::move(*detail);
  return e;
}

}  // namespace datasnap::store_internal
