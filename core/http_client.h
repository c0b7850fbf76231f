// Fetching upstream pages and API responses: an interface, a libcurl
// implementation (MakeCurlHttpClient) and, in http_client_fake.h, a test
// double.
//
//   FetchOptions options;                 // defaults: polite and bounded
//   auto client = MakeCurlHttpClient(options);
//   std::vector<HttpRequest> batch = {{.url = "https://example/a.html"}};
//   std::vector<FetchResult> results = client->FetchAll(batch);
//   if (!results[0]) ... results[0].error().kind, .message (names the URL)
//   else if (results[0]->not_modified) ... keep the stored copy
//
// A batch is fetched concurrently (a global and a per-host limit), each
// request retried on transient failures with exponential backoff and full
// jitter, honouring Retry-After. Results come back in request order.
#ifndef DATASNAP_CORE_HTTP_CLIENT_H_
#define DATASNAP_CORE_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace datasnap {

struct HttpHeader {
  std::string name;
  std::string value;
  // A secret (an API key): its value is sent, and never printed, logged or
  // put in an error message.
  bool secret = false;
};

struct HttpRequest {
  std::string url;
  std::vector<HttpHeader> headers;  // sent in addition to the defaults
  // Validators of the copy the caller holds; when set, the request is
  // conditional and an unchanged resource answers 304 (not_modified).
  std::string if_none_match;      // a stored ETag
  std::string if_modified_since;  // a stored Last-Modified
};

struct HttpResponse {
  long status = 0;            // of the final response (200, 304, ...)
  bool not_modified = false;  // 304: no body; the caller's copy is current
  std::string etag;
  std::string last_modified;
  std::string content_type;
  std::string final_url;  // after redirects
  std::string protocol;   // of the final response: "HTTP/1.1", "HTTP/2", ...
  std::string body;       // decoded (gzip and the like undone)
  int attempts = 0;
  std::chrono::milliseconds elapsed{0};  // from the first attempt's start
};

enum class FetchErrorKind {
  kDns,        // the host name does not resolve (not retried)
  kConnect,    // refused, unreachable, reset (retried)
  kTls,        // certificate or handshake (not retried)
  kTimeout,    // connect, transfer or low-speed limit (retried)
  kHttp,       // an error status; `http_status` says which
  kTooLarge,   // the body is over FetchOptions::max_body_bytes
  kProtocol,   // malformed or truncated response, redirect loop, bad URL
};
std::string_view FetchErrorKindName(FetchErrorKind kind);  // "dns", ...

struct FetchError {
  FetchErrorKind kind;
  long http_status = 0;  // for kHttp
  int attempts = 0;
  // "GET https://...: HTTP 503 Service Unavailable (4 attempts)". Names the
  // URL; never contains a secret header's value.
  std::string message;
};

using FetchResult = std::expected<HttpResponse, FetchError>;

// Where a batch stands, for a progress line.
struct FetchProgress {
  std::size_t total = 0;
  std::size_t done = 0;    // finished, successfully or not
  std::size_t failed = 0;
  std::size_t in_flight = 0;
  std::size_t retries_waiting = 0;
  std::string last_url;    // the request whose event this is
};

struct FetchOptions {
  // Transfers at once, across all hosts. Default: 8.
  int max_connections = 8;
  // Transfers at once to one host (scheme, name and port) over HTTP/1.x,
  // one connection each. Default: 2.
  int max_per_host = 2;
  // Transfers at once to a host seen to speak HTTP/2 (ALPN "h2" on https):
  // they share one connection as concurrent streams (libcurl multiplexing).
  // Until the host's first response says which, the smaller of the two
  // limits applies, and a second transfer waits for the first connection
  // rather than opening its own (CURLOPT_PIPEWAIT). Default: 6, what a
  // browser asks of one host over HTTP/1.1 (six connections): a load every
  // server is sized for, where HTTP/2 servers would take 100 or more
  // streams (nginx: 128), which a nightly job has no need to claim. See
  // docs/BENCHMARKS.md.
  int max_streams_per_host = 6;
  // Default: 10 s to connect, 60 s for a whole attempt.
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds transfer_timeout{60'000};
  // An attempt slower than low_speed_bytes per second for low_speed_time is
  // abandoned (a timeout). Default: 100 B/s for 30 s.
  long low_speed_bytes = 100;
  std::chrono::seconds low_speed_time{30};
  // Attempts per request, the first included. Default: 4.
  int max_attempts = 4;
  // Backoff before retry n (n = 1, 2, ...): a random wait in
  // [0, min(backoff_cap, backoff_base * 2^(n-1))]. Default: 1 s, 60 s.
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{60'000};
  // A Retry-After longer than this fails the request at once, saying when
  // the server asked us to come back. Default: 300 s.
  std::chrono::milliseconds retry_after_cap{300'000};
  // Largest decoded body accepted. Default: 32 MiB.
  std::size_t max_body_bytes = std::size_t{32} << 20;
  // Redirects followed. Default: 5.
  long max_redirects = 5;
  // A PEM file of certificate authorities that https servers are verified
  // against instead of the system's (e.g. a private CA; the HTTP/2 test and
  // benchmark use it for a self-signed loopback nginx). Verification is
  // never switched off. Default (empty): the system's bundle.
  std::string ca_file;
  // Also accept file:// URLs (local mirrors). Redirects never lead to file.
  // Default: false.
  bool allow_file_urls = false;
  // Default (empty): DefaultUserAgent().
  std::string user_agent;
  // Seeds the backoff jitter; 0 picks a random seed. Default: 0.
  std::uint64_t jitter_seed = 0;
  // Called on every start, retry and finish. Default: none.
  std::function<void(const FetchProgress&)> progress;
  // Called once per request as soon as its result is final (request index,
  // result), in FetchAll's thread while other transfers go on, so that the
  // caller can hand the result to other work (parse it) instead of waiting
  // for the whole batch. Keep it short: transfers do not advance while it
  // runs. The reference is valid only during the call. Default: none.
  std::function<void(std::size_t, const FetchResult&)> on_result;
};

// The standard reason phrase of an HTTP status ("Not Found"); "" if the
// status is not a common one.
std::string_view HttpReasonPhrase(long status);

// "datasnap/<version> (+<project URL>)".
std::string DefaultUserAgent();

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Fetches every request; result i belongs to request i. Never throws.
  // One call at a time per client; a client keeps connections open between
  // calls.
  virtual std::vector<FetchResult> FetchAll(
      const std::vector<HttpRequest>& requests) = 0;
};

// The libcurl implementation. Proxies come from the standard environment
// variables (http_proxy, https_proxy, no_proxy; see libcurl's docs).
std::unique_ptr<HttpClient> MakeCurlHttpClient(const FetchOptions& options);

}  // namespace datasnap

#endif  // DATASNAP_CORE_HTTP_CLIENT_H_
