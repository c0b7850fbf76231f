#include "tools/refresh.h"

#include <algorithm>
#include <unordered_map>

#include "store/store.h"

namespace datasnap {
namespace {

// A dataset picked for this run, with what the store holds for it.
struct Planned {
  const RefreshSource* source = nullptr;
  DatasetRecord record;
  bool due = true;
  std::optional<VersionRecord> current;  // with options
  std::optional<HttpValidators> validators;
  std::optional<HttpRequest> request;
  std::string request_error;
};

std::string CategoryNoun(Category c) {
  switch (c) {
    case Category::kNhsDd: return "NHS Data Dictionary";
    case Category::kRcpch: return "RCPCH";
    case Category::kExternalApi: return "external API";
    case Category::kUserCreated: return "user-created";
  }
  return "";
}

// Resolves --dataset names; each must be a live dataset of one of the
// sources' categories.
Result<std::vector<DatasetRecord>> ResolveNamed(
    Context& ctx, const ReadTxn& txn, const RefreshFlags& flags,
    const std::vector<const RefreshSource*>& sources) {
  std::vector<DatasetRecord> named;
  for (const std::string& typed : flags.datasets) {
    DS_TRY(record, ctx.ResolveDataset(txn, typed));
    const Category c = record->dataset.category;
    const bool kept = std::any_of(
        sources.begin(), sources.end(),
        [c](const RefreshSource* s) { return s->category == c; });
    if (!kept) {
      std::string which;
      for (const RefreshSource* s : sources) {
        which += (which.empty() ? "" : " and ") + CategoryNoun(s->category);
      }
      return Fail(ErrorCode::kNotFound,
                  "'" + typed + "' is a " + std::string(CategoryName(c)) +
                      " dataset; `datasnap " + ctx.command + "` keeps " +
                      which + " datasets (`datasnap list` shows each one's "
                      "category)");
    }
    if (!record->dataset.is_active) {
      return Fail(ErrorCode::kNotFound,
                  "dataset '" + record->dataset.key + "' is deleted");
    }
    const bool repeated = std::any_of(
        named.begin(), named.end(), [&](const DatasetRecord& r) {
          return r.dataset.key == record->dataset.key;
        });
    if (!repeated) named.push_back(std::move(*record));
  }
  return named;
}

// The datasets of `source`'s category in catalogue order: those --dataset
// named (`named`, already resolved), or all of them.
Result<std::vector<Planned>> Plan(Context& ctx, const ReadTxn& txn,
                                  const RefreshFlags& flags,
                                  const RefreshSource& source,
                                  const std::vector<DatasetRecord>& named) {
  std::vector<DatasetRecord> picked;
  if (!flags.datasets.empty()) {
    for (const DatasetRecord& r : named) {
      if (r.dataset.category == source.category) picked.push_back(r);
    }
  } else {
    DS_TRY(all, txn.ListDatasets());
    for (DatasetRecord& r : *all) {
      if (r.dataset.category == source.category && r.dataset.is_active) {
        picked.push_back(std::move(r));
      }
    }
    std::unordered_map<std::string, std::size_t> rank;
    for (std::size_t i = 0; i < source.order.size(); ++i) {
      rank.emplace(source.order[i], i);
    }
    std::stable_sort(picked.begin(), picked.end(),
                     [&](const DatasetRecord& a, const DatasetRecord& b) {
                       auto ra = rank.find(a.dataset.key);
                       auto rb = rank.find(b.dataset.key);
                       const std::size_t ia =
                           ra == rank.end() ? rank.size() : ra->second;
                       const std::size_t ib =
                           rb == rank.end() ? rank.size() : rb->second;
                       return ia < ib;
                     });
  }

  std::vector<Planned> plan;
  const UnixSeconds now = ctx.Now();
  for (DatasetRecord& r : picked) {
    Planned p;
    p.due = flags.force || IsDue(r, now);
    p.record = std::move(r);
    if (p.due) {
      DS_TRY(current, txn.GetVersion(p.record.dataset.key, 0));
      p.current = std::move(*current);
      auto request = source.request(p.record);
      if (request) {
        p.request = std::move(*request);
        // Conditional only when there is a stored copy a 304 can stand for.
        if (p.current) {
          DS_TRY(validators, txn.GetValidators(p.request->url));
          p.validators = std::move(*validators);
          if (p.validators) {
            p.request->if_none_match = p.validators->etag;
            p.request->if_modified_since = p.validators->last_modified;
          }
        }
      } else {
        p.request_error = request.error().message;
      }
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

std::string FetchReason(const RefreshSource& source, const FetchError& e) {
  return source.explain ? source.explain(e) : e.message;
}

// Works out what a response means for a dataset, before anything is
// written. `parsed` receives the options of a 200.
RefreshOutcome Judge(const Planned& p, const FetchResult& result,
                     const RefreshSource& source, const RefreshFlags& flags,
                     std::optional<ParsedOptions>& parsed) {
  RefreshOutcome o;
  o.record = p.record;
  o.url = p.request->url;
  o.version = p.record.sync.version;
  if (!result) {
    o.reason = FetchReason(source, result.error());
    return o;
  }
  o.fetched = true;
  if (result->not_modified) {
    o.not_modified = true;
    if (!p.current) {
      o.reason = "the server answered 304 Not Modified but no copy is "
                 "stored; run again with --force";
      return o;
    }
    o.kind = RefreshKind::kUnchanged;
    o.option_count = p.current->options.size();
    return o;
  }
  auto options = source.parse(p.record, *result);
  if (!options) {
    o.reason = options.error().message;
    return o;
  }
  const std::size_t n = options->options.size();
  o.option_count = n;
  if (p.current) {
    const std::size_t had = p.current->options.size();
    if (!flags.allow_shrink && n * 2 < had) {
      o.reason = "refused: the response gives " + std::to_string(n) +
                 " options where version " +
                 std::to_string(p.current->version) + " has " +
                 std::to_string(had) +
                 " (fewer than half); version " +
                 std::to_string(p.current->version) +
                 " is kept. If the upstream list really shrank, run again "
                 "with --allow-shrink";
      parsed = std::move(*options);
      return o;
    }
    o.diff = DiffOptions(p.current->options, options->options);
    o.kind = o.diff.empty() ? RefreshKind::kUnchanged : RefreshKind::kUpdated;
    if (o.kind == RefreshKind::kUpdated) o.version = p.current->version + 1;
  } else {
    o.kind = RefreshKind::kFirst;
    o.version = 1;  // the commit says which; a dry run shows this guess
  }
  parsed = std::move(*options);
  return o;
}

// Writes the outcome; on a store error the outcome becomes a failure.
void Commit(Context& ctx, Store& store, const Planned& p,
            const FetchResult& result, const RefreshSource& source,
            const std::optional<ParsedOptions>& parsed, RefreshOutcome& o) {
  const std::string& key = p.record.dataset.key;
  const std::string prefix = source.audit_prefix + ".";
  if (o.kind == RefreshKind::kFailed) {
    auto written = store.Write([&](WriteTxn& txn) {
      return txn.RecordFailure(key, o.reason, prefix + "failed");
    });
    if (!written) {
      o.reason += " (and recording the failure failed: " +
                  written.error().message + ")";
    }
    return;
  }
  CommitAudit audit{prefix + source.first_action, prefix + "updated",
                    prefix + "unchanged", ""};
  Result<CommitResult> committed;
  if (o.not_modified) {
    audit.note = "HTTP 304 Not Modified from " + o.url;
    committed = store.Write([&](WriteTxn& txn) {
      return txn.CommitOptions(key, p.current->options, Provenance{}, audit);
    });
  } else {
    const HttpResponse& response = *result;
    Provenance provenance;
    provenance.source_url =
        response.final_url.empty() ? o.url : response.final_url;
    provenance.fetched_at = ctx.Now();
    provenance.etag = response.etag;
    provenance.last_modified = response.last_modified;
    provenance.content_type = response.content_type;
    provenance.note = parsed->note;
    if (o.kind == RefreshKind::kUpdated) {
      audit.note = DiffCounts(o.diff);
    }
    // The raw body is kept with a new version; the same options from a
    // changed body only refresh the validators (no version would point at
    // the body).
    const bool new_version = o.kind != RefreshKind::kUnchanged;
    committed = store.Write([&](WriteTxn& txn) -> Result<CommitResult> {
      Provenance with_raw = provenance;
      if (new_version) {
        DS_TRY(raw, txn.PutRaw(response.body));
        with_raw.raw_sha256 = std::move(*raw);
      }
      DS_CHECK(txn.PutValidators(
          o.url, {response.etag, response.last_modified, ctx.Now()}));
      return txn.CommitOptions(key, parsed->options, with_raw, audit);
    });
  }
  if (!committed) {
    o.kind = RefreshKind::kFailed;
    o.reason = "could not write the store: " + committed.error().message;
    return;
  }
  o.version = committed->version;
}

void Count(RefreshCounts& c, RefreshKind kind) {
  switch (kind) {
    case RefreshKind::kFirst: ++c.first; break;
    case RefreshKind::kUpdated: ++c.updated; break;
    case RefreshKind::kUnchanged: ++c.unchanged; break;
    case RefreshKind::kSkipped: ++c.skipped; break;
    case RefreshKind::kFailed: ++c.failed; break;
  }
}

}  // namespace

std::string DiffCounts(const OptionsDiff& diff) {
  std::string s = "+" + std::to_string(diff.added.size()) + " \u2212" +
                  std::to_string(diff.removed.size()) + " ~" +
                  std::to_string(diff.changed.size());
  if (diff.reordered) s += ", reordered";
  return s;
}

Result<std::vector<RefreshOutcome>> RefreshSources(
    Context& ctx, Store& store, const RefreshFlags& flags,
    const std::vector<const RefreshSource*>& sources,
    RefreshReporter& reporter) {
  auto planned = store.Read([&](const ReadTxn& txn)
                                -> Result<std::vector<Planned>> {
    DS_TRY(named, ResolveNamed(ctx, txn, flags, sources));
    std::vector<Planned> all;
    for (const RefreshSource* source : sources) {
      DS_TRY(plan, Plan(ctx, txn, flags, *source, *named));
      for (Planned& p : *plan) {
        p.source = source;
        all.push_back(std::move(p));
      }
    }
    if (all.empty()) {
      std::string seeds;
      for (const RefreshSource* s : sources) {
        seeds += (seeds.empty() ? "`datasnap " : " and `datasnap ") +
                 s->seed_command + "`";
      }
      return Fail(ErrorCode::kNotFound,
                  "no datasets to refresh in the store " +
                      ctx.global.store_path + "; create them with " + seeds +
                      " first");
    }
    return all;
  });
  if (!planned) return std::unexpected(planned.error());
  std::vector<Planned>& plan = *planned;

  // Fetch everything that is due in one concurrent batch.
  std::vector<HttpRequest> requests;
  std::vector<std::size_t> request_of(plan.size(), SIZE_MAX);
  FetchOptions options = ctx.MakeFetchOptions();
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].due && plan[i].request) {
      request_of[i] = requests.size();
      requests.push_back(*plan[i].request);
      options.allow_file_urls |= plan[i].source->allow_file_urls;
    }
  }
  if (ctx.env.err_is_terminal) {
    options.progress = [&ctx](const FetchProgress& p) {
      ctx.err << "\r\x1b[K  fetching " << p.done << "/" << p.total << " ("
              << p.in_flight << " in flight";
      if (p.retries_waiting > 0) {
        ctx.err << ", " << p.retries_waiting << " waiting to retry";
      }
      if (p.failed > 0) ctx.err << ", " << p.failed << " failed";
      ctx.err << ")" << std::flush;
    };
  }
  reporter.Start(ctx.out, plan.size(), flags.dry_run);
  std::vector<FetchResult> results;
  if (!requests.empty()) {
    results = MakeCurlHttpClient(options)->FetchAll(requests);
    if (ctx.env.err_is_terminal) ctx.err << "\r\x1b[K" << std::flush;
  }

  RefreshCounts counts;
  std::vector<RefreshOutcome> outcomes;
  outcomes.reserve(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    const RefreshSource& source = *p.source;
    RefreshOutcome o;
    o.record = p.record;
    o.version = p.record.sync.version;
    if (!p.due) {
      o.kind = RefreshKind::kSkipped;
    } else if (!p.request) {
      o.reason = p.request_error;
      if (!flags.dry_run) {
        std::optional<ParsedOptions> none;
        Commit(ctx, store, p, FetchResult{}, source, none, o);
      }
    } else {
      const FetchResult& result = results[request_of[i]];
      std::optional<ParsedOptions> parsed;
      o = Judge(p, result, source, flags, parsed);
      if (parsed) {
        for (const std::string& w : parsed->warnings) {
          ctx.err << "  \u26a0 " << p.record.dataset.name << ": " << w << "\n";
        }
      }
      if (!flags.dry_run) Commit(ctx, store, p, result, source, parsed, o);
    }
    Count(counts, o.kind);
    reporter.Report(ctx.out, o, ctx.Now(), flags.dry_run);
    // Failures also go to stderr, for logs that keep only that (cron mail,
    // a CI step's annotations), with the prefix of every error.
    if (o.kind == RefreshKind::kFailed) {
      ctx.err << "datasnap: error: " << o.record.dataset.key << ": "
              << o.reason << "\n";
    }
    outcomes.push_back(std::move(o));
  }
  reporter.Finish(ctx.out, counts, flags.dry_run);

  if (!flags.dry_run) {
    const std::string detail =
        std::to_string(requests.size()) + " checked: " +
        std::to_string(counts.first) + " first versions, " +
        std::to_string(counts.updated) + " updated, " +
        std::to_string(counts.unchanged) + " unchanged, " +
        std::to_string(counts.skipped) + " skipped, " +
        std::to_string(counts.failed) + " failed";
    auto logged = store.Write([&](WriteTxn& txn) {
      return txn.AppendAudit(ctx.command, "", detail);
    });
    if (!logged) ctx.Warn("could not log the run: " + logged.error().message);
  }
  return outcomes;
}

int RunRefresh(Context& ctx, const RefreshFlags& flags,
               const RefreshSource& source, RefreshReporter& reporter) {
  auto store = ctx.OpenStore(/*read_only=*/flags.dry_run);
  if (!store) return ctx.ReportError(store.error());
  auto outcomes = RefreshSources(ctx, **store, flags, {&source}, reporter);
  if (!outcomes) {
    const int code = ctx.ReportError(outcomes.error());
    return outcomes.error().code == ErrorCode::kNotFound &&
                   !flags.datasets.empty()
               ? kExitUsage
               : code;
  }
  const bool failed = std::any_of(
      outcomes->begin(), outcomes->end(),
      [](const RefreshOutcome& o) { return o.kind == RefreshKind::kFailed; });
  return failed ? kExitFailure : kExitOk;
}

}  // namespace datasnap
