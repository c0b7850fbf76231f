// Replays every fuzz target (tests/fuzz/*_fuzz.cc) over its seed corpus
// (tests/fuzz/corpus/<target>/) and its regressions
// (tests/fuzz/regressions/<target>/: minimised inputs that once crashed), so
// the plain GCC build, and --config=asan / --config=ubsan, check them too.
// A target signals a broken invariant with abort(). Each input runs in a
// child process, so one failure fails this test naming the file and the
// others still run; the child's message on stderr says which invariant.
#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

extern "C" int datasnap_fuzz_nhs_dd_extract(const std::uint8_t*, std::size_t);
extern "C" int datasnap_fuzz_rcpch_transform(const std::uint8_t*, std::size_t);
extern "C" int datasnap_fuzz_user_list(const std::uint8_t*, std::size_t);

namespace {

namespace fs = std::filesystem;
using Entry = int (*)(const std::uint8_t*, std::size_t);

// The files of tests/fuzz/<kind>/<target>/ in name order; none if absent.
std::vector<fs::path> Inputs(const std::string& kind,
                             const std::string& target) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path("tests/fuzz") / kind / target;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::size_t Replay(const std::string& target, Entry entry) {
  std::size_t runs = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const fs::path& file : Inputs(kind, target)) {
      const std::string bytes = ReadFile(file);
      std::fflush(nullptr);
      const pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        // Catch's handlers would report the child's abort() as a second
        // test run; the parent reports it instead.
        for (int sig : {SIGABRT, SIGSEGV, SIGFPE, SIGILL, SIGBUS}) {
          std::signal(sig, SIG_DFL);
        }
        // A copy of exactly the input's size, as libFuzzer passes it, so
        // sanitizers catch reads past the end.
        std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
        const int rc = entry(copy.data(), copy.size());
        std::fflush(nullptr);
        _exit(rc == 0 ? 0 : 3);
      }
      int status = 0;
      REQUIRE(waitpid(pid, &status, 0) == pid);
      INFO(target << " on " << file.string()
                  << (WIFSIGNALED(status)
                          ? " died of signal " + std::to_string(WTERMSIG(status))
                          : " exited " + std::to_string(WEXITSTATUS(status))));
      const bool passed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      CHECK(passed);
      ++runs;
    }
  }
  return runs;
}

}  // namespace

TEST_CASE("nhs_dd_extract fuzz target replays its corpus and regressions") {
  CHECK(Replay("nhs_dd_extract", datasnap_fuzz_nhs_dd_extract) >= 5);
}

TEST_CASE("rcpch_transform fuzz target replays its corpus and regressions") {
  CHECK(Replay("rcpch_transform", datasnap_fuzz_rcpch_transform) >= 7);
}

TEST_CASE("user_list fuzz target replays its corpus and regressions") {
  CHECK(Replay("user_list", datasnap_fuzz_user_list) >= 3);
}

TEST_CASE("fuzz targets accept the empty input") {
  for (Entry e : {datasnap_fuzz_nhs_dd_extract, datasnap_fuzz_rcpch_transform,
                  datasnap_fuzz_user_list}) {
    const std::uint8_t none = 0;
    CHECK(e(&none, 0) == 0);
  }
}
