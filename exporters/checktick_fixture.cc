#include "exporters/checktick_fixture.h"

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>

#include "core/time.h"

namespace datasnap {
namespace {

// Column limits of the DataSet model (docs/CHECKTICK.md).
constexpr std::size_t kNameMaxChars = 255;
constexpr std::size_t kUrlMaxChars = 200;

// The number of Unicode characters in valid UTF-8 `text`.
std::size_t CountChars(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// `text` cut to at most `max` characters, never inside a character.
std::string CutToChars(std::string_view text, std::size_t max) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80 && chars++ == max) {
      return std::string(text.substr(0, i));
    }
  }
  return std::string(text);
}

// A URL the column can hold, or "".
std::string UrlOrEmpty(std::string_view url) {
  return CountChars(url) <= kUrlMaxChars ? std::string(url) : std::string();
}

// {code: label}, children indented two spaces per level of parents.
OrderedJson OptionsObject(const OptionList& options) {
  std::unordered_map<std::string_view, const Option*> by_value;
  for (const Option& o : options.options()) by_value.emplace(o.value, &o);
  OrderedJson object = OrderedJson::object();
  for (const Option& o : options.options()) {
    std::size_t depth = 0;
    const Option* at = &o;
    // Bounded by the list's size, so a cycle of parents cannot loop.
    while (at->parent && depth < options.size()) {
      auto it = by_value.find(*at->parent);
      if (it == by_value.end()) break;
      at = it->second;
      ++depth;
    }
    object[o.value] = std::string(2 * depth, ' ') + o.label;
  }
  return object;
}

OrderedJson Fields(const DatasetRecord& record, const VersionRecord& version,
                   const std::map<std::string, std::size_t>& pk_by_key) {
  const Dataset& d = record.dataset;
  const SyncState& s = record.sync;
  OrderedJson parent = nullptr;
  if (!d.parent.empty()) {
    auto it = pk_by_key.find(d.parent);
    if (it != pk_by_key.end()) parent = it->second;
  }
  const std::string external_api_url =
      d.source_type == SourceType::kApi
          ? UrlOrEmpty(version.provenance.source_url)
          : std::string();

  // In the model's field order (§4.1).
  OrderedJson f;
  f["key"] = d.key;
  f["name"] = CutToChars(d.name, kNameMaxChars);
  f["description"] = d.description;
  f["category"] = CategoryName(d.category);
  f["source_type"] = SourceTypeName(d.source_type);
  f["reference_url"] = UrlOrEmpty(d.reference_url);
  f["nhs_dd_page_id"] = "";
  f["is_custom"] = d.is_custom;
  f["parent"] = std::move(parent);
  f["external_api_endpoint"] = d.api_endpoint;
  f["external_api_url"] = external_api_url;
  f["sync_frequency_hours"] = d.sync_frequency_hours;
  f["last_synced_at"] = TimeOrNull(s.last_synced_at);
  f["last_scraped"] = TimeOrNull(s.last_scraped);
  f["nhs_dd_published_date"] = nullptr;
  f["organization"] = nullptr;
  f["team"] = nullptr;
  f["is_global"] = d.is_global;
  f["options"] = OptionsObject(version.options);
  f["format_pattern"] = "";
  f["created_by"] = nullptr;
  f["created_at"] = FormatIso8601(s.created_at.value_or(version.created_at));
  f["updated_at"] = FormatIso8601(s.updated_at.value_or(version.created_at));
  f["version"] = version.version;
  f["published_at"] = nullptr;
  f["tags"] = d.tags;
  f["snomed_refset_id"] = "";
  f["snomed_query_type"] = "";
  f["snomed_ecl"] = "";
  f["snomed_release_date"] = nullptr;
  f["snomed_member_count"] = nullptr;
  f["is_featured"] = false;
  f["is_active"] = d.is_active;
  return f;
}

}  // namespace

OrderedJson CheckTickFixture(
    const std::vector<std::pair<DatasetRecord, VersionRecord>>& datasets) {
  std::map<std::string, std::size_t> pk_by_key;
  for (std::size_t i = 0; i < datasets.size(); ++i) {
    pk_by_key.emplace(datasets[i].first.dataset.key, i + 1);  // first wins
  }
  OrderedJson fixture = OrderedJson::array();
  for (std::size_t i = 0; i < datasets.size(); ++i) {
    const auto& [record, version] = datasets[i];
    OrderedJson row;
    row["model"] = kCheckTickDatasetModel;
    row["pk"] = i + 1;
    row["fields"] = Fields(record, version, pk_by_key);
    fixture.push_back(std::move(row));
  }
  return fixture;
}

}  // namespace datasnap
