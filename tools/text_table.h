// Plain-text output helpers for the CLI: aligned tables and human ages.
#ifndef DATASNAP_TOOLS_TEXT_TABLE_H_
#define DATASNAP_TOOLS_TEXT_TABLE_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/time.h"

namespace datasnap {

// Columns padded to their widest cell (measured in UTF-8 code points), two
// spaces apart, the last column unpadded.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "just now", "5 minutes ago", "2 hours ago", "3 days ago"; "never" for
// nullopt. Times in the future read "in 2 hours" (rounded to the nearest unit).
std::string FormatAge(std::optional<UnixSeconds> then, UnixSeconds now);

// "22 hours", "1 day", "3 minutes": the largest fitting unit, counted
// rounded down, or to the nearest when `nearest`.
std::string FormatDuration(UnixSeconds seconds, bool nearest = false);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_TEXT_TABLE_H_
