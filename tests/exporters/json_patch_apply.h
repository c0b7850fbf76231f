// For tests only: an RFC 6902 JSON Patch applier, to check the patches
// exporters/json_patch.h makes. Not shipped in datasnap (the published
// patches are also checked with Debian's python3-jsonpatch in
// export_validation_test).
#ifndef DATASNAP_TESTS_EXPORTERS_JSON_PATCH_APPLY_H_
#define DATASNAP_TESTS_EXPORTERS_JSON_PATCH_APPLY_H_

#include "core/error.h"
#include "core/model_json.h"

namespace datasnap {

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

#endif  // DATASNAP_TESTS_EXPORTERS_JSON_PATCH_APPLY_H_
