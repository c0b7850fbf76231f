// fake_upstream: serves a directory on 127.0.0.1 like the test upstream
// server does, for benchmarks and manual checks. Prints the base URL on
// stdout, then serves until SIGINT or SIGTERM.
//
//   fake_upstream --root DIR [--port N] [--latency-ms L]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "tests/support/fake_upstream.h"

int main(int argc, char** argv) {
  CLI::App app{"Fake upstream HTTP server on 127.0.0.1 (tests, benchmarks)"};
  std::string root;
  int port = 0;
  int latency_ms = 0;
  app.add_option("--root", root, "Directory to serve")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--port", port, "Port on 127.0.0.1 (0: any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--latency-ms", latency_ms, "Delay added to every response")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  // Block the signals in every thread (the server's threads inherit the
  // mask), then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  datasnap::testing::FakeUpstreamOptions options;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(root, ec);
  options.root = ec ? root : absolute.string();
  while (options.root.size() > 1 && options.root.back() == '/') {
    options.root.pop_back();
  }
  options.port = static_cast<std::uint16_t>(port);
  options.latency = std::chrono::milliseconds(latency_ms);
  try {
    datasnap::testing::FakeUpstreamServer server(options);
    std::cout << server.base_url() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "fake_upstream: signal " << received << ", stopping\n";
    server.Stop();
  } catch (const std::exception& e) {
    std::cerr << "fake_upstream: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
