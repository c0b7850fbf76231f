#include "core/canonical_json.h"

#include "core/model_json.h"
#include "core/sha256.h"

namespace datasnap {

std::string CanonicalOptionsJson(const OptionList& options) {
  return DumpCompact(OptionsToJson(options));
}

std::string OptionsSha256(const OptionList& options) {
  return Sha256Hex(CanonicalOptionsJson(options));
}

}  // namespace datasnap
