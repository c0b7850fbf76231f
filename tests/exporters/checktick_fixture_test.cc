#include "exporters/checktick_fixture.h"

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace datasnap {
namespace {

// How a field of CheckTick's DataSet model is encoded in a fixture.
enum class Kind {
  kText,       // CharField, SlugField, TextField, URLField: a string
  kBool,       // BooleanField
  kInt,        // IntegerField, not null
  kIntOrNull,  // IntegerField(null=True)
  kFkOrNull,   // ForeignKey(null=True): a pk or null
  kDateTime,   // DateTimeField, not null: "YYYY-MM-DDTHH:MM:SSZ"
  kDateTimeOrNull,
  kDateOrNull,  // DateField(null=True): "YYYY-MM-DD" or null
  kJsonObject,  // options as {code: label}
  kJsonList,    // tags
};

struct Field {
  const char* name;
  Kind kind;
};

// docs/CHECKTICK.md, in the model's order, without the id (the
// fixture's "pk").
const std::vector<Field>& ModelFields() {
  static const std::vector<Field> fields = {
      {"key", Kind::kText},
      {"name", Kind::kText},
      {"description", Kind::kText},
      {"category", Kind::kText},
      {"source_type", Kind::kText},
      {"reference_url", Kind::kText},
      {"nhs_dd_page_id", Kind::kText},
      {"is_custom", Kind::kBool},
      {"parent", Kind::kFkOrNull},
      {"external_api_endpoint", Kind::kText},
      {"external_api_url", Kind::kText},
      {"sync_frequency_hours", Kind::kIntOrNull},
      {"last_synced_at", Kind::kDateTimeOrNull},
      {"last_scraped", Kind::kDateTimeOrNull},
      {"nhs_dd_published_date", Kind::kDateOrNull},
      {"organization", Kind::kFkOrNull},
      {"team", Kind::kFkOrNull},
      {"is_global", Kind::kBool},
      {"options", Kind::kJsonObject},
      {"format_pattern", Kind::kText},
      {"created_by", Kind::kFkOrNull},
      {"created_at", Kind::kDateTime},
      {"updated_at", Kind::kDateTime},
      {"version", Kind::kInt},
      {"published_at", Kind::kDateTimeOrNull},
      {"tags", Kind::kJsonList},
      {"snomed_refset_id", Kind::kText},
      {"snomed_query_type", Kind::kText},
      {"snomed_ecl", Kind::kText},
      {"snomed_release_date", Kind::kDateOrNull},
      {"snomed_member_count", Kind::kIntOrNull},
      {"is_featured", Kind::kBool},
      {"is_active", Kind::kBool},
  };
  return fields;
}

bool Encodes(Kind kind, const OrderedJson& v) {
  static const std::regex datetime(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  static const std::regex date("[0-9]{4}-[0-9]{2}-[0-9]{2}");
  switch (kind) {
    case Kind::kText:
      return v.is_string();
    case Kind::kBool:
      return v.is_boolean();
    case Kind::kInt:
      return v.is_number_integer();
    case Kind::kIntOrNull:
    case Kind::kFkOrNull:
      return v.is_null() || v.is_number_integer();
    case Kind::kDateTime:
      return v.is_string() && std::regex_match(v.get<std::string>(), datetime);
    case Kind::kDateTimeOrNull:
      return v.is_null() || (v.is_string() &&
                             std::regex_match(v.get<std::string>(), datetime));
    case Kind::kDateOrNull:
      return v.is_null() ||
             (v.is_string() && std::regex_match(v.get<std::string>(), date));
    case Kind::kJsonObject:
      return v.is_object();
    case Kind::kJsonList:
      return v.is_array();
  }
  return false;
}

OptionList List(std::vector<Option> options) {
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

Option Opt(std::string value, std::string label,
           std::optional<std::string> parent = std::nullopt,
           bool is_default = false) {
  return Option{std::move(value), std::move(label), std::move(parent),
                is_default};
}

constexpr UnixSeconds kT0 = 1700000000;  // 2023-11-14T22:13:20Z

std::pair<DatasetRecord, VersionRecord> Entry(std::string key,
                                              OptionList options,
                                              std::uint32_t version = 1) {
  DatasetRecord r;
  r.dataset.key = key;
  r.dataset.name = "Name of " + key;
  r.sync.version = version;
  VersionRecord v;
  v.key = key;
  v.version = version;
  v.created_at = kT0;
  v.option_count = options.size();
  v.options = std::move(options);
  return {std::move(r), std::move(v)};
}

std::pair<DatasetRecord, VersionRecord> NhsDd() {
  auto e = Entry("ethnic_category",
                 List({Opt("A", "White"), Opt("B", "Mixed"),
                       Opt("Z", "Not stated", std::nullopt, true)}),
                 3);
  Dataset& d = e.first.dataset;
  d.name = "Ethnic Category";
  d.description = "NHS Data Dictionary - Ethnic Category";
  d.category = Category::kNhsDd;
  d.source_type = SourceType::kScrape;
  d.reference_url =
      "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html";
  d.tags = {"demographics", "NHS"};
  d.sync_frequency_hours = 168;
  d.is_custom = false;
  d.is_global = true;
  SyncState& s = e.first.sync;
  s.last_synced_at = kT0 + 60;
  s.last_scraped = kT0 + 60;
  s.created_at = kT0 - 3600;
  s.updated_at = kT0 + 60;
  e.second.provenance.source_url = d.reference_url;
  return e;
}

TEST_CASE(
    "CheckTickFixture writes every DataSet field, encoded as Django does") {
  const OrderedJson fixture = CheckTickFixture({NhsDd()});
  REQUIRE(fixture.is_array());
  REQUIRE(fixture.size() == 1);
  const OrderedJson& row = fixture[0];

  std::vector<std::string> top;
  for (auto it = row.begin(); it != row.end(); ++it) top.push_back(it.key());
  CHECK(top == std::vector<std::string>{"model", "pk", "fields"});
  CHECK(row["model"] == "surveys.dataset");
  CHECK(row["pk"] == 1);

  const OrderedJson& fields = row["fields"];
  std::vector<std::string> names, expected_names;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    names.push_back(it.key());
  }
  for (const Field& f : ModelFields()) expected_names.push_back(f.name);
  CHECK(names == expected_names);  // every field, in the model's order

  for (const Field& f : ModelFields()) {
    INFO(f.name << " = " << fields[f.name].dump());
    CHECK(Encodes(f.kind, fields[f.name]));
  }
}

TEST_CASE("CheckTickFixture fills the fields from the records") {
  const OrderedJson f = CheckTickFixture({NhsDd()})[0]["fields"];
  CHECK(
      f.dump() ==
      R"({"key":"ethnic_category","name":"Ethnic Category",)"
      R"("description":"NHS Data Dictionary - Ethnic Category",)"
      R"("category":"nhs_dd","source_type":"scrape",)"
      R"("reference_url":"https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html",)"
      R"("nhs_dd_page_id":"","is_custom":false,"parent":null,)"
      R"("external_api_endpoint":"","external_api_url":"",)"
      R"("sync_frequency_hours":168,)"
      R"("last_synced_at":"2023-11-14T22:14:20Z",)"
      R"("last_scraped":"2023-11-14T22:14:20Z",)"
      R"("nhs_dd_published_date":null,"organization":null,"team":null,)"
      R"("is_global":true,)"
      R"("options":{"A":"White","B":"Mixed","Z":"Not stated"},)"
      R"("format_pattern":"","created_by":null,)"
      R"("created_at":"2023-11-14T21:13:20Z",)"
      R"("updated_at":"2023-11-14T22:14:20Z","version":3,)"
      R"("published_at":null,"tags":["demographics","NHS"],)"
      R"("snomed_refset_id":"","snomed_query_type":"","snomed_ecl":"",)"
      R"("snomed_release_date":null,"snomed_member_count":null,)"
      R"("is_featured":false,"is_active":true})");
}

TEST_CASE("CheckTickFixture fills API fields for API sources") {
  auto e = Entry("nhs_trusts", List({Opt("RGT", "Cambridge")}));
  Dataset& d = e.first.dataset;
  d.category = Category::kRcpch;
  d.source_type = SourceType::kApi;
  d.api_endpoint = "/trusts/";
  e.second.provenance.source_url =
      "https://api.rcpch.ac.uk/nhs-organisations/v1/trusts/";
  const OrderedJson f = CheckTickFixture({e})[0]["fields"];
  CHECK(f["category"] == "rcpch");
  CHECK(f["source_type"] == "api");
  CHECK(f["external_api_endpoint"] == "/trusts/");
  CHECK(f["external_api_url"] ==
        "https://api.rcpch.ac.uk/nhs-organisations/v1/trusts/");
  CHECK(f["reference_url"] == "");
  CHECK(f["last_synced_at"].is_null());
  // Unknown store times fall back to the version's time.
  CHECK(f["created_at"] == "2023-11-14T22:13:20Z");
  CHECK(f["updated_at"] == "2023-11-14T22:13:20Z");
}

TEST_CASE("CheckTickFixture keeps the options' source order") {
  // Neither sorted by code nor by label.
  const OptionList options =
      List({Opt("10", "Ten"), Opt("2", "Two"), Opt("1", "One"),
            Opt("A", "Alpha"), Opt("é", "E acute"), Opt("0", "Zero")});
  const OrderedJson f =
      CheckTickFixture({Entry("my_list", options)})[0]["fields"];
  CHECK(
      f["options"].dump() ==
      R"({"10":"Ten","2":"Two","1":"One","A":"Alpha","é":"E acute","0":"Zero"})");
  SECTION(
      "children are indented two spaces per level, as CheckTick wrote "
      "them") {
    const OrderedJson g = CheckTickFixture(
        {Entry("welsh_lhbs", List({Opt("7A1", "Betsi Cadwaladr"),
                                   Opt("7A1AU", "Ysbyty Gwynedd", "7A1"),
                                   Opt("7A1AU-W", "Ward 1", "7A1AU"),
                                   Opt("7A2", "Hywel Dda")}))})[0]["fields"];
    CHECK(g["options"].dump() ==
          R"({"7A1":"Betsi Cadwaladr","7A1AU":"  Ysbyty Gwynedd",)"
          R"("7A1AU-W":"    Ward 1","7A2":"Hywel Dda"})");
  }
  SECTION("a cycle of parents ends") {
    const OrderedJson g = CheckTickFixture({Entry(
        "loop", List({Opt("a", "A", "b"), Opt("b", "B", "a")}))})[0]["fields"];
    CHECK(g["options"].size() == 2);
  }
  SECTION("no options give {}") {
    const OrderedJson g =
        CheckTickFixture({Entry("empty", OptionList())})[0]["fields"];
    CHECK(g["options"].dump() == "{}");
  }
}

TEST_CASE("CheckTickFixture links a custom dataset to its parent's pk") {
  auto parent = Entry("nhs_trusts", List({Opt("RGT", "Cambridge")}));
  auto custom = Entry("nhs_trusts_custom_3_1700000000",
                      List({Opt("RGT", "Cambridge"), Opt("X1", "Our clinic")}));
  custom.first.dataset.category = Category::kUserCreated;
  custom.first.dataset.source_type = SourceType::kManual;
  custom.first.dataset.is_custom = true;
  custom.first.dataset.is_global = false;
  custom.first.dataset.parent = "nhs_trusts";
  custom.first.dataset.organization = "Cambridge paediatrics";
  auto orphan = Entry("orphan_custom", List({Opt("1", "One")}));
  orphan.first.dataset.parent = "not_exported";

  SECTION("parent first") {
    const OrderedJson fx = CheckTickFixture({parent, custom, orphan});
    REQUIRE(fx.size() == 3);
    CHECK(fx[0]["pk"] == 1);
    CHECK(fx[1]["pk"] == 2);
    CHECK(fx[2]["pk"] == 3);
    CHECK(fx[0]["fields"]["parent"].is_null());
    CHECK(fx[1]["fields"]["parent"] == 1);
    CHECK(fx[1]["fields"]["is_custom"] == true);
    CHECK(fx[1]["fields"]["is_global"] == false);
    CHECK(fx[1]["fields"]["category"] == "user_created");
    CHECK(fx[1]["fields"]["source_type"] == "manual");
    CHECK(fx[1]["fields"]["organization"].is_null());  // cannot be mapped
    CHECK(fx[2]["fields"]["parent"].is_null());        // not in the fixture
  }
  SECTION("parent after its customisation (loaddata defers FK checks)") {
    const OrderedJson fx = CheckTickFixture({custom, parent});
    CHECK(fx[0]["fields"]["parent"] == 2);
    CHECK(fx[1]["fields"]["key"] == "nhs_trusts");
  }
}

TEST_CASE("CheckTickFixture respects the model's column limits") {
  auto e = Entry("long", List({Opt("1", "One")}));
  // 300 two-byte characters: cut to 255 characters, not bytes.
  std::string name;
  for (int i = 0; i < 300; ++i) name += "é";
  e.first.dataset.name = name;
  e.first.dataset.reference_url =
      "https://example.org/" + std::string(181, 'x');
  e.first.dataset.source_type = SourceType::kApi;
  e.second.provenance.source_url =
      "https://example.org/" + std::string(180, 'x');
  const OrderedJson f = CheckTickFixture({e})[0]["fields"];
  CHECK(f["name"].get<std::string>().size() == 255 * 2);
  CHECK(f["reference_url"] == "");  // 201 characters: left out, not cut
  CHECK(f["external_api_url"].get<std::string>().size() == 200);  // fits
}

TEST_CASE("CheckTickFixture is deterministic") {
  auto custom = Entry("custom", List({Opt("b", "B"), Opt("a", "A")}));
  custom.first.dataset.parent = "ethnic_category";
  const std::vector<std::pair<DatasetRecord, VersionRecord>> input = {NhsDd(),
                                                                      custom};
  const std::string first = DumpCompact(CheckTickFixture(input));
  const auto copy = input;
  CHECK(DumpCompact(CheckTickFixture(copy)) == first);
  CHECK(DumpCompact(CheckTickFixture({})) == "[]");
}

}  // namespace
}  // namespace datasnap
