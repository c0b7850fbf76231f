// A dataset version as a FHIR R4 ValueSet with an expansion, so that FHIR
// tooling (terminology servers, FHIR forms) can read our lists.
//
//   OrderedJson vs = FhirValueSet(record, version,
//                                 "https://datasnap.rcpch.ac.uk/fhir");
//   std::string bytes = DumpCompact(vs);   // fhir/<key>/<version>.<h>.json
//
// The resource, members in FHIR's element order; empty texts are left out
// (FHIR forbids "" values and empty arrays):
//   {"resourceType": "ValueSet",
//    "id": "ethnic-category",                        FhirResourceId(key)
//    "meta": {"source": "<provenance source URL>"},
//    "url": "<base>/ValueSet/ethnic-category",
//    "version": "3",                                 the version number
//    "name": "EthnicCategory",                       FhirName(key)
//    "title": "Ethnic Category",                     the dataset's name
//    "status": "active",                             "retired" if inactive
//    "date": "2026-11-23",                           the version's date
//    "description": "...",
//    "expansion": {
//      "identifier": "<url>|3",
//      "timestamp": "2026-11-23T19:58:00Z",          the version's time
//      "total": 2,
//      "contains": [{"system": "...", "code": "A", "display": "White"}, ...]}}
//
// Choices:
//   - Everything comes from the records: no clock, no random identifier.
//     The expansion's identifier is "url|version" (the syndication IG's
//     contentItemVersion), which names the expansion as uniquely as a UUID
//     would, since a version never changes.
//   - `contains` is flat and in the list's order, as a dropdown shows it.
//     Parents (a health board's hospitals) are not nested and not
//     recorded; the snapshot file carries them. Default codes ("Not
//     known") are kept like any other code; FHIR has no flag for them.
//   - The system of each code (FhirCodeSystemUrl): options whose codes are
//     NHS ODS organisation codes use the NHS's identifier system,
//     https://fhir.nhs.uk/Id/ods-organization-code. That is decided by the
//     dataset key, from this table:
//       hospitals_england_wales, nhs_trusts, welsh_lhbs (boards and their
//       hospitals), integrated_care_boards.
//     Every other dataset gets a CodeSystem URL of our own,
//     <base>/CodeSystem/<id>, because its codes are either ours to scope
//     (user lists, customisations, even of an ODS list, since users may
//     add codes) or not known to match a published FHIR CodeSystem: NHS DD
//     lists are scraped from the Data Dictionary, default codes included,
//     and not checked against any FHIR code system; london_boroughs holds
//     ONS GSS codes, which have no FHIR system of record;
//     paediatric_diabetes_units mixes ODS and PZ codes; and
//     nhs_england_regions' region_code is not verified to be an ODS code.
//     A dataset moves to another system only by changing this table.
//   - A trailing '/' on the base URL is dropped.
#ifndef DATASNAP_EXPORTERS_FHIR_H_
#define DATASNAP_EXPORTERS_FHIR_H_

#include <string>
#include <string_view>

#include "core/model.h"
#include "core/model_json.h"

namespace datasnap {

// The NHS identifier system of ODS organisation codes.
inline constexpr std::string_view kOdsCodeSystem =
    "https://fhir.nhs.uk/Id/ods-organization-code";

// Returns a FHIR id ([A-Za-z0-9\-\.]{1,64}) for a dataset key: '_' and any
// other character outside that set become '-'. A result longer than 64
// characters keeps its first 55 and appends '-' and the first 8 hex digits
// of the key's SHA-256, so it stays unique and stable.
//   FhirResourceId("ethnic_category") == "ethnic-category"
std::string FhirResourceId(std::string_view key);

// Returns a FHIR name ([A-Z][A-Za-z0-9_]{0,254}) for a dataset key: the
// key's words (split at '_' and '-') in PascalCase, prefixed with
// "ValueSet" when the key starts with a digit.
//   FhirName("nhs_trusts") == "NhsTrusts"; FhirName("2024_list") ==
//   "ValueSet2024List"
std::string FhirName(std::string_view key);

// Returns the system of the dataset's codes: kOdsCodeSystem for the keys
// listed above, else <base_url>/CodeSystem/<FhirResourceId(key)>.
std::string FhirCodeSystemUrl(const Dataset& dataset,
                              std::string_view base_url);

// Returns the ValueSet above for `version` of `record`'s dataset. The
// version's options are expanded; `record` gives the name, description
// and status. base_url is e.g. "https://datasnap.rcpch.ac.uk/fhir".
OrderedJson FhirValueSet(const DatasetRecord& record,
                         const VersionRecord& version,
                         std::string_view base_url);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_FHIR_H_
