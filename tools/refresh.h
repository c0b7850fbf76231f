// Private to the CLI: the engine behind scrape-nhs-dd and sync-external.
// Both pick the datasets that are due, fetch them concurrently with
// conditional requests, parse the bodies, and keep what changed; they
// differ in how a request is made, how a body is parsed and how the results
// are worded, which a RefreshSource and a RefreshReporter say.
//
// The rules every refresh keeps:
// - a new version only when the options change; the same options update
//   the timestamps; a 304 means unchanged, without parsing;
// - the raw body (zstd, by SHA-256) and its validators are kept with the
//   version's provenance; validators are stored only after a success, so a
//   failed or refused body is fetched in full next time;
// - a failure (fetch, parse, a list that shrank to less than half without
//   --allow-shrink) keeps the previous version, is recorded on the dataset
//   and in the audit log, and the other datasets go on;
// - --dry-run fetches and parses, says what would change, and opens the
//   store read-only, so nothing at all is written.
#ifndef DATASNAP_TOOLS_REFRESH_H_
#define DATASNAP_TOOLS_REFRESH_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/http_client.h"
#include "core/model.h"
#include "core/options_diff.h"
#include "tools/context.h"

namespace datasnap {

struct RefreshFlags {
  // --dataset KEY: only these (keys or older aliases); empty = all.
  std::vector<std::string> datasets;
  bool force = false;   // --force: also datasets that are not due
  bool dry_run = false;
  bool allow_shrink = false;
};

// A body turned into options.
struct ParsedOptions {
  OptionList options;
  std::vector<std::string> warnings;  // printed on stderr
  std::string note;                   // for the provenance and audit log
};

struct RefreshSource {
  Category category;
  std::string seed_command;   // "seed-nhs-dd": run it when nothing is seeded
  std::string audit_prefix;   // "scrape": scrape.scraped, .updated, ...
  std::string first_action;   // "scraped" or "synced": the first version
  bool allow_file_urls = false;  // file:// mirrors (NHS_DD_BASE_URL)
  // Keys in catalogue order; datasets are processed and printed in it.
  std::vector<std::string> order;
  // The request for a dataset; an error fails that dataset.
  std::function<Result<HttpRequest>(const DatasetRecord&)> request;
  // The options in a successful response.
  std::function<Result<ParsedOptions>(const DatasetRecord&,
                                      const HttpResponse&)>
      parse;
  // The reason printed and recorded for a failed fetch. Default: the
  // client's message.
  std::function<std::string(const FetchError&)> explain;
};

enum class RefreshKind { kFirst, kUpdated, kUnchanged, kSkipped, kFailed };

// What happened to one dataset.
struct RefreshOutcome {
  DatasetRecord record;  // as it was before the refresh
  RefreshKind kind = RefreshKind::kFailed;
  std::string url;  // requested ("" when skipped)
  bool fetched = false;       // a response arrived (200 or 304)
  bool not_modified = false;  // it was a 304
  std::size_t option_count = 0;  // of the new or unchanged version
  std::uint32_t version = 0;     // the dataset's version afterwards
  OptionsDiff diff;              // for kUpdated
  std::string reason;            // for kFailed
};

struct RefreshCounts {
  std::size_t first = 0, updated = 0, unchanged = 0, skipped = 0, failed = 0;
};

// How a command words its output.
class RefreshReporter {
 public:
  virtual ~RefreshReporter() = default;
  virtual void Start(std::ostream& out, std::size_t datasets,
                     bool dry_run) = 0;
  virtual void Report(std::ostream& out, const RefreshOutcome& outcome,
                      UnixSeconds now, bool dry_run) = 0;
  virtual void Finish(std::ostream& out, const RefreshCounts& counts,
                      bool dry_run) = 0;
};

// Refreshes the datasets of `sources` on an open store (read-only for a
// dry run), fetching all of them in one batch so they share the client's
// limits. Returns every dataset's outcome, in the sources' order; fails
// (before fetching anything) on an unknown --dataset (kNotFound) or a store
// error.
Result<std::vector<RefreshOutcome>> RefreshSources(
    Context& ctx, Store& store, const RefreshFlags& flags,
    const std::vector<const RefreshSource*>& sources,
    RefreshReporter& reporter);

// Opens the store and refreshes one source; returns the exit code
// (kExitFailure when any dataset failed, kExitUsage for an unknown
// --dataset).
int RunRefresh(Context& ctx, const RefreshFlags& flags,
               const RefreshSource& source, RefreshReporter& reporter);

// The two upstream sources. The catalogue must outlive the source.
// scrape_command.cc: NHS Data Dictionary pages (NHS_DD_BASE_URL).
RefreshSource MakeNhsDdSource(const Context& ctx, const Catalogue& catalogue);
// sync_command.cc: the RCPCH API (EXTERNAL_DATASET_API_URL, and the key
// from EXTERNAL_DATASET_API_KEY or the file EXTERNAL_DATASET_API_KEY_FILE
// names; kInvalidArgument when that file cannot be read or both are set).
Result<RefreshSource> MakeRcpchSource(const Context& ctx,
                                      const Catalogue& catalogue);

// The symbols the CLI prints: for people at a terminal, pictures; for logs,
// pipes and files (cron mail, journald, CI logs), where they may show as
// mojibake, plain ASCII. (Colour has its own rule: a terminal and no
// NO_COLOR; see diff.)
struct Glyphs {
  bool terminal = false;
  const char* Done() const { return terminal ? "\u2713" : "+"; }
  const char* Updated() const { return terminal ? "\u21BB" : "~"; }
  const char* Failed() const { return terminal ? "\u2717" : "!"; }
  const char* Skipped() const { return terminal ? "\u229D" : "-"; }
  const char* Warning() const { return terminal ? "\u26a0" : "!"; }
  // Before the scrape's "Found N dataset(s)" line: "" off a terminal.
  const char* Chart() const { return terminal ? "\U0001F4CA " : ""; }
  const char* Arrow() const { return terminal ? "\u2192" : "->"; }
  const char* Minus() const { return terminal ? "\u2212" : "-"; }
};

// "+2 −1 ~3" (with "reordered" when only the order changed); "+2 -1 ~3"
// with ASCII glyphs, as in the audit log.
std::string DiffCounts(const OptionsDiff& diff, Glyphs g);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_REFRESH_H_
