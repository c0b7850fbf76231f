// list, show, history, status, audit: read-only views of the store.
#include <string>
#include <vector>

#include "core/model_json.h"
#include "tools/commands.h"
#include "tools/suggest.h"
#include "tools/text_table.h"

namespace datasnap {
namespace {

void PrintJson(Context& ctx, const OrderedJson& j) {
  ctx.out << j.dump(2, ' ', false, OrderedJson::error_handler_t::replace)
          << "\n";
}

// Version 0 ("none yet") is null in --json output.
OrderedJson VersionOrNull(std::uint32_t version) {
  return version == 0 ? OrderedJson(nullptr) : OrderedJson(version);
}

// What list --json and show --json say about a dataset: its stored record,
// with a null version while it has none.
OrderedJson DatasetJson(const DatasetRecord& r) {
  OrderedJson j = DatasetRecordToJson(r);
  j["version"] = VersionOrNull(r.sync.version);
  return j;
}

std::string VersionText(std::uint32_t v) {
  return v == 0 ? "-" : std::to_string(v);
}

// Reports an error of a read: an unknown dataset (ResolveDataset's
// kNotFound) is a usage error, exit 2; anything else a failure.
int Report(Context& ctx, const Error& e) {
  const int code = ctx.ReportError(e);
  return e.code == ErrorCode::kNotFound ? kExitUsage : code;
}

Result<std::vector<DatasetRecord>> ActiveDatasets(const ReadTxn& txn) {
  DS_TRY(all, txn.ListDatasets());
  std::erase_if(*all, [](const DatasetRecord& r) { return !r.dataset.is_active; });
  return std::move(*all);
}

}  // namespace

int RunList(Context& ctx, const CommandArgs& args) {
  std::optional<Category> only;
  if (!args.category.empty()) {
    only = ParseCategory(args.category);
    if (!only) {
      ctx.ReportError(Error{ErrorCode::kInvalidArgument,
                            "unknown category '" + args.category +
                                "'; categories are nhs_dd, rcpch, "
                                "external_api, user_created"});
      return kExitUsage;
    }
  }
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  auto datasets = (*store)->Read(ActiveDatasets);
  if (!datasets) return ctx.ReportError(datasets.error());
  std::erase_if(*datasets, [&](const DatasetRecord& r) {
    // --org: what that organisation sees, the global lists and its own.
    const bool hidden = !args.org.empty() && !r.dataset.is_global &&
                        r.dataset.organization != args.org;
    return hidden || (only && r.dataset.category != *only);
  });

  if (args.json) {
    OrderedJson array = OrderedJson::array();
    for (const DatasetRecord& r : *datasets) array.push_back(DatasetJson(r));
    PrintJson(ctx, array);
    return kExitOk;
  }
  TextTable table({"KEY", "CATEGORY", "SCOPE", "VERSION", "OPTIONS", "NAME"});
  for (const DatasetRecord& r : *datasets) {
    const Dataset& d = r.dataset;
    std::string scope = d.is_global ? "global" : "org " + d.organization;
    if (d.organization.empty() && !d.is_global) scope = "unscoped";
    if (d.is_global && !d.organization.empty()) {
      scope += " (from " + d.organization + ")";
    }
    table.AddRow({d.key, std::string(CategoryName(d.category)), scope,
                  VersionText(r.sync.version),
                  std::to_string(r.sync.option_count), d.name});
  }
  table.Print(ctx.out);
  ctx.out << datasets->size() << " dataset(s)\n";
  return kExitOk;
}

int RunShow(Context& ctx, const CommandArgs& args) {
  if (args.version && *args.version == 0) {
    ctx.ReportError(Error{ErrorCode::kInvalidArgument,
                          "--version 0: versions start at 1"});
    return kExitUsage;
  }
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  struct Shown {
    DatasetRecord record;
    std::optional<VersionRecord> version;  // nullopt: none, or no such one
  };
  auto shown = (*store)->Read([&](const ReadTxn& txn) -> Result<Shown> {
    DS_TRY(record, ctx.ResolveDataset(txn, args.key));
    DS_TRY(version, txn.GetVersion(record->dataset.key, args.version.value_or(0)));
    return Shown{std::move(*record), std::move(*version)};
  });
  if (!shown) return Report(ctx, shown.error());
  if (args.version && !shown->version) {
    const std::uint32_t current = shown->record.sync.version;
    ctx.ReportError(Error{
        ErrorCode::kNotFound,
        "'" + shown->record.dataset.key + "' has no version " +
            std::to_string(*args.version) +
            (current == 0 ? " (it has no versions yet)"
                          : " (versions 1 to " + std::to_string(current) + ")")});
    return kExitUsage;
  }
  const DatasetRecord& r = shown->record;
  const std::optional<VersionRecord>& v = shown->version;

  if (args.json) {
    OrderedJson j = DatasetJson(r);
    if (v) {
      j["version"] = v->version;
      j["option_count"] = v->options.size();
      j["options_sha256"] = v->options_sha256;
      j["version_created_at"] = FormatIso8601(v->created_at);
      j["provenance"] = ProvenanceToJson(v->provenance);
      j["options"] = OptionsToJson(v->options);
    } else {
      j["version_created_at"] = nullptr;
      j["provenance"] = nullptr;
      j["options"] = OrderedJson::array();
    }
    PrintJson(ctx, j);
    return kExitOk;
  }

  const Dataset& d = r.dataset;
  ctx.out << d.name << " (" << d.key << ")"
          << (d.is_active ? "" : " [deleted: hidden from lists and exports]")
          << "\n";
  if (!d.description.empty()) ctx.out << "  " << d.description << "\n";
  ctx.out << "  category: " << CategoryName(d.category)
          << ", source: " << SourceTypeName(d.source_type) << "\n";
  if (!d.reference_url.empty()) ctx.out << "  reference: " << d.reference_url << "\n";
  if (!d.api_endpoint.empty()) ctx.out << "  endpoint: " << d.api_endpoint << "\n";
  if (!d.tags.empty()) {
    ctx.out << "  tags:";
    for (std::size_t i = 0; i < d.tags.size(); ++i) {
      ctx.out << (i ? ", " : " ") << d.tags[i];
    }
    ctx.out << "\n";
  }
  if (!v) {
    ctx.out << "  no options stored yet (never fetched)\n";
    return kExitOk;
  }
  ctx.out << "  version " << v->version << " of " << r.sync.version << ", "
          << v->options.size() << " options, stored "
          << FormatIso8601(v->created_at) << "\n";
  ctx.out << "  sha256: " << v->options_sha256 << "\n";
  if (!v->provenance.source_url.empty()) {
    ctx.out << "  from: " << v->provenance.source_url << "\n";
  }
  ctx.out << "\n";
  bool any_parent = false;
  for (const Option& o : v->options.options()) any_parent |= o.parent.has_value();
  TextTable table(any_parent ? std::vector<std::string>{"VALUE", "LABEL", "PARENT"}
                             : std::vector<std::string>{"VALUE", "LABEL"});
  for (const Option& o : v->options.options()) {
    if (any_parent) {
      table.AddRow({o.value, o.label, o.parent.value_or("")});
    } else {
      table.AddRow({o.value, o.label});
    }
  }
  table.Print(ctx.out);
  return kExitOk;
}

int RunHistory(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  struct History {
    DatasetRecord record;
    std::vector<VersionRecord> versions;
  };
  auto history = (*store)->Read([&](const ReadTxn& txn) -> Result<History> {
    DS_TRY(record, ctx.ResolveDataset(txn, args.key));
    DS_TRY(versions, txn.ListVersions(record->dataset.key, false));
    return History{std::move(*record), std::move(*versions)};
  });
  if (!history) return Report(ctx, history.error());

  if (args.json) {
    OrderedJson array = OrderedJson::array();
    for (const VersionRecord& v : history->versions) {
      array.push_back(VersionSummaryToJson(v));
    }
    PrintJson(ctx, array);
    return kExitOk;
  }
  ctx.out << history->record.dataset.name << " ("
          << history->record.dataset.key << ")\n";
  if (history->versions.empty()) {
    ctx.out << "no versions yet (never fetched)\n";
    return kExitOk;
  }
  TextTable table({"VERSION", "STORED", "OPTIONS", "SHA256", "SOURCE"});
  for (const VersionRecord& v : history->versions) {
    table.AddRow({std::to_string(v.version), FormatIso8601(v.created_at),
                  std::to_string(v.option_count), v.options_sha256.substr(0, 12),
                  v.provenance.source_url});
  }
  table.Print(ctx.out);
  return kExitOk;
}

namespace {

// "36", "1.5": an hours figure as typed.
std::string TrimNumber(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// What `status --check` alarms on for one dataset; empty when all is well.
struct Health {
  bool failed = false;   // the last check failed (last_error)
  bool overdue = false;  // no successful fetch for too long
  std::string problem;   // "failed: ...", "overdue: ..."
};

// A dataset fetched from upstream (a positive sync frequency) is overdue
// when it was never fetched, or its last successful fetch is older than
// `max_age_hours`, by default twice its frequency (a whole cycle missed:
// 48 hours for the daily RCPCH lists, 14 days for the weekly NHS DD pages).
Health CheckHealth(const DatasetRecord& r, UnixSeconds now,
                   std::optional<double> max_age_hours) {
  Health h;
  h.failed = !r.sync.last_error.empty();
  const std::int32_t every = r.dataset.sync_frequency_hours;
  if (every > 0) {
    const double limit = max_age_hours.value_or(2.0 * every) * 3600;
    if (!r.sync.last_synced_at) {
      h.overdue = true;
      h.problem = "overdue: never fetched";
    } else if (static_cast<double>(now - *r.sync.last_synced_at) > limit) {
      h.overdue = true;
      h.problem = "overdue: last fetched " +
                  FormatAge(r.sync.last_synced_at, now) + ", " +
                  (max_age_hours ? "more than --max-age " +
                                       TrimNumber(*max_age_hours) + " hours"
                                 : "more than twice its " +
                                       std::to_string(every) +
                                       "-hour frequency");
    }
  }
  if (h.failed) {
    h.problem = "failed: " + r.sync.last_error +
                (h.problem.empty() ? "" : "; " + h.problem);
  }
  return h;
}

}  // namespace

int RunStatus(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  auto datasets = (*store)->Read(ActiveDatasets);
  if (!datasets) return ctx.ReportError(datasets.error());
  const UnixSeconds now = ctx.Now();
  std::vector<std::pair<std::string, std::string>> unhealthy;  // key, why
  std::vector<Health> health;
  for (const DatasetRecord& r : *datasets) {
    health.push_back(CheckHealth(r, now, args.max_age_hours));
    if (!health.back().problem.empty()) {
      unhealthy.emplace_back(r.dataset.key, health.back().problem);
    }
  }

  if (args.json) {
    OrderedJson array = OrderedJson::array();
    for (std::size_t i = 0; i < datasets->size(); ++i) {
      const DatasetRecord& r = (*datasets)[i];
      OrderedJson j;
      j["key"] = r.dataset.key;
      j["name"] = r.dataset.name;
      j["category"] = CategoryName(r.dataset.category);
      j["version"] = VersionOrNull(r.sync.version);
      j["option_count"] = r.sync.option_count;
      j["last_synced_at"] = TimeOrNull(r.sync.last_synced_at);
      j["last_scraped"] = TimeOrNull(r.sync.last_scraped);
      j["last_checked_at"] = TimeOrNull(r.sync.last_checked_at);
      j["due"] = IsDue(r, now);
      j["next_due_at"] = TimeOrNull(NextDueAt(r));
      j["last_error"] = TextOrNull(r.sync.last_error);
      j["failed"] = health[i].failed;
      j["overdue"] = health[i].overdue;
      j["problem"] = TextOrNull(health[i].problem);
      array.push_back(std::move(j));
    }
    PrintJson(ctx, array);
  } else {
    TextTable table({"KEY", "CATEGORY", "VERSION", "OPTIONS", "LAST SYNCED",
                     "DUE", "LAST ERROR"});
    std::size_t with_options = 0, due = 0, errors = 0;
    for (const DatasetRecord& r : *datasets) {
      const bool is_due = IsDue(r, now);
      with_options += r.sync.version > 0;
      due += is_due;
      errors += !r.sync.last_error.empty();
      std::string due_text = is_due ? "now" : "-";
      if (auto next = NextDueAt(r); next && !is_due) {
        due_text = FormatAge(*next, now);
      }
      std::string error = r.sync.last_error;
      if (error.size() > 60) {
        // Cut at a character boundary, not inside a UTF-8 sequence.
        std::size_t cut = 57;
        while (cut > 0 &&
               (static_cast<unsigned char>(error[cut]) & 0xC0) == 0x80) {
          --cut;
        }
        error = error.substr(0, cut) + "...";
      }
      table.AddRow({r.dataset.key,
                    std::string(CategoryName(r.dataset.category)),
                    VersionText(r.sync.version),
                    std::to_string(r.sync.option_count),
                    FormatAge(r.sync.last_synced_at, now), due_text, error});
    }
    table.Print(ctx.out);
    ctx.out << datasets->size() << " datasets: " << with_options
            << " with options, " << due << " due now, " << errors
            << " with errors\n";
  }
  if (!args.check) return kExitOk;
  if (unhealthy.empty()) {
    if (!args.json) {
      ctx.out << "check: all " << datasets->size() << " datasets healthy\n";
    }
    return kExitOk;
  }
  // Named on stderr, for the monitoring that mails or logs it.
  ctx.err << "datasnap: error: status --check: " << unhealthy.size()
          << " of " << datasets->size() << " datasets need attention:\n";
  for (const auto& [key, why] : unhealthy) {
    ctx.err << "  " << key << ": " << why << "\n";
  }
  return kExitFailure;
}

int RunAudit(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());
  auto events = (*store)->Read(
      [&](const ReadTxn& txn) { return txn.ListAudit(args.limit); });
  if (!events) return ctx.ReportError(events.error());
  if (args.json) {
    OrderedJson array = OrderedJson::array();
    for (const AuditEvent& e : *events) array.push_back(AuditEventToJson(e));
    PrintJson(ctx, array);
    return kExitOk;
  }
  TextTable table({"SEQ", "TIME", "ACTOR", "ACTION", "DATASET", "DETAIL"});
  for (const AuditEvent& e : *events) {
    table.AddRow({std::to_string(e.seq), FormatIso8601(e.time), e.actor,
                  e.action, e.dataset.empty() ? "-" : e.dataset, e.detail});
  }
  table.Print(ctx.out);
  return kExitOk;
}

}  // namespace datasnap
