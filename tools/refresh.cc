#include "tools/refresh.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
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

// Writes the outcome in `txn` and sets its version; any error is returned
// (the caller's transaction is then to be aborted).
Status CommitIn(Context& ctx, WriteTxn& txn, const Planned& p,
                const FetchResult& result, const RefreshSource& source,
                const std::optional<ParsedOptions>& parsed,
                RefreshOutcome& o) {
  const std::string& key = p.record.dataset.key;
  const std::string prefix = source.audit_prefix + ".";
  if (o.kind == RefreshKind::kFailed) {
    return txn.RecordFailure(key, o.reason, prefix + "failed");
  }
  CommitAudit audit{prefix + source.first_action, prefix + "updated",
                    prefix + "unchanged", ""};
  Result<CommitResult> committed;
  if (o.not_modified) {
    audit.note = "HTTP 304 Not Modified from " + o.url;
    committed = txn.CommitOptions(key, p.current->options, Provenance{}, audit);
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
      // Plain ASCII: the audit log is data, printed anywhere.
      audit.note = DiffCounts(o.diff, Glyphs{false});
    }
    // The raw body is kept with a new version; the same options from a
    // changed body only refresh the validators (no version would point at
    // the body).
    const bool new_version = o.kind != RefreshKind::kUnchanged;
    Provenance with_raw = provenance;
    if (new_version) {
      DS_TRY(raw, txn.PutRaw(response.body));
      with_raw.raw_sha256 = std::move(*raw);
    }
    DS_CHECK(txn.PutValidators(
        o.url, {response.etag, response.last_modified, ctx.Now()}));
    committed = txn.CommitOptions(key, parsed->options, with_raw, audit);
  }
  if (!committed) return std::unexpected(committed.error());
  o.version = committed->version;
  return {};
}

// Writes one outcome in a transaction of its own; on a store error the
// outcome becomes a failure (and others keep theirs).
void CommitAlone(Context& ctx, Store& store, const Planned& p,
                 const FetchResult& result, const RefreshSource& source,
                 const std::optional<ParsedOptions>& parsed,
                 RefreshOutcome& o) {
  RefreshOutcome attempt;
  auto written = store.Write([&](WriteTxn& txn) -> Status {
    attempt = o;  // the write may run again after the map grows
    return CommitIn(ctx, txn, p, result, source, parsed, attempt);
  });
  if (written) {
    o = std::move(attempt);
  } else if (o.kind == RefreshKind::kFailed) {
    o.reason += " (and recording the failure failed: " +
                written.error().message + ")";
  } else {
    o.kind = RefreshKind::kFailed;
    o.reason = "could not write the store: " + written.error().message;
  }
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

std::string DiffCounts(const OptionsDiff& diff, Glyphs g) {
  std::string s = "+" + std::to_string(diff.added.size()) + " " + g.Minus() +
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

  // Each response is judged (parsed, compared with the current version) by
  // a worker thread as soon as it arrives, while the other transfers go
  // on, so that little but the writes is left when the last one lands.
  std::vector<RefreshOutcome> outcomes(plan.size());
  std::vector<std::optional<ParsedOptions>> parsed(plan.size());
  std::vector<std::optional<FetchResult>> fetched(plan.size());
  std::vector<std::size_t> plan_of(requests.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (request_of[i] != SIZE_MAX) plan_of[request_of[i]] = i;
  }
  auto judge = [&](std::size_t i) {
    outcomes[i] = Judge(plan[i], *fetched[i], *plan[i].source, flags, parsed[i]);
  };
  if (!requests.empty()) {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::size_t> queue;
    bool fetching = true;
    std::thread worker([&] {
      for (;;) {
        std::unique_lock lock(mutex);
        ready.wait(lock, [&] { return !queue.empty() || !fetching; });
        if (queue.empty()) return;
        const std::size_t i = queue.front();
        queue.pop_front();
        lock.unlock();
        judge(i);
      }
    });
    options.on_result = [&](std::size_t r, const FetchResult& result) {
      {
        std::lock_guard lock(mutex);
        fetched[plan_of[r]] = result;
        queue.push_back(plan_of[r]);
      }
      ready.notify_one();
    };
    std::vector<FetchResult> results =
        MakeCurlHttpClient(options)->FetchAll(requests);
    {
      std::lock_guard lock(mutex);
      fetching = false;
    }
    ready.notify_one();
    worker.join();
    // A client that does not report results one by one: judge them now.
    for (std::size_t r = 0; r < results.size(); ++r) {
      if (fetched[plan_of[r]]) continue;
      fetched[plan_of[r]] = std::move(results[r]);
      judge(plan_of[r]);
    }
    if (ctx.env.err_is_terminal) ctx.err << "\r\x1b[K" << std::flush;
  }

  // Every dataset's outcome, before anything is written.
  std::vector<bool> to_write(plan.size(), false);
  static const FetchResult kNoFetch{};
  auto result_of = [&](std::size_t i) -> const FetchResult& {
    return fetched[i] ? *fetched[i] : kNoFetch;
  };
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    RefreshOutcome& o = outcomes[i];
    if (!p.due || !p.request) {
      o.record = p.record;
      o.version = p.record.sync.version;
    }
    if (!p.due) {
      o.kind = RefreshKind::kSkipped;
    } else if (!p.request) {
      o.reason = p.request_error;
      to_write[i] = true;
    } else {
      if (parsed[i]) {
        for (const std::string& w : parsed[i]->warnings) {
          ctx.err << "  " << Glyphs{ctx.env.err_is_terminal}.Warning() << " "
                  << p.record.dataset.name << ": " << w << "\n";
        }
      }
      to_write[i] = true;
    }
  }
  auto summary = [&](const std::vector<RefreshOutcome>& all) {
    RefreshCounts c;
    for (const RefreshOutcome& o : all) Count(c, o.kind);
    return std::to_string(requests.size()) + " checked: " +
           std::to_string(c.first) + " first versions, " +
           std::to_string(c.updated) + " updated, " +
           std::to_string(c.unchanged) + " unchanged, " +
           std::to_string(c.skipped) + " skipped, " +
           std::to_string(c.failed) + " failed";
  };

  // ...then write them all in one transaction (one fsync, not one per
  // dataset), with the run's audit event. Should that fail, each dataset
  // is written in a transaction of its own, so that one failing write
  // costs only its own dataset its result.
  if (!flags.dry_run) {
    std::vector<RefreshOutcome> written;
    auto batch = store.Write([&](WriteTxn& txn) -> Status {
      written = outcomes;  // the write may run again after the map grows
      for (std::size_t i = 0; i < plan.size(); ++i) {
        if (!to_write[i]) continue;
        DS_CHECK(CommitIn(ctx, txn, plan[i], result_of(i), *plan[i].source,
                          parsed[i], written[i]));
      }
      return txn.AppendAudit(ctx.command, "", summary(written));
    });
    if (batch) {
      outcomes = std::move(written);
    } else {
      for (std::size_t i = 0; i < plan.size(); ++i) {
        if (!to_write[i]) continue;
        CommitAlone(ctx, store, plan[i], result_of(i), *plan[i].source,
                    parsed[i], outcomes[i]);
      }
      auto logged = store.Write([&](WriteTxn& txn) {
        return txn.AppendAudit(ctx.command, "", summary(outcomes));
      });
      if (!logged) ctx.Warn("could not log the run: " + logged.error().message);
    }
  }

  RefreshCounts counts;
  for (const RefreshOutcome& o : outcomes) {
    Count(counts, o.kind);
    reporter.Report(ctx.out, o, ctx.Now(), flags.dry_run);
    // Failures also go to stderr, for logs that keep only that (cron mail,
    // a CI step's annotations), with the prefix of every error.
    if (o.kind == RefreshKind::kFailed) {
      ctx.err << "datasnap: error: " << o.record.dataset.key << ": "
              << o.reason << "\n";
    }
  }
  reporter.Finish(ctx.out, counts, flags.dry_run);
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
