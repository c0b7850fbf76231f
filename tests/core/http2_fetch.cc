// http2_fetch: fetches URLs in one batch with the libcurl HttpClient, for
// tests/core/http2_nginx_test.py, which checks on the server's side (nginx's
// access log) what the client did.
//
//   http2_fetch --ca FILE --per-host N --streams N [--conditional] URL...
//
// Prints one line per URL, in order: "<status> <protocol> <url>", or
// "error <message>"; exits 1 if any request failed. --conditional fetches
// the batch a second time with the same client, each request carrying its
// first response's ETag (If-None-Match), and prints the second batch's
// lines after the first's.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/http_client.h"

namespace {

// Prints the batch's lines; false if a request failed.
bool Print(const std::vector<datasnap::FetchResult>& results) {
  bool ok = true;
  for (const auto& r : results) {
    if (r) {
      std::cout << r->status << " " << r->protocol << " " << r->final_url << "\n";
    } else {
      std::cout << "error " << r.error().message << "\n";
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  datasnap::FetchOptions options;
  options.max_attempts = 1;  // a failure is the test's to see, not to hide
  std::vector<datasnap::HttpRequest> requests;
  bool conditional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--ca" && has_value) {
      options.ca_file = argv[++i];
    } else if (arg == "--per-host" && has_value) {
      options.max_per_host = std::atoi(argv[++i]);
    } else if (arg == "--streams" && has_value) {
      options.max_streams_per_host = std::atoi(argv[++i]);
    } else if (arg == "--conditional") {
      conditional = true;
    } else if (arg.starts_with("--")) {
      std::cerr << "http2_fetch: unknown option " << arg << "\n";
      return 2;
    } else {
      requests.push_back({.url = std::string(arg)});
    }
  }
  auto client = datasnap::MakeCurlHttpClient(options);
  const auto results = client->FetchAll(requests);
  bool ok = Print(results);
  if (conditional) {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (results[i]) requests[i].if_none_match = results[i]->etag;
    }
    ok = Print(client->FetchAll(requests)) && ok;
  }
  return ok ? 0 : 1;
}
