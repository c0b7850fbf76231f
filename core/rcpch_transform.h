// The RCPCH NHS Organisations API transforms: a response's bytes in, a
// dataset's options out, driven by the catalogue entry's FieldMapping
// (seeds/rcpch.json, described in seeds/README.md).
//
//   auto result = TransformRcpchResponse(body, *entry->mapping, "welsh_lhbs");
//   if (!result) ... result.error().message, e.g.
//                    "welsh_lhbs: expected a JSON array, found an object"
//   for (const std::string& w : result->warnings) ...  // skipped, duplicates
//   OptionList options = std::move(result->options);
//
// The response must be a JSON array. Each item is an object giving one
// option, in the API's order:
//   - plain mapping (hospitals, trusts, London boroughs, NHS England
//     regions, ICBs): value = item[code], label = item[label];
//   - mapping.children (Welsh health boards): the board's option, then one
//     option per item of its nested array (item[children.field]) whose
//     parent is the board's value. A missing or null nested field gives
//     just the board (the newer API's /local_health_boards/ shape); any
//     other non-array there is reported and the board kept without
//     children. The nested items of a board that is itself left out are
//     left out too (their parent would not exist).
//   - mapping.from_first_object (paediatric diabetes units): the unit's own
//     code (item[code], e.g. pz_code) is required. Then each field of
//     from_first_object.fields is tried in order (primary_organisation,
//     then parent): the first one that is an object with a usable
//     from_first_object.code AND a usable from_first_object.label gives the
//     value and label. Anything else (absent, null, not an object, or an
//     object lacking either, or with an unusable one) falls through to the
//     next field. CheckTick consulted `parent` only when
//     primary_organisation was absent or not an object, and took a name
//     without a code (keeping the PZ code as the value); here a half-filled
//     object is never used. When no field gives one: value = the unit's own
//     code, label = item[label] if the mapping names one, else
//     fallback_label with every "{code}" replaced ("PDU PZ010"); reported
//     in one warning.
//   - mapping.fallback_label also labels a plain item whose label is
//     unusable, if the mapping has one (none in the seeds does).
//
// Field rules:
//   - a code is a string, or a whole JSON number taken as its decimal text
//     (42 -> "42", so 42 and "42" are the same code); surrounding ASCII
//     whitespace is trimmed, inner whitespace and case are kept. Fractional
//     numbers (1.5, 2.0, 1e3), booleans, objects, arrays, null, a missing
//     field and an empty string make the item unusable;
//   - a label must be a string. ASCII whitespace around it is trimmed and
//     each internal run of it (space, tab, CR, LF, VT, FF) becomes one
//     space; other spaces (e.g. U+00A0) are kept. A label, or a code, that
//     is then empty or contains a control character (C0, DEL, C1) or
//     invalid UTF-8 makes the item unusable. (simdjson already rejects raw
//     control characters, invalid UTF-8 and lone surrogate escapes in any
//     string, so those make the whole response invalid JSON.)
//
// Warnings, at most one of each kind, each starting "<key>: " and naming
// how many and the first five:
//   - unusable items and nested items, and items that are not objects, are
//     left out, with the reason:
//       "nhs_trusts: 2 items skipped: [4] ods_code is missing; [9] name is a
//        number"   (nested items are named "[2].organisations[5]");
//   - a value that repeats an earlier one (anywhere, nested included) is
//     left out and the first kept:
//       "hospitals_england_wales: 1 duplicate code left out, the first of
//        each kept: "RA1" at [2] (first at [0])"
//     and for units, naming both:
//       "paediatric_diabetes_units: units PZ024 and PZ031 both map to RXX01
//        (Hospital X); kept PZ024"
//     (several: "3 units map to the code of an earlier unit and were left
//     out: units PZ024 and PZ031 both map to RXX01 (Hospital X), kept
//     PZ024; ...");
//   - units labelled from their own code, items labelled by fallback_label,
//     and nested fields that are not arrays.
// `skipped` counts every item and nested item left out (unusable, a
// duplicate, or nested under a board left out).
//
// Errors, all kCorrupt (bad upstream data) and naming `key`:
//   "<key>: not valid JSON (...)"  (syntax error, truncation, empty body)
//   "<key>: expected a JSON array, found an object"
//   "<key>: no valid options in the response (the array is empty)"
//   "<key>: no valid options in the response (3 items skipped: [0] ...)"
// A mapping without a code field, or with neither a label nor a
// fallback_label, is kInvalidArgument (the catalogue loader rejects these).
//
// A pure function of its inputs; any bytes are accepted.
#ifndef DATASNAP_CORE_RCPCH_TRANSFORM_H_
#define DATASNAP_CORE_RCPCH_TRANSFORM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/catalogue.h"
#include "core/error.h"
#include "core/model.h"

namespace datasnap {

struct RcpchOptions {
  OptionList options;
  std::vector<std::string> warnings;  // human-readable, one per kind of problem
  std::size_t items = 0;              // top-level items in the response
  std::size_t skipped = 0;            // items (and nested items) left out
};

// `body` is the response; `key` names the dataset in messages.
Result<RcpchOptions> TransformRcpchResponse(std::string_view body,
                                            const FieldMapping& mapping,
                                            std::string_view key);

}  // namespace datasnap

#endif  // DATASNAP_CORE_RCPCH_TRANSFORM_H_
