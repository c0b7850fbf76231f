// store_bench: the store's side of docs/BENCHMARKS.md.
//
//   store_bench write STORE OPTIONS VERSIONS
//       Creates STORE (must not exist) with one dataset "bench_big" and
//       commits VERSIONS versions of OPTIONS options each (every version
//       changes 1% of the labels, so each is a new version). Prints
//       {"options":..,"versions":..,"seconds":..,"options_per_s":..,
//        "commit_ms_p50":..,"file_bytes":..}.
//   store_bench read STORE KEY ITERATIONS [decoded|json]
//       Opens STORE read-only and reads KEY's current options ITERATIONS
//       times, one read transaction each (the first 10% are warm-up and not
//       counted): decoded (default), ReadTxn::GetVersion(KEY, 0), the whole
//       version record with its options as an OptionList; json,
//       ReadTxn::GetOptionsJson(KEY, 0), a view of the stored canonical
//       bytes (touched: its first and last byte are read). Prints
//       {"key":..,"mode":..,"options":..,"bytes":..,"p50_us":..,"p99_us":..,
//        "iterations":..}.
//   store_bench synth STORE DATASETS OPTIONS_PER_DATASET
//       Creates STORE (must not exist) with DATASETS user-created datasets
//       "synth_00000", ... of OPTIONS_PER_DATASET options each, 500
//       datasets per write transaction. Prints
//       {"datasets":..,"options":..,"seconds":..,"file_bytes":..}.
//   store_bench touch STORE KEY [KEY...]
//       Commits a new version of each KEY with its first label changed, in
//       one transaction.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "core/time.h"
#include "store/store.h"

namespace {

using datasnap::Dataset;
using datasnap::Option;
using datasnap::OptionList;
using datasnap::Provenance;
using datasnap::Store;
using datasnap::StoreOptions;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const datasnap::Error& e) {
  std::cerr << "store_bench: " << what << ": " << e.message << "\n";
  std::exit(1);
}

std::unique_ptr<Store> OpenStore(const std::string& path, bool read_only) {
  StoreOptions options;
  options.read_only = read_only;
  options.actor = "bench";
  options.purpose = "store_bench";
  auto store = Store::Open(path, options);
  if (!store) Die("open " + path, store.error());
  return std::move(*store);
}

Dataset MakeDataset(const std::string& key) {
  Dataset d;
  d.key = key;
  d.name = "Benchmark " + key;
  d.description = "Synthetic dataset for tools/bench";
  d.category = datasnap::Category::kUserCreated;
  d.source_type = datasnap::SourceType::kManual;
  d.tags = {"bench"};
  return d;
}

// `n` options; label i carries `generation` when i % 100 == generation % 100.
OptionList MakeOptions(std::size_t n, int generation, const std::string& tag) {
  std::vector<Option> v;
  v.reserve(n);
  char code[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(code, sizeof code, "C%07zu", i);
    Option o;
    o.value = code;
    o.label = "Option " + tag + " number " + std::to_string(i);
    if (static_cast<int>(i % 100) == generation % 100) {
      o.label += " (revision " + std::to_string(generation) + ")";
    }
    v.push_back(std::move(o));
  }
  auto list = OptionList::Make(std::move(v));
  if (!list) Die("options", list.error());
  return std::move(*list);
}

Provenance MakeProvenance() {
  Provenance p;
  p.source_url = "bench://store_bench";
  p.fetched_at = datasnap::NowUnixSeconds();
  p.note = "tools/bench";
  return p;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(
      v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

int Write(const std::string& path, std::size_t n, int versions) {
  auto store = OpenStore(path, false);
  auto up = store->Write([&](datasnap::WriteTxn& txn) {
    return txn.UpsertDataset(MakeDataset("bench_big"));
  });
  if (!up) Die("upsert", up.error());
  std::vector<OptionList> lists;  // built outside the timed region
  for (int g = 0; g < versions; ++g) lists.push_back(MakeOptions(n, g, "big"));
  const Provenance prov = MakeProvenance();
  std::vector<double> commit_ms;
  const auto start = Clock::now();
  for (int g = 0; g < versions; ++g) {
    const auto t0 = Clock::now();
    auto r = store->Write([&](datasnap::WriteTxn& txn) {
      return txn.CommitOptions("bench_big", lists[g], prov);
    });
    if (!r) Die("commit", r.error());
    commit_ms.push_back(Ms(Clock::now() - t0));
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  store.reset();
  std::printf(
      "{\"options\":%zu,\"versions\":%d,\"seconds\":%.4f,"
      "\"options_per_s\":%.0f,\"commit_ms_p50\":%.2f,\"file_bytes\":%ju}\n",
      n, versions, seconds, static_cast<double>(n) * versions / seconds,
      Percentile(commit_ms, 0.5),
      static_cast<std::uintmax_t>(std::filesystem::file_size(path)));
  return 0;
}

int Read(const std::string& path, const std::string& key, int iterations,
         const std::string& mode) {
  auto store = OpenStore(path, true);
  const bool json = mode == "json";
  std::vector<double> us;
  std::size_t options = 0, bytes = 0;
  unsigned sink = 0;  // keeps the view's bytes live
  const int warmup = std::max(1, iterations / 10);
  for (int i = 0; i < warmup + iterations; ++i) {
    bool found = false;
    const auto t0 = Clock::now();
    if (json) {
      auto r = store->Read([&](const datasnap::ReadTxn& txn) -> datasnap::Status {
        DS_TRY(view, txn.GetOptionsJson(key, 0));
        if (*view) {
          found = true;
          bytes = (*view)->size();
          sink += static_cast<unsigned char>((*view)->front()) +
                  static_cast<unsigned char>((*view)->back());
        }
        return {};
      });
      if (!r) Die("read " + key, r.error());
    } else {
      auto v = store->Read([&](const datasnap::ReadTxn& txn) {
        return txn.GetVersion(key, 0);
      });
      if (!v) Die("read " + key, v.error());
      if (*v) {
        found = true;
        options = (*v)->options.size();
      }
    }
    const double t = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (!found) {
      std::cerr << "store_bench: no current version of " << key << "\n";
      return 1;
    }
    if (i >= warmup) us.push_back(t);
  }
  if (json) {
    // Counted outside the timed loop, from the decoded record.
    auto v = store->Read([&](const datasnap::ReadTxn& txn) {
      return txn.GetVersion(key, 0);
    });
    if (!v || !*v) Die("read " + key, v ? datasnap::Error{} : v.error());
    options = (*v)->options.size();
  }
  std::printf(
      "{\"key\":\"%s\",\"mode\":\"%s\",\"options\":%zu,\"bytes\":%zu,"
      "\"p50_us\":%.3f,\"p99_us\":%.3f,\"iterations\":%d,\"sink\":%u}\n",
      key.c_str(), json ? "json" : "decoded", options, bytes,
      Percentile(us, 0.5), Percentile(us, 0.99), iterations, sink);
  return 0;
}

int Synth(const std::string& path, int datasets, std::size_t per) {
  auto store = OpenStore(path, false);
  const Provenance prov = MakeProvenance();
  const int batch = 500;
  const auto start = Clock::now();
  for (int first = 0; first < datasets; first += batch) {
    const int last = std::min(datasets, first + batch);
    std::vector<std::pair<std::string, OptionList>> work;
    for (int d = first; d < last; ++d) {
      char key[32];
      std::snprintf(key, sizeof key, "synth_%05d", d);
      work.emplace_back(key, MakeOptions(per, d, key));
    }
    auto r = store->Write([&](datasnap::WriteTxn& txn) -> datasnap::Status {
      for (const auto& [key, list] : work) {
        auto up = txn.UpsertDataset(MakeDataset(key));
        if (!up) return std::unexpected(up.error());
        auto c = txn.CommitOptions(key, list, prov);
        if (!c) return std::unexpected(c.error());
      }
      return {};
    });
    if (!r) Die("synth batch", r.error());
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  store.reset();
  std::printf(
      "{\"datasets\":%d,\"options\":%zu,\"seconds\":%.3f,\"file_bytes\":%ju}\n",
      datasets, per * static_cast<std::size_t>(datasets), seconds,
      static_cast<std::uintmax_t>(std::filesystem::file_size(path)));
  return 0;
}

// A new version of each of `keys` (its first label changed), in one
// transaction.
int Touch(const std::string& path, const std::vector<std::string>& keys) {
  auto store = OpenStore(path, false);
  static int round = 0;
  const std::string mark = " (touched " +
                           std::to_string(datasnap::NowUnixSeconds()) + "." +
                           std::to_string(++round) + ")";
  auto r = store->Write([&](datasnap::WriteTxn& txn)
                            -> datasnap::Result<datasnap::CommitResult> {
    datasnap::CommitResult last;
    for (const std::string& key : keys) {
      DS_TRY(current, txn.GetVersion(key, 0));
      if (!*current) {
        return datasnap::Fail(datasnap::ErrorCode::kNotFound, "no " + key);
      }
      std::vector<Option> v = (*current)->options.options();
      v.front().label += mark;
      DS_TRY(list, OptionList::Make(std::move(v)));
      DS_TRY(commit, txn.CommitOptions(key, *list, MakeProvenance()));
      last = *commit;
    }
    return last;
  });
  if (!r) Die("touch " + keys.front(), r.error());
  std::printf("{\"keys\":%zu,\"version\":%u}\n", keys.size(), r->version);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 4 && a[0] == "write") {
    return Write(a[1], std::stoul(a[2]), std::stoi(a[3]));
  }
  if ((a.size() == 4 || a.size() == 5) && a[0] == "read" &&
      (a.size() == 4 || a[4] == "decoded" || a[4] == "json")) {
    return Read(a[1], a[2], std::stoi(a[3]), a.size() == 5 ? a[4] : "decoded");
  }
  if (a.size() == 4 && a[0] == "synth") {
    return Synth(a[1], std::stoi(a[2]), std::stoul(a[3]));
  }
  if (a.size() >= 3 && a[0] == "touch") {
    return Touch(a[1], std::vector<std::string>(a.begin() + 2, a.end()));
  }
  std::cerr << "usage: store_bench write STORE OPTIONS VERSIONS\n"
               "       store_bench read STORE KEY ITERATIONS [decoded|json]\n"
               "       store_bench synth STORE DATASETS OPTIONS_PER_DATASET\n"
               "       store_bench touch STORE KEY [KEY...]\n";
  return 2;
}
