#include "serve/http_rules.h"

#include <array>
#include <cctype>
#include <optional>

namespace datasnap {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A q-value ("1", "0.5", "0.000") in thousandths; nullopt when malformed.
std::optional<int> ParseQ(std::string_view s) {
  s = Trim(s);
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return std::nullopt;
  int thousandths = 0;
  if (s.size() > 1) {
    if (s[1] != '.' || s.size() > 5) return std::nullopt;
    int scale = 100;
    for (char c : s.substr(2)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      thousandths += (c - '0') * scale;
      scale /= 10;
    }
  }
  const int q = (s[0] - '0') * 1000 + thousandths;
  if (q > 1000) return std::nullopt;
  return q;
}

// Calls `fn(item)` for each comma-separated, trimmed, non-empty item.
template <typename F>
void ForEachItem(std::string_view list, F&& fn) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// The opaque part of an entity tag ("W/\"x\"" and "\"x\"" give x).
std::string_view Opaque(std::string_view tag) {
  if (tag.size() >= 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
    tag = tag.substr(1, tag.size() - 2);
  }
  return tag;
}

}  // namespace

Result<std::string> RequestPath(std::string_view target) {
  auto bad = [](std::string why) {
    return Fail(ErrorCode::kInvalidArgument, std::move(why));
  };
  if (target.empty() || target.front() != '/') {
    return bad("the path must start with '/'");
  }
  std::string path;
  path.reserve(target.size());
  for (std::size_t i = 1; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      const int hi = i + 2 < target.size() ? HexDigit(target[i + 1]) : -1;
      const int lo = i + 2 < target.size() ? HexDigit(target[i + 2]) : -1;
      if (hi < 0 || lo < 0) return bad("a '%' escape needs two hex digits");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) return bad("the path holds a NUL byte");
    if (u < 0x20 || u == 0x7f) return bad("the path holds a control character");
    if (c == '\\') return bad("the path holds a backslash");
    path.push_back(c);
  }
  // Segments: none empty (but the last: "dir/" is just not found), "."
  // or "..".
  if (path.empty()) return path;
  std::string_view rest = path;
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() && slash != std::string_view::npos) {
      return bad("the path has an empty segment ('//')");
    }
    if (segment == "." || segment == "..") {
      return bad("the path has a '.' or '..' segment");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return path;
}

const Representation& ChooseRepresentation(const Resource& resource,
                                           std::string_view accept_encoding) {
  const auto& reps = resource.representations;
  // Identity is first; a resource that is not negotiated has only it.
  if (reps.size() == 1) return reps.front();
  // q-value per coding; -1 = not named.
  std::array<int, 3> q = {-1, -1, -1};  // identity, gzip, zstd
  int star = -1;
  ForEachItem(accept_encoding, [&](std::string_view item) {
    const std::size_t semi = item.find(';');
    const std::string_view name = Trim(item.substr(0, semi));
    int value = 1000;
    if (semi != std::string_view::npos) {
      // Only q is defined for Accept-Encoding.
      const std::string_view p = Trim(item.substr(semi + 1));
      if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        auto parsed = ParseQ(p.substr(2));
        if (!parsed) return;  // a malformed item is ignored
        value = *parsed;
      }
    }
    if (name == "*") {
      star = value;
    } else if (EqualsNoCase(name, "identity")) {
      q[0] = value;
    } else if (EqualsNoCase(name, "gzip") || EqualsNoCase(name, "x-gzip")) {
      q[1] = value;
    } else if (EqualsNoCase(name, "zstd")) {
      q[2] = value;
    }
  });
  for (int& v : q) {
    if (v < 0) v = star;
  }
  // Identity is acceptable unless refused (by name, or by "*;q=0").
  if (q[0] < 0) q[0] = 1;
  const Representation* best = &reps.front();
  int best_q = q[0];
  for (const Representation& r : reps) {
    const int rq = q[static_cast<int>(r.coding)];
    if (rq <= 0) continue;
    // Ties: zstd, then gzip, then identity.
    if (rq > best_q || (rq == best_q && r.coding > best->coding) ||
        best_q <= 0) {
      best = &r;
      best_q = rq;
    }
  }
  return *best;
}

const Representation* MatchIfNoneMatch(const Resource& resource,
                                       std::string_view if_none_match) {
  const Representation* match = nullptr;
  ForEachItem(if_none_match, [&](std::string_view tag) {
    if (match != nullptr) return;
    if (tag == "*") {
      match = &resource.representations.front();
      return;
    }
    for (const Representation& r : resource.representations) {
      if (Opaque(tag) == Opaque(r.etag)) {
        match = &r;
        return;
      }
    }
  });
  return match;
}

}  // namespace datasnap
