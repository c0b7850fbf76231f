#include "tools/refresh_report.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/time.h"

namespace datasnap {
namespace {

OrderedJson ChangeJson(const RefreshOutcome& o) {
  if (o.kind != RefreshKind::kUpdated) return nullptr;
  OrderedJson c;
  c["added"] = o.diff.added.size();
  c["removed"] = o.diff.removed.size();
  c["changed"] = o.diff.changed.size();
  c["reordered"] = o.diff.reordered;
  return c;
}

OrderedJson DatasetJson(const RefreshOutcome& o) {
  const bool kept =
      o.kind == RefreshKind::kFailed || o.kind == RefreshKind::kSkipped;
  // A failed or skipped dataset still has its last good version.
  const std::uint32_t version = kept ? o.record.sync.version : o.version;
  const std::size_t options = kept ? o.record.sync.option_count : o.option_count;
  OrderedJson j;
  j["key"] = o.record.dataset.key;
  j["name"] = o.record.dataset.name;
  j["category"] = CategoryName(o.record.dataset.category);
  j["outcome"] = OutcomeName(o.kind);
  j["version"] = version == 0 ? OrderedJson(nullptr) : OrderedJson(version);
  j["previous_version"] = o.record.sync.version == 0
                              ? OrderedJson(nullptr)
                              : OrderedJson(o.record.sync.version);
  j["option_count"] = version == 0 ? OrderedJson(nullptr) : OrderedJson(options);
  j["change"] = ChangeJson(o);
  j["url"] = TextOrNull(o.url);
  j["not_modified"] = o.not_modified;
  j["error"] = o.kind == RefreshKind::kFailed ? OrderedJson(o.reason)
                                              : OrderedJson(nullptr);
  return j;
}

}  // namespace

const char* OutcomeName(RefreshKind kind) {
  switch (kind) {
    case RefreshKind::kFirst: return "new";
    case RefreshKind::kUpdated: return "updated";
    case RefreshKind::kUnchanged: return "unchanged";
    case RefreshKind::kSkipped: return "not_due";
    case RefreshKind::kFailed: return "failed";
  }
  return "failed";
}

OrderedJson RefreshReportJson(const RefreshRunReport& r,
                              UnixSeconds finished_at, int exit_status) {
  OrderedJson j;
  j["report"] = "datasnap-refresh";
  j["report_version"] = 1;
  j["started_at"] = FormatIso8601(r.started_at);
  j["finished_at"] = FormatIso8601(finished_at);
  const std::chrono::duration<double> took =
      std::chrono::steady_clock::now() - r.started;
  // Milliseconds are plenty for a job that takes seconds to minutes.
  j["duration_seconds"] =
      static_cast<double>(static_cast<long long>(took.count() * 1000)) / 1000;
  j["store"] = r.store;
  j["dry_run"] = r.dry_run;
  j["exit_status"] = exit_status;
  j["error"] = TextOrNull(r.error);
  j["seeded"] = r.seeded;

  OrderedJson totals;
  std::size_t counts[5] = {};
  OrderedJson datasets = OrderedJson::array();
  for (const RefreshOutcome& o : r.outcomes) {
    ++counts[static_cast<int>(o.kind)];
    datasets.push_back(DatasetJson(o));
  }
  totals["datasets"] = r.outcomes.size();
  for (RefreshKind k : {RefreshKind::kFirst, RefreshKind::kUpdated,
                        RefreshKind::kUnchanged, RefreshKind::kSkipped,
                        RefreshKind::kFailed}) {
    totals[OutcomeName(k)] = counts[static_cast<int>(k)];
  }
  j["totals"] = std::move(totals);
  j["datasets"] = std::move(datasets);

  if (r.out_dir.empty() || r.dry_run || !r.error.empty()) {
    j["export"] = nullptr;
  } else {
    OrderedJson e;
    e["out_dir"] = r.out_dir;
    e["ok"] = r.exported.has_value();
    e["error"] = TextOrNull(r.export_error);
    if (r.exported) {
      const ExportReport& x = *r.exported;
      e["datasets"] = x.datasets;
      e["organizations"] = x.organizations;
      e["files_written"] = x.files_written;
      e["files_unchanged"] = x.files_unchanged;
      e["files_pruned"] = x.files_pruned;
      e["bytes_written"] = x.bytes_written;
      e["manifest_changed"] = x.manifest_changed;
      e["written"] = x.written;
      e["warnings"] = x.warnings;
    }
    j["export"] = std::move(e);
  }
  return j;
}

Status WriteJsonReport(const std::string& path, const OrderedJson& json,
                       std::ostream& out) {
  const std::string text =
      json.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
  if (path == "-") {
    out << text << std::flush;
    return {};
  }
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(temp, std::ios::binary | std::ios::trunc);
    if (!(f << text) || !(f.flush())) {
      const std::string why = std::strerror(errno);
      std::remove(temp.c_str());
      return Fail(ErrorCode::kIo,
                  "cannot write the run report '" + path + "': " + why);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return Fail(ErrorCode::kIo,
                "cannot write the run report '" + path + "': " + why);
  }
  return {};
}

}  // namespace datasnap
