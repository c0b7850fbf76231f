// RFC 6902 JSON Patch over an option list keyed by value, the "patch" of a
// published diff (docs/FORMATS.md), and a small applier for tests and
// clients.
//
//   OptionsDiff d = DiffOptions(before, after);
//   OrderedJson patch = OptionsJsonPatch(d);
//   auto doc = ApplyJsonPatch(OptionsKeyedByValue(before), patch);
//   // *doc has the members of OptionsKeyedByValue(after)
//
// The document a patch applies to is an object with one member per option,
// named by its value (code):
//   {"01": {"label": "Yes"},
//    "A1": {"label": "Ward", "parent": "01"},
//    "99": {"label": "Not known", "default": true}}
// An array would not do: indices shift as options come and go (anchors.md
// §2.1). JSON objects are unordered, so a patch says nothing about order;
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

// Applies `patch` to `doc` and returns the result. Supports "add",
// "remove", "replace" and "test" (RFC 6902 §4.1-4.3, 4.6) on object
// members and on the whole document (path ""); arrays, "move" and "copy"
// are not supported. "test" compares as JSON does: object members in any
// order, numbers by value. The patch applies as a whole or not at all.
// Fails with kInvalidArgument, naming the operation's index (from 0), its
// op and path, when the patch is not an array of operation objects, an
// operation lacks a member it needs, a path is not a valid JSON Pointer,
// a path leads through a non-object, "remove"/"replace"/"test" target a
// missing member, "add" targets a member of a missing object, or a "test"
// fails; e.g.
//   JSON Patch operation 2 (remove "/a~1b"): no member "a/b" in the document
Result<OrderedJson> ApplyJsonPatch(OrderedJson doc, const OrderedJson& patch);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_JSON_PATCH_H_
