#include "tools/suggest.h"

#include <algorithm>

namespace datasnap {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> ClosestMatch(
    std::string_view typed, const std::vector<std::string>& candidates) {
  if (typed.empty()) return std::nullopt;
  // Allow about one edit in three characters, at least two.
  const std::size_t allowed = std::max<std::size_t>(2, typed.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = EditDistance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best) return best;
  for (const std::string& c : candidates) {
    if (typed.size() >= 3 && (c.find(typed) != std::string::npos ||
                              typed.find(c) != std::string_view::npos)) {
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace datasnap
