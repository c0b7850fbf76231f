// A test double for HttpClient: canned results per URL, and a record of
// every request, so code that fetches can be tested without a network.
//
//   FakeHttpClient fake;
//   fake.Respond("https://x/a", {HttpResponse{.status = 200, .body = "..."}});
//   Parse(fake.FetchAll({{.url = "https://x/a"}}));
//   CHECK(fake.requests().size() == 1);
#ifndef DATASNAP_CORE_HTTP_CLIENT_FAKE_H_
#define DATASNAP_CORE_HTTP_CLIENT_FAKE_H_

#include <map>
#include <string>
#include <vector>

#include "core/http_client.h"

namespace datasnap {

class FakeHttpClient final : public HttpClient {
 public:
  // Results for `url`, one per request in order; the last one repeats.
  void Respond(const std::string& url, std::vector<FetchResult> results);

  // Answers from the canned results; a URL with none gets an HTTP 404
  // error. Records every request.
  std::vector<FetchResult> FetchAll(
      const std::vector<HttpRequest>& requests) override;

  const std::vector<HttpRequest>& requests() const { return requests_; }

 private:
  struct Script {
    std::vector<FetchResult> results;
    std::size_t next = 0;
  };
  std::map<std::string, Script> scripts_;
  std::vector<HttpRequest> requests_;
};

}  // namespace datasnap

#endif  // DATASNAP_CORE_HTTP_CLIENT_FAKE_H_
