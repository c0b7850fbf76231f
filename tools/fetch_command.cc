// fetch: one request through the same client the refresh uses, for checking
// that an upstream answers (and how) without touching the store.
#include "tools/commands.h"

namespace datasnap {

int RunFetch(Context& ctx, const CommandArgs& args) {
  FetchOptions options = ctx.MakeFetchOptions();
  // Say so on stderr whenever an attempt failed and another is scheduled.
  std::size_t retries_seen = 0;
  options.progress = [&](const FetchProgress& p) {
    if (p.retries_waiting > retries_seen) {
      ctx.err << "datasnap: " << p.last_url << " failed; retrying\n";
    }
    retries_seen = p.retries_waiting;
  };
  HttpRequest request;
  request.url = args.url;
  auto results = MakeCurlHttpClient(options)->FetchAll({request});
  const FetchResult& result = results.at(0);
  if (!result) return ctx.ReportError(Error{ErrorCode::kIo, result.error().message});
  if (args.body) {
    ctx.out << result->body;
    return kExitOk;
  }
  ctx.out << "status: " << result->status << "\n"
          << "final url: " << result->final_url << "\n"
          << "content type: " << result->content_type << "\n"
          << "etag: " << result->etag << "\n"
          << "last modified: " << result->last_modified << "\n"
          << "bytes: " << result->body.size() << "\n"
          << "attempts: " << result->attempts << "\n"
          << "elapsed: " << result->elapsed.count() << " ms\n";
  return kExitOk;
}

}  // namespace datasnap
