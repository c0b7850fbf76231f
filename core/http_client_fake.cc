#include "core/http_client_fake.h"

namespace datasnap {

void FakeHttpClient::Respond(const std::string& url,
                             std::vector<FetchResult> results) {
  scripts_[url] = Script{std::move(results), 0};
}

std::vector<FetchResult> FakeHttpClient::FetchAll(
    const std::vector<HttpRequest>& requests) {
  std::vector<FetchResult> out;
  for (const HttpRequest& request : requests) {
    requests_.push_back(request);
    auto it = scripts_.find(request.url);
    if (it == scripts_.end() || it->second.results.empty()) {
      out.push_back(std::unexpected(FetchError{
          FetchErrorKind::kHttp, 404, 1,
          "GET " + request.url + ": HTTP 404 Not Found (1 attempt)"}));
      continue;
    }
    Script& script = it->second;
    out.push_back(script.results[std::min(script.next, script.results.size() - 1)]);
    ++script.next;
  }
  return out;
}

}  // namespace datasnap
