// A store that cannot be written: a read-only data file, a missing
// directory, a full disk (RLIMIT_FSIZE in the child: every write past the
// two LMDB meta pages fails with EFBIG) and a full map (a small
// StoreOptions::max_map_size). Each gives a clear error, loses nothing that
// was stored, and once the cause is gone the next write completes.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "tests/reliability/reliability_support.h"
#include "tests/support/temp_dir.h"

namespace datasnap::reliability {
namespace {

// A store refreshed once (variant 0), and the reference of variants 0 and 1.
struct World {
  World() {
    reference = BuildReference(upstream, dir.File("reference.lmdb"), 2);
    upstream.SetVariant(0);
    auto first = RunDatasnap(upstream, store, {"refresh"});
    INFO(first->Describe());
    REQUIRE(first->Wait(seconds(0)) == 0);
    before = TakeSnapshot(store);
    REQUIRE(before.problems.empty());
    REQUIRE(SameShas(before.Shas(), reference[0]).empty());
    upstream.SetVariant(1);
  }

  // Nothing was written since the first refresh.
  void CheckUnchanged() {
    const Snapshot now = TakeSnapshot(store);
    INFO(now.Problems());
    REQUIRE(now.problems.empty());
    CHECK(EarlierVersionsIntact(before, now).empty());
    CHECK(SameShas(now.Shas(), reference[0]).empty());
  }

  // The next refresh completes, keeping every earlier version.
  void CheckNextRefresh() {
    auto next = RunDatasnap(upstream, store, {"refresh", "--force"});
    INFO(next->Describe());
    REQUIRE(next->Wait(seconds(0)) == 0);
    const Snapshot now = TakeSnapshot(store);
    INFO(now.Problems());
    REQUIRE(now.problems.empty());
    CHECK(EarlierVersionsIntact(before, now).empty());
    INFO(SameShas(now.Shas(), reference[1]));
    CHECK(SameShas(now.Shas(), reference[1]).empty());
  }

  testing::TempDir dir;
  Upstream upstream;
  Reference reference;
  std::string store = dir.File("store.lmdb");
  Snapshot before;
};

TEST_CASE("a read-only store file: a clear error, nothing lost") {
  World w;
  const std::string bytes = testing::ReadFile(w.store);
  REQUIRE(chmod(w.store.c_str(), 0444) == 0);
  if (!ChmodStopsWrites(w.store)) {
    chmod(w.store.c_str(), 0644);
    WARN("skipped: file permissions do not stop this process's children "
         "from writing (root that cannot drop CAP_DAC_OVERRIDE)");
    return;
  }
  // Children drop CAP_DAC_OVERRIDE, so that root obeys the 0444 too.
  SpawnOptions obey;
  obey.drop_dac_override = true;
  auto refused = RunDatasnap(w.upstream, w.store, {"refresh", "--force"}, obey);
  {
    INFO(refused->Describe());
    // Nothing could run: exit 2, as for any store that does not open.
    CHECK(refused->Wait(seconds(0)) == 2);
    CHECK(Contains(refused->err(),
                   "datasnap: error: permission denied opening store '" +
                       w.store + "'"));
  }
  // Readers still read it.
  auto shown = RunDatasnap(w.upstream, w.store,
                           {"show", "ethnic_category", "--json"}, obey);
  {
    INFO(shown->Describe());
    CHECK(shown->Wait(seconds(0)) == 0);
    CHECK(Contains(shown->out(), "\"version\""));
  }
  CHECK(testing::ReadFile(w.store) == bytes);
  w.CheckUnchanged();
  REQUIRE(chmod(w.store.c_str(), 0644) == 0);
  w.CheckNextRefresh();
}

TEST_CASE("a store in a missing directory: a clear error, nothing created") {
  World w;
  const std::string missing = w.dir.File("no_such_dir");
  const std::string store = missing + "/store.lmdb";
  auto refresh = RunDatasnap(w.upstream, store, {"refresh", "--force"});
  {
    INFO(refresh->Describe());
    CHECK(refresh->Wait(seconds(0)) == 2);
    CHECK(Contains(refresh->err(), "datasnap: error: cannot create store '" +
                                       store + "': directory '" + missing +
                                       "' does not exist"));
  }
  auto show = RunDatasnap(w.upstream, store, {"show", "ethnic_category"});
  {
    INFO(show->Describe());
    CHECK(show->Wait(seconds(0)) != 0);
    CHECK(Contains(show->err(), "no store at '" + store + "'"));
  }
  CHECK_FALSE(fs::exists(missing));
  const auto opened = Store::Open(store, StoreOptions{});
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == ErrorCode::kNotFound);
  CHECK(Contains(opened.error().message, "directory '" + missing + "'"));
  CHECK_FALSE(fs::exists(missing));
  // The other store was not touched.
  w.CheckUnchanged();
}

TEST_CASE("a full disk: clear errors, nothing lost, and the next refresh "
          "completes") {
  World w;
  // Only the two 4 KiB meta pages may be written: every commit fails.
  SpawnOptions full;
  full.file_size_limit = 8192;
  auto refresh =
      RunDatasnap(w.upstream, w.store, {"refresh", "--force"}, full);
  {
    INFO(refresh->Describe());
    CHECK(refresh->Wait(seconds(0)) == 1);
    CHECK(Contains(refresh->out(), "FAILED: could not write the store: "));
    CHECK(Contains(refresh->out(), "File too large"));
    CHECK(Contains(refresh->out(), "0 new, 0 updated, 0 unchanged, 0 not "
                                   "due, 55 failed"));
  }
  w.CheckUnchanged();
  CHECK(OpensReadWrite(w.store).empty());

  SECTION("a new store on a full disk") {
    SpawnOptions none;
    none.file_size_limit = 0;
    const std::string fresh = w.dir.File("fresh.lmdb");
    auto create = RunDatasnap(w.upstream, fresh, {"refresh"}, none);
    INFO(create->Describe());
    CHECK(create->Wait(seconds(0)) == 2);
    CHECK(Contains(create->err(), "datasnap: error: "));
    CHECK(Contains(create->err(), fresh));
    CHECK(Contains(create->err(), "File too large"));
  }
  w.CheckNextRefresh();
}

// `count` options with random (barely compressible) labels.
OptionList RandomOptions(std::mt19937_64& prng, std::size_t count) {
  std::vector<Option> options;
  for (std::size_t i = 0; i < count; ++i) {
    std::string label;
    for (int j = 0; j < 4; ++j) {
      char part[17];
      std::snprintf(part, sizeof part, "%016llx",
                    static_cast<unsigned long long>(prng()));
      label += part;
    }
    options.push_back(Option{std::to_string(i), label, std::nullopt, false});
  }
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

TEST_CASE("a full map: a clear error, nothing lost, and a larger map takes "
          "the next write") {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  testing::TempDir dir;
  const std::string path = dir.File("small.lmdb");
  std::mt19937_64 prng(42);
  std::vector<std::string> committed;  // the SHA-256 of each version
  {
    StoreOptions options;
    options.initial_map_size = 1 * kMiB;
    options.max_map_size = 2 * kMiB;
    auto opened = Store::Open(path, options);
    INFO((opened ? "" : opened.error().message));
    REQUIRE(opened.has_value());
    Store& store = **opened;
    Dataset d;
    d.key = "big";
    d.name = "Big";
    d.category = Category::kExternalApi;
    REQUIRE(store.Write([&](WriteTxn& txn) { return txn.UpsertDataset(d); })
                .has_value());
    std::optional<Error> full;
    for (int i = 0; i < 500 && !full; ++i) {
      const OptionList options = RandomOptions(prng, 1000);
      auto r = store.Write([&](WriteTxn& txn) {
        return txn.CommitOptions("big", options, Provenance{});
      });
      if (r) {
        REQUIRE(r->version == committed.size() + 1);
        committed.push_back(r->options_sha256);
      } else {
        full = r.error();
      }
    }
    REQUIRE(full.has_value());
    INFO(full->message);
    CHECK(full->code == ErrorCode::kMapFull);
    CHECK(Contains(full->message, "store '" + path + "' is full: its map "
                                  "reached the limit of 2 MiB; nothing from "
                                  "this write was stored"));
    CHECK(committed.size() >= 2);
    CHECK(store.map_size() == 2 * kMiB);
    // The same Store still reads, and still writes what fits.
    const auto current = store.Read([](const ReadTxn& txn) {
      return txn.GetVersion("big", 0);
    });
    REQUIRE(current.has_value());
    REQUIRE(current->has_value());
    CHECK((*current)->version == committed.size());
    CHECK(store.Write([](WriteTxn& txn) {
                 return txn.AppendAudit("test", "big", "still writable");
               }).has_value());
  }
  {
    const Snapshot snap = TakeSnapshot(path);
    INFO(snap.Problems());
    REQUIRE(snap.problems.empty());
    CHECK(snap.Shas().at("big") == committed);
  }
  // Reopened with a larger limit, the next version fits.
  StoreOptions larger;
  larger.max_map_size = 64 * kMiB;
  auto reopened = Store::Open(path, larger);
  REQUIRE(reopened.has_value());
  const OptionList options = RandomOptions(prng, 1000);
  auto r = (*reopened)->Write([&](WriteTxn& txn) {
    return txn.CommitOptions("big", options, Provenance{});
  });
  INFO((r ? "" : r.error().message));
  REQUIRE(r.has_value());
  CHECK(r->version == committed.size() + 1);
  reopened->reset();
  const Snapshot snap = TakeSnapshot(path);
  INFO(snap.Problems());
  REQUIRE(snap.problems.empty());
  REQUIRE(snap.Shas().at("big").size() == committed.size() + 1);
}

}  // namespace
}  // namespace datasnap::reliability
