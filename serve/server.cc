#include "serve/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "serve/http_rules.h"

namespace datasnap {
namespace {

constexpr char kAllow[] = "GET, HEAD, OPTIONS";
// Content-named files never change: a year, and no revalidation.
constexpr char kImmutable[] = "public, max-age=31536000, immutable";
// Manifests and current.json: revalidate every time (a cheap 304).
constexpr char kNoCache[] = "no-cache";
// The same for an organisation's files: no shared cache keeps them.
constexpr char kPrivateImmutable[] = "private, max-age=31536000, immutable";
constexpr char kPrivateNoCache[] = "private, no-cache";

const char* CacheControl(const Resource& resource) {
  if (resource.private_cache) {
    return resource.immutable ? kPrivateImmutable : kPrivateNoCache;
  }
  return resource.immutable ? kImmutable : kNoCache;
}

void AddCors(MHD_Response* r) {
  MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
  // Not safelisted: without this, a page's script cannot read them.
  MHD_add_response_header(r, "Access-Control-Expose-Headers",
                          "ETag, Content-Encoding");
}

// A response whose body is `bytes`, kept alive by the response itself (a
// connection may still send it after the tree that made it is gone).
MHD_Response* BytesResponse(std::shared_ptr<const std::string> bytes) {
  auto* owner = new std::shared_ptr<const std::string>(std::move(bytes));
  return MHD_create_response_from_buffer_with_free_callback_cls(
      (*owner)->size(), const_cast<char*>((*owner)->data()),
      [](void* cls) {
        delete static_cast<std::shared_ptr<const std::string>*>(cls);
      },
      owner);
}

MHD_Response* TextResponse(const std::string& text) {
  MHD_Response* r = BytesResponse(std::make_shared<const std::string>(text));
  MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header(r, "Cache-Control", kNoCache);
  AddCors(r);
  return r;
}

// The headers a representation is sent with, on a 200 and on a 304.
void AddRepresentationHeaders(MHD_Response* r, const Resource& resource,
                              const Representation& rep) {
  MHD_add_response_header(r, "ETag", rep.etag.c_str());
  MHD_add_response_header(r, "Cache-Control", CacheControl(resource));
  if (resource.negotiated) {
    MHD_add_response_header(r, "Vary", "Accept-Encoding");
  }
  AddCors(r);
}

struct Prepared {
  MHD_Response* ok = nullptr;
  MHD_Response* not_modified = nullptr;
};

// A tree with its responses made once, each queued by every request for it.
struct Installed {
  std::shared_ptr<const ServedTree> tree;
  std::unordered_map<const Representation*, Prepared> prepared;

  explicit Installed(std::shared_ptr<const ServedTree> t) : tree(std::move(t)) {
    for (const std::string& path : tree->Paths()) {
      const Resource& resource = *tree->Find(path);
      for (const Representation& rep : resource.representations) {
        Prepared p;
        p.ok = BytesResponse(rep.bytes);
        MHD_add_response_header(p.ok, "Content-Type",
                                resource.content_type.c_str());
        if (rep.coding != Coding::kIdentity) {
          MHD_add_response_header(p.ok, "Content-Encoding",
                                  std::string(CodingName(rep.coding)).c_str());
        }
        MHD_add_response_header(p.ok, "X-Content-Type-Options", "nosniff");
        AddRepresentationHeaders(p.ok, resource, rep);
        p.not_modified =
            MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
        AddRepresentationHeaders(p.not_modified, resource, rep);
        prepared.emplace(&rep, p);
      }
    }
  }
  ~Installed() {
    for (auto& [rep, p] : prepared) {
      MHD_destroy_response(p.ok);  // freed once no connection holds it
      MHD_destroy_response(p.not_modified);
    }
  }
  Installed(const Installed&) = delete;
  Installed& operator=(const Installed&) = delete;
};

}  // namespace

struct Server::State {
  Store* store = nullptr;
  ServeOptions options;
  MHD_Daemon* daemon = nullptr;
  int quiesced_socket = -1;

  std::mutex current_mutex;  // guards `current` (the pointer only)
  std::shared_ptr<const Installed> current;
  std::mutex rebuild_mutex;  // one rebuild at a time
  std::uint64_t failed_generation = 0;

  // The library's messages (one per malformed request, ...), at most
  // kLibraryLinesPerMinute a minute: a hostile client cannot fill the log.
  static constexpr int kLibraryLinesPerMinute = 20;
  std::mutex library_log_mutex;
  std::chrono::steady_clock::time_point library_log_window{};
  int library_log_lines = 0;
  int library_log_dropped = 0;

  MHD_Response* not_found = nullptr;
  MHD_Response* method_not_allowed = nullptr;
  MHD_Response* preflight = nullptr;
  MHD_Response* internal_error = nullptr;

  ~State() {
    if (daemon != nullptr) MHD_stop_daemon(daemon);
    if (quiesced_socket >= 0) close(quiesced_socket);
    for (MHD_Response* r :
         {not_found, method_not_allowed, preflight, internal_error}) {
      if (r != nullptr) MHD_destroy_response(r);
    }
  }

  void Warn(std::string_view message) const {
    if (options.warn) {
      options.warn(message);
    } else {
      std::cerr << "datasnap serve: warning: " << message << "\n";
    }
  }

  std::shared_ptr<const Installed> Load() {
    std::lock_guard lock(current_mutex);
    return current;
  }

  // The tree for a request: the installed one when it is as new as the
  // request's read transaction, else one rebuilt from that transaction.
  // When the store cannot be read or the tree not built, the last good
  // tree (a warning says why, once per store version).
  std::shared_ptr<const Installed> Current() {
    std::shared_ptr<const Installed> out;
    Status read = store->Read([&](const ReadTxn& txn) -> Status {
      const std::uint64_t generation = txn.TxnId();
      out = Load();
      if (out->tree->generation() >= generation) return {};
      std::lock_guard rebuilding(rebuild_mutex);
      out = Load();
      if (out->tree->generation() >= generation ||
          failed_generation == generation) {
        return {};
      }
      auto tree = BuildServedTree(txn, options.scope, out->tree.get());
      if (!tree) {
        failed_generation = generation;
        Warn("serving the store as it was before: " + tree.error().message);
        return {};
      }
      auto installed = std::make_shared<const Installed>(std::move(*tree));
      {
        std::lock_guard lock(current_mutex);
        current = installed;
      }
      out = std::move(installed);
      return {};
    });
    if (!read) Warn("cannot read the store: " + read.error().message);
    return out != nullptr ? out : Load();
  }

  MHD_Result Respond(MHD_Connection* c, const char* url, const char* method) {
    const bool get = std::strcmp(method, "GET") == 0;
    const bool head = std::strcmp(method, "HEAD") == 0;
    if (std::strcmp(method, "OPTIONS") == 0) {
      return MHD_queue_response(c, MHD_HTTP_NO_CONTENT, preflight);
    }
    if (!get && !head) {
      return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                method_not_allowed);
    }
    auto path = RequestPath(url);
    if (!path) {
      MHD_Response* r = TextResponse("bad request: " + path.error().message +
                                     "\n");
      const MHD_Result queued = MHD_queue_response(c, MHD_HTTP_BAD_REQUEST, r);
      MHD_destroy_response(r);
      return queued;
    }
    std::shared_ptr<const Installed> installed = Current();
    const Resource* resource = installed->tree->Find(*path);
    if (resource == nullptr) {
      return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, not_found);
    }
    if (const char* inm =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match")) {
      if (const Representation* match = MatchIfNoneMatch(*resource, inm)) {
        return MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED,
                                  installed->prepared.at(match).not_modified);
      }
    }
    const char* accept =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    const Representation& rep =
        ChooseRepresentation(*resource, accept != nullptr ? accept : "");
    return MHD_queue_response(c, MHD_HTTP_OK, installed->prepared.at(&rep).ok);
  }
};

namespace {

MHD_Result HandleRequest(void* cls, MHD_Connection* c, const char* url,
                         const char* method, const char* /*version*/,
                         const char* /*upload_data*/, size_t* upload_data_size,
                         void** con_cls) {
  // The library calls once with the headers, then with each piece of the
  // body, then once more: answering before the request is whole would
  // make it close the connection (no keep-alive). A body is discarded.
  static int headers_seen;
  if (*con_cls == nullptr) {
    *con_cls = &headers_seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  return static_cast<Server::State*>(cls)->Respond(c, url, method);
}

// Leaves the path as it came: RequestPath decodes it, refusing encoded NUL
// bytes that the library's decoding would cut the path at.
size_t KeepEscapes(void* /*cls*/, MHD_Connection* /*c*/, char* s) {
  return std::strlen(s);
}

void LogFromLibrary(void* cls, const char* fmt, va_list ap) {
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, ap);
  std::string_view text(line);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto* state = static_cast<Server::State*>(cls);
  std::lock_guard lock(state->library_log_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (now - state->library_log_window >= std::chrono::minutes(1)) {
    if (state->library_log_dropped > 0) {
      state->Warn(std::to_string(state->library_log_dropped) +
                  " more messages of the HTTP library in the last minute "
                  "were not logged");
    }
    state->library_log_window = now;
    state->library_log_lines = 0;
    state->library_log_dropped = 0;
  }
  if (state->library_log_lines >= Server::State::kLibraryLinesPerMinute) {
    ++state->library_log_dropped;
    return;
  }
  ++state->library_log_lines;
  state->Warn(text);
}

}  // namespace

Result<ListenAddress> ParseListen(std::string_view listen) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "--listen '" + std::string(listen) + "': " + why +
                    " (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)");
  };
  ListenAddress out;
  std::string_view host, port;
  if (!listen.empty() && listen.front() == '[') {
    const std::size_t close = listen.find("]:");
    if (close == std::string_view::npos) return bad("no ']:' after the IPv6 address");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
    out.ipv6 = true;
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  out.host = std::string(host);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1) {
    return bad("'" + out.host + "' is not an IP address");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port)) > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
  return out;
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Start(Store& store,
                                              const ServeOptions& options) {
  DS_TRY(address, ParseListen(options.listen));
  auto state = std::make_unique<State>();
  state->store = &store;
  state->options = options;

  DS_TRY(tree, store.Read([&](const ReadTxn& txn) {
    return BuildServedTree(txn, options.scope, nullptr);
  }));
  for (const std::string& w : (*tree)->summary().warnings) state->Warn(w);
  state->current = std::make_shared<const Installed>(std::move(*tree));

  state->not_found = TextResponse("not found\n");
  state->method_not_allowed =
      TextResponse("method not allowed: serve answers GET, HEAD and OPTIONS\n");
  MHD_add_response_header(state->method_not_allowed, "Allow", kAllow);
  state->preflight =
      MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  AddCors(state->preflight);
  MHD_add_response_header(state->preflight, "Allow", kAllow);
  MHD_add_response_header(state->preflight, "Access-Control-Allow-Methods",
                          kAllow);
  MHD_add_response_header(state->preflight, "Access-Control-Allow-Headers",
                          "If-None-Match, Cache-Control");
  MHD_add_response_header(state->preflight, "Access-Control-Max-Age", "86400");

  sockaddr_storage addr{};
  if (address->ipv6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(address->port);
    inet_pton(AF_INET6, address->host.c_str(), &a6->sin6_addr);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(address->port);
    inet_pton(AF_INET, address->host.c_str(), &a4->sin_addr);
  }
  unsigned threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG;
  if (address->ipv6) flags |= MHD_USE_IPv6;
  State* raw = state.get();
  state->daemon = MHD_start_daemon(
      // The port again only for the library's messages (SOCK_ADDR rules).
      flags, address->port, nullptr, nullptr, &HandleRequest, raw,
      MHD_OPTION_EXTERNAL_LOGGER, &LogFromLibrary, raw,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
      MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, options.max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, options.timeout_seconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory,
      MHD_OPTION_UNESCAPE_CALLBACK, &KeepEscapes, nullptr,
      MHD_OPTION_END);
  if (state->daemon == nullptr) {
    return Fail(ErrorCode::kIo,
                "cannot listen on " + options.listen + ": " +
                    std::strerror(errno) +
                    " (is another server on that port? --listen HOST:PORT "
                    "picks another)");
  }
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

std::uint16_t Server::port() const {
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(state_->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info != nullptr ? info->port : 0;
}

std::size_t Server::files() const { return state_->Load()->tree->size(); }

void Server::Drain(std::chrono::milliseconds grace) {
  if (state_->quiesced_socket < 0) {
    state_->quiesced_socket = MHD_quiesce_daemon(state_->daemon);
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    const MHD_DaemonInfo* info = MHD_get_daemon_info(
        state_->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (info == nullptr || info->num_connections == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace datasnap
