// The canonical JSON form of an option list, and its SHA-256.
//
// The form is what hashes, the store and the published files agree on:
//   [{"value":"01","label":"Yes"},{"value":"A1","label":"Ward","parent":"01"}]
// An array in the list's order; each object has "value" and "label", then
// "parent" only when the option has one, then "default":true only for a
// default code; no whitespace; UTF-8 written as is;
// '"', '\\' and control characters escaped as JSON requires (\b \f \n \r \t,
// others as \u00xx). Python's
//   json.dumps(options, ensure_ascii=False, separators=(",", ":"))
// produces the same bytes, so any reader can check a hash.
#ifndef DATASNAP_CORE_CANONICAL_JSON_H_
#define DATASNAP_CORE_CANONICAL_JSON_H_

#include <string>

#include "core/model.h"

namespace datasnap {

// Returns the canonical JSON text of `options`.
std::string CanonicalOptionsJson(const OptionList& options);

// Returns the lower-case hex SHA-256 of CanonicalOptionsJson(options).
std::string OptionsSha256(const OptionList& options);

}  // namespace datasnap

#endif  // DATASNAP_CORE_CANONICAL_JSON_H_
