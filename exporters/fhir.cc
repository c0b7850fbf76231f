#include "exporters/fhir.h"

#include <array>
#include <cstddef>

#include "core/sha256.h"
#include "core/time.h"

namespace datasnap {
namespace {

constexpr std::size_t kMaxFhirIdLength = 64;
constexpr std::size_t kIdHashDigits = 8;

// Datasets whose codes are ODS organisation codes (see fhir.h).
constexpr std::array<std::string_view, 4> kOdsCodedDatasets = {
    "hospitals_england_wales",
    "nhs_trusts",
    "welsh_lhbs",
    "integrated_care_boards",
};

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c; }

std::string_view TrimTrailingSlashes(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return url;
}

}  // namespace

std::string FhirResourceId(std::string_view key) {
  std::string id;
  id.reserve(key.size());
  for (char c : key) id.push_back(IsAsciiAlnum(c) || c == '.' ? c : '-');
  if (id.empty()) id = "-";
  if (id.size() > kMaxFhirIdLength) {
    id.resize(kMaxFhirIdLength - kIdHashDigits - 1);
    id += "-" + Sha256Hex(key).substr(0, kIdHashDigits);
  }
  return id;
}

std::string FhirName(std::string_view key) {
  std::string name;
  bool word_start = true;
  for (char c : key) {
    if (!IsAsciiAlnum(c)) {  // '_', '-' and anything else separate words
      word_start = true;
      continue;
    }
    name.push_back(word_start ? AsciiUpper(c) : c);
    word_start = false;
  }
  if (name.empty() || !(name[0] >= 'A' && name[0] <= 'Z')) {
    name.insert(0, "ValueSet");
  }
  return name;
}

std::string FhirCodeSystemUrl(const Dataset& dataset,
                              std::string_view base_url) {
  for (std::string_view key : kOdsCodedDatasets) {
    if (dataset.key == key) return std::string(kOdsCodeSystem);
  }
  return std::string(TrimTrailingSlashes(base_url)) + "/CodeSystem/" +
         FhirResourceId(dataset.key);
}

OrderedJson FhirValueSet(const DatasetRecord& record,
                         const VersionRecord& version,
                         std::string_view base_url) {
  const Dataset& d = record.dataset;
  const std::string id = FhirResourceId(d.key);
  const std::string url =
      std::string(TrimTrailingSlashes(base_url)) + "/ValueSet/" + id;
  const std::string version_text = std::to_string(version.version);
  const std::string timestamp = FormatIso8601(version.created_at);
  const std::string system = FhirCodeSystemUrl(d, base_url);

  OrderedJson vs;
  vs["resourceType"] = "ValueSet";
  vs["id"] = id;
  // meta.source is a uri a FHIR client may follow: web sources only.
  const std::string& source = version.provenance.source_url;
  if (source.starts_with("https://") || source.starts_with("http://")) {
    vs["meta"]["source"] = source;
  }
  vs["url"] = url;
  vs["version"] = version_text;
  vs["name"] = FhirName(d.key);
  if (!d.name.empty()) vs["title"] = d.name;
  vs["status"] = d.is_active ? "active" : "retired";
  vs["date"] = timestamp.substr(0, 10);  // "YYYY-MM-DD"
  if (!d.description.empty()) vs["description"] = d.description;

  OrderedJson expansion;
  expansion["identifier"] = url + "|" + version_text;
  expansion["timestamp"] = timestamp;
  expansion["total"] = version.options.size();
  if (!version.options.empty()) {
    OrderedJson contains = OrderedJson::array();
    for (const Option& o : version.options.options()) {
      OrderedJson item;
      item["system"] = system;
      item["code"] = o.value;
      item["display"] = o.label;
      contains.push_back(std::move(item));
    }
    expansion["contains"] = std::move(contains);
  }
  vs["expansion"] = std::move(expansion);
  return vs;
}

}  // namespace datasnap
