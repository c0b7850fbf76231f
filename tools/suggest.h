// "Did you mean ...?" for mistyped command names and dataset keys.
#ifndef DATASNAP_TOOLS_SUGGEST_H_
#define DATASNAP_TOOLS_SUGGEST_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace datasnap {

// The candidate closest to `typed`: the one with the smallest edit distance,
// if that is small for the word's length, else one that contains `typed`
// (or is contained in it). nullopt when nothing is close.
std::optional<std::string> ClosestMatch(std::string_view typed,
                                        const std::vector<std::string>& candidates);

// Levenshtein distance between two byte strings.
std::size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_SUGGEST_H_
