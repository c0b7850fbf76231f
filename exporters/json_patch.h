// RFC 6902 JSON Patch over an option list keyed by value, the "patch" of a
// published diff (docs/FORMATS.md). (Tests apply patches with
// tests/exporters/json_patch_apply.h, and check published ones with
// python3-jsonpatch; clients use a JSON Patch library of their own.)
//
//   OptionsDiff d = DiffOptions(before, after);
//   OrderedJson patch = OptionsJsonPatch(d);
//   // applied to OptionsKeyedByValue(before), the patch gives the
//   // members of OptionsKeyedByValue(after)
//
// The document a patch applies to is an object with one member per option,
// named by its value (code):
//   {"01": {"label": "Yes"},
//    "A1": {"label": "Ward", "parent": "01"},
//    "99": {"label": "Not known", "default": true}}
// An array would not do: its indices shift as options come and go, so a
// patch by index breaks on any insertion before it. JSON objects are unordered, so a patch says nothing about order;
// a diff's "order" member does. Paths are RFC 6901 JSON Pointers, with "~"
// written "~0" and "/" written "~1" ("a/b" -> "/a~1b").
#ifndef DATASNAP_EXPORTERS_JSON_PATCH_H_
#define DATASNAP_EXPORTERS_JSON_PATCH_H_

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "core/model_json.h"
#include "core/options_diff.h"

namespace datasnap {

// Returns the document above for `options`: members in the list's order,
// each {"label"[,"parent"][,"default":true]}.
OrderedJson OptionsKeyedByValue(const OptionList& options);

// Returns the JSON Patch (an array of operations) that turns
// OptionsKeyedByValue(before) into OptionsKeyedByValue(after), for
// diff = DiffOptions(before, after). The operations, in this order:
//   - {"op":"remove","path":"/<v>"} per removed option, in `before`'s order;
//   - per changed option, in `after`'s order: "replace" of "/<v>/label" when
//     the label changed; "add", "replace" or "remove" of "/<v>/parent" as
//     a parent appears, changes or disappears; "add" (value true) or
//     "remove" of "/<v>/default" as the default flag is set or cleared;
//   - {"op":"add","path":"/<v>","value":{...}} per added option, in
//     `after`'s order.
// (OptionsDiff keeps changes and additions apart, so they come as two
// runs.) An empty diff, or one that only reorders, gives [].
OrderedJson OptionsJsonPatch(const OptionsDiff& diff);

// Returns `text` as one JSON Pointer reference token: "~" -> "~0",
// "/" -> "~1" (RFC 6901 §3). EscapeJsonPointerToken("a/b~") == "a~1b~0".
std::string EscapeJsonPointerToken(std::string_view text);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_JSON_PATCH_H_
