// Timestamps: whole seconds since the Unix epoch in memory, ISO 8601 UTC
// ("2026-11-23T19:58:00Z") wherever they are written down, so that any
// reader (Python's datetime.fromisoformat, a browser's Date) can parse them.
#ifndef DATASNAP_CORE_TIME_H_
#define DATASNAP_CORE_TIME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace datasnap {

using UnixSeconds = std::int64_t;

// Formats `t` as "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatIso8601(UnixSeconds t);

// Parses exactly the form FormatIso8601 writes; nullopt for anything else.
std::optional<UnixSeconds> ParseIso8601(std::string_view text);

// The current wall-clock time.
UnixSeconds NowUnixSeconds();

}  // namespace datasnap

#endif  // DATASNAP_CORE_TIME_H_
