// sync-external: the RCPCH NHS Organisations API datasets into versions, in
// the output style the original sync_external_datasets documented.
#include <string>

#include "core/rcpch_transform.h"
#include "core/text.h"
#include "tools/commands.h"
#include "tools/refresh.h"
#include "tools/text_table.h"

namespace datasnap {
namespace {

constexpr const char kDefaultApiUrl[] =
    "https://api.rcpch.ac.uk/nhs-organisations/v1";
constexpr const char kKeyVariable[] = "EXTERNAL_DATASET_API_KEY";
// A file holding the key (systemd's LoadCredential=, a CI secret file), so
// the key is in no process environment or unit file.
constexpr const char kKeyFileVariable[] = "EXTERNAL_DATASET_API_KEY_FILE";

// The API key: EXTERNAL_DATASET_API_KEY, or the contents of the file
// EXTERNAL_DATASET_API_KEY_FILE names, without surrounding white space;
// "" when neither is set. Both set, an unreadable or empty file: an error
// (kInvalidArgument) that never shows the key.
Result<std::string> ApiKey(const Context& ctx) {
  const std::string key = ctx.Variable(kKeyVariable);
  const std::string path = ctx.Variable(kKeyFileVariable);
  if (path.empty()) return key;
  if (!key.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string("both ") + kKeyVariable + " and " +
                    kKeyFileVariable + " are set; set only one of them");
  }
  auto contents = ReadWholeFile(path);
  if (!contents) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(kKeyFileVariable) + ": " +
                    contents.error().message);
  }
  const std::string_view trimmed = TrimAsciiSpace(*contents);
  if (trimmed.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(kKeyFileVariable) + ": the file '" + path +
                    "' is empty; put the API key in it");
  }
  if (trimmed.find_first_of("\r\n") != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(kKeyFileVariable) + ": the file '" + path +
                    "' has more than one line; it must hold the key alone");
  }
  return std::string(trimmed);
}

// base + path with exactly one slash between them.
std::string JoinUrl(std::string base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return base + "/" + std::string(path);
}

class SyncReporter : public RefreshReporter {
 public:
  explicit SyncReporter(Glyphs g) : g_(g) {}

  void Start(std::ostream& out, std::size_t datasets, bool dry_run) override {
    if (dry_run) out << "DRY RUN: nothing will be written to the store\n";
    out << "Syncing " << datasets << " external datasets...\n";
  }

  void Report(std::ostream& out, const RefreshOutcome& o, UnixSeconds now,
              bool dry_run) override {
    const DatasetRecord& r = o.record;
    const std::string& name = r.dataset.name;
    const std::string version =
        dry_run ? "" : " (version " + std::to_string(o.version) + ")";
    switch (o.kind) {
      case RefreshKind::kSkipped:
        out << g_.Skipped() << " Skipped: " << name << " (synced "
            << FormatAge(r.sync.last_synced_at, now) << ", next sync "
            << FormatAge(NextDueAt(r), now) << ")\n";
        break;
      case RefreshKind::kFirst:
      case RefreshKind::kUpdated:
        out << g_.Done() << " " << (dry_run ? "Would sync: " : "Synced: ") << name
            << " - " << o.option_count << " options" << version << "\n";
        if (o.kind == RefreshKind::kUpdated) {
          out << "  Changes: " << DiffCounts(o.diff, g_) << "\n";
        }
        break;
      case RefreshKind::kUnchanged:
        out << "= Unchanged: " << name << " - " << o.option_count
            << " options" << version
            << (o.not_modified ? ", not modified (HTTP 304)" : "") << "\n";
        break;
      case RefreshKind::kFailed:
        out << g_.Failed() << " Error syncing " << name << ": " << o.reason << "\n";
        break;
    }
  }

  void Finish(std::ostream& out, const RefreshCounts& c,
              bool dry_run) override {
    out << "\nSummary" << (dry_run ? " (dry run)" : "") << ":\n"
        << "  " << g_.Done() << " Synced: " << c.first + c.updated + c.unchanged << " ("
        << c.first + c.updated << " new versions, " << c.unchanged
        << " unchanged)\n"
        << "  " << g_.Skipped() << " Skipped: " << c.skipped << "\n"
        << "  " << g_.Failed() << " Errors: " << c.failed << "\n";
  }

 private:
  Glyphs g_;
};

}  // namespace

Result<RefreshSource> MakeRcpchSource(const Context& ctx,
                                      const Catalogue& catalogue) {
  std::string base = ctx.Variable("EXTERNAL_DATASET_API_URL");
  if (base.empty()) base = kDefaultApiUrl;
  DS_TRY(key, ApiKey(ctx));
  const std::string api_key = std::move(*key);

  RefreshSource source;
  source.category = Category::kRcpch;
  source.seed_command = "seed-external";
  source.audit_prefix = "sync";
  source.first_action = "synced";
  for (const CatalogueEntry& e : catalogue.entries()) {
    source.order.push_back(e.dataset.key);
  }
  source.request = [base, api_key](const DatasetRecord& r) -> Result<HttpRequest> {
    if (r.dataset.api_endpoint.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no API endpoint; the catalogue entry needs one");
    }
    HttpRequest request;
    request.url = JoinUrl(base, r.dataset.api_endpoint);
    request.headers.push_back({"Accept", "application/json", false});
    if (!api_key.empty()) {
      request.headers.push_back({"Ocp-Apim-Subscription-Key", api_key, true});
    }
    return request;
  };
  source.parse = [&catalogue](const DatasetRecord& r, const HttpResponse& response)
      -> Result<ParsedOptions> {
    const CatalogueEntry* entry = catalogue.Find(r.dataset.key);
    if (entry == nullptr || !entry->mapping) {
      return Fail(ErrorCode::kInvalidArgument,
                  "the catalogue has no field mapping for '" + r.dataset.key +
                      "'; re-seed with `datasnap seed-external`");
    }
    DS_TRY(result,
           TransformRcpchResponse(response.body, *entry->mapping, r.dataset.key));
    ParsedOptions parsed{std::move(result->options),
                         std::move(result->warnings), ""};
    parsed.note = std::to_string(result->items) + " items, " +
                  std::to_string(result->skipped) + " left out";
    return parsed;
  };
  const std::string key_from = ctx.Variable(kKeyFileVariable).empty()
                                   ? kKeyVariable
                                   : kKeyFileVariable;
  source.explain = [has_key = !api_key.empty(), key_from](const FetchError& e) {
    if (e.kind == FetchErrorKind::kHttp &&
        (e.http_status == 401 || e.http_status == 403)) {
      return e.message +
             (has_key ? "; the key in " + key_from + " was refused: set " +
                            key_from + " to a valid key"
                      : std::string("; the API needs a subscription key: set "
                                    "EXTERNAL_DATASET_API_KEY (or "
                                    "EXTERNAL_DATASET_API_KEY_FILE)"));
    }
    return e.message;
  };
  return source;
}

int RunSyncExternal(Context& ctx, const CommandArgs& args) {
  auto catalogue = ctx.LoadCatalogue();
  if (!catalogue) return ctx.ReportError(catalogue.error());
  auto source = MakeRcpchSource(ctx, *catalogue);
  if (!source) {
    ctx.ReportError(source.error());
    return kExitUsage;
  }
  RefreshFlags flags{args.datasets, args.force, args.dry_run, args.allow_shrink};
  SyncReporter reporter(Glyphs{ctx.env.out_is_terminal});
  return RunRefresh(ctx, flags, *source, reporter);
}

}  // namespace datasnap
