// export, diff and refresh: publishing the store, comparing versions, and
// the nightly job in one command.
#include <string>
#include <vector>

#include "core/model_json.h"
#include "core/options_diff.h"
#include "exporters/export.h"
#include "exporters/formats.h"
#include "exporters/json_patch.h"
#include "tools/commands.h"
#include "tools/refresh.h"
#include "tools/refresh_report.h"
#include "tools/text_table.h"

namespace datasnap {
namespace {

ExportOptions MakeExportOptions(const CommandArgs& args) {
  ExportOptions options;
  options.out_dir = args.out;
  options.all_versions = args.all_versions;
  options.prune = args.prune;
  options.verify = args.verify;
  options.fhir = args.fhir;
  options.checktick_fixture = args.checktick_fixture;
  return options;
}

std::string Bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  char buf[32];
  if (n < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB",
                  static_cast<double>(n) / (1024 * 1024));
  }
  return buf;
}

void PrintExportReport(Context& ctx, const ExportOptions& options,
                       const ExportReport& r) {
  ctx.out << "Exported " << r.datasets << " datasets";
  if (r.organizations > 0) {
    ctx.out << " (and " << r.organizations << " organisations' own)";
  }
  ctx.out << " to " << options.out_dir << ": " << r.files_written
          << " files written ("
          << Bytes(r.bytes_written) << "), " << r.files_unchanged
          << " unchanged";
  if (options.prune) ctx.out << ", " << r.files_pruned << " pruned";
  ctx.out << "; manifest " << options.out_dir << "/manifest.json ("
          << (r.manifest_changed ? "updated" : "unchanged") << ")\n";
  // Why a file deleted by hand was not written again.
  if (r.incremental) {
    ctx.out << "Incremental: only the datasets changed since the last export "
               "were read ("
            << r.datasets_built << " rebuilt); --verify checks every file\n";
  }
  if (!options.checktick_fixture.empty()) {
    ctx.out << "CheckTick fixture: " << options.checktick_fixture << "\n";
  }
  for (const std::string& w : r.warnings) ctx.Warn(w);
}

// --- diff -------------------------------------------------------------

struct Colours {
  const char* add = "";
  const char* remove = "";
  const char* change = "";
  const char* reset = "";
};

std::string Describe(const Option& o) {
  std::string s = o.label;
  if (o.parent) s += " (parent " + *o.parent + ")";
  if (o.is_default) s += " [default]";
  return s;
}

void PrintTextDiff(std::ostream& out, const std::string& key,
                   const VersionRecord& from, const VersionRecord& to,
                   const Colours& c, Glyphs g) {
  const OptionsDiff d = DiffOptions(from.options, to.options);
  out << key << ": version " << from.version << " " << g.Arrow() << " "
      << to.version << "\n";
  for (const Option& o : d.removed) {
    out << c.remove << "- " << o.value << "  " << Describe(o) << c.reset
        << "\n";
  }
  for (const Option& o : d.added) {
    out << c.add << "+ " << o.value << "  " << Describe(o) << c.reset << "\n";
  }
  for (const ChangedOption& ch : d.changed) {
    out << c.change << "~ " << ch.after.value << "  " << Describe(ch.before)
        << " " << g.Arrow() << " " << Describe(ch.after) << c.reset << "\n";
  }
  out << d.added.size() << " added, " << d.removed.size() << " removed, "
      << d.changed.size() << " changed";
  if (d.reordered) out << ", order changed";
  out << " (" << from.options.size() << " " << g.Arrow() << " "
      << to.options.size() << " options)\n";
}

// --- refresh ------------------------------------------------------------

// Plain lines as datasets finish; a table at the end.
class TableReporter : public RefreshReporter {
 public:
  explicit TableReporter(Glyphs g) : g_(g) {}

  void Start(std::ostream& out, std::size_t datasets, bool dry_run) override {
    if (dry_run) out << "DRY RUN: nothing will be written to the store\n";
    out << "Refreshing " << datasets << " datasets...\n";
  }
  void Report(std::ostream& out, const RefreshOutcome& o, UnixSeconds now,
              bool dry_run) override {
    const std::string& name = o.record.dataset.name;
    std::string change = "-";
    std::string status;
    switch (o.kind) {
      case RefreshKind::kFirst:
        change = "new";
        status = dry_run ? "would be stored" : "stored";
        out << g_.Done() << " " << name << ": " << o.option_count << " options\n";
        break;
      case RefreshKind::kUpdated:
        change = DiffCounts(o.diff, g_);
        status = dry_run ? "would be updated" : "updated";
        out << g_.Updated() << " " << name << ": " << change << "\n";
        break;
      case RefreshKind::kUnchanged:
        status = o.not_modified ? "unchanged (304)" : "unchanged";
        out << "= " << name << "\n";
        break;
      case RefreshKind::kSkipped:
        status = "not due (next " + FormatAge(NextDueAt(o.record), now) + ")";
        break;
      case RefreshKind::kFailed:
        status = "FAILED: " + o.reason;
        out << g_.Failed() << " " << name << ": " << o.reason << "\n";
        break;
    }
    const std::uint32_t version =
        o.kind == RefreshKind::kFailed || o.kind == RefreshKind::kSkipped
            ? o.record.sync.version
            : o.version;
    const std::size_t options =
        o.kind == RefreshKind::kFailed || o.kind == RefreshKind::kSkipped
            ? o.record.sync.option_count
            : o.option_count;
    rows_.push_back({o.record.dataset.key,
                     version == 0 ? "-" : std::to_string(version),
                     version == 0 ? "-" : std::to_string(options), change,
                     status});
  }
  void Finish(std::ostream& out, const RefreshCounts& c, bool) override {
    out << "\n";
    TextTable table({"DATASET", "VERSION", "OPTIONS", "CHANGE", "STATUS"});
    for (auto& row : rows_) table.AddRow(std::move(row));
    table.Print(out);
    out << "\n" << c.first << " new, " << c.updated << " updated, "
        << c.unchanged << " unchanged, " << c.skipped << " not due, "
        << c.failed << " failed\n";
  }

 private:
  Glyphs g_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace

int RunExport(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  const ExportOptions options = MakeExportOptions(args);
  auto report = ExportStore(**store, options);
  if (!report) return ctx.ReportError(report.error());
  PrintExportReport(ctx, options, *report);
  return kExitOk;
}

int RunDiff(Context& ctx, const CommandArgs& args) {
  if (args.format != "text" && args.format != "json" &&
      args.format != "patch") {
    ctx.ReportError(Error{ErrorCode::kInvalidArgument,
                          "--format must be text, json or patch, not '" +
                              args.format + "'"});
    return kExitUsage;
  }
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  struct Pair {
    std::string key;
    VersionRecord from, to;
  };
  auto pair = (*store)->Read([&](const ReadTxn& txn) -> Result<Pair> {
    DS_TRY(record, ctx.ResolveDataset(txn, args.key));
    const std::string& key = record->dataset.key;
    const std::uint32_t current = record->sync.version;
    if (current == 0) {
      return Fail(ErrorCode::kNotFound,
                  "'" + key + "' has no versions yet; refresh it first");
    }
    std::uint32_t to = args.to.value_or(current);
    std::uint32_t from;
    if (args.from) {
      from = *args.from;
    } else {
      DS_TRY(versions, txn.ListVersions(key, /*with_options=*/false));
      if (versions->size() < 2) {
        return Fail(ErrorCode::kNotFound,
                    "'" + key + "' has only version " +
                        std::to_string(current) +
                        "; there is nothing to compare it with");
      }
      // The version before the current one (numbers may skip).
      from = (*versions)[versions->size() - 2].version;
    }
    Pair p{key, {}, {}};
    for (auto [number, slot] : {std::pair{from, &p.from}, std::pair{to, &p.to}}) {
      DS_TRY(v, txn.GetVersion(key, number));
      if (!*v || number == 0) {
        return Fail(ErrorCode::kNotFound,
                    "'" + key + "' has no version " + std::to_string(number) +
                        "; `datasnap history " + key + "` lists them");
      }
      *slot = std::move(**v);
    }
    return p;
  });
  if (!pair) {
    const int code = ctx.ReportError(pair.error());
    return pair.error().code == ErrorCode::kNotFound ? kExitUsage : code;
  }
  if (args.format == "json") {
    ctx.out << DumpCompact(DiffJson(pair->key, pair->from, pair->to)) << "\n";
  } else if (args.format == "patch") {
    ctx.out << DumpCompact(OptionsJsonPatch(
                   DiffOptions(pair->from.options, pair->to.options)))
            << "\n";
  } else {
    Colours colours;
    if (ctx.env.out_is_terminal && ctx.Variable("NO_COLOR").empty()) {
      colours = {"\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[0m"};
    }
    PrintTextDiff(ctx.out, pair->key, pair->from, pair->to, colours,
                  Glyphs{ctx.env.out_is_terminal});
  }
  return kExitOk;
}

namespace {

// refresh without the report: seeds, refreshes, exports, fills `report`.
int RefreshAndExport(Context& ctx, const CommandArgs& args,
                     RefreshRunReport& report) {
  // Exit 2 when nothing could run: no catalogue, no store (75 when another
  // process is writing it: try again later).
  auto catalogue = ctx.LoadCatalogue();
  if (!catalogue) {
    report.error = catalogue.error().message;
    ctx.ReportError(catalogue.error());
    return kExitUsage;
  }
  // The API key (from a file?) before anything is written.
  auto rcpch = MakeRcpchSource(ctx, *catalogue);
  if (!rcpch) {
    report.error = rcpch.error().message;
    ctx.ReportError(rcpch.error());
    return kExitUsage;
  }
  auto store = ctx.OpenStore(/*read_only=*/args.dry_run);
  if (!store) {
    report.error = store.error().message;
    const int code = ctx.ReportError(store.error());
    return code == kExitTempFail ? code : kExitUsage;
  }
  if (!args.dry_run) {
    auto seeded = SeedMissing(**store, *catalogue);
    if (!seeded) {
      report.error = seeded.error().message;
      ctx.ReportError(seeded.error());
      return kExitUsage;
    }
    report.seeded = *seeded;
    if (*seeded > 0) {
      ctx.out << "Seeded " << *seeded << " new datasets from the catalogue\n";
    }
  }
  const RefreshSource nhs_dd = MakeNhsDdSource(ctx, *catalogue);
  RefreshFlags flags{args.datasets, args.force, args.dry_run,
                     args.allow_shrink};
  // ctx.out is stderr under --json -.
  const bool terminal = &ctx.out == &ctx.err ? ctx.env.err_is_terminal
                                             : ctx.env.out_is_terminal;
  TableReporter reporter(Glyphs{terminal});
  auto outcomes =
      RefreshSources(ctx, **store, flags, {&nhs_dd, &*rcpch}, reporter);
  if (!outcomes) {
    report.error = outcomes.error().message;
    ctx.ReportError(outcomes.error());
    return kExitUsage;
  }
  report.outcomes = *outcomes;
  const bool failed = std::any_of(
      outcomes->begin(), outcomes->end(),
      [](const RefreshOutcome& o) { return o.kind == RefreshKind::kFailed; });

  if (args.out.empty()) {
    ctx.out << "No --out DIR: nothing exported.\n";
  } else if (args.dry_run) {
    ctx.out << "Dry run: nothing exported.\n";
  } else {
    const ExportOptions options = MakeExportOptions(args);
    auto exported = ExportStore(**store, options);
    if (!exported) {
      report.export_error = exported.error().message;
      ctx.ReportError(exported.error());
      return kExitFailure;
    }
    PrintExportReport(ctx, options, *exported);
    report.exported = std::move(*exported);
    ctx.out << "Store: " << ctx.global.store_path << "\n";
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

int RunRefreshAll(Context& ctx, const CommandArgs& args) {
  RefreshRunReport report;
  report.started_at = ctx.Now();
  report.store = ctx.global.store_path;
  report.dry_run = args.dry_run;
  report.out_dir = args.out;
  if (args.json_report.empty()) return RefreshAndExport(ctx, args, report);

  // With --json -, stdout carries the report alone; the table and the
  // progress go to stderr.
  Context to_stderr(ctx.err, ctx.err, ctx.env, ctx.global, ctx.command);
  const int code = RefreshAndExport(
      args.json_report == "-" ? to_stderr : ctx, args, report);
  auto written = WriteJsonReport(
      args.json_report, RefreshReportJson(report, ctx.Now(), code), ctx.out);
  if (!written) {
    ctx.ReportError(written.error());
    return code == kExitOk ? kExitFailure : code;
  }
  return code;
}

}  // namespace datasnap
