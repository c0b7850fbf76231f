// What changed between two versions of an option list, by value (code).
//
//   OptionsDiff d = DiffOptions(before, after);
//   d.added, d.removed     options only in `after` / only in `before`
//   d.changed              same value, other label, parent or default flag
//   d.reordered            the common values come in another order
#ifndef DATASNAP_CORE_OPTIONS_DIFF_H_
#define DATASNAP_CORE_OPTIONS_DIFF_H_

#include <vector>

#include "core/model.h"

namespace datasnap {

struct ChangedOption {
  Option before;
  Option after;
};

struct OptionsDiff {
  std::vector<Option> added;          // in `after`'s order
  std::vector<Option> removed;        // in `before`'s order
  std::vector<ChangedOption> changed;  // in `after`'s order
  bool reordered = false;

  // True when the lists are equal.
  bool empty() const {
    return added.empty() && removed.empty() && changed.empty() && !reordered;
  }
};

OptionsDiff DiffOptions(const OptionList& before, const OptionList& after);

}  // namespace datasnap

#endif  // DATASNAP_CORE_OPTIONS_DIFF_H_
