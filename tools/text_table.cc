#include "tools/text_table.h"

#include <algorithm>

namespace datasnap {
namespace {

std::size_t DisplayWidth(const std::string& s) {
  // Count code points: every byte that is not a UTF-8 continuation byte.
  return std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

std::string Plural(UnixSeconds n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

}  // namespace

TextTable::TextTable(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void TextTable::AddRow(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

void TextTable::Print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

std::string FormatDuration(UnixSeconds s, bool nearest) {
  if (s < 0) s = -s;
  // The unit by size, then the count in it, rounded down or to nearest.
  auto in = [&](UnixSeconds unit, const char* name) {
    return Plural(nearest ? (s + unit / 2) / unit : s / unit, name);
  };
  if (s < 60) return Plural(s, "second");
  if (s < 3600) return in(60, "minute");
  if (s < 2 * 86400) return in(3600, "hour");
  return in(86400, "day");
}

std::string FormatAge(std::optional<UnixSeconds> then, UnixSeconds now) {
  if (!then) return "never";
  const UnixSeconds delta = now - *then;
  if (delta >= 0 && delta < 60) return "just now";
  // A time to come rounds to nearest: a week less a minute is "in 7 days".
  if (delta < 0) return "in " + FormatDuration(-delta, /*nearest=*/true);
  return FormatDuration(delta) + " ago";
}

}  // namespace datasnap
