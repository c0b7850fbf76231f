#include "core/catalogue.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "seeds/embedded.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

constexpr const char* kNhsName = "seeds/nhs_dd.json";
constexpr const char* kRcpchName = "seeds/rcpch.json";

// The real files, from the test's runfiles (Bazel runs tests in the
// runfiles root of the main workspace).
const std::string& NhsBytes() {
  static const std::string bytes = testing::ReadFile("seeds/nhs_dd.json");
  return bytes;
}
const std::string& RcpchBytes() {
  static const std::string bytes = testing::ReadFile("seeds/rcpch.json");
  return bytes;
}

Catalogue RealCatalogue() {
  auto c = ParseCatalogue({NhsBytes(), kNhsName}, {RcpchBytes(), kRcpchName});
  if (!c) FAIL(c.error().message);
  return std::move(*c);
}

TEST_CASE("The seed files are present in the runfiles") {
  CHECK(NhsBytes().size() > 1000);
  CHECK(RcpchBytes().size() > 1000);
  CHECK_THAT(NhsBytes(), StartsWith("{"));
}

TEST_CASE("seeds/nhs_dd.json parses into 48 NHS Data Dictionary entries") {
  auto entries = ParseNhsDdCatalogue({NhsBytes(), kNhsName});
  if (!entries) FAIL(entries.error().message);
  REQUIRE(entries->size() == 48);

  std::size_t with_aliases = 0;
  std::set<std::string> keys;
  for (const CatalogueEntry& e : *entries) {
    const Dataset& d = e.dataset;
    INFO(d.key);
    CHECK(ValidateKey(d.key).has_value());
    CHECK(keys.insert(d.key).second);
    CHECK(d.category == Category::kNhsDd);
    CHECK(d.source_type == SourceType::kScrape);
    CHECK(d.sync_frequency_hours == 168);
    CHECK_FALSE(d.name.empty());
    CHECK(d.description == "NHS Data Dictionary - " + d.name);
    REQUIRE_FALSE(d.tags.empty());
    CHECK(d.tags.back() == "NHS");
    CHECK_THAT(d.reference_url,
               StartsWith("https://www.datadictionary.nhs.uk/data_elements/"));
    CHECK_THAT(d.reference_url, EndsWith(".html"));
    CHECK(d.api_endpoint.empty());
    CHECK_FALSE(e.mapping.has_value());
    if (!d.aliases.empty()) ++with_aliases;
  }
  CHECK(with_aliases == 11);
}

TEST_CASE("seeds/nhs_dd.json has the expected entries") {
  const Catalogue catalogue = RealCatalogue();
  for (const char* key :
       {"ethnic_category", "admission_source_hospital_provider",
        "blood_group_baby", "out-patient_attendance_outcome",
        "accommodation_status", "zygosity_status"}) {
    INFO(key);
    const CatalogueEntry* e = catalogue.Find(key);
    REQUIRE(e != nullptr);
    CHECK(e->dataset.key == key);
  }

  const CatalogueEntry* acc = catalogue.Find("accommodation_status");
  REQUIRE(acc != nullptr);
  CHECK(acc->dataset.aliases == std::vector<std::string>{"accommodation_status_code"});
  CHECK(acc->dataset.name == "Accommodation Status");

  const CatalogueEntry* baby = catalogue.Find("blood_group_baby");
  REQUIRE(baby != nullptr);
  CHECK(baby->dataset.name == "Blood Group (Baby)");
  CHECK(baby->dataset.reference_url ==
        "https://www.datadictionary.nhs.uk/data_elements/blood_group__baby_.html");

  // The plain pages, not the __mental_health_ variants.
  const CatalogueEntry* main = catalogue.Find("main_specialty_code");
  REQUIRE(main != nullptr);
  CHECK_THAT(main->dataset.reference_url, EndsWith("/main_specialty_code.html"));
  const CatalogueEntry* tf = catalogue.Find("treatment_function_code");
  REQUIRE(tf != nullptr);
  CHECK_THAT(tf->dataset.reference_url,
             EndsWith("/treatment_function_code.html"));
}

struct RcpchExpectation {
  const char* key;
  const char* endpoint;
  FieldMapping mapping;
};

std::vector<RcpchExpectation> ExpectedRcpch() {
  auto simple = [](const char* code) {
    FieldMapping m;
    m.code = code;
    m.label = "name";
    return m;
  };
  FieldMapping lhbs = simple("ods_code");
  lhbs.children = FieldMapping::Children{"organisations", "ods_code", "name"};
  FieldMapping pdu;
  pdu.code = "pz_code";
  pdu.from_first_object = FieldMapping::FirstObject{
      {"primary_organisation", "parent"}, "ods_code", "name"};
  pdu.fallback_label = "PDU {code}";
  return {
      {"hospitals_england_wales", "/organisations/limited/", simple("ods_code")},
      {"nhs_trusts", "/trusts/", simple("ods_code")},
      {"welsh_lhbs", "/local_health_boards/organisations/", lhbs},
      {"london_boroughs", "/london_boroughs/organisations/", simple("gss_code")},
      {"nhs_england_regions", "/nhs_england_regions/organisations/",
       simple("region_code")},
      {"paediatric_diabetes_units", "/paediatric_diabetes_units/parent/", pdu},
      {"integrated_care_boards", "/integrated_care_boards/organisations/",
       simple("ods_code")},
  };
}

TEST_CASE("seeds/rcpch.json parses into the 7 RCPCH API entries") {
  auto entries = ParseRcpchCatalogue({RcpchBytes(), kRcpchName});
  if (!entries) FAIL(entries.error().message);
  const std::vector<RcpchExpectation> expected = ExpectedRcpch();
  REQUIRE(entries->size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const CatalogueEntry& e = (*entries)[i];
    const Dataset& d = e.dataset;
    INFO(expected[i].key);
    CHECK(d.key == expected[i].key);
    CHECK(d.api_endpoint == expected[i].endpoint);
    CHECK(d.category == Category::kRcpch);
    CHECK(d.source_type == SourceType::kApi);
    CHECK(d.sync_frequency_hours == 24);
    CHECK(d.description == "External dataset from RCPCH NHS Organisations API");
    CHECK(d.reference_url.empty());
    CHECK(d.aliases.empty());
    REQUIRE_FALSE(d.tags.empty());
    CHECK(d.tags.back() == "RCPCH");
    REQUIRE(e.mapping.has_value());
    CHECK(*e.mapping == expected[i].mapping);
  }
  CHECK((*entries)[2].mapping->children.has_value());
  CHECK((*entries)[5].mapping->label.empty());
}

TEST_CASE("The embedded seeds are the same bytes and parse") {
  CHECK(seeds::NhsDdJson() == NhsBytes());
  CHECK(seeds::RcpchJson() == RcpchBytes());
  auto c = ParseCatalogue({seeds::NhsDdJson(), kNhsName},
                          {seeds::RcpchJson(), kRcpchName});
  if (!c) FAIL(c.error().message);
  CHECK(c->entries().size() == 55);
}

TEST_CASE("Catalogue::Find resolves keys and aliases") {
  const Catalogue catalogue = RealCatalogue();
  REQUIRE(catalogue.entries().size() == 55);
  const struct {
    const char* name;
    const char* key;  // nullptr: not found
  } kCases[] = {
      {"accommodation_status", "accommodation_status"},
      {"accommodation_status_code", "accommodation_status"},
      {"outpatient_attendance_outcome", "out-patient_attendance_outcome"},
      {"admission_source_hospital", "admission_source_hospital_provider"},
      {"welsh_lhbs", "welsh_lhbs"},
      {"paediatric_diabetes_units", "paediatric_diabetes_units"},
      {"no_such_dataset", nullptr},
      {"", nullptr},
      {"Accommodation_Status", nullptr},
      {"accommodation_status ", nullptr},
  };
  for (const auto& c : kCases) {
    INFO("name: '" << c.name << "'");
    const CatalogueEntry* e = catalogue.Find(c.name);
    if (c.key == nullptr) {
      CHECK(e == nullptr);
    } else {
      REQUIRE(e != nullptr);
      CHECK(e->dataset.key == c.key);
    }
  }
}

// --- Broken catalogues -----------------------------------------------------

using Fields = std::vector<std::pair<std::string, std::string>>;

// Builds a JSON object from (name, raw JSON value) pairs, in order.
std::string Object(const Fields& fields) {
  std::string out = "{";
  for (const auto& [name, value] : fields) {
    if (out.size() > 1) out += ",";
    out += "\"" + name + "\":" + value;
  }
  return out + "}";
}

// `base` with `changes` applied: a field named in both is replaced (removed
// when the new value is empty); others are appended.
Fields With(Fields base, const Fields& changes) {
  for (const auto& [name, value] : changes) {
    auto it = std::find_if(base.begin(), base.end(),
                           [&](const auto& f) { return f.first == name; });
    if (it == base.end()) {
      base.emplace_back(name, value);
    } else if (value.empty()) {
      base.erase(it);
    } else {
      it->second = value;
    }
  }
  return base;
}

const Fields kEthnic = {
    {"key", R"("ethnic_category")"},
    {"aliases", "[]"},
    {"name", R"("Ethnic Category")"},
    {"reference_url",
     R"("https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html")"},
    {"tags", R"(["demographics", "NHS"])"},
    {"refresh_interval_days", "7"},
};

const Fields kBaby = {
    {"key", R"("blood_group_baby")"},
    {"aliases", R"(["blood_group_of_baby"])"},
    {"name", R"~("Blood Group (Baby)")~"},
    {"description", R"~("NHS Data Dictionary - Blood Group (Baby)")~"},
    {"reference_url",
     R"("https://www.datadictionary.nhs.uk/data_elements/blood_group__baby_.html")"},
    {"tags", R"(["neonatal", "NHS"])"},
    {"refresh_interval_days", "7"},
};

const Fields kTrusts = {
    {"key", R"("nhs_trusts")"},
    {"name", R"("NHS Trusts")"},
    {"endpoint", R"("/trusts/")"},
    {"tags", R"(["RCPCH"])"},
    {"sync_frequency_hours", "24"},
    {"mapping", R"({"code": "ods_code", "label": "name"})"},
};

std::string File(const std::vector<std::string>& entries) {
  std::string list;
  for (const std::string& e : entries) list += (list.empty() ? "" : ",") + e;
  return R"({"format": 1, "source": "test", "datasets": [)" + list + "]}";
}

// The first entry is fine; the second is `kBaby` with `changes`.
std::string NhsWithBaby(const Fields& changes) {
  return File({Object(kEthnic), Object(With(kBaby, changes))});
}

std::string RcpchWithTrusts(const Fields& changes) {
  return File({Object(With(kTrusts, changes))});
}

TEST_CASE("The test's own good catalogues parse") {
  auto nhs = ParseNhsDdCatalogue({NhsWithBaby({}), kNhsName});
  if (!nhs) FAIL(nhs.error().message);
  REQUIRE(nhs->size() == 2);
  CHECK((*nhs)[1].dataset.key == "blood_group_baby");
  CHECK((*nhs)[1].dataset.aliases == std::vector<std::string>{"blood_group_of_baby"});
  CHECK((*nhs)[0].dataset.description.empty());

  auto rcpch = ParseRcpchCatalogue({RcpchWithTrusts({}), kRcpchName});
  if (!rcpch) FAIL(rcpch.error().message);
  REQUIRE(rcpch->size() == 1);
  CHECK(rcpch->front().mapping->code == "ods_code");

  // Boundary values are accepted.
  for (const char* days : {"1", "366"}) {
    INFO("refresh_interval_days " << days);
    auto edge = ParseNhsDdCatalogue(
        {NhsWithBaby({{"refresh_interval_days", days}}), kNhsName});
    if (!edge) FAIL(edge.error().message);
    CHECK((*edge)[1].dataset.sync_frequency_hours == 24 * std::stoi(days));
  }
  auto fallback_only = ParseRcpchCatalogue(
      {RcpchWithTrusts({{"mapping", R"({"code": "c", "fallback_label": "X {code}"})"}}),
       kRcpchName});
  if (!fallback_only) FAIL(fallback_only.error().message);
}

enum class Kind { kNhsDd, kRcpch };

struct BrokenCase {
  const char* what;
  Kind kind;
  std::string bytes;
  std::vector<std::string> parts;  // each must appear in the message
};

std::vector<BrokenCase> BrokenCases() {
  const std::string baby = "datasets[1] (blood_group_baby)";
  const std::string trusts = "datasets[0] (nhs_trusts)";
  return {
      // The envelope.
      {"not JSON", Kind::kNhsDd, "{\"format\": 1, \"datasets\": [", {"not valid JSON"}},
      {"not JSON at all", Kind::kRcpch, "datasets:\n  - key: x\n", {"not valid JSON"}},
      {"top-level array", Kind::kNhsDd, "[" + Object(kEthnic) + "]",
       {"expected a JSON object", "found an array"}},
      {"top-level string", Kind::kRcpch, R"("datasets")",
       {"expected a JSON object", "found a string"}},
      {"format 2", Kind::kNhsDd,
       R"({"format": 2, "datasets": [)" + Object(kEthnic) + "]}",
       {"format 2", "not supported"}},
      {"format missing", Kind::kNhsDd, R"({"datasets": [)" + Object(kEthnic) + "]}",
       {"format: is missing"}},
      {"format a string", Kind::kRcpch,
       R"({"format": "1", "datasets": [)" + Object(kTrusts) + "]}",
       {"format", "found a string"}},
      {"datasets missing", Kind::kNhsDd, R"({"format": 1})", {"datasets: is missing"}},
      {"datasets an object", Kind::kNhsDd, R"({"format": 1, "datasets": {}})",
       {"datasets", "expected an array, found an object"}},
      {"datasets empty", Kind::kNhsDd, R"({"format": 1, "datasets": []})",
       {"datasets is empty"}},
      {"datasets empty (rcpch)", Kind::kRcpch, R"({"format": 1, "datasets": []})",
       {"datasets is empty"}},
      {"unknown top-level field", Kind::kNhsDd,
       R"({"format": 1, "dataset": [], "datasets": [)" + Object(kEthnic) + "]}",
       {"dataset", "unknown field"}},

      // Entries.
      {"entry not an object", Kind::kNhsDd, File({Object(kEthnic), "3"}),
       {"datasets[1]", "expected an object, found a number"}},
      {"entry an array", Kind::kRcpch, File({"[]"}),
       {"datasets[0]", "expected an object, found an array"}},
      {"missing key", Kind::kNhsDd, NhsWithBaby({{"key", ""}}),
       {"datasets[1]: key", "is missing"}},
      {"key not a string", Kind::kNhsDd, NhsWithBaby({{"key", "12"}}),
       {"datasets[1]: key", "expected a string, found a number"}},
      {"bad key syntax", Kind::kNhsDd, NhsWithBaby({{"key", R"("Blood Group")"}}),
       {"datasets[1] (Blood Group): key", "'Blood Group'"}},
      {"key too long", Kind::kNhsDd,
       NhsWithBaby({{"key", "\"" + std::string(101, 'k') + "\""}}),
       {": key", "101 bytes"}},
      {"missing name", Kind::kNhsDd, NhsWithBaby({{"name", ""}}),
       {baby + ": name", "is missing"}},
      {"empty name", Kind::kNhsDd, NhsWithBaby({{"name", R"("")"}}),
       {baby + ": name", "non-empty"}},
      {"name with a newline", Kind::kNhsDd,
       NhsWithBaby({{"name", R"("Blood\nGroup")"}}), {baby + ": name"}},
      {"description a number", Kind::kNhsDd, NhsWithBaby({{"description", "1"}}),
       {baby + ": description", "found a number"}},
      {"URL with ftp scheme", Kind::kNhsDd,
       NhsWithBaby({{"reference_url", R"("ftp://x")"}}),
       {baby + ": reference_url", "\"ftp://x\"", "http(s)"}},
      {"URL that is not a URL", Kind::kNhsDd,
       NhsWithBaby({{"reference_url", R"("not a url")"}}),
       {baby + ": reference_url", "\"not a url\""}},
      {"URL with no host", Kind::kNhsDd,
       NhsWithBaby({{"reference_url", R"("https://")"}}),
       {baby + ": reference_url", "\"https://\""}},
      {"URL with a space", Kind::kNhsDd,
       NhsWithBaby({{"reference_url", R"("https://example.org/a b")"}}),
       {baby + ": reference_url"}},
      {"URL missing", Kind::kNhsDd, NhsWithBaby({{"reference_url", ""}}),
       {baby + ": reference_url", "is missing"}},
      {"refresh_interval_days 0", Kind::kNhsDd,
       NhsWithBaby({{"refresh_interval_days", "0"}}),
       {baby + ": refresh_interval_days", "0 is out of range"}},
      {"refresh_interval_days 367", Kind::kNhsDd,
       NhsWithBaby({{"refresh_interval_days", "367"}}),
       {baby + ": refresh_interval_days", "367 is out of range"}},
      {"refresh_interval_days a string", Kind::kNhsDd,
       NhsWithBaby({{"refresh_interval_days", R"("7")"}}),
       {baby + ": refresh_interval_days", "found a string"}},
      {"refresh_interval_days a fraction", Kind::kNhsDd,
       NhsWithBaby({{"refresh_interval_days", "7.5"}}),
       {baby + ": refresh_interval_days", "whole number"}},
      {"unknown field (typo beside the real one)", Kind::kNhsDd,
       NhsWithBaby({{"refrence_url", R"("https://example.org/")"}}),
       {baby + ": refrence_url", "unknown field"}},
      {"unknown field (typo of an optional field)", Kind::kNhsDd,
       NhsWithBaby({{"description", ""}, {"descripton", R"("x")"}}),
       {baby + ": descripton", "unknown field"}},
      {"tags missing", Kind::kNhsDd, NhsWithBaby({{"tags", ""}}),
       {baby + ": tags", "is missing"}},
      {"duplicate tag", Kind::kNhsDd,
       NhsWithBaby({{"tags", R"(["NHS", "neonatal", "NHS"])"}}),
       {baby + ": tags", "\"NHS\"", "twice"}},
      {"empty tag", Kind::kNhsDd, NhsWithBaby({{"tags", R"(["NHS", ""])"}}),
       {baby + ": tags"}},
      {"tag not a string", Kind::kNhsDd, NhsWithBaby({{"tags", R"(["NHS", 1])"}}),
       {baby + ": tags[1]", "found a number"}},
      {"aliases missing", Kind::kNhsDd, NhsWithBaby({{"aliases", ""}}),
       {baby + ": aliases", "is missing"}},
      {"alias with bad syntax", Kind::kNhsDd,
       NhsWithBaby({{"aliases", R"(["Blood Group"])"}}),
       {baby + ": aliases", "'Blood Group'"}},
      {"duplicate keys across two entries", Kind::kNhsDd,
       File({Object(kEthnic), Object(With(kBaby, {{"key", R"("ethnic_category")"}}))}),
       {"datasets[1] (ethnic_category): key", "'ethnic_category'", "datasets[0]"}},
      {"alias equal to another entry's key", Kind::kNhsDd,
       NhsWithBaby({{"aliases", R"(["ethnic_category"])"}}),
       {baby + ": aliases", "'ethnic_category'", "datasets[0] (ethnic_category)"}},
      {"alias equal to an earlier entry's alias", Kind::kNhsDd,
       File({Object(With(kEthnic, {{"aliases", R"(["old_name"])"}})),
             Object(With(kBaby, {{"aliases", R"(["old_name"])"}}))}),
       {baby + ": aliases", "'old_name'", "datasets[0] (ethnic_category)"}},
      {"alias equal to a later entry's key", Kind::kNhsDd,
       File({Object(With(kEthnic, {{"aliases", R"(["blood_group_baby"])"}})),
             Object(kBaby)}),
       {baby + ": key", "'blood_group_baby'", "datasets[0] (ethnic_category)"}},
      {"alias equal to its own key", Kind::kNhsDd,
       NhsWithBaby({{"aliases", R"(["blood_group_baby"])"}}),
       {baby + ": aliases", "'blood_group_baby'"}},

      // RCPCH entries.
      {"endpoint without leading slash", Kind::kRcpch,
       RcpchWithTrusts({{"endpoint", R"("trusts/")"}}),
       {trusts + ": endpoint", "\"trusts/\"", "'/'"}},
      {"endpoint with scheme and host", Kind::kRcpch,
       RcpchWithTrusts({{"endpoint", R"("https://api.rcpch.ac.uk/trusts/")"}}),
       {trusts + ": endpoint", "\"https://api.rcpch.ac.uk/trusts/\""}},
      {"endpoint just a slash", Kind::kRcpch, RcpchWithTrusts({{"endpoint", R"("/")"}}),
       {trusts + ": endpoint"}},
      {"endpoint with a query", Kind::kRcpch,
       RcpchWithTrusts({{"endpoint", R"("/trusts/?page=2")"}}),
       {trusts + ": endpoint"}},
      {"endpoint missing", Kind::kRcpch, RcpchWithTrusts({{"endpoint", ""}}),
       {trusts + ": endpoint", "is missing"}},
      {"reference_url is not an RCPCH field", Kind::kRcpch,
       RcpchWithTrusts({{"reference_url", R"("https://example.org/")"}}),
       {trusts + ": reference_url", "unknown field"}},
      {"sync_frequency_hours 0", Kind::kRcpch,
       RcpchWithTrusts({{"sync_frequency_hours", "0"}}),
       {trusts + ": sync_frequency_hours", "out of range"}},
      {"mapping missing", Kind::kRcpch, RcpchWithTrusts({{"mapping", ""}}),
       {trusts + ": mapping", "is missing"}},
      {"mapping not an object", Kind::kRcpch,
       RcpchWithTrusts({{"mapping", R"("ods_code")"}}),
       {trusts + ": mapping", "expected an object, found a string"}},
      {"mapping missing code", Kind::kRcpch,
       RcpchWithTrusts({{"mapping", R"({"label": "name"})"}}),
       {trusts + ": mapping.code", "is missing"}},
      {"mapping with empty code", Kind::kRcpch,
       RcpchWithTrusts({{"mapping", R"({"code": "", "label": "name"})"}}),
       {trusts + ": mapping.code", "empty"}},
      {"mapping with neither label nor fallback_label", Kind::kRcpch,
       RcpchWithTrusts({{"mapping", R"({"code": "ods_code"})"}}),
       {trusts + ": mapping", "\"label\"", "\"fallback_label\""}},
      {"unknown field inside mapping", Kind::kRcpch,
       RcpchWithTrusts({{"mapping", R"({"code": "ods_code", "lable": "name"})"}}),
       {trusts + ": mapping.lable", "unknown field"}},
      {"children without label", Kind::kRcpch,
       RcpchWithTrusts({{"mapping",
                         R"({"code": "c", "label": "l", "children": {"field": "f", "code": "c"}})"}}),
       {trusts + ": mapping.children.label", "is missing"}},
      {"unknown field inside children", Kind::kRcpch,
       RcpchWithTrusts({{"mapping",
                         R"({"code": "c", "label": "l", "children": {"field": "f", "code": "c", "label": "l", "x": 1}})"}}),
       {trusts + ": mapping.children.x", "unknown field"}},
      {"from_first_object with no fields", Kind::kRcpch,
       RcpchWithTrusts({{"mapping",
                         R"({"code": "c", "fallback_label": "{code}", "from_first_object": {"fields": [], "code": "c", "label": "l"}})"}}),
       {trusts + ": mapping.from_first_object.fields", "empty"}},
      {"duplicate keys in rcpch", Kind::kRcpch,
       File({Object(kTrusts), Object(kTrusts)}),
       {"datasets[1] (nhs_trusts): key", "'nhs_trusts'", trusts}},
  };
}

TEST_CASE("Broken catalogues are refused with messages naming file, entry and field") {
  for (const BrokenCase& c : BrokenCases()) {
    const char* name = c.kind == Kind::kNhsDd ? kNhsName : kRcpchName;
    INFO(c.what << "\n  file: " << name << "\n  bytes: " << c.bytes);
    const CatalogueFile file{c.bytes, name};
    auto entries = c.kind == Kind::kNhsDd ? ParseNhsDdCatalogue(file)
                                          : ParseRcpchCatalogue(file);
    REQUIRE_FALSE(entries.has_value());
    INFO("message: " << entries.error().message);
    CHECK(entries.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(entries.error().message, StartsWith(std::string(name) + ": "));
    for (const std::string& part : c.parts) {
      CHECK_THAT(entries.error().message, Contains(part));
    }

    // ParseCatalogue passes the same error through.
    const std::string good_nhs = NhsBytes();
    const std::string good_rcpch = RcpchBytes();
    auto whole = c.kind == Kind::kNhsDd
                     ? ParseCatalogue(file, {good_rcpch, kRcpchName})
                     : ParseCatalogue({good_nhs, kNhsName}, file);
    REQUIRE_FALSE(whole.has_value());
    CHECK(whole.error().code == ErrorCode::kInvalidArgument);
    CHECK(whole.error().message == entries.error().message);
  }
}

TEST_CASE("ParseCatalogue refuses a key used in both files") {
  // An RCPCH entry whose key is an NHS DD key.
  const std::string rcpch =
      RcpchWithTrusts({{"key", R"("blood_group_baby")"}});
  auto c = ParseCatalogue({NhsBytes(), kNhsName}, {rcpch, kRcpchName});
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(c.error().message, Contains("'blood_group_baby'"));
  CHECK_THAT(c.error().message, Contains("unique"));

  // An RCPCH key equal to an NHS alias.
  const std::string alias_clash =
      RcpchWithTrusts({{"key", R"("accommodation_status_code")"}});
  auto d = ParseCatalogue({NhsBytes(), kNhsName}, {alias_clash, kRcpchName});
  REQUIRE_FALSE(d.has_value());
  CHECK_THAT(d.error().message, Contains("'accommodation_status_code'"));
  CHECK_THAT(d.error().message, Contains("'accommodation_status'"));
}

TEST_CASE("Catalogue::Make checks keys and aliases directly") {
  auto entry = [](std::string key, std::vector<std::string> aliases) {
    CatalogueEntry e;
    e.dataset.key = std::move(key);
    e.dataset.aliases = std::move(aliases);
    return e;
  };
  auto ok = Catalogue::Make({entry("a", {"a_old"}), entry("b", {})});
  REQUIRE(ok.has_value());
  REQUIRE(ok->Find("a_old") != nullptr);
  CHECK(ok->Find("a_old")->dataset.key == "a");
  CHECK(ok->Find("b")->dataset.key == "b");
  CHECK(ok->Find("c") == nullptr);

  const struct {
    const char* what;
    std::vector<CatalogueEntry> entries;
    std::string part;
  } kCases[] = {
      {"same key twice", {entry("a", {}), entry("a", {})}, "'a'"},
      {"alias equals another key", {entry("a", {}), entry("b", {"a"})}, "'a'"},
      {"alias equals own key", {entry("a", {"a"})}, "twice by 'a'"},
      {"bad alias", {entry("a", {"Bad Alias"})}, "'Bad Alias'"},
  };
  for (const auto& c : kCases) {
    INFO(c.what);
    auto m = Catalogue::Make(c.entries);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(m.error().message, Contains(c.part));
  }
}

TEST_CASE("IsHttpUrl") {
  const struct {
    const char* url;
    bool ok;
  } kCases[] = {
      {"https://www.datadictionary.nhs.uk/data_elements/x.html", true},
      {"http://example.org", true},
      {"https://example.org:8443/a?b=c#d", true},
      {"https://", false},
      {"http://", false},
      {"https:///path", false},
      {"https://:80/", false},
      {"https://user@example.org/", false},
      {"ftp://x", false},
      {"not a url", false},
      {"HTTPS://example.org", false},
      {"https://example.org/a b", false},
      {"https://example.org/\n", false},
      {"", false},
      {"//example.org", false},
  };
  for (const auto& c : kCases) {
    INFO("url: " << c.url);
    CHECK(IsHttpUrl(c.url) == c.ok);
  }
}

}  // namespace
}  // namespace datasnap
