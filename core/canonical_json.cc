#include "core/canonical_json.h"

#include <nlohmann/json.hpp>

#include "core/sha256.h"

namespace datasnap {

std::string CanonicalOptionsJson(const OptionList& options) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const Option& o : options.options()) {
    nlohmann::ordered_json item;
    item["value"] = o.value;
    item["label"] = o.label;
    if (o.parent) item["parent"] = *o.parent;
    array.push_back(std::move(item));
  }
  // OptionList guarantees valid UTF-8, so dump() cannot throw here.
  return array.dump(-1, ' ', /*ensure_ascii=*/false);
}

std::string OptionsSha256(const OptionList& options) {
  return Sha256Hex(CanonicalOptionsJson(options));
}

}  // namespace datasnap
