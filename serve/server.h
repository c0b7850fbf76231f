// `datasnap serve`'s HTTP server: the export tree of a store (served_tree.h)
// over HTTP/1.1, read-only, on GNU libmicrohttpd (a thread pool, each
// thread polling with epoll).
//
//   ServeOptions options;
//   options.listen = "127.0.0.1:0";                 // any free port
//   auto server = Server::Start(*store, options);   // store opened read-only
//   ... (*server)->port() ...
//   (*server)->Drain(std::chrono::seconds(5));      // then destroy it
//
// Each request reads the store in its own read transaction, so a version a
// writer commits is served from the next request on, whole: the tree is
// rebuilt when the transaction's id differs from the tree's (LMDB's id
// grows with every write), reusing the compressed bytes of the tree before.
// Requests never write and never block the writer. docs/SERVING.md describes
// the paths, headers, limits and errors.
#ifndef DATASNAP_SERVE_SERVER_H_
#define DATASNAP_SERVE_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "serve/served_tree.h"
#include "store/store.h"

namespace datasnap {

struct ServeOptions {
  // "HOST:PORT": an IPv4 address, "[IPv6]" or "localhost"; port 0 picks a
  // free one. Default: 127.0.0.1:8080.
  std::string listen = "127.0.0.1:8080";
  ServeScope scope;
  // Threads answering requests. Default: 0, one per CPU.
  unsigned threads = 0;
  // Connections at once; more are not accepted (they wait in the kernel's
  // listen backlog) until one closes. Default: 1024.
  unsigned max_connections = 1024;
  // A connection idle (or sending its request) this long is closed: slow
  // clients cannot hold one. Default: 30 s.
  unsigned timeout_seconds = 30;
  // Memory per connection, which bounds the request line and headers (a
  // longer request line is answered 414, longer headers 431). Default:
  // 32 KiB.
  std::size_t connection_memory = std::size_t{32} << 10;
  // Where warnings go (a tree that failed to build, and why). Default:
  // standard error.
  std::function<void(std::string_view)> warn;
};

// "HOST:PORT" split; kInvalidArgument names what is wrong.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  bool ipv6 = false;
};
Result<ListenAddress> ParseListen(std::string_view listen);

class Server {
 public:
  // Builds the tree (failing when the store cannot be read) and starts
  // listening. `store` must outlive the server.
  static Result<std::unique_ptr<Server>> Start(Store& store,
                                               const ServeOptions& options);
  ~Server();  // stops at once: open connections are closed
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  // Files of the current tree.
  std::size_t files() const;
  // Stops accepting connections, then waits until the open ones have
  // finished or `grace` has passed.
  void Drain(std::chrono::milliseconds grace);

  struct State;  // private to server.cc

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace datasnap

#endif  // DATASNAP_SERVE_SERVER_H_
