// Tests of the store with several processes and threads: readers never see
// part of a write, a reader can open while a writer works, writers exclude
// each other, and a writer that dies frees the store.
//
// LMDB environments must not cross fork(): every child here opens its own
// Store after the fork and never touches one its parent opened. Children
// report through exit codes and a shared memory page, never through Catch2.
// Every wait is bounded.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/canonical_json.h"
#include "core/model.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"
#include "tests/support/temp_dir.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using testing::Commit;
using testing::Describe;
using testing::FakeClock;
using testing::GetVersion;
using testing::MakeDataset;
using testing::MakeOptions;
using testing::Must;
using testing::MustFail;
using testing::MustOpen;
using testing::OptionsWith;
using testing::TempDir;
using testing::Upsert;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kMiB = std::size_t{1} << 20;

// A page shared between a parent and its children (MAP_SHARED survives
// fork). Lock-free atomics work across processes.
struct Shared {
  std::atomic<int> ready{0};     // child: "I have opened the store"
  std::atomic<int> go{0};        // parent: "go on"
  std::atomic<int> done{0};      // parent: "I have finished writing"
  std::atomic<int> reads{0};     // child: snapshots checked
  std::atomic<int> versions_seen{0};
  std::atomic<int> last_version{0};
  std::atomic<long> waited_ms{0};
  // CLOCK_MONOTONIC readings, comparable across processes.
  std::atomic<long long> parent_closing_ns{0};
  std::atomic<long long> child_opened_ns{0};
  char message[2048] = {};       // child: what went wrong
};

class SharedPage {
 public:
  SharedPage() {
    void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    shared_ = new (p) Shared();
  }
  ~SharedPage() { munmap(shared_, sizeof(Shared)); }
  Shared* operator->() const { return shared_; }
  Shared* get() const { return shared_; }

 private:
  Shared* shared_;
};

void Say(Shared* shared, const std::string& text) {
  std::snprintf(shared->message, sizeof shared->message, "%s", text.c_str());
}

// Waits until `flag` is set or `limit` passes; true if it was set.
bool WaitFor(const std::atomic<int>& flag, Clock::duration limit) {
  const auto deadline = Clock::now() + limit;
  while (flag.load() == 0) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// Runs `body` in a child process, which exits with its return value.
pid_t StartChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
      code = 101;
    }
    _exit(code);  // no destructors, no atexit: nothing of the parent's runs
  }
  return pid;
}

// The child's exit code; -signal if it was killed; kills it and returns
// 999 if it has not finished within `limit`.
int WaitChild(pid_t pid, Clock::duration limit) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return 998;
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return 999;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return 997;
}

std::string Marker(std::uint32_t version) {
  return "[v" + std::to_string(version) + "]";
}

// Version N of the test list: `count` options whose labels all say [vN].
OptionList VersionOptions(std::uint32_t version, std::size_t count) {
  return MakeOptions(count, Marker(version), version % 7);
}

// Checks that one snapshot of `key` is whole: the dataset record and its
// current version agree, the options hash to the recorded SHA-256, and
// every label carries the version's own marker. Returns "" or the problem;
// sets `version` to the version seen.
std::string CheckSnapshot(const ReadTxn& txn, const std::string& key,
                          std::uint32_t& version) {
  auto dataset = txn.GetDataset(key);
  if (!dataset) return "GetDataset: " + Describe(dataset.error());
  if (!*dataset) return "no dataset '" + key + "'";
  auto record = txn.GetVersion(key, 0);
  if (!record) return "GetVersion: " + Describe(record.error());
  if (!*record) return "no current version of '" + key + "'";
  const VersionRecord& v = **record;
  const SyncState& sync = (*dataset)->sync;
  version = v.version;
  const std::string at = " at version " + std::to_string(v.version);
  if (sync.version != v.version) {
    return "dataset record says version " + std::to_string(sync.version) + at;
  }
  if (sync.options_sha256 != v.options_sha256) {
    return "dataset and version disagree on the SHA-256" + at;
  }
  if (sync.option_count != v.option_count) {
    return "dataset and version disagree on the option count" + at;
  }
  if (v.options.size() != v.option_count) {
    return "option_count " + std::to_string(v.option_count) + " but " +
           std::to_string(v.options.size()) + " options" + at;
  }
  if (OptionsSha256(v.options) != v.options_sha256) {
    return "options do not hash to options_sha256" + at;
  }
  const std::string marker = Marker(v.version);
  for (const Option& o : v.options.options()) {
    if (o.label.find(marker) == std::string::npos) {
      return "label '" + o.label + "' lacks " + marker + at;
    }
  }
  return "";
}

// Runs CheckSnapshot in a read transaction of `store`.
std::string CheckStore(Store& store, const std::string& key,
                       std::uint32_t& version) {
  const auto problem = store.Read([&](const ReadTxn& txn) -> Result<std::string> {
    return CheckSnapshot(txn, key, version);
  });
  return problem ? *problem : "Read: " + Describe(problem.error());
}

// Creates the store at `path` with dataset `key` at version 1, and closes it.
void CreateStore(const std::string& path, const std::string& key,
                 std::size_t option_count, std::size_t initial_map_size) {
  FakeClock clock;
  StoreOptions options = OptionsWith(clock, "datasnap creator");
  options.initial_map_size = initial_map_size;
  auto store = MustOpen(path, options);
  Upsert(*store, MakeDataset(key));
  REQUIRE(Commit(*store, key, VersionOptions(1, option_count)).version == 1);
}

// ----------------------------------------------------------------- Tests

TEST_CASE("The snapshot check notices labels of another version") {
  // The readers below are only as good as CheckSnapshot: make sure it can
  // fail.
  TempDir dir;
  const std::string path = dir.File("s.lmdb");
  CreateStore(path, "k", 10, 1 * kMiB);
  FakeClock clock;
  auto store = MustOpen(path, OptionsWith(clock));
  std::uint32_t version = 0;
  CHECK(CheckStore(*store, "k", version) == "");
  CHECK(version == 1);
  Commit(*store, "k", VersionOptions(5, 10));  // stored as version 2
  CHECK_THAT(CheckStore(*store, "k", version), Contains("lacks [v2]"));
  CHECK(version == 2);
  CHECK_THAT(CheckStore(*store, "missing", version), Contains("no dataset"));
}

TEST_CASE("Another process opens read-only and reads while a writer holds "
          "the store, and cannot write") {
  TempDir dir;
  const std::string path = dir.File("s.lmdb");
  SharedPage shared;
  FakeClock clock;
  auto writer = MustOpen(path, OptionsWith(clock, "datasnap holder"));
  Upsert(*writer, MakeDataset("k"));
  Commit(*writer, "k", VersionOptions(1, 50));
  const pid_t parent = getpid();

  const pid_t child = StartChild([&]() -> int {
    Shared* s = shared.get();
    StoreOptions ro;
    ro.read_only = true;
    auto reader = Store::Open(path, ro);
    if (!reader) {
      Say(s, "read-only open: " + Describe(reader.error()));
      return 1;
    }
    std::uint32_t version = 0;
    const std::string problem = CheckStore(**reader, "k", version);
    if (!problem.empty() || version != 1) {
      Say(s, "read: " + problem + " (version " + std::to_string(version) + ")");
      return 2;
    }
    // A read-write open from here is refused and names the parent.
    StoreOptions rw;
    rw.actor = "datasnap intruder";
    auto second = Store::Open(path, rw);
    if (second) {
      Say(s, "a second writer got in");
      return 3;
    }
    const std::string busy = second.error().message;
    if (second.error().code != ErrorCode::kBusy ||
        busy.find("pid " + std::to_string(parent)) == std::string::npos ||
        busy.find("datasnap holder") == std::string::npos) {
      Say(s, "second writer: " + Describe(second.error()));
      return 4;
    }
    return 0;
  });
  const int code = WaitChild(child, seconds(30));
  INFO("child: " << shared->message);
  CHECK(code == 0);
  // The writer is still fine.
  CHECK(Commit(*writer, "k", VersionOptions(2, 50)).version == 2);
}

TEST_CASE("A reader in another process sees only whole versions while the "
          "writer commits and grows the map") {
  constexpr std::uint32_t kVersions = 200;
  constexpr std::size_t kOptions = 2'000;
  TempDir dir;
  const std::string path = dir.File("s.lmdb");
  // A 1 MiB map: the writer grows it several times while the child reads.
  CreateStore(path, "k", kOptions, 1 * kMiB);
  SharedPage shared;

  const pid_t child = StartChild([&]() -> int {
    Shared* s = shared.get();
    StoreOptions ro;
    ro.read_only = true;
    auto store = Store::Open(path, ro);
    if (!store) {
      Say(s, "open: " + Describe(store.error()));
      return 2;
    }
    s->ready = 1;
    const auto deadline = Clock::now() + seconds(60);
    std::uint32_t last = 0;
    std::set<std::uint32_t> seen;
    for (;;) {
      // Read once more after the parent says it is done, to see the end.
      const bool final_read = s->done.load() != 0;
      std::uint32_t version = 0;
      const std::string problem = CheckStore(**store, "k", version);
      s->reads++;
      if (!problem.empty()) {
        Say(s, problem);
        return 1;
      }
      if (version < last) {
        Say(s, "went back from version " + std::to_string(last) + " to " +
                   std::to_string(version));
        return 1;
      }
      last = version;
      seen.insert(version);
      s->versions_seen = static_cast<int>(seen.size());
      s->last_version = static_cast<int>(version);
      if (final_read) return 0;
      if (Clock::now() > deadline) {
        Say(s, "the parent never finished");
        return 3;
      }
    }
  });

  {
    const bool ready = WaitFor(shared->ready, seconds(30));
    INFO("child: " << shared->message);
    REQUIRE(ready);
  }
  std::size_t map_before = 0, map_after = 0;
  {
    FakeClock clock;
    StoreOptions options = OptionsWith(clock, "datasnap writer");
    auto store = MustOpen(path, options);
    map_before = store->map_size();
    for (std::uint32_t v = 2; v <= kVersions; ++v) {
      clock.Advance();
      const auto r = Commit(*store, "k", VersionOptions(v, kOptions));
      REQUIRE(r.version == v);
    }
    map_after = store->map_size();
  }
  shared->done = 1;
  const int code = WaitChild(child, seconds(60));
  INFO("child: " << shared->message << " after " << shared->reads.load()
                 << " reads");
  CHECK(code == 0);
  CHECK(map_after > map_before);
  // The child saw the writer's progress, up to its last version.
  CHECK(shared->last_version.load() == static_cast<int>(kVersions));
  CHECK(shared->versions_seen.load() >= 2);
}

TEST_CASE("Reader threads see only whole versions while the same Store "
          "commits and grows the map") {
  constexpr std::uint32_t kVersions = 100;
  constexpr std::size_t kOptions = 2'000;
  constexpr int kReaders = 3;
  TempDir dir;
  FakeClock clock;
  StoreOptions options = OptionsWith(clock);
  options.initial_map_size = 1 * kMiB;
  auto store = MustOpen(dir.File("s.lmdb"), options);
  Upsert(*store, MakeDataset("k"));
  Commit(*store, "k", VersionOptions(1, kOptions));

  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::mutex mu;
  std::vector<std::string> problems;
  std::vector<int> reads(kReaders, 0);
  std::set<std::uint32_t> seen;
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      started++;
      std::uint32_t last = 0;
      const auto deadline = Clock::now() + seconds(60);
      for (;;) {
        const bool final_read = done.load();
        std::uint32_t version = 0;
        const std::string problem = CheckStore(*store, "k", version);
        std::lock_guard lock(mu);
        ++reads[i];
        seen.insert(version);
        if (problem.empty() && version < last) {
          problems.push_back("thread went back from version " +
                             std::to_string(last));
        }
        if (!problem.empty()) problems.push_back(problem);
        last = version;
        if (!final_read && Clock::now() > deadline) {
          problems.push_back("reader still running after 60 s");
        }
        if (!problems.empty() || final_read) return;
      }
    });
  }
  while (started.load() < kReaders) std::this_thread::yield();
  const std::size_t map_before = store->map_size();
  for (std::uint32_t v = 2; v <= kVersions; ++v) {
    clock.Advance();
    const auto r = store->Write([&](WriteTxn& txn) {
      return txn.CommitOptions("k", VersionOptions(v, kOptions), {});
    });
    if (!r) {
      std::lock_guard lock(mu);
      problems.push_back("commit " + std::to_string(v) + ": " +
                         Describe(r.error()));
      break;
    }
  }
  done = true;
  for (auto& t : readers) t.join();
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  INFO(all);
  CHECK(problems.empty());
  CHECK(store->map_size() > map_before);
  CHECK(GetVersion(*store, "k", 0)->version == kVersions);
  for (int i = 0; i < kReaders; ++i) {
    INFO("reader " << i);
    CHECK(reads[i] >= 1);
  }
  CHECK(seen.size() >= 2);
  CHECK(seen.count(kVersions) == 1);  // every thread's last read sees it
}

TEST_CASE("A writer process waits with writer_wait until the first closes") {
  TempDir dir;
  const std::string path = dir.File("s.lmdb");
  CreateStore(path, "k", 10, 1 * kMiB);
  SharedPage shared;

  // Forked before this process opens the store, so that the child inherits
  // no descriptor of it (an inherited writer-lock descriptor would keep the
  // lock held after the parent closed its Store).
  const pid_t child = StartChild([&]() -> int {
    Shared* s = shared.get();
    if (!WaitFor(s->go, seconds(30))) {
      Say(s, "the parent never took the lock");
      return 2;
    }
    StoreOptions options;
    options.actor = "datasnap patient";
    options.writer_wait = milliseconds(30000);  // generous: machines are noisy
    const auto start = Clock::now();
    auto store = Store::Open(path, options);
    s->child_opened_ns = Clock::now().time_since_epoch().count();
    s->waited_ms = std::chrono::duration_cast<milliseconds>(Clock::now() -
                                                            start).count();
    if (!store) {
      Say(s, "open: " + Describe(store.error()));
      return 1;
    }
    auto r = (*store)->Write([&](WriteTxn& txn) {
      Provenance provenance;
      provenance.note = "from the child";
      return txn.CommitOptions("k", VersionOptions(3, 10), provenance);
    });
    if (!r) {
      Say(s, "commit: " + Describe(r.error()));
      return 3;
    }
    return r->version == 3 ? 0 : 4;
  });

  {
    FakeClock clock;
    auto store = MustOpen(path, OptionsWith(clock, "datasnap first"));
    Commit(*store, "k", VersionOptions(2, 10));
    shared->go = 1;
    std::this_thread::sleep_for(milliseconds(300));
    shared->parent_closing_ns = Clock::now().time_since_epoch().count();
  }  // closed: the child's wait ends
  const int code = WaitChild(child, seconds(30));
  INFO("child: " << shared->message);
  REQUIRE(code == 0);
  // The child got the store only after the parent let go of it.
  CHECK(shared->child_opened_ns.load() >= shared->parent_closing_ns.load());
  CHECK(shared->waited_ms.load() < 30000);  // a guard against hanging only

  FakeClock clock;
  auto store = MustOpen(path, OptionsWith(clock));
  const auto current = GetVersion(*store, "k", 0);
  REQUIRE(current.has_value());
  CHECK(current->version == 3);
  CHECK(current->provenance.note == "from the child");
  CHECK(GetVersion(*store, "k", 2)->options == VersionOptions(2, 10));
}

TEST_CASE("A writer killed while holding the store frees it, keeping what "
          "it committed") {
  TempDir dir;
  const std::string path = dir.File("s.lmdb");
  CreateStore(path, "k", 10, 1 * kMiB);
  SharedPage shared;

  const pid_t child = StartChild([&]() -> int {
    Shared* s = shared.get();
    StoreOptions options;
    options.actor = "datasnap doomed";
    auto store = Store::Open(path, options);
    if (!store) {
      Say(s, "open: " + Describe(store.error()));
      return 1;
    }
    auto committed = (*store)->Write([&](WriteTxn& txn) {
      return txn.CommitOptions("k", VersionOptions(2, 10), {});
    });
    if (!committed) {
      Say(s, "commit: " + Describe(committed.error()));
      return 2;
    }
    // Start a write that never commits, then wait to be killed.
    auto never = (*store)->Write([&](WriteTxn& txn) -> Status {
      DS_CHECK(txn.CommitOptions("k", VersionOptions(3, 10), {}));
      s->ready = 1;
      WaitFor(s->go, seconds(30));
      return {};
    });
    (void)never;
    Say(s, "was not killed");
    return 3;
  });

  {
    const bool ready = WaitFor(shared->ready, seconds(30));
    INFO("child: " << shared->message);
    REQUIRE(ready);
  }
  FakeClock clock;
  {
    const auto busy = Store::Open(path, OptionsWith(clock, "datasnap next"));
    const Error error = MustFail(busy);
    INFO(Describe(error));
    CHECK(error.code == ErrorCode::kBusy);
    CHECK_THAT(error.message, Contains("pid " + std::to_string(child)));
    CHECK_THAT(error.message, Contains("datasnap doomed"));
  }
  REQUIRE(kill(child, SIGKILL) == 0);
  CHECK(WaitChild(child, seconds(30)) == -SIGKILL);

  StoreOptions options = OptionsWith(clock, "datasnap next");
  options.writer_wait = milliseconds(30000);
  auto store = MustOpen(path, options);
  // Version 2 was committed; the half-done version 3 never was.
  const auto current = GetVersion(*store, "k", 0);
  REQUIRE(current.has_value());
  CHECK(current->version == 2);
  CHECK(current->options == VersionOptions(2, 10));
  CHECK_FALSE(GetVersion(*store, "k", 3).has_value());
  // And this process can write.
  CHECK(Commit(*store, "k", VersionOptions(3, 10)).version == 3);
}

}  // namespace
}  // namespace datasnap
