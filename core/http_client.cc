#include "core/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <random>

#include "core/time.h"
#include "core/version.h"

namespace datasnap {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct EasyCleanup {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiCleanup {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlCleanup {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Easy = std::unique_ptr<CURL, EasyCleanup>;
using Multi = std::unique_ptr<CURLM, MultiCleanup>;
using Slist = std::unique_ptr<curl_slist, SlistFree>;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Parts of a URL we need before fetching it.
struct ParsedUrl {
  std::string scheme;
  std::string host_key;  // scheme://host:port, the unit of the per-host limit
  std::string printable;  // the URL without any user:password
};

std::optional<ParsedUrl> ParseUrl(const std::string& url) {
  std::unique_ptr<CURLU, UrlCleanup> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  auto part = [&](CURLUPart which, unsigned flags = 0) -> std::string {
    char* value = nullptr;
    if (curl_url_get(u.get(), which, &value, flags) != CURLUE_OK) return "";
    std::string out = value;
    curl_free(value);
    return out;
  };
  ParsedUrl p;
  p.scheme = part(CURLUPART_SCHEME);
  p.host_key = p.scheme + "://" + part(CURLUPART_HOST) + ":" +
               part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  p.printable = part(CURLUPART_URL);
  if (p.printable.empty()) p.printable = "(unprintable URL)";
  return p;
}

// CURLINFO_HTTP_VERSION's value as a protocol name; "" for none (file://).
std::string ProtocolName(long version) {
  switch (version) {
    case CURL_HTTP_VERSION_1_0: return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1: return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0: return "HTTP/2";
    case CURL_HTTP_VERSION_3: return "HTTP/3";
    default: return "";
  }
}

bool IsTransientStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 ||
         status == 503 || status == 504;
}

// The one place CURLcodes become error kinds. `transient` says whether the
// failure is worth another attempt.
FetchErrorKind ClassifyCurlCode(CURLcode rc, bool* transient) {
  *transient = false;
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return FetchErrorKind::kDns;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      *transient = true;
      return FetchErrorKind::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      *transient = true;
      return FetchErrorKind::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return FetchErrorKind::kTls;
    case CURLE_FILESIZE_EXCEEDED:
      return FetchErrorKind::kTooLarge;
    case CURLE_PARTIAL_FILE:  // the connection closed mid-body
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      *transient = true;
      return FetchErrorKind::kProtocol;
    default:
      return FetchErrorKind::kProtocol;
  }
}

std::string Attempts(int n) {
  if (n == 0) return " (not attempted)";
  return " (" + std::to_string(n) + (n == 1 ? " attempt)" : " attempts)");
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// One request of a batch, across its attempts and redirects.
struct Transfer {
  std::size_t index = 0;
  const HttpRequest* request = nullptr;
  std::string requested;  // the request's URL, printable, for messages
  ParsedUrl origin;       // of the request's URL
  std::string current;    // where the next hop goes (after redirects)
  ParsedUrl url;          // of `current`
  int attempt = 0;        // attempts started so far
  int redirects = 0;      // hops followed in this attempt
  bool redirect_pending = false;  // the next start follows a redirect
  // Set once a redirect leaves the request's host: secret headers (API
  // keys) are then no longer sent.
  bool secrets_withheld = false;
  Clock::time_point first_start;
  Clock::time_point ready_at;  // when the next attempt may start

  // State of the current attempt; the easy handle borrows these, so they
  // live as long as it does.
  Easy easy;
  Slist headers;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::size_t max_body = 0;
  std::string body;
  bool too_large = false;
  std::string etag;
  std::string last_modified;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  if (t->body.size() + bytes > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, bytes);
  return bytes;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100): forget the last one's.
    t->etag.clear();
    t->last_modified.clear();
  } else if (StartsWithNoCase(line, "etag:")) {
    t->etag = Trim(line.substr(5));
  } else if (StartsWithNoCase(line, "last-modified:")) {
    t->last_modified = Trim(line.substr(14));
  }
  return size * n;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(FetchOptions options) : options_(std::move(options)) {
    GlobalInit();
    if (options_.user_agent.empty()) options_.user_agent = DefaultUserAgent();
    options_.max_connections = std::max(1, options_.max_connections);
    options_.max_per_host = std::max(1, options_.max_per_host);
    options_.max_streams_per_host = std::max(1, options_.max_streams_per_host);
    options_.max_attempts = std::max(1, options_.max_attempts);
    rng_.seed(options_.jitter_seed != 0 ? options_.jitter_seed
                                        : std::random_device{}());
  }

  std::vector<FetchResult> FetchAll(
      const std::vector<HttpRequest>& requests) override;

 private:
  // Sets up the next attempt of `t` on a fresh easy handle.
  bool Prepare(Transfer& t);
  // Decides what a finished attempt means: a result, or another attempt.
  std::optional<FetchResult> Finish(Transfer& t, CURLcode rc);
  milliseconds Backoff(int retry);
  // Transfers that may be active at once to `host_key`.
  int HostLimit(const std::string& host_key) const;
  std::unexpected<FetchError> Failure(const Transfer& t, FetchErrorKind kind,
                                      std::string detail, long status = 0);

  FetchOptions options_;
  std::mt19937_64 rng_;
  Multi multi_;
  // Hosts whose last response came over HTTP/2 (their connection
  // multiplexes); kept, like the connections, between batches.
  std::map<std::string, bool> multiplexed_;
};

int CurlHttpClient::HostLimit(const std::string& host_key) const {
  auto it = multiplexed_.find(host_key);
  if (it == multiplexed_.end()) {
    // Not known yet: the transfers may end up as streams of one connection
    // (PIPEWAIT), so neither limit may be exceeded.
    return std::min(options_.max_per_host, options_.max_streams_per_host);
  }
  return it->second ? options_.max_streams_per_host : options_.max_per_host;
}

bool CurlHttpClient::Prepare(Transfer& t) {
  t.easy.reset(curl_easy_init());
  if (!t.easy) return false;
  t.body.clear();
  t.too_large = false;
  t.etag.clear();
  t.last_modified.clear();
  t.error_buffer[0] = '\0';
  t.max_body = options_.max_body_bytes;

  curl_slist* list = nullptr;
  auto add = [&list](const std::string& line) {
    if (curl_slist* grown = curl_slist_append(list, line.c_str())) list = grown;
  };
  for (const HttpHeader& h : t.request->headers) {
    if (h.secret && t.secrets_withheld) continue;
    add(h.name + ": " + h.value);
  }
  if (!t.request->if_none_match.empty()) {
    add("If-None-Match: " + t.request->if_none_match);
  }
  if (!t.request->if_modified_since.empty()) {
    add("If-Modified-Since: " + t.request->if_modified_since);
  }
  t.headers.reset(list);

  CURL* e = t.easy.get();
  curl_easy_setopt(e, CURLOPT_URL, t.current.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                   options_.allow_file_urls ? "http,https,file" : "http,https");
  // Redirects are followed by Finish, one hop at a time, so that secret
  // headers never travel to another host (libcurl would send them on).
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(options_.transfer_timeout.count()));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.low_speed_time.count()));
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // all libcurl decodes
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers.get());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  // Rather than open a second connection to a host whose first one is still
  // being set up, wait to learn whether it multiplexes (HTTP/2) and share
  // it if so; over HTTP/1.1 the transfer then gets its own connection. Only
  // https can turn out to be HTTP/2 (ALPN, at the handshake): over plain
  // http libcurl would learn it only from the first response, and hold the
  // second transfer back until then. Neither for a host known to be HTTP/1.
  auto known = multiplexed_.find(t.url.host_key);
  const bool may_multiplex =
      t.url.scheme == "https" && (known == multiplexed_.end() || known->second);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, may_multiplex ? 1L : 0L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_body_bytes));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  return true;
}

milliseconds CurlHttpClient::Backoff(int retry) {
  // Full jitter: uniform in [0, min(cap, base * 2^(retry-1))].
  const long long base = options_.backoff_base.count();
  const int shift = std::min(retry - 1, 30);
  const long long ceiling =
      std::min<long long>(options_.backoff_cap.count(), base << shift);
  if (ceiling <= 0) return milliseconds(0);
  std::uniform_int_distribution<long long> pick(0, ceiling);
  return milliseconds(pick(rng_));
}

std::unexpected<FetchError> CurlHttpClient::Failure(const Transfer& t,
                                                    FetchErrorKind kind,
                                                    std::string detail,
                                                    long status) {
  std::string where = "GET " + t.requested;
  if (t.url.printable != t.requested && !t.url.printable.empty()) {
    where += " (redirected to " + t.url.printable + ")";
  }
  return std::unexpected(FetchError{kind, status, t.attempt,
                                    where + ": " + detail + Attempts(t.attempt)});
}

std::optional<FetchResult> CurlHttpClient::Finish(Transfer& t, CURLcode rc) {
  CURL* e = t.easy.get();
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  const bool last_attempt = t.attempt >= options_.max_attempts;

  const bool redirect = status == 301 || status == 302 || status == 303 ||
                        status == 307 || status == 308;
  if (rc == CURLE_OK && redirect && t.url.scheme != "file") {
    const char* location = nullptr;
    curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location);
    if (location == nullptr) {
      return Failure(t, FetchErrorKind::kHttp,
                     "HTTP " + std::to_string(status) + " without a Location",
                     status);
    }
    if (++t.redirects > options_.max_redirects) {
      return Failure(t, FetchErrorKind::kProtocol,
                     "too many redirects (more than " +
                         std::to_string(options_.max_redirects) + ")");
    }
    auto next = ParseUrl(location);
    if (!next || (next->scheme != "http" && next->scheme != "https")) {
      return Failure(t, FetchErrorKind::kProtocol,
                     "redirected to a URL that is not http(s): " +
                         (next ? next->printable : std::string("(invalid)")));
    }
    if (next->host_key != t.url.host_key) t.secrets_withheld = true;
    t.current = location;
    t.url = std::move(*next);
    t.redirect_pending = true;
    t.ready_at = Clock::now();
    return std::nullopt;
  }

  if (rc == CURLE_OK && (status < 400 || t.url.scheme == "file")) {
    if (status >= 300 && status != 304) {
      return Failure(t, FetchErrorKind::kHttp,
                     "HTTP " + std::to_string(status) +
                         " without a usable redirect",
                     status);
    }
    HttpResponse r;
    r.status = status;
    r.not_modified = status == 304;
    r.etag = t.etag;
    if (long version = 0;
        curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
      r.protocol = ProtocolName(version);
    }
    r.last_modified = t.last_modified;
    if (const char* type = nullptr;
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) {
      r.content_type = type;
    }
    if (const char* final_url = nullptr;
        curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &final_url) == CURLE_OK &&
        final_url) {
      auto parsed = ParseUrl(final_url);  // without any user:password
      r.final_url = parsed ? parsed->printable : t.url.printable;
    }
    // A file read has no HTTP status; report it as the 200 it stands for.
    if (t.url.scheme == "file") r.status = 200;
    if (!r.not_modified) r.body = std::move(t.body);
    r.attempts = t.attempt;
    r.elapsed = duration_cast<milliseconds>(Clock::now() - t.first_start);
    return r;
  }

  FetchErrorKind kind;
  bool transient = false;
  std::string detail;
  if (rc == CURLE_OK) {
    kind = FetchErrorKind::kHttp;
    transient = IsTransientStatus(status);
    detail = "HTTP " + std::to_string(status);
    if (auto reason = HttpReasonPhrase(status); !reason.empty()) {
      detail += " " + std::string(reason);
    }
  } else if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    kind = FetchErrorKind::kTooLarge;
    detail = "the body is larger than the limit of " +
             std::to_string(options_.max_body_bytes) + " bytes";
  } else {
    kind = ClassifyCurlCode(rc, &transient);
    detail = t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(rc);
  }

  // Retry-After is a minimum wait; one beyond the cap ends the request now.
  curl_off_t retry_after = 0;
  curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
  const curl_off_t cap_seconds = options_.retry_after_cap.count() / 1000;
  if (transient && retry_after > cap_seconds) {
    // Compared in seconds first: a huge value must not overflow below.
    const curl_off_t shown = std::min<curl_off_t>(retry_after, 100LL * 365 * 86400);
    return Failure(t, kind,
                   detail + "; the server asks us to come back in " +
                       std::to_string(retry_after) + " s (at " +
                       FormatIso8601(NowUnixSeconds() + shown) +
                       "), beyond the " +
                       std::to_string(options_.retry_after_cap.count() / 1000) +
                       " s we wait",
                   status);
  }
  if (!transient || last_attempt) {
    return Failure(t, kind, detail, status);
  }
  const milliseconds asked(std::max<curl_off_t>(retry_after, 0) * 1000);
  t.ready_at = Clock::now() + std::max(Backoff(t.attempt), asked);
  // The next attempt starts from the requested URL: a temporary redirect
  // may lead elsewhere next time.
  t.current = t.request->url;
  t.url = t.origin;
  t.secrets_withheld = false;
  return std::nullopt;
}

std::vector<FetchResult> CurlHttpClient::FetchAll(
    const std::vector<HttpRequest>& requests) {
  std::vector<std::optional<FetchResult>> results(requests.size());
  std::vector<Transfer> transfers(requests.size());
  std::vector<Transfer*> waiting;  // in request order
  FetchProgress progress;
  progress.total = requests.size();
  auto report = [&](const Transfer& t) {
    if (!options_.progress) return;
    progress.last_url = t.url.printable;
    options_.progress(progress);
  };
  auto settle = [&](Transfer& t, FetchResult result) {
    if (!result) ++progress.failed;
    ++progress.done;
    results[t.index] = std::move(result);
    t.easy.reset();
    t.headers.reset();
    report(t);
    if (options_.on_result) options_.on_result(t.index, *results[t.index]);
  };

  const auto now = Clock::now();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    Transfer& t = transfers[i];
    t.index = i;
    t.request = &requests[i];
    t.ready_at = now;
    t.current = requests[i].url;
    auto parsed = ParseUrl(requests[i].url);
    const bool allowed =
        parsed && (parsed->scheme == "http" || parsed->scheme == "https" ||
                   (parsed->scheme == "file" && options_.allow_file_urls));
    t.requested = parsed ? parsed->printable : requests[i].url;
    if (!allowed) {
      settle(t, Failure(t, FetchErrorKind::kProtocol,
                        parsed ? "the scheme '" + parsed->scheme +
                                     "' is not allowed (http and https only)"
                               : "not a valid URL"));
      continue;
    }
    t.origin = *parsed;
    t.url = std::move(*parsed);
    waiting.push_back(&t);
  }

  // The multi handle lives as long as the client, and with it the
  // connection and DNS caches: later batches reuse open connections.
  if (!multi_) {
    multi_.reset(curl_multi_init());
    if (multi_) {
      curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
      curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS,
                        static_cast<long>(options_.max_connections));
      // Over HTTP/1.1 one connection per transfer; over HTTP/2 the
      // streams of one host share a connection (a second one only if the
      // server allows fewer streams than we ask for).
      curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                        static_cast<long>(options_.max_per_host));
      curl_multi_setopt(multi_.get(), CURLMOPT_MAX_CONCURRENT_STREAMS,
                        static_cast<long>(options_.max_streams_per_host));
    }
  }
  CURLM* multi = multi_.get();
  if (!multi) {
    for (Transfer* t : waiting) {
      settle(*t, Failure(*t, FetchErrorKind::kProtocol,
                         "curl_multi_init failed: out of memory"));
    }
    waiting.clear();
  }

  std::map<std::string, int> active_per_host;
  int active = 0;
  while (!waiting.empty() || active > 0) {
    // Start what may start: ready, under the global and per-host limits.
    // (Limiting here rather than letting curl queue keeps queued time out of
    // each attempt's transfer timeout.)
    const auto start_time = Clock::now();
    for (auto it = waiting.begin();
         it != waiting.end() && active < options_.max_connections;) {
      Transfer& t = **it;
      if (t.ready_at > start_time ||
          active_per_host[t.url.host_key] >= HostLimit(t.url.host_key)) {
        ++it;
        continue;
      }
      it = waiting.erase(it);
      if (t.redirect_pending) {
        t.redirect_pending = false;  // the same attempt, one hop further
      } else {
        ++t.attempt;
        t.redirects = 0;
        if (t.attempt == 1) t.first_start = start_time;
        if (t.attempt > 1) --progress.retries_waiting;
      }
      if (!Prepare(t) ||
          curl_multi_add_handle(multi, t.easy.get()) != CURLM_OK) {
        settle(t, Failure(t, FetchErrorKind::kProtocol,
                          "could not set up the transfer"));
        continue;
      }
      ++active;
      ++active_per_host[t.url.host_key];
      ++progress.in_flight;
      report(t);
    }

    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode rc = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);
      --active;
      --active_per_host[t->url.host_key];
      --progress.in_flight;
      if (long version = 0;
          curl_easy_getinfo(msg->easy_handle, CURLINFO_HTTP_VERSION,
                            &version) == CURLE_OK &&
          version != 0) {
        multiplexed_[t->url.host_key] = version >= CURL_HTTP_VERSION_2_0;
      }
      if (auto result = Finish(*t, rc)) {
        settle(*t, std::move(*result));
      } else {
        t->easy.reset();
        t->headers.reset();
        if (!t->redirect_pending) ++progress.retries_waiting;
        // Keep request order among the waiting.
        auto pos = std::lower_bound(
            waiting.begin(), waiting.end(), t,
            [](const Transfer* a, const Transfer* b) { return a->index < b->index; });
        waiting.insert(pos, t);
        report(*t);
      }
    }

    if (waiting.empty() && active == 0) break;

    // Sleep until there is socket activity (a finished transfer frees a
    // slot), or the next retry is due; not at all if something can start.
    long timeout_ms = 1000;
    const auto poll_time = Clock::now();
    for (const Transfer* w : waiting) {
      if (w->ready_at > poll_time) {
        const auto wait = duration_cast<milliseconds>(w->ready_at - poll_time);
        timeout_ms = std::min<long>(timeout_ms, static_cast<long>(wait.count()) + 1);
      } else if (active < options_.max_connections &&
                 active_per_host[w->url.host_key] < HostLimit(w->url.host_key)) {
        timeout_ms = 0;
      }
    }
    if (active > 0 || timeout_ms > 0) {
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(timeout_ms),
                      nullptr);
    }
  }

  std::vector<FetchResult> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace

std::string_view FetchErrorKindName(FetchErrorKind kind) {
  switch (kind) {
    case FetchErrorKind::kDns: return "dns";
    case FetchErrorKind::kConnect: return "connect";
    case FetchErrorKind::kTls: return "tls";
    case FetchErrorKind::kTimeout: return "timeout";
    case FetchErrorKind::kHttp: return "http";
    case FetchErrorKind::kTooLarge: return "too_large";
    case FetchErrorKind::kProtocol: return "protocol";
  }
  return "unknown";
}

std::string_view HttpReasonPhrase(long status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

std::string DefaultUserAgent() {
  return std::string("datasnap/") + kVersion + " (+" + kProjectUrl + ")";
}

std::unique_ptr<HttpClient> MakeCurlHttpClient(const FetchOptions& options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace datasnap
