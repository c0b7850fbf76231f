// A fake upstream HTTP/1.1 server on 127.0.0.1 for tests and benchmarks.
//
// It serves a directory tree (strong ETag, Last-Modified, conditional GETs),
// lets a test script per-path response sequences ("503 with Retry-After,
// then 200") with injected faults (truncated body, connection reset, slow
// drip, redirect loop, oversized body, wrong Content-Type, invalid UTF-8),
// and records every request and the peak number of concurrent in-flight
// requests per Host header.
//
// Implemented on raw POSIX sockets (not cpp-httplib) so that faults are
// byte-exact: a real RST before any response byte, a Content-Length larger
// than what is sent, and a streamed body that is never held in memory.
// One thread accepts; each connection gets its own thread; keep-alive is
// supported. Every wait in the server can be interrupted, so the destructor
// returns promptly even with clients stuck mid-response.
#ifndef DATASNAP_TESTS_SUPPORT_FAKE_UPSTREAM_H_
#define DATASNAP_TESTS_SUPPORT_FAKE_UPSTREAM_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace datasnap::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header called `name`.
std::optional<std::string> FindHeader(const Headers& headers,
                                      std::string_view name);

enum class Fault {
  kNone,
  // Sends the headers with Content-Length = body.size() (at least one more
  // than is sent), then only `truncate_after` bytes of the body (default:
  // half of it), then closes. libcurl: CURLE_PARTIAL_FILE.
  kTruncatedBody,
  // Reads the request, then closes with SO_LINGER 0 (a TCP RST) before
  // writing any response byte. libcurl: CURLE_RECV_ERROR.
  kConnectionReset,
  // Sends the headers, then the body in `drip_chunk_bytes` pieces, sleeping
  // `drip_interval` before each piece, so the body takes at least
  // ceil(body.size() / drip_chunk_bytes) * drip_interval.
  kSlowDrip,
  // Answers with a redirect (`status` if it is 3xx, else 302) whose Location
  // is base_url() + `redirect_to`, or the request's own target when
  // `redirect_to` is empty. Two paths redirecting to each other make a
  // two-step loop. libcurl with a low CURLOPT_MAXREDIRS:
  // CURLE_TOO_MANY_REDIRECTS.
  kRedirectLoop,
  // Sends a body of `oversized_bytes` bytes (Content-Length set), generated
  // on the fly in 64 KiB pieces: `body` repeated, or a-z repeated when
  // `body` is empty. Never held in memory.
  kOversizedBody,
  // Sends Content-Type: text/html; charset=utf-8 whatever the body (for
  // example a JSON body), overriding any Content-Type in `headers`.
  kWrongContentType,
  // Sends a body that is not valid UTF-8: the bytes kInvalidUtf8Bytes are
  // inserted before the last '"' of `body` (so inside the last JSON
  // string), or appended when there is none; an empty body becomes
  // kInvalidUtf8DefaultBody.
  kInvalidUtf8,
};

// An overlong/truncated sequence, then two bytes never valid in UTF-8.
inline constexpr std::string_view kInvalidUtf8Bytes = "\xC3\x28\xFF\xFE";
inline constexpr std::string_view kInvalidUtf8DefaultBody =
    "[{\"value\":\"A\",\"label\":\"bad \xC3\x28\xFF\xFE label\"}]";

const char* FaultName(Fault fault);

// One scripted response.
struct FakeResponse {
  int status = 200;
  // Sent as given, after the server's own Date / Content-Length /
  // Connection. A Content-Type here replaces the default (by extension of
  // the request path, else application/octet-stream). "Connection: close"
  // here closes the connection after the response.
  Headers headers;
  std::string body;
  // Added before the response (inside the in-flight window), on top of the
  // server's `latency`.
  std::chrono::milliseconds delay{0};
  Fault fault = Fault::kNone;

  // kTruncatedBody: body bytes actually sent (default: body.size() / 2).
  std::optional<std::size_t> truncate_after;
  // kSlowDrip.
  std::size_t drip_chunk_bytes = 1;
  std::chrono::milliseconds drip_interval{10};
  // kRedirectLoop: target path ("/b"); empty redirects to the request itself.
  std::string redirect_to;
  // kOversizedBody: body length in bytes.
  std::uint64_t oversized_bytes = 0;

  // Shorthands.
  static FakeResponse Ok(std::string body, std::string content_type = "");
  static FakeResponse Status(int status, Headers headers = {},
                             std::string body = "");
  static FakeResponse WithFault(Fault fault, std::string body = "");
};

struct RecordedRequest {
  std::string method;
  std::string target;   // as sent: "/a/b?x=1"
  std::string path;     // without the query: "/a/b"
  std::string version;  // "HTTP/1.1"
  Headers headers;      // in order received, names as sent
  std::string body;
  std::chrono::steady_clock::time_point arrival;  // headers fully read
  std::uint64_t connection_id = 0;  // 1-based, in order of accept

  std::optional<std::string> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

struct FakeUpstreamOptions {
  // Directory served for paths without a scenario; empty: none (404).
  std::string root;
  // 0: a free port chosen by the kernel. Always bound on 127.0.0.1.
  std::uint16_t port = 0;
  // Added before every response, inside the in-flight window.
  std::chrono::milliseconds latency{0};
  // An idle keep-alive connection is closed after this long.
  std::chrono::milliseconds idle_timeout{30000};
};

class FakeUpstreamServer {
 public:
  // Binds 127.0.0.1:options.port and starts serving. Throws
  // std::runtime_error if the socket cannot be set up.
  explicit FakeUpstreamServer(FakeUpstreamOptions options = {});
  // Stops and joins every thread (bounded time: all waits are interruptible).
  ~FakeUpstreamServer();
  FakeUpstreamServer(const FakeUpstreamServer&) = delete;
  FakeUpstreamServer& operator=(const FakeUpstreamServer&) = delete;

  // Idempotent; the destructor calls it.
  void Stop();

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>"
  const std::string& base_url() const { return base_url_; }
  // base_url() + path
  std::string Url(std::string_view path) const;

  // Responses for `path` (exact, without query), one per request in order;
  // the last repeats. Replaces any previous scenario for the path and
  // restarts it. Takes precedence over files. An empty vector removes it.
  void SetScenario(const std::string& path, std::vector<FakeResponse> responses);
  void ClearScenario(const std::string& path);
  void ClearScenarios();
  void SetLatency(std::chrono::milliseconds latency);

  // The strong ETag the server gives `content`: quoted first 16 hex digits
  // of its SHA-256.
  static std::string ETagFor(std::string_view content);
  // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") of a Unix time.
  static std::string HttpDate(std::int64_t unix_seconds);

  std::vector<RecordedRequest> Requests() const;
  std::vector<RecordedRequest> RequestsFor(std::string_view path) const;
  std::size_t RequestCount() const;
  // Peak number of requests in flight at once, overall or for one Host
  // header. A request is in flight from when its headers are read (so
  // `latency` and `delay` are inside the window) until its response is
  // written: the count drops just before the response's last write, or when
  // the connection is dropped, so a client that has read a whole response
  // never sees that request still counted.
  // `host` is compared case-insensitively and without its port, so
  // "127.0.0.1" and "127.0.0.1:8080" are the same host.
  int PeakConcurrency() const;
  int PeakConcurrency(std::string_view host) const;
  int InFlight() const;
  // TCP connections accepted.
  std::uint64_t ConnectionsAccepted() const;
  // Forgets recorded requests, resets the peaks to what is in flight now and
  // the accepted-connection count to zero. Scenarios stay.
  void ClearRecords();

 private:
  struct Scenario {
    std::vector<FakeResponse> responses;
    std::size_t next = 0;
  };
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  struct Peak {
    int current = 0;
    int peak = 0;
  };
  class InFlightGuard;

  void AcceptLoop();
  void ServeConnection(int fd, std::uint64_t connection_id);
  // Returns false when the connection must be closed.
  bool HandleRequest(int fd, RecordedRequest& request, bool keep_alive,
                     InFlightGuard& in_flight);
  bool ServeScenario(int fd, const RecordedRequest& request,
                     const FakeResponse& response, bool keep_alive,
                     InFlightGuard& in_flight);
  bool ServeFile(int fd, const RecordedRequest& request, bool keep_alive,
                 InFlightGuard& in_flight);
  std::optional<FakeResponse> NextScenarioResponse(const std::string& path);

  // Interruptible helpers; false when the server is stopping or the peer
  // went away.
  bool SleepFor(std::chrono::milliseconds duration);
  bool SendAll(int fd, std::string_view data);
  // The last write of a response: leaves the in-flight count first, so a
  // client that has read the whole response never sees it still counted.
  bool SendFinal(int fd, std::string_view data, InFlightGuard& in_flight);
  // 1: readable, 0: timed out, -1: stopping or error.
  int WaitReadable(int fd, std::chrono::milliseconds timeout);
  bool Stopping() const { return stopping_.load(); }

  void Enter(const std::string& host);
  void Leave(const std::string& host);

  FakeUpstreamOptions options_;
  std::atomic<std::int64_t> latency_ms_{0};
  int listen_fd_ = -1;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string base_url_;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread accept_thread_;
  std::mutex connections_mu_;
  std::list<std::unique_ptr<Connection>> connections_;

  mutable std::mutex mu_;
  std::map<std::string, Scenario> scenarios_;
  std::vector<RecordedRequest> requests_;
  Peak overall_;
  std::map<std::string, Peak> per_host_;
  std::uint64_t connections_accepted_ = 0;
  std::uint64_t next_connection_id_ = 0;
  std::mutex lifecycle_mu_;  // serialises Stop()
};

}  // namespace datasnap::testing

#endif  // DATASNAP_TESTS_SUPPORT_FAKE_UPSTREAM_H_
