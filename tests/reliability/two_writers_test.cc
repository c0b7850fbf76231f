// Two `datasnap refresh` processes at once. The first is stopped (SIGSTOP)
// while it holds the writer lock, in the middle of its fetches, so the
// second always finds the store busy: with --wait-for-writer 0 it fails at
// once, exit 75 (EX_TEMPFAIL: retry later), with the writer-lock message naming the first (its pid and what it
// is doing) and writes nothing; with a long --wait-for-writer it waits and
// runs after the first, whether the first finishes or is killed. The store
// ends as a run without contention leaves it.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <string>

#include "tests/reliability/reliability_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap::reliability {
namespace {

constexpr std::size_t kDatasets = 55;

// Starts `refresh --force` and stops it once it holds the writer lock and
// is waiting for the upstream (whose latency keeps it there); nullptr if it
// finished first (then the caller tries again with more latency).
std::unique_ptr<Child> StartAndStopHolder(Upstream& upstream,
                                          const std::string& store,
                                          milliseconds latency) {
  auto& server = upstream.server();
  server.SetLatency(latency);
  const std::size_t served = server.RequestCount();
  auto holder = StartDatasnap(upstream, store, {"refresh", "--force"});
  const auto deadline = Clock::now() + seconds(30);
  while (server.RequestCount() == served && !holder->Exited() &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  holder->Kill(SIGSTOP);
  siginfo_t info{};
  // WNOWAIT: an exit stays for Child to reap.
  if (waitid(P_PID, holder->pid(), &info, WSTOPPED | WEXITED | WNOWAIT) != 0 ||
      info.si_code != CLD_STOPPED) {
    holder->Wait(seconds(30));
    return nullptr;
  }
  // Stopped mid-fetch: it holds the writer lock and says so.
  const std::string who = testing::ReadFile(store + "-writer");
  if (!Contains(who, "pid " + std::to_string(holder->pid()) + ",")) {
    holder->Kill(SIGCONT);
    holder->Wait(seconds(60));
    return nullptr;
  }
  return holder;
}

TEST_CASE("a second writer fails with the writer-lock message or waits; no "
          "corruption") {
  testing::TempDir dir;
  Upstream upstream;
  auto& server = upstream.server();
  const Reference reference =
      BuildReference(upstream, dir.File("reference.lmdb"), 2);
  upstream.SetVariant(0);

  const std::string store = dir.File("store.lmdb");
  {
    auto first = RunDatasnap(upstream, store, {"refresh"});
    INFO(first->Describe());
    REQUIRE(first->Wait(seconds(0)) == 0);
  }
  const Snapshot before = TakeSnapshot(store);
  REQUIRE(before.problems.empty());
  REQUIRE(SameShas(before.Shas(), reference[0]).empty());
  upstream.SetVariant(1);
  std::size_t changed = 0;  // datasets variant 1 gives a new version
  for (const auto& [key, shas] : reference[1]) {
    changed += shas.size() > reference[0].at(key).size();
  }
  REQUIRE(changed > 0);
  const std::string holder_counts =
      "0 new, " + std::to_string(changed) + " updated, " +
      std::to_string(kDatasets - changed) + " unchanged";

  std::unique_ptr<Child> holder;
  for (int attempt = 0; attempt < 3 && !holder; ++attempt) {
    holder = StartAndStopHolder(upstream, store, milliseconds(1000 << attempt));
  }
  REQUIRE(holder != nullptr);
  const std::string holder_pid = "pid " + std::to_string(holder->pid());

  // A second writer that will not wait fails at once, naming the holder.
  auto busy = RunDatasnap(upstream, store,
                          {"--wait-for-writer", "0", "refresh", "--force"});
  {
    INFO(busy->Describe());
    // Nothing ran, and a later try will: exit 75 (EX_TEMPFAIL).
    CHECK(busy->Wait(seconds(0)) == 75);
    CHECK(Contains(busy->err(), "datasnap: error: "));
    CHECK(Contains(busy->err(), store));
    CHECK(Contains(busy->err(),
                   "the store is being written by another process (" +
                       holder_pid + ", tester: datasnap refresh, since "));
    CHECK(Contains(busy->err(), "wait for it to finish, or allow more time "
                                "with --wait-for-writer SECONDS"));
    CHECK_FALSE(Contains(busy->out(), "Refreshing"));
  }
  // A read-only reader is not kept out, and nothing was written.
  {
    const Snapshot during = TakeSnapshot(store);
    INFO(during.Problems());
    CHECK(during.problems.empty());
    CHECK(EarlierVersionsIntact(before, during).empty());
    CHECK(SameShas(during.Shas(), reference[0]).empty());
  }

  // A writer that waits gets the store after the holder.
  auto waiter = StartDatasnap(
      upstream, store, {"--wait-for-writer", "60", "refresh", "--force"});

  SECTION("the holder finishes; the waiter runs after it") {
    server.SetLatency(milliseconds(0));
    holder->Kill(SIGCONT);
    const int holder_code = holder->Wait(seconds(60));
    INFO("holder: " << holder->Describe());
    CHECK(holder_code == 0);
    CHECK(Contains(holder->out(), holder_counts));
    const int waiter_code = waiter->Wait(seconds(60));
    INFO("waiter: " << waiter->Describe());
    CHECK(waiter_code == 0);
    // It planned after the holder committed: nothing left to update.
    CHECK(Contains(waiter->out(), "0 new, 0 updated, " +
                                      std::to_string(kDatasets) +
                                      " unchanged"));
  }
  SECTION("the holder is killed; the waiter takes over") {
    holder->Kill(SIGKILL);
    holder->Kill(SIGCONT);
    CHECK(holder->Wait(seconds(30)) == -SIGKILL);
    server.SetLatency(milliseconds(0));
    const int waiter_code = waiter->Wait(seconds(60));
    INFO("waiter: " << waiter->Describe());
    CHECK(waiter_code == 0);
    CHECK(Contains(waiter->out(), holder_counts));
  }

  const Snapshot after = TakeSnapshot(store);
  INFO(after.Problems());
  REQUIRE(after.problems.empty());
  CHECK(EarlierVersionsIntact(before, after).empty());
  INFO(SameShas(after.Shas(), reference[1]));
  CHECK(SameShas(after.Shas(), reference[1]).empty());
  CHECK(OpensReadWrite(store).empty());
}

}  // namespace
}  // namespace datasnap::reliability
