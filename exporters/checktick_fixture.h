// Our datasets as a Django fixture of CheckTick's DataSet model, so that an
// existing deployment can take the store as is:
//
//   OrderedJson fixture = CheckTickFixture({{record, current}, ...});
//   write DumpCompact(fixture) to datasets.json, then on the Django side:
//   python manage.py loaddata datasets.json
//
// The fixture targets the model at CheckTick's a6fccef
// (docs/CHECKTICK.md, "The surveys.DataSet model"): a JSON array with one object per dataset,
//   {"model": "surveys.dataset", "pk": 1, "fields": {...}}
// and in "fields" every field of the model but the id, in the model's
// order, encoded as Django's own JSON serializer does (dumpdata): datetimes
// as ISO 8601 UTC with "Z", dates as "YYYY-MM-DD", choices as their stored
// strings, JSON fields as JSON, foreign keys as the target's pk, null for
// none. Every field is written, even those at their model default:
// loaddata saves whole rows, so a field left out would be reset to its
// default anyway.
//
// Field by field:
//   key, name, description, tags       the dataset's (name cut to 255
//                                      characters, the column's limit)
//   category, source_type              CategoryName / SourceTypeName
//   reference_url                      the dataset's; "" when longer than
//                                      200 characters (the URLField's
//                                      limit; a cut URL would be wrong)
//   external_api_endpoint              the dataset's api_endpoint
//   external_api_url                   for api sources, the URL the version
//                                      was fetched from (informational in
//                                      CheckTick); "" otherwise or when
//                                      longer than 200 characters
//   is_custom, is_global, is_active,
//   sync_frequency_hours               the dataset's
//   parent                             the pk of the parent dataset when it
//                                      is in this fixture, else null
//   organization, team, created_by     null: our organisations are names,
//                                      not CheckTick's rows, and cannot be
//                                      mapped
//   options                            {code: label} in the list's order
//                                      (§4.4 shape 1); an option with a
//                                      parent is indented two spaces per
//                                      level, as CheckTick's own sync wrote
//                                      Welsh health boards' hospitals
//                                      (§3.1). PostgreSQL's jsonb keeps its
//                                      own member order, as it did before.
//   version                            the given version's number
//   last_synced_at, last_scraped       the store's times, or null
//   created_at, updated_at             the store's times; when unknown, the
//                                      version's time (both columns are NOT
//                                      NULL; loaddata keeps given values
//                                      even for auto_now fields)
//   published_at, nhs_dd_published_date,
//   snomed_release_date,
//   snomed_member_count                null
//   nhs_dd_page_id, format_pattern,
//   snomed_refset_id, snomed_query_type,
//   snomed_ecl                         ""
//   is_featured                        false
//
// Primary keys are 1, 2, ... in the order given. loaddata updates the row
// with the same pk (or inserts it), so load into an empty table, or one
// filled by an earlier fixture of ours in the same order. DataSet has no
// natural_key() / get_by_natural_key (§4.1 lists none), so a fixture cannot
// name rows, or the parent, by key instead of pk. Since key is unique, a
// row that holds the same key under another pk makes the load fail
// (IntegrityError) rather than be silently doubled. A parent later in the
// list is fine: loaddata checks foreign keys only at the end.
// The same input always gives the same bytes: no clock is read.
#ifndef DATASNAP_EXPORTERS_CHECKTICK_FIXTURE_H_
#define DATASNAP_EXPORTERS_CHECKTICK_FIXTURE_H_

#include <string_view>
#include <utility>
#include <vector>

#include "core/model.h"
#include "core/model_json.h"

namespace datasnap {

// The fixture's model label: CheckTick's app "surveys", model DataSet.
inline constexpr std::string_view kCheckTickDatasetModel = "surveys.dataset";

// Returns the fixture above, one object per (dataset, version) pair in the
// order given; each version's options fill "options". An empty input
// gives [].
OrderedJson CheckTickFixture(
    const std::vector<std::pair<DatasetRecord, VersionRecord>>& datasets);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_CHECKTICK_FIXTURE_H_
