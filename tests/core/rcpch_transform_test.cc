#include "core/rcpch_transform.h"

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/catalogue.h"
#include "seeds/embedded.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// The real catalogue's RCPCH entries (the compiled-in seeds/rcpch.json), so
// that these tests break if the seeds and the transforms drift apart.
const std::vector<CatalogueEntry>& Entries() {
  static const std::vector<CatalogueEntry> entries = [] {
    auto e = ParseRcpchCatalogue({seeds::RcpchJson(), "seeds/rcpch.json"});
    if (!e) FAIL(e.error().message);
    return std::move(*e);
  }();
  return entries;
}

const FieldMapping& Mapping(std::string_view key) {
  for (const CatalogueEntry& e : Entries()) {
    if (e.dataset.key == key) {
      REQUIRE(e.mapping.has_value());
      return *e.mapping;
    }
  }
  FAIL("no RCPCH catalogue entry " << std::string(key));
  throw 0;  // unreachable; FAIL throws
}

// "value|label" or "value|label<parent" per option, for readable failures.
std::vector<std::string> Describe(const OptionList& list) {
  std::vector<std::string> out;
  for (const Option& o : list.options()) {
    std::string s = o.value + "|" + o.label;
    if (o.parent) s += "<" + *o.parent;
    if (o.is_default) s += " (default)";
    out.push_back(std::move(s));
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "\n  " + s;
  return out;
}

// ---------------------------------------------------------------------------
// The catalogue's mappings are the ones these transforms were written for.

TEST_CASE("The RCPCH seeds map the seven datasets the way the transforms "
          "expect") {
  REQUIRE(Entries().size() == 7);
  const std::map<std::string, std::pair<std::string, std::string>> plain{
      {"hospitals_england_wales", {"ods_code", "name"}},
      {"nhs_trusts", {"ods_code", "name"}},
      {"london_boroughs", {"gss_code", "name"}},
      {"nhs_england_regions", {"region_code", "name"}},
      {"integrated_care_boards", {"ods_code", "name"}},
  };
  for (const auto& [key, fields] : plain) {
    INFO(key);
    const FieldMapping& m = Mapping(key);
    CHECK(m.code == fields.first);
    CHECK(m.label == fields.second);
    CHECK_FALSE(m.children.has_value());
    CHECK_FALSE(m.from_first_object.has_value());
    CHECK(m.fallback_label.empty());
  }
  const FieldMapping& lhb = Mapping("welsh_lhbs");
  CHECK(lhb.code == "ods_code");
  CHECK(lhb.label == "name");
  REQUIRE(lhb.children.has_value());
  CHECK(*lhb.children ==
        FieldMapping::Children{"organisations", "ods_code", "name"});
  CHECK_FALSE(lhb.from_first_object.has_value());

  const FieldMapping& pdu = Mapping("paediatric_diabetes_units");
  CHECK(pdu.code == "pz_code");
  CHECK(pdu.label.empty());
  REQUIRE(pdu.from_first_object.has_value());
  CHECK(pdu.from_first_object->fields ==
        std::vector<std::string>{"primary_organisation", "parent"});
  CHECK(pdu.from_first_object->code == "ods_code");
  CHECK(pdu.from_first_object->label == "name");
  CHECK(pdu.fallback_label == "PDU {code}");
  CHECK_FALSE(pdu.children.has_value());
}

TEST_CASE("Every catalogue mapping transforms an item built from its own "
          "field names") {
  for (const CatalogueEntry& e : Entries()) {
    INFO(e.dataset.key);
    REQUIRE(e.mapping.has_value());
    const FieldMapping& m = *e.mapping;
    std::string item = "{\"" + m.code + "\":\"C1\"";
    if (!m.label.empty()) item += ",\"" + m.label + "\":\"Label one\"";
    if (m.from_first_object) {
      item += ",\"" + m.from_first_object->fields.front() + "\":{\"" +
              m.from_first_object->code + "\":\"O1\",\"" +
              m.from_first_object->label + "\":\"Organisation one\"}";
    }
    if (m.children) {
      item += ",\"" + m.children->field + "\":[{\"" + m.children->code +
              "\":\"K1\",\"" + m.children->label + "\":\"Kid one\"}]";
    }
    item += "}";
    auto r = TransformRcpchResponse("[" + item + "]", m, e.dataset.key);
    REQUIRE(r.has_value());
    CHECK(r->warnings.empty());
    CHECK(r->items == 1);
    CHECK(r->skipped == 0);
    std::vector<std::string> want;
    if (m.from_first_object) {
      want = {"O1|Organisation one"};
    } else {
      want = {"C1|Label one"};
      if (m.children) want.push_back("K1|Kid one<C1");
    }
    CHECK(Describe(r->options) == want);
  }
}

// ---------------------------------------------------------------------------
// Successful transforms, table-driven.

struct Case {
  const char* name;
  const char* key;  // dataset whose catalogue mapping is used
  std::string body;
  std::vector<std::string> options;   // Describe() of the result
  std::vector<std::string> warnings;  // exact warnings, in order
  std::size_t items;
  std::size_t skipped;
};

// Warnings are matched exactly unless the expected text ends in "...", in
// which case it is a prefix.
void CheckWarnings(const std::vector<std::string>& got,
                   const std::vector<std::string>& want) {
  INFO("warnings:" << Join(got));
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].ends_with("...")) {
      CHECK_THAT(got[i], StartsWith(want[i].substr(0, want[i].size() - 3)));
    } else {
      CHECK(got[i] == want[i]);
    }
  }
}

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("case: " << c.name);
    auto r = TransformRcpchResponse(c.body, Mapping(c.key), c.key);
    if (!r) FAIL("unexpected error: " << r.error().message);
    INFO("options:" << Join(Describe(r->options)));
    CHECK(Describe(r->options) == c.options);
    CheckWarnings(r->warnings, c.warnings);
    CHECK(r->items == c.items);
    CHECK(r->skipped == c.skipped);
  }
}

TEST_CASE("Plain mappings: one option per item, in the API's order") {
  RunCases({
      {"hospitals: ods_code and name",
       "hospitals_england_wales",
       R"([{"ods_code":"RXX01","name":"ZETLAND HOSPITAL"},)"
       R"({"ods_code":"RAA02","name":"ABBEY HOSPITAL"}])",
       {"RXX01|ZETLAND HOSPITAL", "RAA02|ABBEY HOSPITAL"},
       {},
       2,
       0},
      {"trusts: nested organisations and other fields are ignored",
       "nhs_trusts",
       R"([{"ods_code":"RGT","name":"CAMBRIDGE UNIVERSITY HOSPITALS NHS )"
       R"(FOUNDATION TRUST","address_line_1":"HILLS ROAD","telephone":null,)"
       R"("active":true,"organisations":[{"ods_code":"RGT01","name":)"
       R"("ADDENBROOKE'S HOSPITAL"}]},{"ods_code":"RYT","name":"PUBLIC )"
       R"(HEALTH WALES NHS TRUST","organisations":[]}])",
       {"RGT|CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST",
        "RYT|PUBLIC HEALTH WALES NHS TRUST"},
       {},
       2,
       0},
      {"London boroughs: gss_code",
       "london_boroughs",
       R"([{"name":"Westminster","gss_code":"E09000033","organisations":[]},)"
       R"({"name":"Barnet","gss_code":"E09000003","organisations":[]}])",
       {"E09000033|Westminster", "E09000003|Barnet"},
       {},
       2,
       0},
      {"NHS England regions: region_code",
       "nhs_england_regions",
       R"([{"region_code":"Y58","publication_date":"2022-07-30",)"
       R"("boundary_identifier":"E40000006","name":"South West",)"
       R"("organisations":[{"ods_code":"RA701","name":"BRISTOL"}]}])",
       {"Y58|South West"},
       {},
       1,
       0},
      {"ICBs: ods_code, nested organisations ignored",
       "integrated_care_boards",
       R"([{"boundary_identifier":"E54000008","name":"NHS Cheshire and )"
       R"(Merseyside Integrated Care Board","ods_code":"QYG",)"
       R"("publication_date":"2023-03-15","organisations":[]}])",
       {"QYG|NHS Cheshire and Merseyside Integrated Care Board"},
       {},
       1,
       0},
      {"a region without nested organisations (the newer bare shape)",
       "nhs_england_regions",
       R"([{"region_code":"Y56","name":"London","bng_e":1.5}])",
       {"Y56|London"},
       {},
       1,
       0},
  });
}

// Found by tests/fuzz (regressions/rcpch_transform/child_of_duplicate_board):
// a board whose code repeats an earlier hospital's is left out, and its
// hospitals must go with it rather than hang under that hospital.
TEST_CASE("Welsh health boards: a board repeating a hospital's code takes its "
          "hospitals with it") {
  const std::string body =
      R"([{"ods_code":"1","name":"Board","organisations":[{"ods_code":"7A2","name":"S"}]},)"
      R"({"ods_code":"7A2","name":"u","organisations":[{"ods_code":"H","name":"n"}]}])";
  auto r = TransformRcpchResponse(body, Mapping("welsh_lhbs"), "welsh_lhbs");
  REQUIRE(r.has_value());
  std::vector<std::string> values;
  for (const Option& o : r->options.options()) {
    values.push_back(o.value);
    if (o.parent) CHECK(*o.parent == "1");  // one level only
  }
  CHECK(values == std::vector<std::string>{"1", "7A2"});
  CHECK(r->skipped == 2);  // the repeated board and its hospital
}

TEST_CASE("Welsh health boards: boards, then their organisations with the "
          "board as parent") {
  const std::string two_boards =
      R"([{"ods_code":"7A3","boundary_identifier":"W11000031","name":)"
      R"("Swansea Bay University Health Board","organisations":[)"
      R"({"ods_code":"7A3LW","name":"CHILD DEVELOPMENT UNIT"},)"
      R"({"ods_code":"7A3C7","name":"MORRISTON HOSPITAL"}]},)"
      R"({"ods_code":"7A7","boundary_identifier":"W11000024","name":)"
      R"("Powys Teaching Health Board","organisations":[)"
      R"({"ods_code":"7A7EK","name":"CHILD DEVELOPMENT CENTRE"}]}])";
  RunCases({
      {"nested organisations become children",
       "welsh_lhbs",
       two_boards,
       {"7A3|Swansea Bay University Health Board",
        "7A3LW|CHILD DEVELOPMENT UNIT<7A3", "7A3C7|MORRISTON HOSPITAL<7A3",
        "7A7|Powys Teaching Health Board",
        "7A7EK|CHILD DEVELOPMENT CENTRE<7A7"},
       {},
       2,
       0},
      {"the newer shape: no organisations field gives just the boards",
       "welsh_lhbs",
       R"([{"ods_code":"7A3","publication_date":"2022-04-14",)"
       R"("boundary_identifier":"W11000031","name":"Swansea Bay University )"
       R"(Health Board","welsh_name":"Bwrdd Iechyd Prifysgol Bae Abertawe",)"
       R"("bng_e":266283.0,"bng_n":198175.0,"long":-3.93489,"lat":51.6664},)"
       R"({"ods_code":"7A7","name":"Powys Teaching Health Board"}])",
       {"7A3|Swansea Bay University Health Board",
        "7A7|Powys Teaching Health Board"},
       {},
       2,
       0},
      {"organisations null or empty gives just the board",
       "welsh_lhbs",
       R"([{"ods_code":"7A1","name":"Betsi Cadwaladr","organisations":null},)"
       R"({"ods_code":"7A2","name":"Hywel Dda","organisations":[]}])",
       {"7A1|Betsi Cadwaladr", "7A2|Hywel Dda"},
       {},
       2,
       0},
      {"organisations that is not an array: board kept, warned",
       "welsh_lhbs",
       R"([{"ods_code":"7A1","name":"Betsi Cadwaladr","organisations":"x"},)"
       R"({"ods_code":"7A2","name":"Hywel Dda","organisations":{"a":1}}])",
       {"7A1|Betsi Cadwaladr", "7A2|Hywel Dda"},
       {"welsh_lhbs: organisations is not an array in 2 items, so their "
        "nested items were left out: [0] a string; [1] an object"},
       2,
       0},
      {"a bad nested organisation is skipped; its siblings are kept",
       "welsh_lhbs",
       R"([{"ods_code":"7A3","name":"Swansea Bay","organisations":[)"
       R"({"ods_code":"7A3LW"},"7A3X",{"ods_code":"7A3C7","name":"MORRISTON"}]}])",
       {"7A3|Swansea Bay", "7A3C7|MORRISTON<7A3"},
       {"welsh_lhbs: 2 items skipped: [0].organisations[0] name is missing; "
        "[0].organisations[1] is a string, not an object"},
       1,
       2},
      {"a board left out takes its nested organisations with it",
       "welsh_lhbs",
       R"([{"ods_code":"7A3","name":"","organisations":[)"
       R"({"ods_code":"7A3LW","name":"CDU"},{"ods_code":"7A3C7","name":"M"}]},)"
       R"({"ods_code":"7A7","name":"Powys"}])",
       {"7A7|Powys"},
       {"welsh_lhbs: 3 items skipped: [0] name is empty, so its 2 nested "
        "items too"},
       2,
       3},
      {"an organisation under two boards stays under the first",
       "welsh_lhbs",
       R"([{"ods_code":"7A3","name":"Swansea Bay","organisations":[)"
       R"({"ods_code":"7A3C7","name":"MORRISTON"}]},)"
       R"({"ods_code":"7A2","name":"Hywel Dda","organisations":[)"
       R"j({"ods_code":"7A3C7","name":"MORRISTON (again)"},)j"
       R"({"ods_code":"7A2","name":"Itself"}]}])",
       {"7A3|Swansea Bay", "7A3C7|MORRISTON<7A3", "7A2|Hywel Dda"},
       {"welsh_lhbs: 2 duplicate codes left out, the first of each kept: "
        "\"7A3C7\" at [1].organisations[0] (first at [0].organisations[0]); "
        "\"7A2\" at [1].organisations[1] (first at [1])"},
       2,
       2},
      {"a repeated board keeps the first; its children link to that code",
       "welsh_lhbs",
       R"([{"ods_code":"7A3","name":"Swansea Bay","organisations":[]},)"
       R"j({"ods_code":"7A3","name":"Swansea Bay (2)","organisations":[)j"
       R"({"ods_code":"7A3C7","name":"MORRISTON"}]}])",
       {"7A3|Swansea Bay", "7A3C7|MORRISTON<7A3"},
       {"welsh_lhbs: 1 duplicate code left out, the first of each kept: "
        "\"7A3\" at [1] (first at [0])"},
       2,
       1},
  });
}

TEST_CASE("Paediatric diabetes units: primary_organisation, else parent, "
          "else the unit's own code") {
  RunCases({
      {"primary_organisation gives value and label (not the PZ code)",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ001","paediatric_diabetes_network":{"pn_code":)"
       R"("PN07","name":"Wales"},"parent":{"ods_code":"7A3",)"
       R"("boundary_identifier":"W11000031","name":"Swansea Bay University )"
       R"(Health Board"},"primary_organisation":{"ods_code":"7A3C7",)"
       R"("name":"MORRISTON HOSPITAL"}}])",
       {"7A3C7|MORRISTON HOSPITAL"},
       {},
       1,
       0},
      {"primary_organisation null, absent or not an object: parent",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ002","parent":{"ods_code":"RGT","name":"TRUST A"},)"
       R"("primary_organisation":null},)"
       R"({"pz_code":"PZ003","parent":{"ods_code":"RGU","name":"TRUST B"}},)"
       R"({"pz_code":"PZ004","parent":{"ods_code":"RGV","name":"TRUST C"},)"
       R"("primary_organisation":"RGV01"}])",
       {"RGT|TRUST A", "RGU|TRUST B", "RGV|TRUST C"},
       {},
       3,
       0},
      {"a half-filled primary_organisation falls through to parent",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ005","parent":{"ods_code":"RA1","name":"TRUST A"},)"
       R"("primary_organisation":{"ods_code":"RA101"}},)"
       R"({"pz_code":"PZ006","parent":{"ods_code":"RA2","name":"TRUST B"},)"
       R"("primary_organisation":{"name":"NO CODE HOSPITAL"}},)"
       R"({"pz_code":"PZ007","parent":{"ods_code":"RA3","name":"TRUST C"},)"
       R"("primary_organisation":{"ods_code":"RA301","name":"  "}},)"
       R"({"pz_code":"PZ008","parent":{"ods_code":"RA4","name":"TRUST D"},)"
       R"("primary_organisation":{}}])",
       {"RA1|TRUST A", "RA2|TRUST B", "RA3|TRUST C", "RA4|TRUST D"},
       {},
       4,
       0},
      {"neither: the PZ code labelled \"PDU <code>\", warned",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ010","parent":null,"primary_organisation":null},)"
       R"({"pz_code":"PZ014"},)"
       R"({"pz_code":"PZ042","parent":{"ods_code":"RX1"},)"
       R"("primary_organisation":[]},)"
       R"({"pz_code":"PZ050","primary_organisation":{"ods_code":"R1",)"
       R"("name":"OK"}}])",
       {"PZ010|PDU PZ010", "PZ014|PDU PZ014", "PZ042|PDU PZ042", "R1|OK"},
       {"paediatric_diabetes_units: 3 units have no primary_organisation or "
        "parent with ods_code and name, so their own pz_code is the value: "
        "PZ010 (PDU PZ010), PZ014 (PDU PZ014), PZ042 (PDU PZ042)"},
       4,
       0},
      {"the newer /paediatric_diabetes_units/ shape: all fall back",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ001","organisations":[{"ods_code":"7A3C7",)"
       R"("name":"MORRISTON HOSPITAL"}]}])",
       {"PZ001|PDU PZ001"},
       {"paediatric_diabetes_units: 1 unit has no primary_organisation or "
        "parent with ods_code and name, so its own pz_code is the value: "
        "PZ001 (PDU PZ001)"},
       1,
       0},
      {"two units mapping to one code: the first kept, both named",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ024","primary_organisation":{"ods_code":"RXX01",)"
       R"("name":"Hospital X"}},)"
       R"({"pz_code":"PZ031","primary_organisation":null,)"
       R"j("parent":{"ods_code":"RXX01","name":"Hospital X (as a parent)"}},)j"
       R"({"pz_code":"PZ032","primary_organisation":{"ods_code":"RYY01",)"
       R"("name":"Hospital Y"}}])",
       {"RXX01|Hospital X", "RYY01|Hospital Y"},
       {"paediatric_diabetes_units: units PZ024 and PZ031 both map to RXX01 "
        "(Hospital X); kept PZ024"},
       3,
       1},
      {"several collisions: one warning naming each",
       "paediatric_diabetes_units",
       R"([{"pz_code":"PZ024","parent":{"ods_code":"RXX","name":"Trust X"}},)"
       R"({"pz_code":"PZ031","parent":{"ods_code":"RXX","name":"Trust X"}},)"
       R"({"pz_code":"PZ033","parent":{"ods_code":"RXX","name":"Trust X"}},)"
       R"({"pz_code":"PZ099","primary_organisation":{"ods_code":"PZ099",)"
       R"("name":"Odd"}},{"pz_code":"PZ099"}])",
       {"RXX|Trust X", "PZ099|Odd"},
       {"paediatric_diabetes_units: 3 units map to the code of an earlier "
        "unit and were left out: units PZ024 and PZ031 both map to RXX "
        "(Trust X), kept PZ024; units PZ024 and PZ033 both map to RXX "
        "(Trust X), kept PZ024; units PZ099 and PZ099 both map to PZ099 "
        "(Odd), kept PZ099",
        "paediatric_diabetes_units: 1 unit has no primary_organisation or "
        "parent with ods_code and name, so its own pz_code is the value: "
        "PZ099 (PDU PZ099)"},
       5,
       3},
      {"a unit without a usable pz_code is skipped, even with an "
       "organisation",
       "paediatric_diabetes_units",
       R"([{"primary_organisation":{"ods_code":"R1","name":"A"}},)"
       R"({"pz_code":"","primary_organisation":{"ods_code":"R2","name":"B"}},)"
       R"({"pz_code":"PZ003","primary_organisation":{"ods_code":"R3",)"
       R"("name":"C"}}])",
       {"R3|C"},
       {"paediatric_diabetes_units: 2 items skipped: [0] pz_code is missing; "
        "[1] pz_code is empty"},
       3,
       2},
  });
}

TEST_CASE("Unusable items are skipped and counted in one warning") {
  RunCases({
      {"every kind of bad item",
       "nhs_trusts",
       R"([{"ods_code":"R00","name":"GOOD"},1,"RXX",null,[],true,)"
       R"({"name":"NO CODE"},{"ods_code":null,"name":"NULL CODE"},)"
       R"({"ods_code":"","name":"EMPTY CODE"},{"ods_code":"   ","name":"X"},)"
       R"({"ods_code":true,"name":"BOOL CODE"},)"
       R"({"ods_code":{"a":1},"name":"OBJECT CODE"},)"
       R"({"ods_code":["R1"],"name":"ARRAY CODE"},)"
       R"({"ods_code":"R01"},{"ods_code":"R02","name":null},)"
       R"({"ods_code":"R03","name":""},{"ods_code":"R04","name":" \t\n "},)"
       R"({"ods_code":"R05","name":42},{"ods_code":"R06","name":["A"]},)"
       R"({"ods_code":"R07","name":"BELL\u0007"},)"
       R"({"ods_code":"R08","name":"NEL\u0085"},)"
       R"({"ods_code":"R09","name":"DEL\u007f"},)"
       R"({"ods_code":"R\u0000","name":"NUL CODE"},)"
       R"({"ODS_CODE":"R10","NAME":"WRONG CASE"},)"
       R"({"ods_code":"R99","name":"ALSO GOOD"}])",
       {"R00|GOOD", "R99|ALSO GOOD"},
       {"nhs_trusts: 23 items skipped: [1] is a number, not an object; "
        "[2] is a string, not an object; [3] is null, not an object; "
        "[4] is an array, not an object; [5] is a boolean, not an object; "
        "and 18 more"},
       25,
       23},
      {"the first few reasons are named",
       "nhs_trusts",
       R"([{"ods_code":"R00","name":"GOOD"},{"name":"NO CODE"},)"
       R"({"ods_code":null,"name":"NULL CODE"},{"ods_code":"","name":"E"},)"
       R"({"ods_code":true,"name":"BOOL CODE"},{"ods_code":"R01"},)"
       R"({"ods_code":"R05","name":42}])",
       {"R00|GOOD"},
       {"nhs_trusts: 6 items skipped: [1] ods_code is missing; [2] ods_code "
        "is null; [3] ods_code is empty; [4] ods_code is a boolean; [5] name "
        "is missing; and 1 more"},
       7,
       6},
      {"control characters in labels and codes",
       "hospitals_england_wales",
       R"([{"ods_code":"R1","name":"A\u0001B"},)"
       R"({"ods_code":"R2","name":"C\u009fD"},)"
       R"({"ods_code":"R\u001b3","name":"E"},{"ods_code":"R4","name":"OK"}])",
       {"R4|OK"},
       {"hospitals_england_wales: 3 items skipped: [0] name has a control "
        "character; [1] name has a control character; [2] ods_code has a "
        "control character"},
       4,
       3},
  });
}

TEST_CASE("Numbers as codes: whole numbers become their decimal text") {
  RunCases({
      {"integers, negative and unsigned 64-bit",
       "hospitals_england_wales",
       R"([{"ods_code":42,"name":"FORTY-TWO"},)"
       R"({"ods_code":-7,"name":"MINUS SEVEN"},)"
       R"({"ods_code":18446744073709551615,"name":"MAX"},)"
       R"({"ods_code":0,"name":"ZERO"}])",
       {"42|FORTY-TWO", "-7|MINUS SEVEN", "18446744073709551615|MAX",
        "0|ZERO"},
       {},
       4,
       0},
      {"fractions and exponents are not codes; a number is not a label",
       "hospitals_england_wales",
       R"([{"ods_code":1.5,"name":"A"},{"ods_code":1e3,"name":"B"},)"
       R"({"ods_code":2.0,"name":"C"},{"ods_code":"42","name":42},)"
       R"({"ods_code":"R1","name":"OK"}])",
       {"R1|OK"},
       {"hospitals_england_wales: 4 items skipped: [0] ods_code is a number "
        "that is not a whole number; [1] ods_code is a number that is not a "
        "whole number; [2] ods_code is a number that is not a whole number; "
        "[3] name is a number"},
       5,
       4},
      {"a number code and the same code as text are one code",
       "hospitals_england_wales",
       R"([{"ods_code":"42","name":"TEXT"},{"ods_code":42,"name":"NUMBER"}])",
       {"42|TEXT"},
       {"hospitals_england_wales: 1 duplicate code left out, the first of "
        "each kept: \"42\" at [1] (first at [0])"},
       2,
       1},
  });
}

TEST_CASE("Duplicate codes keep the first and warn once") {
  RunCases({
      {"the first label and position win (CheckTick kept the last label)",
       "hospitals_england_wales",
       R"([{"ods_code":"RA1","name":"FIRST"},{"ods_code":"RB1","name":"B"},)"
       R"({"ods_code":"RA1","name":"SECOND"},{"ods_code":"RB1","name":"B"},)"
       R"({"ods_code":"RA1","name":"THIRD"}])",
       {"RA1|FIRST", "RB1|B"},
       {"hospitals_england_wales: 3 duplicate codes left out, the first of "
        "each kept: \"RA1\" at [2] (first at [0]); \"RB1\" at [3] (first at "
        "[1]); \"RA1\" at [4] (first at [0])"},
       5,
       3},
      {"codes compare after trimming; case matters",
       "hospitals_england_wales",
       R"([{"ods_code":"RA1","name":"A"},{"ods_code":" RA1 ","name":"B"},)"
       R"({"ods_code":"ra1","name":"C"}])",
       {"RA1|A", "ra1|C"},
       {"hospitals_england_wales: 1 duplicate code left out, the first of "
        "each kept: \"RA1\" at [1] (first at [0])"},
       3,
       1},
      {"more than five duplicates are summarised",
       "london_boroughs",
       R"([{"gss_code":"E1","name":"A"},{"gss_code":"E1","name":"A"},)"
       R"({"gss_code":"E1","name":"A"},{"gss_code":"E1","name":"A"},)"
       R"({"gss_code":"E1","name":"A"},{"gss_code":"E1","name":"A"},)"
       R"({"gss_code":"E1","name":"A"}])",
       {"E1|A"},
       {"london_boroughs: 6 duplicate codes left out, the first of each "
        "kept: \"E1\" at [1] (first at [0]); \"E1\" at [2] (first at [0]); "
        "\"E1\" at [3] (first at [0]); \"E1\" at [4] (first at [0]); \"E1\" "
        "at [5] (first at [0]); and 1 more"},
       7,
       6},
  });
}

TEST_CASE("Labels: whitespace trimmed and collapsed, Unicode kept") {
  RunCases({
      {"whitespace",
       "hospitals_england_wales",
       R"([{"ods_code":"  RA1\t","name":"  ST  MARY'S\t\tHOSPITAL \n"},)"
       R"({"ods_code":"RA2","name":"A\r\nB\u000bC\fD"},)"
       R"({"ods_code":"R A3","name":"INNER SPACE IN CODE KEPT"}])",
       {"RA1|ST MARY'S HOSPITAL", "RA2|A B C D",
        "R A3|INNER SPACE IN CODE KEPT"},
       {},
       3,
       0},
      {"Unicode text, raw and escaped",
       "hospitals_england_wales",
       "[{\"ods_code\":\"G0W1C\",\"name\":\"ROYAL ALEXANDRA CHILDREN\xE2\x80"
       "\x99S HOSPITAL\"},"
       R"({"ods_code":"7A3","name":"Bwrdd Iechyd Prifysgol Bae Abertawe"},)"
       R"({"ods_code":"RX1","name":"Caf\u00e9 \ud83c\udfe5 Ysbyty"},)"
       "{\"ods_code\":\"RX2\",\"name\":\"NO\xC2\xA0" "BREAK\xC2\xA0 KEPT\"},"
       "{\"ods_code\":\"\xC3\x89" "1\",\"name\":\"UNICODE CODE\"}]",
       {"G0W1C|ROYAL ALEXANDRA CHILDREN\xE2\x80\x99S HOSPITAL",
        "7A3|Bwrdd Iechyd Prifysgol Bae Abertawe",
        "RX1|Caf\xC3\xA9 \xF0\x9F\x8F\xA5 Ysbyty",
        "RX2|NO\xC2\xA0" "BREAK\xC2\xA0 KEPT", "\xC3\x89" "1|UNICODE CODE"},
       {},
       5,
       0},
      {"the fallback label is normalised like any other",
       "paediatric_diabetes_units",
       R"([{"pz_code":" PZ7 ","parent":{"ods_code":" R1 ","name":" T  1 "}},)"
       R"({"pz_code":"PZ8"}])",
       {"R1|T 1", "PZ8|PDU PZ8"},
       {"paediatric_diabetes_units: 1 unit has no primary_organisation or "
        "parent with ods_code and name, so its own pz_code is the value: "
        "PZ8 (PDU PZ8)"},
       2,
       0},
  });
}

// ---------------------------------------------------------------------------
// Errors.

struct ErrorCase {
  const char* name;
  const char* key;
  std::string body;
  std::string message;  // exact, or a prefix when it ends in "..."
};

TEST_CASE("Bad responses are kCorrupt errors naming the dataset") {
  const std::vector<ErrorCase> cases{
      {"an object (a paginated envelope)", "welsh_lhbs",
       R"({"count":7,"results":[]})",
       "welsh_lhbs: expected a JSON array, found an object"},
      {"a detail-route object", "nhs_trusts", R"({"detail":"Not found."})",
       "nhs_trusts: expected a JSON array, found an object"},
      {"a string", "london_boroughs", R"("hello")",
       "london_boroughs: expected a JSON array, found a string"},
      {"a number", "london_boroughs", "42",
       "london_boroughs: expected a JSON array, found a number"},
      {"null", "nhs_england_regions", "null",
       "nhs_england_regions: expected a JSON array, found null"},
      {"a boolean", "integrated_care_boards", "true",
       "integrated_care_boards: expected a JSON array, found a boolean"},
      {"an empty body", "hospitals_england_wales", "",
       "hospitals_england_wales: not valid JSON (..."},
      {"whitespace only", "hospitals_england_wales", " \n",
       "hospitals_england_wales: not valid JSON (..."},
      {"truncated", "hospitals_england_wales",
       R"([{"ods_code":"RXX01","name":"HOSP)",
       "hospitals_england_wales: not valid JSON (..."},
      {"truncated after an item", "hospitals_england_wales",
       R"([{"ods_code":"RXX01","name":"HOSPITAL"},)",
       "hospitals_england_wales: not valid JSON (..."},
      {"an HTML error page", "nhs_trusts",
       "<!doctype html><title>Not Found</title>",
       "nhs_trusts: not valid JSON (..."},
      {"trailing garbage", "nhs_trusts", "[] []",
       "nhs_trusts: not valid JSON (..."},
      {"a trailing comma", "nhs_trusts", R"([{"ods_code":"R1","name":"A"},])",
       "nhs_trusts: not valid JSON (..."},
      {"invalid UTF-8 in a string", "nhs_trusts",
       "[{\"ods_code\":\"R1\",\"name\":\"A\xFF\"}]",
       "nhs_trusts: not valid JSON (..."},
      {"an escaped lone surrogate (simdjson rejects it)", "nhs_trusts",
       R"([{"ods_code":"R1","name":"OK"},{"ods_code":"R2","name":"\udc00"}])",
       "nhs_trusts: not valid JSON (..."},
      {"a raw control character in a string", "nhs_trusts",
       "[{\"ods_code\":\"R1\",\"name\":\"A\tB\"}]",
       "nhs_trusts: not valid JSON (..."},
      {"an empty array", "nhs_trusts", "[]",
       "nhs_trusts: no valid options in the response (the array is empty)"},
      {"only unusable items", "nhs_trusts",
       R"([{"ods_code":"R1"},{"name":"A"},7])",
       "nhs_trusts: no valid options in the response (3 items skipped: [0] "
       "name is missing; [1] ods_code is missing; [2] is a number, not an "
       "object)"},
      {"boards left out with their children", "welsh_lhbs",
       R"([{"ods_code":"7A3","organisations":[{"ods_code":"7A3C7",)"
       R"("name":"M"}]}])",
       "welsh_lhbs: no valid options in the response (2 items skipped: [0] "
       "name is missing, so its 1 nested item too)"},
      {"units without codes", "paediatric_diabetes_units",
       R"([{"primary_organisation":{"ods_code":"R1","name":"A"}}])",
       "paediatric_diabetes_units: no valid options in the response (1 item "
       "skipped: [0] pz_code is missing)"},
  };
  for (const ErrorCase& c : cases) {
    INFO("case: " << c.name);
    auto r = TransformRcpchResponse(c.body, Mapping(c.key), c.key);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kCorrupt);
    if (c.message.ends_with("...")) {
      CHECK_THAT(r.error().message,
                 StartsWith(c.message.substr(0, c.message.size() - 3)));
    } else {
      CHECK(r.error().message == c.message);
    }
  }
}

TEST_CASE("Many unusable items: the error names how many and the first few") {
  std::string body = "[";
  for (int i = 0; i < 241; ++i) {
    if (i > 0) body += ",";
    body += R"({"ods_code":"R)" + std::to_string(i) + R"("})";
  }
  body += "]";
  auto r = TransformRcpchResponse(body, Mapping("nhs_trusts"), "nhs_trusts");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::kCorrupt);
  CHECK(r.error().message ==
        "nhs_trusts: no valid options in the response (241 items skipped: "
        "[0] name is missing; [1] name is missing; [2] name is missing; [3] "
        "name is missing; [4] name is missing; and 236 more)");
}

TEST_CASE("A mapping without a code or label field is kInvalidArgument") {
  FieldMapping m;
  m.code = "ods_code";
  auto r = TransformRcpchResponse(R"([{"ods_code":"R1"}])", m, "custom");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(r.error().message, StartsWith("custom: "));
  m.code.clear();
  m.label = "name";
  r = TransformRcpchResponse(R"([{"ods_code":"R1"}])", m, "custom");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("A plain mapping with a fallback label uses it for unusable "
          "labels") {
  FieldMapping m;
  m.code = "id";
  m.label = "title";
  m.fallback_label = "Item {code} ({code})";
  auto r = TransformRcpchResponse(
      R"([{"id":"A","title":"Alpha"},{"id":"B"},{"id":"C","title":7},{"x":1}])",
      m, "custom");
  REQUIRE(r.has_value());
  CHECK(Describe(r->options) ==
        std::vector<std::string>{"A|Alpha", "B|Item B (B)", "C|Item C (C)"});
  CheckWarnings(r->warnings,
                {"custom: 1 item skipped: [3] id is missing",
                 "custom: 2 items labelled \"Item {code} ({code})\": [1] B "
                 "(title is missing); [2] C (title is a number)"});
  CHECK(r->skipped == 1);
}

TEST_CASE("Every truncation of a valid response is an error, never a crash") {
  const std::string body =
      R"([{"ods_code":"7A3","name":"Swansea Bay","organisations":[)"
      R"({"ods_code":"7A3C7","name":"MORRISTON"}]},)"
      R"({"ods_code":"7A7","name":"Powys","organisations":null}])";
  REQUIRE(TransformRcpchResponse(body, Mapping("welsh_lhbs"), "welsh_lhbs")
              .has_value());
  for (std::size_t n = 0; n < body.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    auto r = TransformRcpchResponse(body.substr(0, n), Mapping("welsh_lhbs"),
                                    "welsh_lhbs");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kCorrupt);
    CHECK_THAT(r.error().message, StartsWith("welsh_lhbs: "));
  }
  // Each byte replaced by another: whatever the outcome, options are valid.
  for (std::size_t n = 0; n < body.size(); ++n) {
    for (char c : {'\0', '"', '{', ']', ',', '\xC3', '1', ' '}) {
      std::string mutated = body;
      mutated[n] = c;
      for (const char* key : {"welsh_lhbs", "paediatric_diabetes_units",
                              "hospitals_england_wales"}) {
        auto r = TransformRcpchResponse(mutated, Mapping(key), key);
        if (r) {
          CHECK_FALSE(r->options.empty());
          CHECK(OptionList::Make(r->options.options()).has_value());
        } else {
          CHECK(r.error().code == ErrorCode::kCorrupt);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Conformance with the offline RCPCH samples, when present. They live
// beside the workspace: <workspace>/../shared/reference/rcpch-samples.

std::optional<std::filesystem::path> SamplesDir() {
  std::error_code ec;
  const auto seed = std::filesystem::canonical("seeds/rcpch.json", ec);
  if (ec) return std::nullopt;
  const auto dir = seed.parent_path().parent_path().parent_path() / "shared" /
                   "reference" / "rcpch-samples";
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  return dir;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot read " << path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// checktick_expected_options.json: {dataset: {code: label, ...}, ...}, in
// the file's order.
std::map<std::string, std::vector<std::pair<std::string, std::string>>>
ReadExpected(const std::string& bytes) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  REQUIRE(parser.parse(bytes).get(root) == simdjson::SUCCESS);
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  for (auto [dataset, value] : root) {
    simdjson::dom::object options;
    REQUIRE(value.get(options) == simdjson::SUCCESS);
    auto& list = out[std::string(dataset)];
    for (auto [code, label] : options) {
      std::string_view text;
      REQUIRE(label.get(text) == simdjson::SUCCESS);
      list.emplace_back(std::string(code), std::string(text));
    }
  }
  return out;
}

TEST_CASE("The transforms reproduce CheckTick's options from the RCPCH "
          "samples") {
  const auto dir = SamplesDir();
  if (!dir) {
    WARN("RCPCH samples not found beside the workspace "
         "(../shared/reference/rcpch-samples); conformance not checked");
    return;
  }
  const auto expected =
      ReadExpected(ReadAll(*dir / "checktick_expected_options.json"));
  REQUIRE(expected.size() == 7);

  struct Sample {
    const char* key;
    const char* file;
    std::size_t items;
    std::size_t options;
    std::size_t with_parent;
  };
  const Sample samples[] = {
      {"hospitals_england_wales", "organisations_limited.json", 339, 339, 0},
      {"nhs_trusts", "trusts.json", 242, 242, 0},
      {"welsh_lhbs", "local_health_boards_organisations.json", 7, 35, 28},
      {"london_boroughs", "london_boroughs_organisations.json", 33, 33, 0},
      {"nhs_england_regions", "nhs_england_regions_organisations.json", 7, 7,
       0},
      {"paediatric_diabetes_units", "paediatric_diabetes_units_parent.json",
       164, 164, 0},
      {"integrated_care_boards", "integrated_care_boards_organisations.json",
       42, 42, 0},
  };
  for (const Sample& s : samples) {
    INFO(s.key << " from " << s.file);
    auto r = TransformRcpchResponse(ReadAll(*dir / s.file), Mapping(s.key),
                                    s.key);
    if (!r) FAIL(r.error().message);
    CHECK(r->warnings.empty());
    CHECK(r->items == s.items);
    CHECK(r->skipped == 0);
    REQUIRE(r->options.size() == s.options);

    // CheckTick's {code: label} in the same order. It wrote nested LHB
    // organisations as "  <name>"; ours carry the board as parent instead,
    // so the expected label is un-indented and the parent is the last board
    // seen. No sample label has surrounding or doubled whitespace, and no
    // PDU sample collides (CheckTick's last-wins never mattered), so the
    // rest compares exactly.
    const auto it = expected.find(s.key);
    REQUIRE(it != expected.end());
    const auto& want = it->second;
    REQUIRE(want.size() == r->options.size());
    std::size_t with_parent = 0;
    std::string board;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const Option& got = r->options.options()[i];
      INFO("option " << i << ": " << got.value << " " << got.label);
      CHECK(got.value == want[i].first);
      CHECK_FALSE(got.is_default);
      if (want[i].second.starts_with("  ")) {
        CHECK(got.label == want[i].second.substr(2));
        REQUIRE(got.parent.has_value());
        CHECK(*got.parent == board);
        ++with_parent;
      } else {
        CHECK(got.label == want[i].second);
        CHECK_FALSE(got.parent.has_value());
        board = got.value;
      }
    }
    CHECK(with_parent == s.with_parent);
  }

  // The newer /local_health_boards/ shape: the same 7 boards, no children.
  auto newer = TransformRcpchResponse(
      ReadAll(*dir / "upstream_newer" / "local_health_boards.json"),
      Mapping("welsh_lhbs"), "welsh_lhbs");
  if (!newer) FAIL(newer.error().message);
  CHECK(newer->warnings.empty());
  REQUIRE(newer->options.size() == 7);
  std::vector<std::string> boards;
  for (const auto& [code, label] : expected.at("welsh_lhbs")) {
    if (!label.starts_with("  ")) boards.push_back(code + "|" + label);
  }
  CHECK(Describe(newer->options) == boards);

  // Routes CheckTick's mapping does not fit: every PDU falls back to its PZ
  // code (the newer bare route lacks primary_organisation and parent).
  auto extended = TransformRcpchResponse(
      ReadAll(*dir / "paediatric_diabetes_units_extended.json"),
      Mapping("paediatric_diabetes_units"), "paediatric_diabetes_units");
  if (!extended) FAIL(extended.error().message);
  CHECK(extended->options.size() == 173);
  REQUIRE(extended->warnings.size() == 1);
  CHECK_THAT(extended->warnings[0],
             StartsWith("paediatric_diabetes_units: 173 units have no "
                        "primary_organisation or parent"));
}

}  // namespace
}  // namespace datasnap
