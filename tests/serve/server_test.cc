// datasnap serve: the HTTP decisions (tables), then a server on a store
// made by make_export_store: every file of an export of the same store
// answered with the same bytes (and every negotiated encoding decoding to
// the same JSON), current.json, 304s, HEAD, CORS, hostile requests over
// raw sockets, the connection cap and timeout, a client polling while a
// writer commits, and the command's exit on SIGTERM.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/compression.h"
#include "core/model.h"
#include "core/sha256.h"
#include "exporters/export.h"
#include "serve/http_rules.h"
#include "serve/served_tree.h"
#include "serve/server.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

// ------------------------------------------------------------ HTTP rules

TEST_CASE("RequestPath decodes and refuses what no tree path can be") {
  struct Case {
    std::string target;
    std::string path;  // "" with ok=false: refused
    bool ok;
  };
  const std::vector<Case> cases = {
      {"/manifest.json", "manifest.json", true},
      {"/datasets/a_b/1.abc.json", "datasets/a_b/1.abc.json", true},
      {"/datasets%2Fx", "datasets/x", true},
      {"/", "", true},
      {"/datasets/", "datasets/", true},  // not found, not refused
      {"manifest.json", "", false},
      {"/../etc/passwd", "", false},
      {"/datasets/../manifest.json", "", false},
      {"/%2e%2e/manifest.json", "", false},
      {"/%2E%2E%2Fmanifest.json", "", false},
      {"/./manifest.json", "", false},
      {"//manifest.json", "", false},
      {"/datasets//x", "", false},
      {"/datasets%2F%2Fx", "", false},
      {"/datasets\\x", "", false},
      {"/datasets%5Cx", "", false},
      {"/manifest.json%00.png", "", false},
      {"/a%0ab", "", false},
      {"/a%zz", "", false},
      {"/a%2", "", false},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    auto path = RequestPath(c.target);
    REQUIRE(path.has_value() == c.ok);
    if (c.ok) CHECK(*path == c.path);
  }
}

Resource Negotiated() {
  Resource r;
  r.negotiated = true;
  auto b = [](const char* s) { return std::make_shared<const std::string>(s); };
  r.representations = {{Coding::kIdentity, b("{}"), "\"id\""},
                       {Coding::kGzip, b("gz"), "\"gz\""},
                       {Coding::kZstd, b("zs"), "\"zs\""}};
  return r;
}

TEST_CASE("ChooseRepresentation follows Accept-Encoding's q-values") {
  const Resource r = Negotiated();
  const std::vector<std::pair<std::string, Coding>> cases = {
      {"", Coding::kIdentity},
      {"gzip", Coding::kGzip},
      {"GZIP", Coding::kGzip},
      {"x-gzip", Coding::kGzip},
      {"gzip, deflate, br", Coding::kGzip},
      {"gzip, deflate, br, zstd", Coding::kZstd},  // Chrome's: tie, zstd
      {"zstd;q=0.5, gzip", Coding::kGzip},
      {"zstd;q=0.5, gzip;q=0.4", Coding::kZstd},
      {"gzip;q=0, zstd;q=0", Coding::kIdentity},
      {"*", Coding::kZstd},
      {"*;q=0.1, gzip;q=0.2", Coding::kGzip},
      {"identity;q=0, gzip;q=0.1", Coding::kGzip},
      {"*;q=0", Coding::kIdentity},  // nothing acceptable: identity anyway
      {"gzip;q=bad, zstd;q=0.3", Coding::kZstd},  // a malformed item ignored
      {"br", Coding::kIdentity},
      {"gzip ; q=1.0 , zstd ; q=0.999", Coding::kGzip},
  };
  for (const auto& [header, coding] : cases) {
    INFO(header);
    CHECK(ChooseRepresentation(r, header).coding == coding);
  }
}

TEST_CASE("MatchIfNoneMatch takes any representation's tag, weak or strong") {
  const Resource r = Negotiated();
  CHECK(MatchIfNoneMatch(r, "\"id\"") == &r.representations[0]);
  CHECK(MatchIfNoneMatch(r, "W/\"gz\"") == &r.representations[1]);
  CHECK(MatchIfNoneMatch(r, "\"x\", \"zs\"") == &r.representations[2]);
  CHECK(MatchIfNoneMatch(r, "*") != nullptr);
  CHECK(MatchIfNoneMatch(r, "\"x\"") == nullptr);
  CHECK(MatchIfNoneMatch(r, "id") != nullptr);  // unquoted, as some send
  CHECK(MatchIfNoneMatch(r, "") == nullptr);
}

// ------------------------------------------------------------ helpers

struct Reply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
      value.pop_back();
    }
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// One request with libcurl, which leaves the bytes encoded as they came.
Reply Get(std::uint16_t port, const std::string& path,
          const std::vector<std::string>& headers = {},
          const std::string& method = "GET") {
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  Reply reply;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  INFO(url << ": " << curl_easy_strerror(rc));
  REQUIRE(rc == CURLE_OK);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

int Connect(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// What the server sends back to `request` on a fresh connection, until it
// closes it (or 10 s pass).
std::string Raw(std::uint16_t port, const std::string& request) {
  const int fd = Connect(port);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

// A store made by //tests/exporters:make_export_store (organisations,
// several versions, characters that need escaping).
std::string MakeStore(const TempDir& dir) {
  const std::string path = dir.File("store.lmdb");
  const std::string cmd =
      "tests/exporters/make_export_store '" + path + "' > /dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return path;
}

std::unique_ptr<Server> StartServer(Store& store, ServeOptions options = {}) {
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  auto server = Server::Start(store, options);
  INFO((server ? "" : server.error().message));
  REQUIRE(server.has_value());
  return std::move(*server);
}

std::string Unzstd(const std::string& bytes) {
  auto out = ZstdDecompress(bytes, std::size_t{1} << 28);
  REQUIRE(out.has_value());
  return *out;
}

std::string Gunzip(const std::string& bytes) {
  auto out = GzipDecompress(bytes, std::size_t{1} << 28);
  REQUIRE(out.has_value());
  return *out;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// ------------------------------------------------------------ the tree

TEST_CASE("serve answers every file of an export of the store with its bytes") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{.read_only = true});
  REQUIRE(store.has_value());
  ExportOptions export_options;
  export_options.out_dir = dir.File("out");
  REQUIRE(ExportStore(**store, export_options).has_value());
  auto server = StartServer(**store);
  const std::uint16_t port = server->port();

  std::size_t files = 0, documents = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.File("out"))) {
    if (!e.is_regular_file()) continue;
    const std::string path =
        fs::relative(e.path(), dir.File("out")).generic_string();
    const std::string bytes = testing::ReadFile(e.path().string());
    INFO(path);
    if (path == ".datasnap-export.json") {  // the export's, not published
      CHECK(Get(port, "/" + path, {"X-No: 1"}).status == 404);
      continue;
    }
    const bool gz = path.ends_with(".json.gz");
    const bool zst = path.ends_with(".json.zst");
    // As the file: its bytes, tagged by their hash, no Content-Encoding
    // (a compressed file is sent as it is even to a client that accepts
    // its encoding).
    Reply file = Get(port, "/" + path,
                     {gz || zst ? "Accept-Encoding: gzip, zstd" : "X-No: 1"});
    CHECK(file.status == 200);
    CHECK(file.body == bytes);
    CHECK(file.headers["etag"] == Quoted(Sha256Hex(bytes)));
    CHECK(file.headers.count("content-encoding") == 0);
    ++files;
    if (!gz && !zst) {
      CHECK(file.headers["content-type"] == "application/json");
      continue;
    }
    CHECK(file.headers["content-type"] ==
          (gz ? "application/gzip" : "application/zstd"));
    // The document it encodes, negotiated: the same bytes with
    // Content-Encoding, and identity decoding equal.
    const std::string stem = path.substr(0, path.rfind('.'));
    const std::string json = gz ? Gunzip(bytes) : Unzstd(bytes);
    Reply coded =
        Get(port, "/" + stem, {gz ? "Accept-Encoding: gzip" : "Accept-Encoding: zstd"});
    CHECK(coded.status == 200);
    CHECK(coded.headers["content-encoding"] == (gz ? "gzip" : "zstd"));
    CHECK(coded.headers["vary"] == "Accept-Encoding");
    CHECK(coded.headers["content-type"] == "application/json");
    CHECK(coded.body == bytes);
    Reply plain = Get(port, "/" + stem);
    CHECK(plain.headers.count("content-encoding") == 0);
    CHECK(plain.body == json);
    const bool manifest = stem.ends_with("manifest.json");
    // An organisation's files: as nginx's rules, no shared cache.
    const std::string scope = path.starts_with("orgs/") ? "private" : "public";
    if (!manifest) {
      CHECK(plain.headers["etag"] == Quoted(Sha256Hex(json)));
      CHECK(plain.headers["cache-control"] ==
            scope + ", max-age=31536000, immutable");
      // The hash in the name is the JSON's.
      const std::string name = fs::path(stem).stem().string();
      CHECK(Sha256Hex(json).substr(0, 12) == name.substr(name.find('.') + 1));
    } else {
      CHECK(plain.headers["cache-control"] ==
            (scope == "private" ? "private, no-cache" : "no-cache"));
      Reply zstd = Get(port, "/" + stem, {"Accept-Encoding: zstd"});
      CHECK(zstd.headers["content-encoding"] == "zstd");
      CHECK(Unzstd(zstd.body) == json);
    }
    ++documents;
  }
  CHECK(files > 40);
  CHECK(documents > 20);

  // current.json: each manifest's current snapshot, revalidated each time.
  const json manifest = json::parse(Get(port, "/manifest.json").body);
  REQUIRE(manifest["datasets"].size() > 3);
  for (const json& d : manifest["datasets"]) {
    const std::string key = d["key"];
    INFO(key);
    Reply current = Get(port, "/datasets/" + key + "/current.json");
    CHECK(current.status == 200);
    CHECK(Sha256Hex(current.body) == d["snapshot"]["json_sha256"]);
    CHECK(current.headers["cache-control"] == "no-cache");
    CHECK(current.headers["etag"] == Quoted(Sha256Hex(current.body)));
  }
}

TEST_CASE("a rebuilt tree reuses the compressed bytes of unchanged documents") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{});
  REQUIRE(store.has_value());
  auto build = [&](const ServedTree* previous) {
    auto tree = (*store)->Read([&](const ReadTxn& txn) {
      return BuildServedTree(txn, ServeScope{}, previous);
    });
    REQUIRE(tree.has_value());
    return *tree;
  };
  const auto before = build(nullptr);
  // One dataset gets a new version; the others' documents are unchanged.
  DatasetRecord changed;
  REQUIRE((*store)->Write([&](WriteTxn& txn) -> Status {
    DS_TRY(all, txn.ListDatasets());
    changed = all->front();
    auto list = OptionList::Make({Option{"new", "A new option", {}, false}});
    if (!list) return std::unexpected(list.error());
    DS_CHECK(txn.CommitOptions(changed.dataset.key, *list, Provenance{}));
    return {};
  }).has_value());
  const auto after = build(before.get());
  CHECK(after->generation() > before->generation());

  std::size_t shared = 0, fresh = 0;
  for (const std::string& path : after->Paths()) {
    const Resource* now = after->Find(path);
    const Resource* then = before->Find(path);
    if (then == nullptr || now == then) continue;  // new, or retained as is
    for (const Representation& rep : now->representations) {
      if (rep.coding == Coding::kIdentity) continue;
      for (const Representation& old : then->representations) {
        if (old.coding != rep.coding || old.etag != rep.etag) continue;
        // The same content: the very bytes of the tree before, not
        // compressed again.
        INFO(path << " " << CodingName(rep.coding));
        CHECK(old.bytes.get() == rep.bytes.get());
        ++shared;
      }
    }
  }
  for (const std::string& path : after->Paths()) {
    if (before->Find(path) == nullptr) ++fresh;
  }
  CHECK(shared > 20);  // the manifests and current.json changed, not these
  CHECK(fresh > 0);    // the new version's files
}

TEST_CASE("304s, HEAD, OPTIONS, CORS, 404 and 405") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{.read_only = true});
  REQUIRE(store.has_value());
  auto server = StartServer(**store);
  const std::uint16_t port = server->port();

  Reply manifest = Get(port, "/manifest.json", {"Accept-Encoding: gzip"});
  REQUIRE(manifest.status == 200);
  CHECK(manifest.headers["access-control-allow-origin"] == "*");
  const std::string etag = manifest.headers["etag"];
  Reply again = Get(port, "/manifest.json",
                          {"Accept-Encoding: gzip", "If-None-Match: " + etag});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(again.headers["etag"] == etag);
  CHECK(again.headers["cache-control"] == "no-cache");
  CHECK(again.headers["vary"] == "Accept-Encoding");
  CHECK(Get(port, "/manifest.json", {"If-None-Match: \"other\""}).status == 200);
  CHECK(Get(port, "/manifest.json", {"If-None-Match: W/" + etag}).status == 304);

  Reply head = Get(port, "/manifest.json", {"Accept-Encoding: gzip"}, "HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.headers["content-length"] == std::to_string(manifest.body.size()));
  CHECK(head.headers["etag"] == etag);

  Reply preflight = Get(port, "/manifest.json",
                              {"Origin: https://example.org",
                               "Access-Control-Request-Method: GET"},
                              "OPTIONS");
  CHECK(preflight.status == 204);
  CHECK(preflight.headers["access-control-allow-origin"] == "*");
  CHECK(preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS");

  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "TRACE"}) {
    INFO(method);
    Reply r = Get(port, "/manifest.json", {}, method);
    CHECK(r.status == 405);
    CHECK(r.headers["allow"] == "GET, HEAD, OPTIONS");
  }
  for (const char* path : {"/", "/nope", "/datasets/", "/manifest.json.zst",
                           "/datasets/nope/current.json", "/orgs/nope/manifest.json"}) {
    INFO(path);
    Reply r = Get(port, path);
    CHECK(r.status == 404);
    CHECK(r.body == "not found\n");
  }
}

TEST_CASE("--org serves the public tree and only that organisation's") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{.read_only = true});
  REQUIRE(store.has_value());
  ServeOptions options;
  options.scope.organization = "org-7";
  auto server = StartServer(**store, options);
  CHECK(Get(server->port(), "/manifest.json").status == 200);
  CHECK(Get(server->port(), "/orgs/org-7/manifest.json").status == 200);
  CHECK(Get(server->port(), "/orgs/org-12/manifest.json").status == 404);

  // Every file of the export in the public tree and in orgs/org-7/ is
  // served with its bytes; no other organisation's.
  ExportOptions export_options;
  export_options.out_dir = dir.File("out");
  REQUIRE(ExportStore(**store, export_options).has_value());
  std::size_t served = 0, hidden = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.File("out"))) {
    if (!e.is_regular_file()) continue;
    const std::string path =
        fs::relative(e.path(), dir.File("out")).generic_string();
    INFO(path);
    Reply r = Get(server->port(), "/" + path);
    // Not served: other organisations' files, and the export's record.
    if ((path.starts_with("orgs/") && !path.starts_with("orgs/org-7/")) ||
        path == ".datasnap-export.json") {
      CHECK(r.status == 404);
      ++hidden;
      continue;
    }
    CHECK(r.status == 200);
    CHECK(r.body == testing::ReadFile(e.path().string()));
    ++served;
  }
  CHECK(served > 20);
  CHECK(hidden > 0);
}

TEST_CASE("hostile requests get a 4xx and the server stays up") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{.read_only = true});
  REQUIRE(store.has_value());
  auto server = StartServer(**store);
  const std::uint16_t port = server->port();
  auto request = [](const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
           extra + "\r\n";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {request("/../../etc/passwd"), "HTTP/1.1 400"},
      {request("/datasets/../manifest.json"), "HTTP/1.1 400"},
      {request("/%2e%2e/%2e%2e/etc/passwd"), "HTTP/1.1 400"},
      {request("//etc/passwd"), "HTTP/1.1 400"},
      {request("/..\\..\\etc\\passwd"), "HTTP/1.1 400"},
      {request("/manifest.json%00.html"), "HTTP/1.1 400"},
      {request("/nope"), "HTTP/1.1 404"},
      {request("/" + std::string(40000, 'a')), "HTTP/1.1 414"},
      {request("/manifest.json", "X-Big: " + std::string(40000, 'b') + "\r\n"),
       "HTTP/1.1 431"},
      // A request line without a method and target: the library closes
      // the connection without an answer ("" starts every reply).
      {"GARBAGE\r\n\r\n", ""},
      {"GET /manifest.json\r\n\r\n", "HTTP/1.1 400"},
      {"GET /manifest.json HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505"},
  };
  for (const auto& [req, status] : cases) {
    INFO(req.substr(0, 80));
    CHECK(StatusLine(Raw(port, req)).starts_with(status));
  }
  CHECK(Get(port, "/manifest.json").status == 200);
}

TEST_CASE("slow clients time out, and connections are capped") {
  TempDir dir;
  auto store = Store::Open(MakeStore(dir), StoreOptions{.read_only = true});
  REQUIRE(store.has_value());

  // A request that never ends is cut off after the timeout.
  {
    ServeOptions options;
    options.timeout_seconds = 1;
    auto server = StartServer(**store, options);
    const int fd = Connect(server->port());
    const std::string partial = "GET /manifest.json HTTP/1.1\r\nHost: x\r\n";
    send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    const auto start = std::chrono::steady_clock::now();
    char buf[256];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited < std::chrono::seconds(5));
    close(fd);
  }
  // Three idle connections fill the cap: a fourth is not answered (the
  // server stops accepting; it waits in the kernel's backlog) until one
  // of them closes. The timeout is long, so that they stay open.
  ServeOptions options;
  options.max_connections = 3;
  auto server = StartServer(**store, options);
  const std::uint16_t port = server->port();
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int fourth = Connect(port);
  timeval short_wait{1, 0};
  setsockopt(fourth, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait);
  const std::string req =
      "GET /manifest.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(send(fourth, req.data(), req.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(req.size()));
  char buf[4096];
  CHECK(recv(fourth, buf, sizeof buf, 0) < 0);  // nothing within 1 s
  for (int fd : idle) close(fd);
  // Once they are gone, it is answered.
  timeval long_wait{10, 0};
  setsockopt(fourth, SOL_SOCKET, SO_RCVTIMEO, &long_wait, sizeof long_wait);
  std::string reply;
  for (ssize_t n; (n = recv(fourth, buf, sizeof buf, 0)) > 0;) reply.append(buf, n);
  close(fourth);
  CHECK(StatusLine(reply) == "HTTP/1.1 200 OK");
}

// ------------------------------------------------------------ a writer

// Every file a manifest names: path -> sha256 of its bytes.
void CollectFiles(const json& j, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    if (j.contains("path") && j.contains("sha256") && j["path"].is_string()) {
      out[j["path"]] = j["sha256"];
    }
    for (const auto& [k, v] : j.items()) CollectFiles(v, out);
  } else if (j.is_array()) {
    for (const json& v : j) CollectFiles(v, out);
  }
}

TEST_CASE("a client polling while a writer commits never misses a file") {
  TempDir dir;
  const std::string path = MakeStore(dir);
  // One Store for both (LMDB allows one open per process): the server only
  // reads; the writer thread commits through it.
  auto store = Store::Open(path, StoreOptions{});
  REQUIRE(store.has_value());
  auto server = StartServer(**store);
  const std::uint16_t port = server->port();

  Dataset d;
  d.key = "polled_list";
  d.name = "Polled list";
  d.category = Category::kUserCreated;
  d.source_type = SourceType::kImported;
  d.is_custom = true;
  d.is_global = true;
  REQUIRE((*store)->Write([&](WriteTxn& txn) -> Status {
    DS_CHECK(txn.UpsertDataset(d));
    return {};
  }).has_value());

  // The writer commits version v once the client has read v manifests,
  // so that commits fall while the client is fetching a manifest's files.
  std::atomic<bool> done = false;
  std::atomic<std::size_t> manifests_read = 0;
  std::atomic<std::uint32_t> committed = 0;  // the last version committed
  constexpr int kVersions = 8;
  std::thread writer([&] {
    for (int v = 1; v <= kVersions; ++v) {
      while (manifests_read < static_cast<std::size_t>(v)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      std::vector<Option> options;
      for (int i = 0; i < 50 + v * 7; ++i) {
        options.push_back(Option{"c" + std::to_string(i),
                                 "Label " + std::to_string(i * v), {}, false});
      }
      auto list = OptionList::Make(options);
      REQUIRE(list.has_value());
      auto commit = (*store)->Write([&](WriteTxn& txn) {
        return txn.CommitOptions(d.key, *list, Provenance{});
      });
      REQUIRE(commit.has_value());
      committed = v;
    }
    done = true;
  });

  std::size_t checked = 0, manifests = 0;
  std::uint32_t last_seen = 0;
  std::set<std::uint32_t> versions_seen;
  while (!done || manifests < 2) {
    const std::uint32_t committed_before = committed;
    Reply m = Get(port, "/manifest.json", {"Accept-Encoding: gzip"});
    REQUIRE(m.status == 200);
    const json manifest = json::parse(Gunzip(m.body));
    ++manifests;
    manifests_read = manifests;
    for (const json& e : manifest["datasets"]) {
      if (e["key"] == d.key) {
        last_seen = e["version"];
        versions_seen.insert(last_seen);
        // What was committed before the request is served: no restart,
        // no stale tree.
        CHECK(last_seen >= committed_before);
      }
    }
    std::map<std::string, std::string> files;
    CollectFiles(manifest, files);
    for (const auto& [file, sha] : files) {
      INFO(file);
      Reply r = Get(port, "/" + file);
      REQUIRE(r.status == 200);
      REQUIRE(Sha256Hex(r.body) == sha);
      ++checked;
    }
  }
  writer.join();
  // The last version is served without a restart.
  const json final_manifest = json::parse(Get(port, "/manifest.json").body);
  for (const json& e : final_manifest["datasets"]) {
    if (e["key"] == d.key) {
      CHECK(e["version"] == kVersions);
      versions_seen.insert(e["version"].get<std::uint32_t>());
    }
  }
  CHECK(last_seen > 0);
  CHECK(manifests >= 2);
  // Versions before the last were served while the writer went on, then
  // the last, each whole.
  INFO(manifests << " manifests, " << versions_seen.size() << " versions");
  CHECK(versions_seen.size() >= 2);
  CHECK(checked >= manifests);
}

// ------------------------------------------------------------ the command

TEST_CASE("datasnap serve prints its URL and exits 0 on SIGTERM and SIGINT") {
  TempDir dir;
  const std::string store = MakeStore(dir);
  for (int sig : {SIGTERM, SIGINT}) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl("tools/datasnap", "datasnap", "--store", store.c_str(), "serve",
            "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string url;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') url.push_back(c);
    close(out[0]);
    INFO(url);
    REQUIRE(url.starts_with("http://127.0.0.1:"));
    const auto port = static_cast<std::uint16_t>(
        std::stoi(url.substr(std::string("http://127.0.0.1:").size())));
    CHECK(Get(port, "/manifest.json").status == 200);
    if (sig == SIGTERM) {
      // Another process writes (`datasnap import`) while serve runs: the
      // next request serves the new dataset, without a restart.
      const std::string list = dir.File("imported.txt");
      {
        std::FILE* f = std::fopen(list.c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("A - Apple\nB - Banana\n", f);
        std::fclose(f);
      }
      CHECK(Get(port, "/datasets/served_import/current.json").status == 404);
      const std::string cmd = "tools/datasnap --store '" + store +
                              "' import served_import --name 'Served import' "
                              "--file '" + list + "' > /dev/null";
      REQUIRE(std::system(cmd.c_str()) == 0);
      Reply current = Get(port, "/datasets/served_import/current.json");
      CHECK(current.status == 200);
      CHECK(current.body.find("Banana") != std::string::npos);
      const json manifest = json::parse(Get(port, "/manifest.json").body);
      bool listed = false;
      for (const json& d : manifest["datasets"]) {
        listed = listed || d["key"] == "served_import";
      }
      CHECK(listed);
    }
    kill(pid, sig);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

}  // namespace
}  // namespace datasnap
