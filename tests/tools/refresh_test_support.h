// Shared by scrape_command_test and sync_command_test: the CLI driven
// in-process against a store in a temporary directory, with a clock the
// test moves, and small helpers for output and files.
#ifndef DATASNAP_TESTS_TOOLS_REFRESH_TEST_SUPPORT_H_
#define DATASNAP_TESTS_TOOLS_REFRESH_TEST_SUPPORT_H_

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/time.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tools/cli.h"

namespace datasnap::refresh_test {

using nlohmann::json;

constexpr UnixSeconds kNow = 1795000000;  // 2026-11-18
constexpr UnixSeconds kHour = 3600;
constexpr UnixSeconds kDay = 24 * kHour;

struct Run {
  int code;
  std::string out;
  std::string err;
};

// What a test prints when a check on a run fails.
inline std::string Describe(const Run& r) {
  return "exit " + std::to_string(r.code) + "\n--- stdout ---\n" + r.out +
         "--- stderr ---\n" + r.err;
}

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

inline std::size_t CountOf(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Writes `contents` to `path`, creating the directories above it.
inline void WriteFileMkdirs(const std::string& path,
                            const std::string& contents) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  testing::WriteFile(path, contents);
}

class Cli {
 public:
  Cli() : store_(dir_.File("store.lmdb")) {
    env_.variables["DATASNAP_STORE"] = store_;
    env_.variables["USER"] = "tester";
    env_.clock = [this] { return now_; };
    // As at a terminal, so the reports show their symbols (tests of the
    // plain output off a terminal set this false); NO_COLOR keeps colour
    // out of the texts tests compare.
    env_.out_is_terminal = true;
    env_.variables["NO_COLOR"] = "1";
  }

  Run operator()(std::vector<std::string> args) {
    std::ostringstream out, err;
    const int code = RunCli(args, out, err, env_);
    Run r{code, out.str(), err.str()};
    all_output_ += r.out;
    all_output_ += r.err;
    return r;
  }

  // Runs a command that must succeed and prints JSON.
  json Json(std::vector<std::string> args) {
    Run r = (*this)(std::move(args));
    INFO(Describe(r));
    REQUIRE(r.code == 0);
    return json::parse(r.out);
  }

  json Show(const std::string& key) { return Json({"show", key, "--json"}); }

  // status --json, as key -> entry.
  json Status() {
    json by_key = json::object();
    for (const json& d : Json({"status", "--json"})) by_key[d["key"].get<std::string>()] = d;
    return by_key;
  }

  json Audit() { return Json({"audit", "--json", "--limit", "100000"}); }

  std::size_t AuditCount(const std::string& action,
                         const std::string& dataset = "") {
    std::size_t n = 0;
    for (const json& e : Audit()) {
      if (e["action"] != action) continue;
      if (!dataset.empty() && e["dataset"] != dataset) continue;
      ++n;
    }
    return n;
  }

  // The bytes of the store's data file.
  std::string StoreBytes() const { return testing::ReadFile(store_); }

  testing::TempDir dir_;
  std::string store_;
  CliEnvironment env_;
  UnixSeconds now_ = kNow;
  std::string all_output_;  // stdout and stderr of every run so far
};

// Stores `options` as a new version of `key` an hour after the clock, as a
// fetch would (the CLI must not have the store open).
inline void Commit(Cli& cli, const std::string& key,
                   std::vector<Option> options) {
  cli.now_ += kHour;
  StoreOptions so;
  so.clock = [&cli] { return cli.now_; };
  auto store = Store::Open(cli.store_, so);
  INFO((store ? std::string() : store.error().message));
  REQUIRE(store.has_value());
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  Provenance p;
  p.source_url = "https://example.test/" + key;
  p.fetched_at = cli.now_;
  auto result = (*store)->Write(
      [&](WriteTxn& txn) { return txn.CommitOptions(key, *list, p); });
  INFO((result ? std::string() : result.error().message));
  REQUIRE(result.has_value());
}

}  // namespace datasnap::refresh_test

#endif  // DATASNAP_TESTS_TOOLS_REFRESH_TEST_SUPPORT_H_
