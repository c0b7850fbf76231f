// datasnap serve: the export tree over HTTP, from the store (serve/).
#include <pthread.h>
#include <signal.h>

#include <ostream>

#include "core/model.h"
#include "serve/server.h"
#include "tools/commands.h"

namespace datasnap {

int RunServe(Context& ctx, const CommandArgs& args) {
  if (!args.org.empty()) {
    if (auto valid = ValidateKey(args.org); !valid) {
      ctx.ReportError(Error{ErrorCode::kInvalidArgument,
                            "--org '" + args.org + "' is not an organisation "
                            "name (" + valid.error().message + ")"});
      return kExitUsage;
    }
  }
  auto address = ParseListen(args.listen);
  if (!address) {
    ctx.ReportError(address.error());
    return kExitUsage;
  }
  auto store = ctx.OpenStore(/*read_only=*/true);
  if (!store) return ctx.ReportError(store.error());

  ServeOptions options;
  options.listen = args.listen;
  if (!args.org.empty()) options.scope.organization = args.org;
  options.scope.all_versions = args.all_versions;
  options.scope.fhir = args.fhir;
  options.scope.retain_bytes = args.cache_mb << 20;
  options.threads = args.threads;
  options.max_connections = args.max_connections;
  options.timeout_seconds = args.idle_timeout;
  std::ostream& err = ctx.err;
  options.warn = [&err](std::string_view message) {
    err << "datasnap serve: warning: " << message << "\n" << std::flush;
  };

  // SIGTERM and SIGINT are taken by this thread (sigwait) and by no
  // server thread: block them before the server starts its threads, which
  // inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = Server::Start(**store, options);
  if (!server) {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return ctx.ReportError(server.error());
  }
  const std::string host =
      address->ipv6 ? "[" + address->host + "]" : address->host;
  const std::string url =
      "http://" + host + ":" + std::to_string((*server)->port()) + "/";
  ctx.out << url << "\n" << std::flush;
  ctx.err << "datasnap serve: serving " << (*store)->path() << " at " << url
          << " (" << (*server)->files() << " paths"
          << (args.org.empty() ? "" : ", orgs/" + args.org + "/ only")
          << "); SIGTERM or Ctrl-C stops it\n" << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  ctx.err << "datasnap serve: "
          << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
          << ": draining connections (at most 5 s)\n" << std::flush;
  (*server)->Drain(std::chrono::seconds(5));
  server->reset();
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  ctx.err << "datasnap serve: stopped\n";
  return kExitOk;
}

}  // namespace datasnap
