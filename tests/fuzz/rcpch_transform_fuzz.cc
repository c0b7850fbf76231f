// Fuzz target: the RCPCH API transforms (core/rcpch_transform.h). The first
// byte picks one of the 7 mappings of seeds/rcpch.json ('0' to '6' in the
// file's order; any other byte modulo 7), the rest is the response body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/catalogue.h"
#include "core/rcpch_transform.h"
#include "seeds/embedded.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kTarget = "rcpch_transform";

const std::vector<datasnap::CatalogueEntry>& Entries() {
  static const std::vector<datasnap::CatalogueEntry> entries = [] {
    auto parsed = datasnap::ParseRcpchCatalogue(
        {datasnap::seeds::RcpchJson(), "seeds/rcpch.json"});
    if (!parsed || parsed->size() != 7) {
      datasnap::fuzz::Violation(kTarget,
                                "seeds/rcpch.json does not give 7 entries");
    }
    for (const auto& e : *parsed) {
      if (!e.mapping) datasnap::fuzz::Violation(kTarget, "entry without mapping");
    }
    return std::move(*parsed);
  }();
  return entries;
}

}  // namespace

extern "C" int DATASNAP_FUZZ_ENTRY(const std::uint8_t* data, std::size_t size) {
  using namespace datasnap;
  using namespace datasnap::fuzz;
  const auto& entries = Entries();
  if (size == 0) return 0;
  const auto pick = static_cast<unsigned char>(data[0] - '0') % entries.size();
  const CatalogueEntry& entry = entries[pick];
  const FieldMapping& mapping = *entry.mapping;
  const std::string& key = entry.dataset.key;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1,
                              size - 1);

  auto result = TransformRcpchResponse(body, mapping, key);
  if (!result) {
    CheckError(kTarget, result.error(), ErrorCode::kCorrupt, key + ": ");
    return 0;
  }
  CheckOptions(kTarget, result->options, {.no_c1 = true});
  Require(result->items >= 1, kTarget, "options from an empty array");
  for (const std::string& w : result->warnings) {
    Require(w.starts_with(key + ": "), kTarget,
            "a warning does not start with the key: " + w);
    Require(!FindInvalidUtf8(w), kTarget, "a warning is not valid UTF-8");
  }
  // Only the children mapping gives parents; then every parent is a board
  // (an option without a parent).
  for (const Option& o : result->options.options()) {
    Require(!o.is_default, kTarget, "an RCPCH option is flagged default");
    if (!o.parent) continue;
    Require(mapping.children.has_value(), kTarget,
            "a parent from a mapping without children");
    for (const Option& p : result->options.options()) {
      if (p.value == *o.parent) {
        Require(!p.parent, kTarget, "a child's parent has a parent");
      }
    }
  }
  if (!mapping.children) {
    Require(result->options.size() + result->skipped == result->items,
            kTarget,
            "options + skipped != items (" +
                std::to_string(result->options.size()) + " + " +
                std::to_string(result->skipped) + " != " +
                std::to_string(result->items) + ")");
  }
  return 0;
}
