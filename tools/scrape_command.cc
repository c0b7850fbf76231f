// scrape-nhs-dd: NHS Data Dictionary data element pages into versions, in
// the output style of the original scrape_nhs_dd_datasets.
#include <string>

#include "core/nhs_dd_extract.h"
#include "tools/commands.h"
#include "tools/refresh.h"
#include "tools/text_table.h"

namespace datasnap {
namespace {

constexpr const char kNhsDdOrigin[] = "https://www.datadictionary.nhs.uk";
const std::string kRule(60, '=');

// The catalogue's URL, on NHS_DD_BASE_URL's origin when that is set (a
// loopback test server, a mirror, a file:// directory).
std::string PageUrl(const std::string& reference_url,
                    const std::string& base) {
  if (base.empty() || !reference_url.starts_with(kNhsDdOrigin)) {
    return reference_url;
  }
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + reference_url.substr(sizeof(kNhsDdOrigin) - 1);
}

// True for a Content-Type a page can have; a missing one (file://) passes.
bool LooksLikeHtml(std::string_view content_type) {
  return content_type.empty() ||
         content_type.find("html") != std::string_view::npos ||
         content_type.starts_with("text/plain");
}

class ScrapeReporter : public RefreshReporter {
 public:
  explicit ScrapeReporter(Glyphs g) : g_(g) {}

  void Start(std::ostream& out, std::size_t datasets, bool dry_run) override {
    if (dry_run) out << "DRY RUN: nothing will be written to the store\n";
    out << g_.Chart() << "Found " << datasets << " dataset(s) to process\n";
  }

  void Report(std::ostream& out, const RefreshOutcome& o, UnixSeconds now,
              bool dry_run) override {
    const DatasetRecord& r = o.record;
    const std::string& name = r.dataset.name;
    if (o.kind == RefreshKind::kSkipped) {
      out << g_.Skipped() << " Skipped: " << name << " (scraped "
          << FormatAge(r.sync.last_synced_at, now) << ", next "
          << FormatAge(NextDueAt(r), now) << ")\n";
      return;
    }
    out << "\n";
    if (!o.url.empty()) out << "  Fetching: " << o.url << "\n";
    if (o.not_modified) {
      out << "  Not modified (HTTP 304)\n";
    } else if (o.fetched && o.option_count > 0) {
      out << "  Found " << o.option_count << " items\n";
    }
    switch (o.kind) {
      case RefreshKind::kFirst:
        out << g_.Done() << " " << (dry_run ? "Would scrape: " : "Scraped: ") << name
            << "\n";
        break;
      case RefreshKind::kUpdated:
        out << g_.Updated() << " " << (dry_run ? "Would update: " : "Updated: ") << name
            << " (" << DiffCounts(o.diff, g_) << ")\n";
        break;
      case RefreshKind::kUnchanged:
        out << "= Unchanged: " << name << "\n";
        break;
      case RefreshKind::kFailed:
        out << g_.Failed() << " Error scraping " << name << ": " << o.reason << "\n";
        break;
      case RefreshKind::kSkipped:
        break;
    }
  }

  void Finish(std::ostream& out, const RefreshCounts& c,
              bool dry_run) override {
    out << "\n" << kRule << "\n";
    const char* would = dry_run ? " (dry run)" : "";
    out << g_.Done() << " Successfully scraped: " << c.first << would << "\n"
        << g_.Updated() << " Successfully updated: " << c.updated << would
        << "\n"
        << "= Unchanged: " << c.unchanged << "\n"
        << g_.Skipped() << " Skipped: " << c.skipped << "\n"
        << g_.Failed() << " Errors: " << c.failed << "\n"
        << kRule << "\n";
  }

 private:
  Glyphs g_;
};

}  // namespace

RefreshSource MakeNhsDdSource(const Context& ctx, const Catalogue& catalogue) {
  const std::string base = ctx.Variable("NHS_DD_BASE_URL");
  RefreshSource source;
  source.category = Category::kNhsDd;
  source.seed_command = "seed-nhs-dd";
  source.audit_prefix = "scrape";
  source.first_action = "scraped";
  source.allow_file_urls = base.starts_with("file://");
  for (const CatalogueEntry& e : catalogue.entries()) {
    source.order.push_back(e.dataset.key);
  }
  source.request = [base](const DatasetRecord& r) -> Result<HttpRequest> {
    if (r.dataset.reference_url.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no reference URL; the catalogue entry needs one");
    }
    HttpRequest request;
    request.url = PageUrl(r.dataset.reference_url, base);
    return request;
  };
  source.parse = [](const DatasetRecord& r,
                    const HttpResponse& response) -> Result<ParsedOptions> {
    if (!LooksLikeHtml(response.content_type)) {
      return Fail(ErrorCode::kCorrupt,
                  "expected an HTML page, got Content-Type " +
                      response.content_type);
    }
    const std::string& url = response.final_url.empty()
                                 ? r.dataset.reference_url
                                 : response.final_url;
    DS_TRY(page, ExtractNhsDdCodes(response.body, url));
    DS_TRY(options, page->ToOptions());
    ParsedOptions parsed{std::move(*options), std::move(page->warnings), ""};
    parsed.note = std::to_string(page->national.size()) + " national codes, " +
                  std::to_string(page->defaults.size()) +
                  " default codes, found by " + page->method;
    if (!parsed.warnings.empty()) {
      parsed.note += "; " + std::to_string(parsed.warnings.size()) +
                     " warnings (retired or repeated codes left out)";
    }
    return parsed;
  };
  return source;
}

int RunScrapeNhsDd(Context& ctx, const CommandArgs& args) {
  auto catalogue = ctx.LoadCatalogue();
  if (!catalogue) return ctx.ReportError(catalogue.error());
  const RefreshSource source = MakeNhsDdSource(ctx, *catalogue);
  RefreshFlags flags{args.datasets, args.force, args.dry_run, args.allow_shrink};
  ScrapeReporter reporter(Glyphs{ctx.env.out_is_terminal});
  return RunRefresh(ctx, flags, source, reporter);
}

}  // namespace datasnap
