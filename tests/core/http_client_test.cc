// The libcurl HttpClient against the loopback fake upstream: limits,
// retries, Retry-After, conditional requests, bounds, redirects, secrets.
#include "core/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include <sstream>
#include <thread>

#include "core/time.h"
#include "core/version.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using std::chrono::milliseconds;
using testing::Fault;
using testing::FakeResponse;
using testing::FakeUpstreamOptions;
using testing::FakeUpstreamServer;

// Fast retries, so tests stay short; everything else as shipped.
FetchOptions QuickRetries() {
  FetchOptions o;
  o.backoff_base = milliseconds(20);
  o.backoff_cap = milliseconds(100);
  o.jitter_seed = 42;
  return o;
}

FetchResult FetchOne(const FetchOptions& options, HttpRequest request) {
  auto results = MakeCurlHttpClient(options)->FetchAll({std::move(request)});
  REQUIRE(results.size() == 1);
  return std::move(results[0]);
}

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

TEST_CASE("a plain fetch returns body, validators and metadata") {
  testing::TempDir dir;
  testing::WriteFile(dir.File("page.html"), "<html>codes</html>");
  FakeUpstreamOptions so;
  so.root = dir.path();
  FakeUpstreamServer server(so);
  auto r = FetchOne(QuickRetries(), Get(server.Url("/page.html")));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK_FALSE(r->not_modified);
  CHECK(r->body == "<html>codes</html>");
  CHECK(r->etag == FakeUpstreamServer::ETagFor("<html>codes</html>"));
  CHECK_FALSE(r->last_modified.empty());
  CHECK(r->content_type.starts_with("text/html"));
  CHECK(r->final_url == server.Url("/page.html"));
  CHECK(r->attempts == 1);

  const auto seen = server.RequestsFor("/page.html");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].Header("User-Agent") ==
        std::string("datasnap/") + kVersion + " (+" + kProjectUrl + ")");
  CHECK(seen[0].Header("Accept-Encoding").value_or("").find("gzip") !=
        std::string::npos);
}

TEST_CASE("the User-Agent arrives as configured") {
  FakeUpstreamServer server;
  server.SetScenario("/ua", {FakeResponse::Ok("x")});
  FetchOptions o = QuickRetries();
  o.user_agent = "nightly-ci/7 (ops@example.test)";
  REQUIRE(FetchOne(o, Get(server.Url("/ua"))));
  CHECK(server.RequestsFor("/ua").at(0).Header("User-Agent") ==
        "nightly-ci/7 (ops@example.test)");
}

TEST_CASE("conditional requests: stored validators give a cheap 304") {
  testing::TempDir dir;
  testing::WriteFile(dir.File("list.json"), R"([{"code":"A"}])");
  FakeUpstreamOptions so;
  so.root = dir.path();
  FakeUpstreamServer server(so);
  auto first = FetchOne(QuickRetries(), Get(server.Url("/list.json")));
  REQUIRE(first);
  REQUIRE_FALSE(first->etag.empty());

  SECTION("If-None-Match") {
    HttpRequest again = Get(server.Url("/list.json"));
    again.if_none_match = first->etag;
    auto second = FetchOne(QuickRetries(), again);
    REQUIRE(second);
    CHECK(second->status == 304);
    CHECK(second->not_modified);
    CHECK(second->body.empty());
    CHECK(server.RequestsFor("/list.json").at(1).Header("If-None-Match") ==
          first->etag);
  }
  SECTION("If-Modified-Since") {
    HttpRequest again = Get(server.Url("/list.json"));
    again.if_modified_since = first->last_modified;
    auto second = FetchOne(QuickRetries(), again);
    REQUIRE(second);
    CHECK(second->not_modified);
    CHECK(second->body.empty());
  }
  SECTION("a changed resource answers 200 with the new body") {
    HttpRequest again = Get(server.Url("/list.json"));
    again.if_none_match = "\"something-else\"";
    auto second = FetchOne(QuickRetries(), again);
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(second->body == R"([{"code":"A"}])");
  }
}

TEST_CASE("the per-host and global limits hold at the server") {
  FakeUpstreamServer a, b;
  std::vector<HttpRequest> batch;
  for (int i = 0; i < 6; ++i) {
    const std::string path = "/slow/" + std::to_string(i);
    FakeResponse slow = FakeResponse::Ok("ok");
    slow.delay = milliseconds(150);
    a.SetScenario(path, {slow});
    b.SetScenario(path, {slow});
    batch.push_back(Get(a.Url(path)));
    // The same server under another name is another host for the client.
    batch.push_back(Get("http://localhost:" + std::to_string(b.port()) + path));
  }
  FetchOptions o = QuickRetries();
  o.max_per_host = 2;
  o.max_connections = 3;
  const auto results = MakeCurlHttpClient(o)->FetchAll(batch);
  for (const auto& r : results) REQUIRE(r);
  CHECK(a.PeakConcurrency() <= 2);
  CHECK(b.PeakConcurrency() <= 2);
  CHECK(a.PeakConcurrency() + b.PeakConcurrency() >= 3);  // it did overlap
  CHECK(a.RequestCount() == 6);
  CHECK(b.RequestCount() == 6);
}

TEST_CASE("a 503 with Retry-After: 1 is retried after at least a second") {
  FakeUpstreamServer server;
  server.SetScenario("/busy", {FakeResponse::Status(503, {{"Retry-After", "1"}}),
                               FakeResponse::Ok("finally")});
  auto r = FetchOne(QuickRetries(), Get(server.Url("/busy")));
  REQUIRE(r);
  CHECK(r->body == "finally");
  CHECK(r->attempts == 2);
  const auto seen = server.RequestsFor("/busy");
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].arrival - seen[0].arrival >= milliseconds(1000));
}

TEST_CASE("transient failures are retried up to max_attempts") {
  FakeUpstreamServer server;
  struct Case {
    const char* path;
    FakeResponse response;
    FetchErrorKind kind;
  };
  const std::vector<Case> cases = {
      {"/500", FakeResponse::Status(500), FetchErrorKind::kHttp},
      {"/502", FakeResponse::Status(502), FetchErrorKind::kHttp},
      {"/504", FakeResponse::Status(504), FetchErrorKind::kHttp},
      {"/408", FakeResponse::Status(408), FetchErrorKind::kHttp},
      {"/reset", FakeResponse::WithFault(Fault::kConnectionReset),
       FetchErrorKind::kConnect},
      {"/truncated", FakeResponse::WithFault(Fault::kTruncatedBody, "0123456789"),
       FetchErrorKind::kProtocol},
  };
  for (const Case& c : cases) {
    INFO(c.path);
    server.SetScenario(c.path, {c.response});
    FetchOptions o = QuickRetries();
    o.max_attempts = 3;
    auto r = FetchOne(o, Get(server.Url(c.path)));
    REQUIRE_FALSE(r);  // never a partial success
    CHECK(r.error().kind == c.kind);
    CHECK(r.error().attempts == 3);
    CHECK(server.RequestsFor(c.path).size() == 3);
    CHECK(r.error().message.find(server.Url(c.path)) != std::string::npos);
    CHECK(r.error().message.find("(3 attempts)") != std::string::npos);
  }
}

TEST_CASE("permanent failures are not retried") {
  FakeUpstreamServer server;
  for (int status : {400, 401, 403, 404, 410}) {
    const std::string path = "/" + std::to_string(status);
    INFO(path);
    server.SetScenario(path, {FakeResponse::Status(status)});
    auto r = FetchOne(QuickRetries(), Get(server.Url(path)));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == FetchErrorKind::kHttp);
    CHECK(r.error().http_status == status);
    CHECK(r.error().attempts == 1);
    CHECK(server.RequestsFor(path).size() == 1);
    CHECK(r.error().message.find("HTTP " + std::to_string(status)) !=
          std::string::npos);
  }
}

TEST_CASE("a 429 asking for an hour fails at once and says when") {
  FakeUpstreamServer server;
  server.SetScenario("/limited",
                     {FakeResponse::Status(429, {{"Retry-After", "3600"}})});
  const auto start = std::chrono::steady_clock::now();
  auto r = FetchOne(QuickRetries(), Get(server.Url("/limited")));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == FetchErrorKind::kHttp);
  CHECK(r.error().http_status == 429);
  CHECK(server.RequestsFor("/limited").size() == 1);
  CHECK(r.error().message.find("HTTP 429 Too Many Requests") != std::string::npos);
  CHECK(r.error().message.find("come back in 3600 s (at ") != std::string::npos);
  // A guard against waiting the hour, not a speed assertion.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
}

TEST_CASE("bodies over the limit are errors, whatever the server says") {
  FakeUpstreamServer server;
  FakeResponse big = FakeResponse::WithFault(Fault::kOversizedBody);
  big.oversized_bytes = 200'000;
  server.SetScenario("/big", {big});
  FetchOptions o = QuickRetries();
  o.max_body_bytes = 100'000;
  auto r = FetchOne(o, Get(server.Url("/big")));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == FetchErrorKind::kTooLarge);
  CHECK(r.error().attempts == 1);
  CHECK(r.error().message.find("100000 bytes") != std::string::npos);
  o.max_body_bytes = 300'000;
  auto fits = FetchOne(o, Get(server.Url("/big")));
  REQUIRE(fits);
  CHECK(fits->body.size() == 200'000);
}

TEST_CASE("redirects: followed, bounded, and secrets stay on their host") {
  FakeUpstreamServer server, other;
  SECTION("a loop stops") {
    server.SetScenario("/loop", {FakeResponse::WithFault(Fault::kRedirectLoop)});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/loop")));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == FetchErrorKind::kProtocol);
    CHECK(r.error().message.find("too many redirects (more than 5)") !=
          std::string::npos);
    CHECK(server.RequestsFor("/loop").size() == 6);
  }
  SECTION("a moved page is followed; the final URL is reported") {
    server.SetScenario("/old", {FakeResponse::Status(301, {{"Location", "/new"}})});
    server.SetScenario("/new", {FakeResponse::Ok("here")});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/old")));
    REQUIRE(r);
    CHECK(r->body == "here");
    CHECK(r->final_url == server.Url("/new"));
  }
  SECTION("the API key is not sent to another host") {
    server.SetScenario("/api", {FakeResponse::Status(302, {{"Location", other.Url("/elsewhere")}})});
    other.SetScenario("/elsewhere", {FakeResponse::Ok("[]")});
    HttpRequest req = Get(server.Url("/api"));
    req.headers.push_back({"Ocp-Apim-Subscription-Key", "sk-TOPSECRET", true});
    req.headers.push_back({"Accept", "application/json", false});
    auto r = FetchOne(QuickRetries(), req);
    REQUIRE(r);
    CHECK(server.RequestsFor("/api").at(0).Header("Ocp-Apim-Subscription-Key") ==
          "sk-TOPSECRET");
    const auto there = other.RequestsFor("/elsewhere").at(0);
    CHECK_FALSE(there.Header("Ocp-Apim-Subscription-Key").has_value());
    CHECK(there.Header("Accept") == "application/json");
  }
  SECTION("redirects to other schemes are refused") {
    server.SetScenario("/file", {FakeResponse::Status(302, {{"Location", "file:///etc/passwd"}})});
    FetchOptions o = QuickRetries();
    o.allow_file_urls = true;
    auto r = FetchOne(o, Get(server.Url("/file")));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == FetchErrorKind::kProtocol);
  }
}

TEST_CASE("the API key never appears in any output") {
  FakeUpstreamServer server;
  server.SetScenario("/401", {FakeResponse::Status(401, {}, "Access denied for key sk-TOPSECRET")});
  server.SetScenario("/503", {FakeResponse::Status(503)});
  server.SetScenario("/reset", {FakeResponse::WithFault(Fault::kConnectionReset)});
  server.SetScenario("/ok", {FakeResponse::Ok("[]")});
  std::ostringstream captured;
  FetchOptions o = QuickRetries();
  o.max_attempts = 2;
  o.progress = [&](const FetchProgress& p) {
    captured << p.last_url << " " << p.done << "/" << p.total << "\n";
  };
  std::vector<HttpRequest> batch;
  for (const char* path : {"/401", "/503", "/reset", "/ok", "/missing"}) {
    HttpRequest r = Get(server.Url(path));
    r.headers.push_back({"Ocp-Apim-Subscription-Key", "sk-TOPSECRET", true});
    batch.push_back(r);
  }
  batch.push_back(Get("ftp://example.test/x"));
  const auto results = MakeCurlHttpClient(o)->FetchAll(batch);
  REQUIRE(results.size() == batch.size());
  for (const auto& r : results) {
    if (r) {
      captured << r->final_url << r->etag << r->content_type << "\n";
    } else {
      captured << r.error().message << "\n";
    }
  }
  const std::string text = captured.str();
  INFO(text);
  CHECK(text.find("TOPSECRET") == std::string::npos);
  CHECK(text.find("HTTP 401 Unauthorized") != std::string::npos);
  // And the key did reach the server.
  CHECK(server.RequestsFor("/ok").at(0).Header("Ocp-Apim-Subscription-Key") ==
        "sk-TOPSECRET");
}

TEST_CASE("results come back in request order; progress counts them") {
  FakeUpstreamServer server;
  FakeResponse slow = FakeResponse::Ok("slow");
  slow.delay = milliseconds(200);
  server.SetScenario("/slow", {slow});
  server.SetScenario("/fast", {FakeResponse::Ok("fast")});
  server.SetScenario("/gone", {FakeResponse::Status(404)});
  std::vector<FetchProgress> events;
  FetchOptions o = QuickRetries();
  o.progress = [&](const FetchProgress& p) { events.push_back(p); };
  const auto results = MakeCurlHttpClient(o)->FetchAll(
      {Get(server.Url("/slow")), Get(server.Url("/gone")), Get(server.Url("/fast"))});
  REQUIRE(results.size() == 3);
  CHECK(results[0]->body == "slow");
  CHECK_FALSE(results[1]);
  CHECK(results[2]->body == "fast");
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().done == 3);
  CHECK(events.back().failed == 1);
  CHECK(events.back().total == 3);
  CHECK(events.back().in_flight == 0);
}

TEST_CASE("on_result hands over each result once, as it settles") {
  FakeUpstreamServer server;
  FakeResponse slow = FakeResponse::Ok("slow");
  slow.delay = milliseconds(300);
  server.SetScenario("/slow", {slow});
  server.SetScenario("/fast", {FakeResponse::Ok("fast")});
  server.SetScenario("/gone", {FakeResponse::Status(404)});
  std::vector<std::pair<std::size_t, std::string>> handed;  // index, body or "error"
  FetchOptions o = QuickRetries();
  o.on_result = [&](std::size_t i, const FetchResult& r) {
    handed.emplace_back(i, r ? r->body : "error");
  };
  const auto results = MakeCurlHttpClient(o)->FetchAll(
      {Get(server.Url("/slow")), Get(server.Url("/gone")), Get(server.Url("/fast"))});
  REQUIRE(results.size() == 3);
  REQUIRE(handed.size() == 3);
  // The slow one settles last, though it was asked for first.
  CHECK(handed.back() == std::pair<std::size_t, std::string>{0, "slow"});
  std::sort(handed.begin(), handed.end());
  CHECK(handed[0].second == results[0]->body);
  CHECK(handed[1].second == "error");
  CHECK(handed[2].second == results[2]->body);
}

TEST_CASE("URLs: only http and https, file when enabled") {
  testing::TempDir dir;
  testing::WriteFile(dir.File("mirror.html"), "mirrored");
  const std::string file_url = "file://" + dir.File("mirror.html");
  struct Case {
    std::string url;
    bool allow_file;
    bool ok;
  };
  for (const Case& c : {Case{"ftp://example.test/list", false, false},
                        Case{"not a url", false, false},
                        Case{file_url, false, false},
                        Case{file_url, true, true}}) {
    INFO(c.url);
    FetchOptions o = QuickRetries();
    o.allow_file_urls = c.allow_file;
    auto r = FetchOne(o, Get(c.url));
    CHECK(r.has_value() == c.ok);
    if (r) CHECK(r->body == "mirrored");
    if (!r) {
      CHECK(r.error().kind == FetchErrorKind::kProtocol);
      CHECK(r.error().attempts <= 1);
    }
  }
}

TEST_CASE("timeouts and refused connections") {
  SECTION("a slow drip trips the transfer timeout") {
    FakeUpstreamServer server;
    FakeResponse drip = FakeResponse::WithFault(Fault::kSlowDrip, std::string(100, 'x'));
    drip.drip_interval = milliseconds(50);
    server.SetScenario("/drip", {drip});
    FetchOptions o = QuickRetries();
    o.transfer_timeout = milliseconds(300);
    o.max_attempts = 2;
    auto r = FetchOne(o, Get(server.Url("/drip")));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == FetchErrorKind::kTimeout);
    CHECK(r.error().attempts == 2);
  }
  SECTION("nothing listening: a connect error, retried") {
    // A socket bound but not listening: connections to its port are
    // refused, and no other test can take the port meanwhile.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::string url =
        "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
    FetchOptions o = QuickRetries();
    o.max_attempts = 2;
    auto r = FetchOne(o, Get(url));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == FetchErrorKind::kConnect);
    CHECK(r.error().attempts == 2);
    close(fd);
  }
}

}  // namespace
}  // namespace datasnap

namespace datasnap {
namespace {

TEST_CASE("connections to a host are reused across a batch") {
  testing::FakeUpstreamServer server;
  std::vector<HttpRequest> batch;
  for (int i = 0; i < 8; ++i) {
    const std::string path = "/item/" + std::to_string(i);
    server.SetScenario(path, {testing::FakeResponse::Ok("x")});
    HttpRequest r;
    r.url = server.Url(path);
    batch.push_back(r);
  }
  FetchOptions o;
  o.max_per_host = 2;
  const auto results = MakeCurlHttpClient(o)->FetchAll(batch);
  for (const auto& r : results) REQUIRE(r);
  CHECK(server.RequestCount() == 8);
  CHECK(server.ConnectionsAccepted() <= 2);
}

}  // namespace
}  // namespace datasnap

namespace datasnap {
namespace {

TEST_CASE("Retry-After as an HTTP date, and absurd values") {
  FakeUpstreamServer server;
  SECTION("a date two seconds ahead is waited for") {
    const std::string date =
        FakeUpstreamServer::HttpDate(NowUnixSeconds() + 2);
    server.SetScenario("/d", {FakeResponse::Status(503, {{"Retry-After", date}}),
                              FakeResponse::Ok("ok")});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/d")));
    REQUIRE(r);
    const auto seen = server.RequestsFor("/d");
    REQUIRE(seen.size() == 2);
    // Dates have whole seconds: "two seconds ahead" is at least one.
    CHECK(seen[1].arrival - seen[0].arrival >= milliseconds(1000));
  }
  SECTION("a huge number fails at once instead of overflowing") {
    server.SetScenario("/huge", {FakeResponse::Status(503, {{"Retry-After", "99999999999999999"}})});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/huge")));
    REQUIRE_FALSE(r);
    CHECK(server.RequestsFor("/huge").size() == 1);
    CHECK(r.error().message.find("come back in") != std::string::npos);
    CHECK(r.error().message.find("(at -") == std::string::npos);
  }
}

TEST_CASE("credentials in a URL are never echoed") {
  FakeUpstreamServer server;
  server.SetScenario("/ok", {FakeResponse::Ok("x")});
  server.SetScenario("/gone", {FakeResponse::Status(404)});
  const std::string base =
      "http://bob:pw123@127.0.0.1:" + std::to_string(server.port());
  auto ok = FetchOne(QuickRetries(), Get(base + "/ok"));
  REQUIRE(ok);
  CHECK(ok->final_url.find("pw123") == std::string::npos);
  auto gone = FetchOne(QuickRetries(), Get(base + "/gone"));
  REQUIRE_FALSE(gone);
  CHECK(gone.error().message.find("pw123") == std::string::npos);
}

TEST_CASE("redirect details") {
  FakeUpstreamServer server;
  SECTION("303 and relative locations") {
    server.SetScenario("/a/b", {FakeResponse::Status(303, {{"Location", "../c"}})});
    server.SetScenario("/c", {FakeResponse::Ok("c")});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/a/b")));
    REQUIRE(r);
    CHECK(r->body == "c");
    CHECK(r->final_url == server.Url("/c"));
  }
  SECTION("a retry starts again from the requested URL") {
    server.SetScenario("/start", {FakeResponse::Status(302, {{"Location", "/tmp"}})});
    server.SetScenario("/tmp", {FakeResponse::Status(503), FakeResponse::Ok("t")});
    auto r = FetchOne(QuickRetries(), Get(server.Url("/start")));
    REQUIRE(r);
    CHECK(r->attempts == 2);
    CHECK(server.RequestsFor("/start").size() == 2);
    CHECK(server.RequestsFor("/tmp").size() == 2);
  }
}

TEST_CASE("a client keeps its connections between batches") {
  FakeUpstreamServer server;
  server.SetScenario("/x", {FakeResponse::Ok("x")});
  auto client = MakeCurlHttpClient(QuickRetries());
  for (int i = 0; i < 3; ++i) {
    auto results = client->FetchAll({Get(server.Url("/x"))});
    REQUIRE(results.at(0));
  }
  CHECK(server.RequestCount() == 3);
  CHECK(server.ConnectionsAccepted() == 1);
}

}  // namespace
}  // namespace datasnap
