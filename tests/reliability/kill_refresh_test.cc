// `datasnap refresh` killed with SIGKILL at random points, 24 times: the
// store always opens, every earlier version is intact (its options hash to
// its recorded SHA-256 and agree with a reference run without kills), what
// the killed run wrote is whole versions of the content it was served, and
// the next refresh completes with exactly what the reference run stored.
//
// Each trial serves new content (variant i of the fixtures marks every
// label), so the killed refresh is writing new versions. Kill delays come
// from a seeded PRNG: even trials kill at a random point from the start
// (seeding, planning, fetching, committing), odd trials at a random point
// after the upstream has served the last response (the commits). Nothing is
// asserted about where a kill lands; the landing points are reported.
#include <signal.h>

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "tests/reliability/reliability_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap::reliability {
namespace {

constexpr int kTrials = 24;
constexpr std::size_t kDatasets = 55;

TEST_CASE("refresh killed with SIGKILL at random points never loses or "
          "damages a version, and the next refresh completes") {
  testing::TempDir dir;
  Upstream upstream;
  auto& server = upstream.server();

  // What a run without kills stores for each variant.
  const Reference reference =
      BuildReference(upstream, dir.File("reference.lmdb"), kTrials);
  REQUIRE(reference[0].size() == kDatasets);
  for (int k = 1; k < kTrials; ++k) {
    // Most datasets get a new version from each variant, so a kill lands
    // while new versions are being written.
    std::size_t changed = 0;
    for (const auto& [key, shas] : reference[k]) {
      changed += shas.size() > reference[k - 1].at(key).size();
    }
    INFO("variant " << k);
    REQUIRE(changed >= kDatasets * 3 / 4);
  }

  const std::string store = dir.File("store.lmdb");
  std::mt19937 prng(20260508);
  int killed = 0, finished_first = 0, mid_commit = 0, before_commit = 0;
  Snapshot before;  // the store as the previous trial left it
  for (int i = 0; i < kTrials; ++i) {
    INFO("trial " << i);
    upstream.SetVariant(i);
    server.SetLatency(milliseconds(20));
    const std::size_t served_before = server.RequestCount();

    auto run = StartDatasnap(upstream, store, {"refresh", "--force"});
    if (i % 2 == 0) {
      std::uniform_int_distribution<int> delay_ms(0, 800);
      std::this_thread::sleep_for(milliseconds(delay_ms(prng)));
    } else {
      // After the last response has been served: the commits.
      const auto deadline = Clock::now() + seconds(30);
      while (server.RequestCount() < served_before + kDatasets &&
             !run->Exited() && Clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(1));
      }
      std::uniform_int_distribution<int> delay_us(0, 60'000);
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(prng)));
    }
    run->Kill(SIGKILL);
    const int code = run->Wait(seconds(30));
    INFO(run->Describe());
    REQUIRE((code == -SIGKILL || code == 0));
    (code == -SIGKILL ? killed : finished_first)++;

    // The store opens, every version in it is whole, and every earlier
    // version is as it was.
    const Snapshot after = TakeSnapshot(store);
    INFO("after the kill: " << after.Problems());
    REQUIRE(after.problems.empty());
    INFO("earlier versions: " << EarlierVersionsIntact(before, after));
    REQUIRE(EarlierVersionsIntact(before, after).empty());
    // Each dataset is as the previous trial left it, or as this trial's
    // refresh leaves it: whole versions of what was served.
    std::size_t advanced = 0, changing = 0;
    for (const auto& [key, want] : reference[i]) {
      static const std::vector<std::string> none;
      const auto& previous = i == 0 ? none : reference[i - 1].at(key);
      const auto it = after.versions.find(key);
      std::vector<std::string> got;
      if (it != after.versions.end()) {
        for (const auto& v : it->second) got.push_back(v.sha);
      }
      INFO(key << " has " << got.size() << " versions");
      CHECK((got == previous || got == want));
      changing += want != previous;
      advanced += want != previous && got == want;
    }
    if (advanced > 0 && advanced < changing) ++mid_commit;
    if (advanced == 0) ++before_commit;
    // A writer may open it: the killed one's writer lock is gone.
    {
      const std::string problem = OpensReadWrite(store);
      INFO(problem);
      REQUIRE(problem.empty());
    }

    // The next refresh completes and stores what the reference run did.
    server.SetLatency(milliseconds(0));
    auto next = RunDatasnap(upstream, store, {"refresh", "--force"});
    INFO("next refresh: " << next->Describe());
    REQUIRE(next->Wait(seconds(0)) == 0);
    const Snapshot done = TakeSnapshot(store);
    INFO("after the next refresh: " << done.Problems());
    REQUIRE(done.problems.empty());
    INFO(EarlierVersionsIntact(after, done));
    REQUIRE(EarlierVersionsIntact(after, done).empty());
    const std::string diff = SameShas(done.Shas(), reference[i]);
    INFO("against the reference run: " << diff);
    REQUIRE(diff.empty());
    before = done;
  }
  WARN(kTrials << " trials: " << killed << " killed, " << finished_first
               << " finished before the kill; " << mid_commit
               << " killed between commits, " << before_commit
               << " before the first commit");
  CHECK(killed + finished_first == kTrials);
}

}  // namespace
}  // namespace datasnap::reliability
