// A reader in another process reads every dataset's current options in a
// loop (Store::Open read-only, ReadTxn::GetDataset / GetVersion) while the
// datasnap binary refreshes the store with new content nine times, one of
// those refreshes killed with SIGKILL. Every snapshot it sees is whole: the
// dataset record agrees with its current version and the options hash to
// the recorded SHA-256; versions never go back; and every (key, version)
// it saw has, at the end, the options it saw.
//
// The reader is forked before this process starts any thread (the fake
// upstream) or opens any store, and reports through a shared page and a
// file, never through Catch2.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <new>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include "tests/reliability/reliability_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap::reliability {
namespace {

struct Shared {
  std::atomic<int> go{0};    // parent: the store exists, start reading
  std::atomic<int> done{0};  // parent: no more writes
  std::atomic<int> reads{0};
  char message[2048] = {};
};

int ReaderMain(Shared* s, const std::string& store, const std::string& log) {
  auto say = [s](const std::string& text) {
    std::snprintf(s->message, sizeof s->message, "%s", text.c_str());
  };
  const auto deadline = Clock::now() + seconds(90);
  while (s->go.load() == 0) {
    if (Clock::now() > deadline || s->done.load() != 0) {
      say("never told to start");
      return 3;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  StoreOptions ro;
  ro.read_only = true;
  auto opened = Store::Open(store, ro);
  if (!opened) {
    say("read-only open: " + opened.error().message);
    return 2;
  }
  Store& reader = **opened;
  std::map<std::string, std::uint32_t> last;
  std::set<std::tuple<std::string, std::uint32_t, std::string>> seen;
  for (;;) {
    const bool final_read = s->done.load() != 0;
    auto problem = reader.Read([&](const ReadTxn& txn) -> Result<std::string> {
      DS_TRY(all, txn.ListDatasets());
      if (all->empty()) return std::string("no datasets");
      for (const DatasetRecord& listed : *all) {
        const std::string& key = listed.dataset.key;
        DS_TRY(dataset, txn.GetDataset(key));
        if (!*dataset) return "dataset " + key + " vanished";
        const SyncState& sync = (*dataset)->sync;
        DS_TRY(current, txn.GetVersion(key, 0));
        if (!*current) {
          if (sync.version != 0) return key + ": no current version";
          continue;
        }
        const VersionRecord& v = **current;
        const std::string at = key + " v" + std::to_string(v.version) + ": ";
        if (sync.version != v.version) return at + "dataset says another version";
        if (sync.options_sha256 != v.options_sha256) return at + "SHA-256 differs";
        if (v.options.size() != v.option_count || v.options.size() == 0) {
          return at + "partial options";
        }
        if (OptionsSha256(v.options) != v.options_sha256) {
          return at + "options do not hash to options_sha256";
        }
        if (v.version < last[key]) return at + "went back";
        last[key] = v.version;
        seen.emplace(key, v.version, v.options_sha256);
      }
      return std::string();
    });
    s->reads++;
    if (!problem) {
      say("read: " + problem.error().message);
      return 1;
    }
    if (!problem->empty()) {
      say(*problem);
      return 1;
    }
    if (final_read) break;
    if (Clock::now() > deadline) {
      say("the writers never finished");
      return 3;
    }
  }
  std::ofstream out(log);
  for (const auto& [key, version, sha] : seen) {
    out << key << " " << version << " " << sha << "\n";
  }
  return out.good() ? 0 : 4;
}

TEST_CASE("a reader in another process sees only whole versions while "
          "refreshes write, and one is killed") {
  constexpr int kRefreshes = 10;
  testing::TempDir dir;
  const std::string store = dir.File("store.lmdb");
  const std::string log = dir.File("seen.txt");
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(page != MAP_FAILED);
  Shared* shared = new (page) Shared();

  std::fflush(nullptr);
  const pid_t reader = fork();
  REQUIRE(reader >= 0);
  if (reader == 0) {
    int code = 100;
    try {
      code = ReaderMain(shared, store, log);
    } catch (...) {
      code = 101;
    }
    _exit(code);
  }

  int reader_status = -1;
  auto wait_reader = [&] {
    const auto deadline = Clock::now() + seconds(120);
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(reader, &status, WNOHANG);
      if (r == reader) break;
      if (Clock::now() > deadline) {
        kill(reader, SIGKILL);
        waitpid(reader, &status, 0);
        return 999;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  };

  std::size_t last_versions = 0;
  {
    Upstream upstream;
    auto& server = upstream.server();
    auto first = RunDatasnap(upstream, store, {"refresh"});
    if (first->Wait(seconds(0)) != 0) {
      shared->done = 1;
      wait_reader();
      INFO(first->Describe());
      FAIL("the first refresh failed");
    }
    shared->go = 1;
    // Its first read sees version 1 of everything.
    const auto deadline = Clock::now() + seconds(60);
    while (shared->reads.load() == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    std::mt19937 prng(8);
    for (int k = 1; k < kRefreshes; ++k) {
      upstream.SetVariant(k);
      server.SetLatency(milliseconds(k == 5 ? 10 : 0));
      if (k == 5) {
        // Killed at a random point, then run again.
        auto doomed = StartDatasnap(upstream, store, {"refresh", "--force"});
        std::uniform_int_distribution<int> delay_ms(0, 400);
        std::this_thread::sleep_for(milliseconds(delay_ms(prng)));
        doomed->Kill(SIGKILL);
        doomed->Wait(seconds(30));
        server.SetLatency(milliseconds(0));
      }
      auto run = RunDatasnap(upstream, store, {"refresh", "--force"});
      if (run->Wait(seconds(0)) != 0) {
        shared->done = 1;
        wait_reader();
        INFO(run->Describe());
        FAIL("refresh of variant " << k << " failed");
      }
    }
    shared->done = 1;
    reader_status = wait_reader();
  }
  INFO("reader: " << shared->message << " after " << shared->reads.load()
                  << " reads");
  REQUIRE(reader_status == 0);
  CHECK(shared->reads.load() >= 2);

  // Everything the reader saw is what the store keeps for that version.
  const Snapshot final_state = TakeSnapshot(store);
  INFO(final_state.Problems());
  REQUIRE(final_state.problems.empty());
  std::ifstream in(log);
  std::string key, sha;
  std::uint32_t version = 0;
  std::size_t checked = 0;
  std::map<std::string, std::set<std::uint32_t>> versions_seen;
  while (in >> key >> version >> sha) {
    ++checked;
    versions_seen[key].insert(version);
    const auto it = final_state.versions.find(key);
    REQUIRE(it != final_state.versions.end());
    REQUIRE(version >= 1);
    REQUIRE(version <= it->second.size());
    INFO(key << " v" << version);
    CHECK(it->second[version - 1].sha == sha);
  }
  CHECK(checked >= 55);
  // Its first read saw version 1, its last the final version.
  for (const auto& [k, vs] : final_state.versions) {
    INFO(k);
    CHECK(versions_seen[k].count(1) == 1);
    CHECK(versions_seen[k].count(static_cast<std::uint32_t>(vs.size())) == 1);
    last_versions = std::max(last_versions, vs.size());
  }
  CHECK(last_versions >= 2);
  munmap(page, sizeof(Shared));
}

}  // namespace
}  // namespace datasnap::reliability
