// The fake upstream server, seen from plain clients: libcurl's easy
// interface and raw sockets. Every test is bounded by curl timeouts of a few
// seconds at most.
#include "tests/support/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include "tests/support/temp_dir.h"

namespace datasnap::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};
const CurlGlobal curl_global;

struct Result {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  milliseconds elapsed{0};

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Options {
  std::vector<std::string> headers;
  bool follow = false;
  long max_redirs = 3;
  long timeout_ms = 5000;
  std::string post;  // non-empty: POST with this body
  bool forbid_reuse = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
      value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}

// One request on `handle` (kept for connection reuse when given).
Result Fetch(const std::string& url, const Options& options = {},
             CURL* handle = nullptr) {
  CURL* curl = handle != nullptr ? handle : curl_easy_init();
  REQUIRE(curl != nullptr);
  Result r;
  curl_slist* list = nullptr;
  for (const auto& h : options.headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, options.follow ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, options.max_redirs);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, options.forbid_reuse ? 1L : 0L);
  if (!options.post.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.post.c_str());
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  auto start = Clock::now();
  r.code = curl_easy_perform(curl);
  r.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  if (handle == nullptr) curl_easy_cleanup(curl);
  return r;
}

void SetMtime(const std::string& path, time_t seconds) {
  timeval times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(utimes(path.c_str(), times) == 0);
}

// A connected raw socket to 127.0.0.1:port, with a receive timeout.
int Connect(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void SendRaw(int fd, const std::string& data) {
  REQUIRE(send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(data.size()));
}

// Reads until `count` occurrences of `marker` (or EOF / error / timeout).
std::string ReceiveUntil(int fd, const std::string& marker, int count) {
  std::string out;
  char buf[4096];
  for (;;) {
    int seen = 0;
    for (auto pos = out.find(marker); pos != std::string::npos;
         pos = out.find(marker, pos + 1)) {
      ++seen;
    }
    if (seen >= count) return out;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Structure only (lead byte, continuation bytes); enough to tell the
// injected bytes from valid text.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0
                : (c >> 5) == 0x6 ? 1
                : (c >> 4) == 0xE ? 2
                : (c >> 3) == 0x1E ? 3
                                   : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size() + (extra == 0))
      return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

bool WaitFor(const std::function<bool()>& condition, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

}  // namespace

TEST_CASE("binds 127.0.0.1 on a free port") {
  FakeUpstreamServer a;
  FakeUpstreamServer b;
  CHECK(a.port() != 0);
  CHECK(a.port() != b.port());
  CHECK(a.base_url() == "http://127.0.0.1:" + std::to_string(a.port()));
  CHECK(a.Url("/x") == a.base_url() + "/x");
}

TEST_CASE("serves files with validators and content types") {
  TempDir dir;
  WriteFile(dir.File("data.json"), "{\"a\":1}");
  WriteFile(dir.File("page.html"), "<p>hi</p>");
  WriteFile(dir.File("blob.bin"), std::string("\x00\x01\x02", 3));
  std::filesystem::create_directories(dir.File("dir"));
  std::filesystem::create_directories(dir.File("site"));
  WriteFile(dir.File("dir/index.json"), "[1,2]");
  WriteFile(dir.File("site/index.html"), "<h1>site</h1>");
  SetMtime(dir.File("data.json"), 1700000000);
  FakeUpstreamServer server({.root = dir.path()});

  auto r = Fetch(server.Url("/data.json"));
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.status == 200);
  CHECK(r.body == "{\"a\":1}");
  CHECK(r.Header("content-type") == "application/json");
  CHECK(r.Header("etag") == FakeUpstreamServer::ETagFor("{\"a\":1}"));
  CHECK(r.Header("etag").size() == 18);
  CHECK(r.Header("etag").front() == '"');
  CHECK(r.Header("last-modified") == "Tue, 14 Nov 2023 22:13:20 GMT");
  CHECK(r.Header("content-length") == "7");

  auto html = Fetch(server.Url("/page.html"));
  CHECK(html.body == "<p>hi</p>");
  CHECK(html.Header("content-type") == "text/html; charset=utf-8");
  auto bin = Fetch(server.Url("/blob.bin"));
  CHECK(bin.body == std::string("\x00\x01\x02", 3));
  CHECK(bin.Header("content-type") == "application/octet-stream");

  SECTION("a path ending in / serves index.json or index.html") {
    auto idx = Fetch(server.Url("/dir/"));
    CHECK(idx.status == 200);
    CHECK(idx.body == "[1,2]");
    CHECK(idx.Header("content-type") == "application/json");
    auto site = Fetch(server.Url("/site/"));
    CHECK(site.status == 200);
    CHECK(site.body == "<h1>site</h1>");
    CHECK(site.Header("content-type") == "text/html; charset=utf-8");
  }

  SECTION("the query string is ignored for files") {
    auto q = Fetch(server.Url("/data.json?x=1&y=2"));
    CHECK(q.status == 200);
    CHECK(q.body == "{\"a\":1}");
  }

  SECTION("If-None-Match with the ETag gives 304 and no body") {
    auto nm = Fetch(server.Url("/data.json"),
                    {.headers = {"If-None-Match: " + r.Header("etag")}});
    REQUIRE(nm.code == CURLE_OK);
    CHECK(nm.status == 304);
    CHECK(nm.body.empty());
    CHECK(nm.Header("etag") == r.Header("etag"));
    auto list = Fetch(server.Url("/data.json"),
                      {.headers = {"If-None-Match: \"zzz\", W/" + r.Header("etag")}});
    CHECK(list.status == 304);
    auto other = Fetch(server.Url("/data.json"),
                       {.headers = {"If-None-Match: \"0000000000000000\""}});
    CHECK(other.status == 200);
    CHECK(other.body == "{\"a\":1}");
  }

  SECTION("If-Modified-Since at or after the mtime gives 304") {
    auto same = Fetch(server.Url("/data.json"),
                      {.headers = {"If-Modified-Since: " + r.Header("last-modified")}});
    REQUIRE(same.code == CURLE_OK);
    CHECK(same.status == 304);
    CHECK(same.body.empty());
    auto later = Fetch(server.Url("/data.json"),
                       {.headers = {"If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT"}});
    CHECK(later.status == 304);
    auto earlier = Fetch(server.Url("/data.json"),
                         {.headers = {"If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT"}});
    CHECK(earlier.status == 200);
    CHECK(earlier.body == "{\"a\":1}");
  }

  SECTION("If-None-Match takes precedence over If-Modified-Since") {
    auto both = Fetch(server.Url("/data.json"),
                      {.headers = {"If-None-Match: \"0000000000000000\"",
                                   "If-Modified-Since: " + r.Header("last-modified")}});
    CHECK(both.status == 200);
  }

  SECTION("missing files, directories without a slash and escapes are 404") {
    CHECK(Fetch(server.Url("/missing.json")).status == 404);
    CHECK(Fetch(server.Url("/dir")).status == 404);
    CHECK(Fetch(server.Url("/%2e%2e/etc/passwd")).status == 404);
    auto raw = Connect(server.port());
    SendRaw(raw, "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n");
    auto reply = ReceiveUntil(raw, "\r\n\r\n", 1);
    close(raw);
    CHECK(reply.starts_with("HTTP/1.1 404 "));
  }

  SECTION("a changed file changes its ETag") {
    WriteFile(dir.File("data.json"), "{\"a\":2}");
    auto changed = Fetch(server.Url("/data.json"),
                         {.headers = {"If-None-Match: " + r.Header("etag")}});
    CHECK(changed.status == 200);
    CHECK(changed.body == "{\"a\":2}");
    CHECK(changed.Header("etag") != r.Header("etag"));
  }
}

TEST_CASE("without a root every file is 404") {
  FakeUpstreamServer server;
  auto r = Fetch(server.Url("/anything"));
  CHECK(r.code == CURLE_OK);
  CHECK(r.status == 404);
}

TEST_CASE("a scenario is served in order, then its last response repeats") {
  TempDir dir;
  WriteFile(dir.File("list.json"), "file");
  FakeUpstreamServer server({.root = dir.path()});
  server.SetScenario("/list.json",
                     {FakeResponse::Status(503, {{"Retry-After", "1"}}, "busy"),
                      FakeResponse::Status(429, {{"Retry-After", "2"}}),
                      FakeResponse::Ok("[\"ok\"]")});
  auto first = Fetch(server.Url("/list.json"));
  CHECK(first.status == 503);
  CHECK(first.Header("retry-after") == "1");
  CHECK(first.body == "busy");
  auto second = Fetch(server.Url("/list.json?page=2"));
  CHECK(second.status == 429);
  CHECK(second.Header("retry-after") == "2");
  CHECK(second.body.empty());
  for (int i = 0; i < 3; ++i) {
    auto ok = Fetch(server.Url("/list.json"));
    CHECK(ok.status == 200);
    CHECK(ok.body == "[\"ok\"]");
    CHECK(ok.Header("content-type") == "application/json");
  }
  CHECK(server.RequestsFor("/list.json").size() == 5);

  SECTION("setting it again restarts it") {
    server.SetScenario("/list.json", {FakeResponse::Status(500),
                                      FakeResponse::Ok("again", "text/plain")});
    CHECK(Fetch(server.Url("/list.json")).status == 500);
    auto again = Fetch(server.Url("/list.json"));
    CHECK(again.body == "again");
    CHECK(again.Header("content-type") == "text/plain");
  }
  SECTION("clearing it falls back to the file") {
    server.ClearScenario("/list.json");
    CHECK(Fetch(server.Url("/list.json")).body == "file");
    server.SetScenario("/list.json", {FakeResponse::Status(410)});
    CHECK(Fetch(server.Url("/list.json")).status == 410);
    server.ClearScenarios();
    CHECK(Fetch(server.Url("/list.json")).body == "file");
  }
  SECTION("scenarios are per path") {
    server.SetScenario("/other", {FakeResponse::Ok("other")});
    CHECK(Fetch(server.Url("/other")).body == "other");
    CHECK(Fetch(server.Url("/list.json")).body == "[\"ok\"]");
  }
}

TEST_CASE("fault: truncated body") {
  FakeUpstreamServer server;
  FakeResponse truncated =
      FakeResponse::WithFault(Fault::kTruncatedBody, std::string(100, 'x'));
  server.SetScenario("/t", {truncated});
  auto r = Fetch(server.Url("/t"));
  CHECK(r.code == CURLE_PARTIAL_FILE);
  CHECK(r.Header("content-length") == "100");
  CHECK(r.body == std::string(50, 'x'));

  truncated.truncate_after = 10;
  server.SetScenario("/t", {truncated});
  auto ten = Fetch(server.Url("/t"));
  CHECK(ten.code == CURLE_PARTIAL_FILE);
  CHECK(ten.body.size() == 10);
}

TEST_CASE("fault: connection reset before any response byte") {
  FakeUpstreamServer server;
  server.SetScenario("/r", {FakeResponse::WithFault(Fault::kConnectionReset)});
  auto r = Fetch(server.Url("/r"));
  CHECK(r.code == CURLE_RECV_ERROR);
  CHECK(r.status == 0);
  CHECK(r.body.empty());

  // On the wire: nothing, then ECONNRESET (an RST, not an orderly FIN).
  int fd = Connect(server.port());
  SendRaw(fd, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n");
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  int err = errno;
  close(fd);
  CHECK(n == -1);
  CHECK(err == ECONNRESET);
  CHECK(server.RequestsFor("/r").size() >= 2);
}

TEST_CASE("fault: slow drip") {
  FakeUpstreamServer server;
  FakeResponse drip = FakeResponse::WithFault(Fault::kSlowDrip, "0123456789");
  drip.drip_chunk_bytes = 2;
  drip.drip_interval = milliseconds(60);
  server.SetScenario("/d", {drip});
  auto r = Fetch(server.Url("/d"));
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == "0123456789");
  CHECK(r.elapsed >= milliseconds(5 * 60));
  CHECK(r.elapsed < milliseconds(2000));

  SECTION("a client with a short timeout gives up") {
    drip.drip_interval = milliseconds(200);
    server.SetScenario("/d", {drip});
    auto t = Fetch(server.Url("/d"), {.timeout_ms = 300});
    CHECK(t.code == CURLE_OPERATION_TIMEDOUT);
  }
}

TEST_CASE("fault: redirect loop") {
  FakeUpstreamServer server;
  server.SetScenario("/self", {FakeResponse::WithFault(Fault::kRedirectLoop)});
  auto self = Fetch(server.Url("/self?q=1"), {.follow = true, .max_redirs = 3});
  CHECK(self.code == CURLE_TOO_MANY_REDIRECTS);
  CHECK(server.RequestsFor("/self").size() == 4);  // first + 3 redirects
  for (const auto& req : server.RequestsFor("/self")) CHECK(req.target == "/self?q=1");

  auto once = Fetch(server.Url("/self"));
  CHECK(once.status == 302);
  CHECK(once.Header("location") == server.Url("/self"));

  FakeResponse to_b = FakeResponse::WithFault(Fault::kRedirectLoop);
  to_b.redirect_to = "/b";
  FakeResponse to_a = FakeResponse::WithFault(Fault::kRedirectLoop);
  to_a.redirect_to = "/a";
  to_a.status = 301;
  server.SetScenario("/a", {to_b});
  server.SetScenario("/b", {to_a});
  auto loop = Fetch(server.Url("/a"), {.follow = true, .max_redirs = 5});
  CHECK(loop.code == CURLE_TOO_MANY_REDIRECTS);
  CHECK(server.RequestsFor("/a").size() == 3);
  CHECK(server.RequestsFor("/b").size() == 3);
  CHECK(Fetch(server.Url("/b")).status == 301);
}

TEST_CASE("fault: oversized body, generated on the fly") {
  FakeUpstreamServer server;
  FakeResponse big = FakeResponse::WithFault(Fault::kOversizedBody);
  big.oversized_bytes = 5 * 1024 * 1024 + 7;
  server.SetScenario("/big", {big});
  auto r = Fetch(server.Url("/big"));
  REQUIRE(r.code == CURLE_OK);
  CHECK(r.body.size() == 5 * 1024 * 1024 + 7);
  CHECK(r.Header("content-length") == std::to_string(5 * 1024 * 1024 + 7));
  CHECK(r.body.substr(0, 26) == "abcdefghijklmnopqrstuvwxyz");
  bool pattern = true;
  for (size_t i = 0; i < r.body.size(); ++i) {
    if (r.body[i] != static_cast<char>('a' + i % 26)) {
      pattern = false;
      break;
    }
  }
  CHECK(pattern);

  big.body = "[0,";
  big.oversized_bytes = 100000;
  server.SetScenario("/big", {big});
  auto custom = Fetch(server.Url("/big"));
  CHECK(custom.body.size() == 100000);
  bool repeated = true;
  for (size_t i = 0; i < custom.body.size(); ++i) {
    if (custom.body[i] != "[0,"[i % 3]) {
      repeated = false;
      break;
    }
  }
  CHECK(repeated);
}

TEST_CASE("fault: wrong content type") {
  FakeUpstreamServer server;
  server.SetScenario("/codes.json", {FakeResponse::Ok("[{\"value\":\"A\"}]")});
  CHECK(Fetch(server.Url("/codes.json")).Header("content-type") == "application/json");
  FakeResponse wrong =
      FakeResponse::WithFault(Fault::kWrongContentType, "[{\"value\":\"A\"}]");
  wrong.headers = {{"Content-Type", "application/json"}};
  server.SetScenario("/codes.json", {wrong});
  auto r = Fetch(server.Url("/codes.json"));
  CHECK(r.status == 200);
  CHECK(r.body == "[{\"value\":\"A\"}]");
  CHECK(r.Header("content-type") == "text/html; charset=utf-8");
}

TEST_CASE("fault: invalid UTF-8 in the body") {
  FakeUpstreamServer server;
  server.SetScenario("/default", {FakeResponse::WithFault(Fault::kInvalidUtf8)});
  auto d = Fetch(server.Url("/default"));
  CHECK(d.body == std::string(kInvalidUtf8DefaultBody));
  CHECK_FALSE(IsValidUtf8(d.body));
  CHECK(IsValidUtf8("[{\"label\":\"caf\xC3\xA9\"}]"));

  server.SetScenario("/list.json", {FakeResponse::WithFault(
                                       Fault::kInvalidUtf8, "[{\"label\":\"x\"}]")});
  auto r = Fetch(server.Url("/list.json"));
  CHECK(r.code == CURLE_OK);
  CHECK(r.body == "[{\"label\":\"x" + std::string(kInvalidUtf8Bytes) + "\"}]");
  CHECK_FALSE(IsValidUtf8(r.body));
  CHECK(r.Header("content-length") == std::to_string(r.body.size()));
}

TEST_CASE("records every request") {
  TempDir dir;
  WriteFile(dir.File("a.json"), "{}");
  FakeUpstreamServer server({.root = dir.path()});
  server.SetScenario("/post", {FakeResponse::Status(201)});
  auto before = Clock::now();
  Fetch(server.Url("/a.json?x=1"), {.headers = {"X-Trace: abc", "User-Agent: ua/1"}});
  Fetch(server.Url("/missing"));
  auto posted = Fetch(server.Url("/post"), {.post = "hello=1"});
  CHECK(posted.status == 201);

  auto all = server.Requests();
  REQUIRE(all.size() == 3);
  CHECK(server.RequestCount() == 3);
  CHECK(all[0].method == "GET");
  CHECK(all[0].path == "/a.json");
  CHECK(all[0].target == "/a.json?x=1");
  CHECK(all[0].version == "HTTP/1.1");
  CHECK(all[0].Header("x-trace") == "abc");
  CHECK(all[0].Header("X-TRACE") == "abc");
  CHECK(all[0].Header("user-agent") == "ua/1");
  CHECK(all[0].Header("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK_FALSE(all[0].Header("x-absent").has_value());
  CHECK(all[0].arrival >= before);
  CHECK(all[1].path == "/missing");
  CHECK(all[1].arrival >= all[0].arrival);
  CHECK(all[2].method == "POST");
  CHECK(all[2].body == "hello=1");
  CHECK(all[2].arrival >= all[1].arrival);
  CHECK(server.RequestsFor("/a.json").size() == 1);
  CHECK(server.RequestsFor("/a.json?x=1").empty());
  CHECK(FindHeader(all[0].headers, "X-Trace") == "abc");

  server.ClearRecords();
  CHECK(server.Requests().empty());
  CHECK(server.ConnectionsAccepted() == 0);
  CHECK(server.PeakConcurrency() == 0);
}

TEST_CASE("raw HTTP: pipelined requests, chunked bodies, HTTP/1.0") {
  FakeUpstreamServer server;
  server.SetScenario("/p", {FakeResponse::Ok("one"), FakeResponse::Ok("two")});
  int fd = Connect(server.port());
  SendRaw(fd,
          "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
          "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
  auto replies = ReceiveUntil(fd, "two", 1);  // the second body
  close(fd);
  CHECK(replies.find("one") != std::string::npos);
  CHECK(replies.find("two") != std::string::npos);
  auto reqs = server.RequestsFor("/p");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].body == "abcde");
  CHECK(reqs[0].connection_id == reqs[1].connection_id);

  int fd10 = Connect(server.port());
  SendRaw(fd10, "GET /p HTTP/1.0\r\n\r\n");
  auto reply10 = ReceiveUntil(fd10, "\x01never", 1);  // until the server closes
  close(fd10);
  CHECK(reply10.find("Connection: close") != std::string::npos);
  CHECK(reply10.ends_with("two"));
  CHECK(server.PeakConcurrency("") == 1);  // no Host header
}

TEST_CASE("keep-alive reuses one connection") {
  FakeUpstreamServer server;
  server.SetScenario("/k", {FakeResponse::Ok("k")});
  CURL* curl = curl_easy_init();
  for (int i = 0; i < 3; ++i) CHECK(Fetch(server.Url("/k"), {}, curl).body == "k");
  curl_easy_cleanup(curl);
  CHECK(server.ConnectionsAccepted() == 1);
  auto reqs = server.Requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].connection_id == reqs[2].connection_id);

  server.ClearRecords();
  for (int i = 0; i < 3; ++i) Fetch(server.Url("/k"), {.forbid_reuse = true});
  CHECK(server.ConnectionsAccepted() == 3);

  SECTION("a Connection: close response ends the connection") {
    server.ClearRecords();
    server.SetScenario("/k", {FakeResponse::Status(200, {{"Connection", "close"}}, "c")});
    CURL* h = curl_easy_init();
    CHECK(Fetch(server.Url("/k"), {}, h).body == "c");
    CHECK(Fetch(server.Url("/k"), {}, h).body == "c");
    curl_easy_cleanup(h);
    CHECK(server.ConnectionsAccepted() == 2);
  }
}

TEST_CASE("peak concurrency per Host header") {
  FakeUpstreamServer server;
  FakeResponse slow = FakeResponse::Ok("slow");
  // Long enough that five threads overlap even on a busy machine.
  slow.delay = milliseconds(1500);
  server.SetScenario("/slow", {slow});

  // Sequential requests never overlap.
  Fetch(server.Url("/slow"));
  Fetch(server.Url("/slow"));
  CHECK(server.PeakConcurrency() == 1);
  server.ClearRecords();

  const std::vector<std::string> hosts = {"a.test", "a.test", "a.test", "b.test",
                                          "B.Test:8080"};
  std::latch start(static_cast<std::ptrdiff_t>(hosts.size()));
  std::vector<std::thread> threads;
  std::vector<Result> results(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = Fetch(server.Url("/slow"), {.headers = {"Host: " + hosts[i]}});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r.body == "slow");
  CHECK(server.PeakConcurrency("a.test") == 3);
  CHECK(server.PeakConcurrency("A.TEST:1234") == 3);
  CHECK(server.PeakConcurrency("b.test") == 2);
  CHECK(server.PeakConcurrency("c.test") == 0);
  CHECK(server.PeakConcurrency() == 5);
  CHECK(server.InFlight() == 0);
  CHECK(server.ConnectionsAccepted() == 5);

  server.ClearRecords();
  CHECK(server.PeakConcurrency() == 0);
  CHECK(server.PeakConcurrency("a.test") == 0);
}

TEST_CASE("latency is added to every response and counts as in flight") {
  TempDir dir;
  WriteFile(dir.File("f"), "f");
  FakeUpstreamServer server({.root = dir.path(), .latency = milliseconds(1000)});
  auto r = Fetch(server.Url("/f"));
  CHECK(r.body == "f");
  CHECK(r.elapsed >= milliseconds(1000));
  CHECK(Fetch(server.Url("/missing")).elapsed >= milliseconds(1000));

  FakeResponse delayed = FakeResponse::Ok("d");
  delayed.delay = milliseconds(100);
  server.SetScenario("/d", {delayed});
  CHECK(Fetch(server.Url("/d")).elapsed >= milliseconds(1100));

  std::thread client([&] { Fetch(server.Url("/f")); });
  CHECK(WaitFor([&] { return server.InFlight() == 1; }, milliseconds(10000)));
  client.join();
  CHECK(server.InFlight() == 0);

  // With the latency gone, a response no longer takes the 1000 ms (a loose
  // bound: shared machines are noisy).
  server.SetLatency(milliseconds(0));
  CHECK(Fetch(server.Url("/f")).elapsed < milliseconds(1000));
}

TEST_CASE("the destructor stops promptly with clients mid-request") {
  auto server = std::make_unique<FakeUpstreamServer>();
  FakeResponse hang = FakeResponse::Ok("never");
  hang.delay = milliseconds(20000);
  FakeResponse drip = FakeResponse::WithFault(Fault::kSlowDrip, std::string(100, 'x'));
  drip.drip_interval = milliseconds(1000);
  FakeResponse big = FakeResponse::WithFault(Fault::kOversizedBody);
  big.oversized_bytes = std::uint64_t{1} << 40;  // never finishes
  server->SetScenario("/hang", {hang});
  server->SetScenario("/drip", {drip});
  server->SetScenario("/big", {big});
  const std::string base = server->base_url();

  std::vector<Result> results(2);
  std::thread hanging([&] { results[0] = Fetch(base + "/hang", {.timeout_ms = 8000}); });
  std::thread dripping([&] { results[1] = Fetch(base + "/drip", {.timeout_ms = 8000}); });
  // A client that never reads a huge body (the server blocks in send()).
  int stalled = Connect(server->port());
  SendRaw(stalled, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  // An idle keep-alive connection.
  int idle = Connect(server->port());
  REQUIRE(WaitFor([&] { return server->InFlight() == 3; }, milliseconds(2000)));
  std::this_thread::sleep_for(milliseconds(100));

  auto start = Clock::now();
  server.reset();
  auto took = Clock::now() - start;
  CHECK(took < milliseconds(10000));  // bounded, not a speed check

  hanging.join();
  dripping.join();
  CHECK(results[0].code != CURLE_OK);
  CHECK(results[1].code != CURLE_OK);
  CHECK(results[0].elapsed < milliseconds(3000));
  CHECK(results[1].elapsed < milliseconds(3000));
  close(stalled);
  close(idle);

  // Nothing listens any more.
  auto after = Fetch(base + "/hang", {.timeout_ms = 1000});
  CHECK(after.code == CURLE_COULDNT_CONNECT);
}

TEST_CASE("Stop is idempotent") {
  FakeUpstreamServer server;
  server.Stop();
  server.Stop();
  CHECK(Fetch(server.Url("/x"), {.timeout_ms = 1000}).code == CURLE_COULDNT_CONNECT);
}

TEST_CASE("the fake_upstream binary prints its URL and stops on SIGTERM") {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) {
    WARN("not under bazel test; skipped");
    return;
  }
  std::string binary =
      std::string(srcdir) + "/" + workspace + "/tests/support/fake_upstream";
  TempDir dir;
  WriteFile(dir.File("index.json"), "{\"root\":true}");

  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(binary.c_str(), binary.c_str(), "--root", dir.path().c_str(),
          "--port", "0", "--latency-ms", "50", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  timeval tv{5, 0};
  fd_set set;
  while (line.find('\n') == std::string::npos) {
    FD_ZERO(&set);
    FD_SET(out[0], &set);
    if (select(out[0] + 1, &set, nullptr, nullptr, &tv) <= 0) break;
    if (read(out[0], &c, 1) != 1) break;
    line += c;
  }
  close(out[0]);
  REQUIRE(line.starts_with("http://127.0.0.1:"));
  std::string url = line.substr(0, line.find('\n'));
  auto r = Fetch(url + "/");
  CHECK(r.status == 200);
  CHECK(r.body == "{\"root\":true}");
  CHECK(r.elapsed >= milliseconds(50));

  REQUIRE(kill(pid, SIGTERM) == 0);
  int status = -1;
  bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                        milliseconds(3000));
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CHECK(exited);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace datasnap::testing
