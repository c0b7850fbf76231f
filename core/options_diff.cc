#include "core/options_diff.h"

#include <string_view>
#include <unordered_map>

namespace datasnap {

OptionsDiff DiffOptions(const OptionList& before, const OptionList& after) {
  std::unordered_map<std::string_view, const Option*> old_by_value;
  std::unordered_map<std::string_view, std::size_t> new_position;
  for (const Option& o : before.options()) old_by_value.emplace(o.value, &o);
  for (std::size_t i = 0; i < after.size(); ++i) {
    new_position.emplace(after.options()[i].value, i);
  }

  OptionsDiff diff;
  for (const Option& o : before.options()) {
    if (!new_position.contains(o.value)) diff.removed.push_back(o);
  }
  // Common values are in order when their positions in `after` rise as
  // `before` is walked.
  std::size_t last = 0;
  bool first = true;
  for (const Option& o : before.options()) {
    auto it = new_position.find(o.value);
    if (it == new_position.end()) continue;
    if (!first && it->second < last) diff.reordered = true;
    last = it->second;
    first = false;
  }
  for (const Option& o : after.options()) {
    auto it = old_by_value.find(o.value);
    if (it == old_by_value.end()) {
      diff.added.push_back(o);
    } else if (!(*it->second == o)) {
      diff.changed.push_back({*it->second, o});
    }
  }
  return diff;
}

}  // namespace datasnap
