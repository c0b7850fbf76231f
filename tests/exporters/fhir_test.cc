#include "exporters/fhir.h"

#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace datasnap {
namespace {

constexpr std::string_view kBase = "https://datasnap.rcpch.ac.uk/fhir";

OptionList List(std::vector<Option> options) {
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

DatasetRecord Record(std::string key, std::string name,
                     std::string description = "",
                     Category category = Category::kNhsDd) {
  DatasetRecord r;
  r.dataset.key = std::move(key);
  r.dataset.name = std::move(name);
  r.dataset.description = std::move(description);
  r.dataset.category = category;
  return r;
}

VersionRecord Version(const DatasetRecord& r, std::uint32_t number,
                      OptionList options, std::string source_url = "") {
  VersionRecord v;
  v.key = r.dataset.key;
  v.version = number;
  v.created_at = 1700000000;  // 2023-11-14T22:13:20Z
  v.option_count = options.size();
  v.provenance.source_url = std::move(source_url);
  v.options = std::move(options);
  return v;
}

bool IsFhirId(const std::string& id) {
  static const std::regex re("[A-Za-z0-9\\-\\.]{1,64}");
  return std::regex_match(id, re);
}

bool IsFhirName(const std::string& name) {
  static const std::regex re("[A-Z][A-Za-z0-9_]{0,254}");
  return std::regex_match(name, re);
}

TEST_CASE("FhirValueSet writes the exact resource for a small list") {
  const DatasetRecord r = Record("ethnic_category", "Ethnic Category",
                                 "NHS Data Dictionary - Ethnic Category");
  const VersionRecord v = Version(
      r, 3,
      List({{"A", "White", std::nullopt},
            {"B", "Mixed", std::nullopt},
            {"Z", "Not stated", std::nullopt, true}}),
      "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html");
  const std::string expected =
      R"({"resourceType":"ValueSet","id":"ethnic-category",)"
      R"("meta":{"source":"https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html"},)"
      R"("url":"https://datasnap.rcpch.ac.uk/fhir/ValueSet/ethnic-category",)"
      R"("version":"3","name":"EthnicCategory","title":"Ethnic Category",)"
      R"("status":"active","date":"2023-11-14",)"
      R"("description":"NHS Data Dictionary - Ethnic Category",)"
      R"("expansion":{"identifier":"https://datasnap.rcpch.ac.uk/fhir/ValueSet/ethnic-category|3",)"
      R"("timestamp":"2023-11-14T22:13:20Z","total":3,"contains":[)"
      R"({"system":"https://datasnap.rcpch.ac.uk/fhir/CodeSystem/ethnic-category","code":"A","display":"White"},)"
      R"({"system":"https://datasnap.rcpch.ac.uk/fhir/CodeSystem/ethnic-category","code":"B","display":"Mixed"},)"
      R"({"system":"https://datasnap.rcpch.ac.uk/fhir/CodeSystem/ethnic-category","code":"Z","display":"Not stated"}]}})";
  CHECK(DumpCompact(FhirValueSet(r, v, kBase)) == expected);
  SECTION("a trailing slash on the base URL changes nothing") {
    CHECK(DumpCompact(FhirValueSet(r, v, std::string(kBase) + "/")) ==
          expected);
  }
  SECTION("the same records give the same bytes") {
    const DatasetRecord r2 = r;
    const VersionRecord v2 = v;
    CHECK(DumpCompact(FhirValueSet(r2, v2, kBase)) ==
          DumpCompact(FhirValueSet(r, v, kBase)));
  }
}

TEST_CASE("FhirResourceId makes valid, stable FHIR ids") {
  struct Case {
    std::string key, id;
  };
  const std::string k64(64, 'a');
  const Case cases[] = {
      {"ethnic_category", "ethnic-category"},
      {"nhs_trusts", "nhs-trusts"},
      {"a", "a"},
      {"0-9_x", "0-9-x"},
      {"admission_source__mental_health_hospital_provider_spell_",
       "admission-source--mental-health-hospital-provider-spell-"},
      {k64, k64},
  };
  for (const Case& c : cases) {
    INFO(c.key);
    CHECK(FhirResourceId(c.key) == c.id);
    CHECK(IsFhirId(FhirResourceId(c.key)));
  }

  SECTION("keys longer than 64 characters are cut and hashed") {
    const std::string base = "nhs_trusts_custom_12_" + std::string(60, 'x');
    const std::string id1 = FhirResourceId(base + "_1700000000");
    const std::string id2 = FhirResourceId(base + "_1700000001");
    CHECK(id1.size() == 64);
    CHECK(id2.size() == 64);
    CHECK(IsFhirId(id1));
    CHECK(IsFhirId(id2));
    CHECK(id1 != id2);
    CHECK(id1.substr(0, 55) == id2.substr(0, 55));
    CHECK(id1.substr(0, 56) ==
          "nhs-trusts-custom-12-" + std::string(34, 'x') + "-");
    CHECK(FhirResourceId(base + "_1700000000") == id1);  // stable
    const std::string k100(100, 'z');
    CHECK(FhirResourceId(k100).size() == 64);
    CHECK(IsFhirId(FhirResourceId(k100)));
  }
}

TEST_CASE("FhirName writes PascalCase names FHIR accepts") {
  struct Case {
    std::string key, name;
  };
  const Case cases[] = {
      {"ethnic_category", "EthnicCategory"},
      {"nhs_trusts", "NhsTrusts"},
      {"welsh_lhbs", "WelshLhbs"},
      {"admission_source__hospital_provider_spell_",
       "AdmissionSourceHospitalProviderSpell"},
      {"care-plan_v2", "CarePlanV2"},
      {"2024_list", "ValueSet2024List"},
      {"x", "X"},
  };
  for (const Case& c : cases) {
    INFO(c.key);
    CHECK(FhirName(c.key) == c.name);
    CHECK(IsFhirName(FhirName(c.key)));
  }
}

TEST_CASE("ODS-coded datasets use the NHS ODS system, others their own") {
  struct Case {
    std::string key;
    Category category;
    std::string system;
  };
  const std::string own = std::string(kBase) + "/CodeSystem/";
  const Case cases[] = {
      {"hospitals_england_wales", Category::kRcpch,
       std::string(kOdsCodeSystem)},
      {"nhs_trusts", Category::kRcpch, std::string(kOdsCodeSystem)},
      {"welsh_lhbs", Category::kRcpch, std::string(kOdsCodeSystem)},
      {"integrated_care_boards", Category::kRcpch, std::string(kOdsCodeSystem)},
      {"london_boroughs", Category::kRcpch, own + "london-boroughs"},
      {"nhs_england_regions", Category::kRcpch, own + "nhs-england-regions"},
      {"paediatric_diabetes_units", Category::kRcpch,
       own + "paediatric-diabetes-units"},
      {"ethnic_category", Category::kNhsDd, own + "ethnic-category"},
      {"nhs_trusts_custom_3_1700000000", Category::kUserCreated,
       own + "nhs-trusts-custom-3-1700000000"},
      {"my_list", Category::kUserCreated, own + "my-list"},
  };
  for (const Case& c : cases) {
    INFO(c.key);
    const DatasetRecord r = Record(c.key, "Name", "", c.category);
    CHECK(FhirCodeSystemUrl(r.dataset, kBase) == c.system);
    const OrderedJson vs = FhirValueSet(
        r, Version(r, 1, List({{"RGT01", "Addenbrooke's", std::nullopt}})),
        kBase);
    CHECK(vs["expansion"]["contains"][0]["system"] == c.system);
  }
}

TEST_CASE("FhirValueSet follows FHIR's structural rules") {
  SECTION("counts, order, and flat contains for a hierarchy") {
    DatasetRecord r =
        Record("welsh_lhbs", "Welsh Local Health Boards", "", Category::kRcpch);
    const VersionRecord v =
        Version(r, 12,
                List({{"7A1", "Betsi Cadwaladr", std::nullopt},
                      {"7A1AU", "Ysbyty Gwynedd", std::string("7A1")},
                      {"7A2", "Hywel Dda", std::nullopt},
                      {"7A2AJ", "Bronglais", std::string("7A2")}}));
    const OrderedJson vs = FhirValueSet(r, v, kBase);
    CHECK(vs["id"] == "welsh-lhbs");
    CHECK(vs["version"] == "12");
    CHECK(vs["expansion"]["total"] == 4);
    const OrderedJson& contains = vs["expansion"]["contains"];
    REQUIRE(contains.size() == 4);
    std::vector<std::string> codes;
    for (const OrderedJson& c : contains) {
      codes.push_back(c["code"]);
      CHECK(c.size() == 3);  // system, code, display: no nesting
      CHECK_FALSE(c.contains("contains"));
    }
    CHECK(codes == std::vector<std::string>{"7A1", "7A1AU", "7A2", "7A2AJ"});
    CHECK(contains[1]["display"] == "Ysbyty Gwynedd");
  }
  SECTION("empty texts and an empty expansion are left out") {
    const DatasetRecord r = Record("my_list", "");
    const OrderedJson vs = FhirValueSet(r, Version(r, 1, OptionList()), kBase);
    CHECK_FALSE(vs.contains("meta"));
    CHECK_FALSE(vs.contains("title"));
    CHECK_FALSE(vs.contains("description"));
    CHECK(vs["expansion"]["total"] == 0);
    CHECK_FALSE(vs["expansion"].contains("contains"));
    // No member anywhere is "" or an empty array.
    std::vector<const OrderedJson*> stack = {&vs};
    while (!stack.empty()) {
      const OrderedJson* j = stack.back();
      stack.pop_back();
      CHECK_FALSE((j->is_string() && j->get<std::string>().empty()));
      CHECK_FALSE((j->is_array() && j->empty()));
      if (j->is_structured()) {
        for (const OrderedJson& child : *j) stack.push_back(&child);
      }
    }
  }
  SECTION("an inactive dataset is retired") {
    DatasetRecord r = Record("old_list", "Old");
    r.dataset.is_active = false;
    CHECK(FhirValueSet(r, Version(r, 2, OptionList()), kBase)["status"] ==
          "retired");
  }
  SECTION("members come in FHIR's element order") {
    const DatasetRecord r = Record("x", "X", "d");
    const OrderedJson vs =
        FhirValueSet(r,
                     Version(r, 1, List({{"1", "One", std::nullopt}}),
                             "https://example.org/x"),
                     kBase);
    std::vector<std::string> keys;
    for (auto it = vs.begin(); it != vs.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"resourceType", "id", "meta", "url",
                                           "version", "name", "title", "status",
                                           "date", "description", "expansion"});
  }
  SECTION("ids are unique for distinct catalogue keys") {
    const std::vector<std::string> keys = {
        "hospitals_england_wales",
        "nhs_trusts",
        "welsh_lhbs",
        "london_boroughs",
        "nhs_england_regions",
        "paediatric_diabetes_units",
        "integrated_care_boards",
        "ethnic_category",
        "main_specialty_code",
        "mental_health_absence_without_leave_end_reason"};
    std::set<std::string> ids, urls;
    for (const std::string& k : keys) {
      const DatasetRecord r = Record(k, "N");
      const OrderedJson vs =
          FhirValueSet(r, Version(r, 1, OptionList()), kBase);
      CHECK(IsFhirId(vs["id"]));
      CHECK(IsFhirName(vs["name"]));
      ids.insert(vs["id"].get<std::string>());
      urls.insert(vs["url"].get<std::string>());
    }
    CHECK(ids.size() == keys.size());
    CHECK(urls.size() == keys.size());
  }
}

}  // namespace
}  // namespace datasnap
