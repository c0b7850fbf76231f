// The HTTP decisions of `datasnap serve`, apart from the server library so
// that tests can table them: which path a request names, which encoding it
// gets, and whether its cached copy is still good.
//
//   auto path = RequestPath("/datasets/x/current.json");   // "datasets/..."
//   const Representation* r = ChooseRepresentation(*resource, "gzip, br");
//   if (MatchesIfNoneMatch(*resource, if_none_match)) ... 304
#ifndef DATASNAP_SERVE_HTTP_RULES_H_
#define DATASNAP_SERVE_HTTP_RULES_H_

#include <string>
#include <string_view>

#include "core/error.h"
#include "serve/served_tree.h"

namespace datasnap {

// The tree path a request target's path names: percent-decoded, without
// the leading '/'. kInvalidArgument (answered 400) for what no tree path
// can be and a file server must not follow: no leading '/', a bad or NUL
// escape, a control character, a backslash, an empty, "." or ".." segment
// (so "//", "/./", "/../" and their encodings).
Result<std::string> RequestPath(std::string_view target);

// The representation to send for `accept_encoding` (the header's value,
// "" when absent): the acceptable coding with the highest q-value (RFC 9110
// 12.5.3: "*" covers codings not named, q=0 refuses, names are
// case-insensitive), on ties zstd, then gzip, then identity (the smaller
// first). Identity when the client accepts none of those offered.
const Representation& ChooseRepresentation(const Resource& resource,
                                           std::string_view accept_encoding);

// The representation an If-None-Match value (a list of entity tags, weak
// or strong, or "*") names, or nullptr: any representation of the resource
// counts, since they share one content.
const Representation* MatchIfNoneMatch(const Resource& resource,
                                       std::string_view if_none_match);

}  // namespace datasnap

#endif  // DATASNAP_SERVE_HTTP_RULES_H_
