// Private to the CLI: `refresh --json FILE|-`, the machine-readable report
// of one run for monitoring and CI (docs/schemas/refresh-report.schema.json,
// docs/OPERATIONS.md). One JSON object: when and how long, per dataset what
// happened, totals, what the export wrote, the exit status.
#ifndef DATASNAP_TOOLS_REFRESH_REPORT_H_
#define DATASNAP_TOOLS_REFRESH_REPORT_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/model_json.h"
#include "exporters/export.h"
#include "tools/refresh.h"

namespace datasnap {

// Collected while refresh runs; turned into JSON at the end.
struct RefreshRunReport {
  UnixSeconds started_at = 0;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
  std::string store;
  bool dry_run = false;
  std::size_t seeded = 0;  // datasets created from the catalogue first
  // Empty when nothing could run (then `error` says why).
  std::vector<RefreshOutcome> outcomes;
  std::string out_dir;                  // "" = no export asked for
  std::optional<ExportReport> exported;  // the export, when it ran and worked
  std::string export_error;              // when it ran and failed
  std::string error;                     // nothing could run
};

// "new", "updated", "unchanged", "not_due" or "failed" (the table's words).
const char* OutcomeName(RefreshKind kind);

// The report as documented; `exit_status` is what refresh returns.
OrderedJson RefreshReportJson(const RefreshRunReport& report,
                              UnixSeconds finished_at, int exit_status);

// Writes `json` (two-space indented, one trailing newline) to `path`
// atomically (a temporary file beside it, then rename), or to `out` when
// `path` is "-". kIo names the path.
Status WriteJsonReport(const std::string& path, const OrderedJson& json,
                       std::ostream& out);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_REFRESH_REPORT_H_
