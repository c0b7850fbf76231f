// Shared by the reliability tests: the real datasnap binary run as a child
// process (with output captured through pipes, optional RLIMIT_FSIZE and an
// optional drop of CAP_DAC_OVERRIDE), the fake upstream serving a copy of
// tests/fixtures/upstream whose content can be varied ("variant k" marks
// every label), whole-store snapshots that check every version against its
// recorded SHA-256, and a reference run without faults to compare with.
#ifndef DATASNAP_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_
#define DATASNAP_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/canonical_json.h"
#include "core/model.h"
#include "store/store.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/temp_dir.h"

namespace datasnap::reliability {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The datasnap binary, from the runfiles tree (the test's working directory).
inline std::string DatasnapBinary() {
  const std::string path = fs::absolute("tools/datasnap").string();
  REQUIRE(fs::exists(path));
  return path;
}

struct SpawnOptions {
  // RLIMIT_FSIZE for the child (SIGXFSZ ignored, so writes fail with EFBIG).
  std::optional<rlim_t> file_size_limit;
  // Drop CAP_DAC_OVERRIDE (bounding, inheritable, permitted, effective), so
  // that a root child obeys file permissions.
  bool drop_dac_override = false;
};

// In a child: drops CAP_DAC_OVERRIDE for good. Async-signal-safe.
inline bool DropDacOverride() {
  if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0) return false;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned bit = 1u << CAP_DAC_OVERRIDE;  // CAP_DAC_OVERRIDE < 32
  data[0].effective &= ~bit;
  data[0].permitted &= ~bit;
  data[0].inheritable &= ~bit;
  return syscall(SYS_capset, &header, data) == 0;
}

// Whether a child without CAP_DAC_OVERRIDE is refused write access to
// `path` (false when running as root still lets it write, e.g. in a user
// namespace where capabilities cannot be dropped).
inline bool ChmodStopsWrites(const std::string& path) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0 && !DropDacOverride()) _exit(2);
    const int fd = open(path.c_str(), O_RDWR);
    _exit(fd < 0 && errno == EACCES ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A child process with its stdout and stderr captured.
class Child {
 public:
  Child(const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env,
        const SpawnOptions& options = {}) {
    std::vector<std::string> envs;
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int out[2], err[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // Only async-signal-safe calls from here (the parent has threads).
      dup2(out[1], 1);
      dup2(err[1], 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (options.file_size_limit) {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGXFSZ, &ignore, nullptr);
        const rlimit limit{*options.file_size_limit, *options.file_size_limit};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(125);
      }
      if (options.drop_dac_override && !DropDacOverride()) _exit(126);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_thread_ = std::thread([this, fd = out[0]] { Drain(fd, out_); });
    err_thread_ = std::thread([this, fd = err[0]] { Drain(fd, err_); });
  }
  ~Child() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      Wait(seconds(30));
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  // Non-blocking: true once the child has exited (and was reaped).
  bool Exited() {
    if (reaped_) return true;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) Reap(status);
    return reaped_;
  }

  // The exit code; -signal if killed; 999 (after SIGKILL) if it did not end
  // within `limit`.
  int Wait(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (!Exited()) {
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        Reap(status);
        code_ = 999;
        break;
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    return code_;
  }

  void Kill(int sig) { kill(pid_, sig); }

  // After Wait.
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  std::string Describe() const {
    return "exit " + std::to_string(code_) + "\n--- stdout ---\n" + out_ +
           "--- stderr ---\n" + err_;
  }

 private:
  static void Drain(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
    close(fd);
  }
  void Reap(int status) {
    reaped_ = true;
    if (WIFEXITED(status)) code_ = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) code_ = -WTERMSIG(status);
    else code_ = 997;
    out_thread_.join();
    err_thread_.join();
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int code_ = -1;
  std::string out_, err_;
  std::thread out_thread_, err_thread_;
};

// ------------------------------------------------------------- upstream

// Variant k of a fixture file: k == 0 is the file as it is; otherwise every
// table cell that ends a row with text gets " (rk)" (NHS DD pages), and
// every JSON "name" gets the prefix "rk " (RCPCH routes).
inline std::string Variant(const std::string& path, const std::string& text,
                           int k) {
  if (k == 0) return text;
  const std::string mark = std::to_string(k);
  std::string out;
  out.reserve(text.size() + text.size() / 50);
  if (path.ends_with(".html")) {
    const std::string end = "</td></tr>";
    std::size_t from = 0;
    for (std::size_t at = text.find(end); at != std::string::npos;
         at = text.find(end, at + end.size())) {
      out.append(text, from, at - from);
      if (at > 0 && text[at - 1] != '>') out += " (r" + mark + ")";
      from = at;
    }
    out.append(text, from, std::string::npos);
  } else if (path.ends_with(".json")) {
    const std::string name = "\"name\":\"";
    std::size_t from = 0;
    for (std::size_t at = text.find(name); at != std::string::npos;
         at = text.find(name, at + name.size())) {
      out.append(text, from, at + name.size() - from);
      out += "r" + mark + " ";
      from = at + name.size();
    }
    out.append(text, from, std::string::npos);
  } else {
    return text;
  }
  return out;
}

// A copy of tests/fixtures/upstream served by an in-process fake upstream.
class Upstream {
 public:
  Upstream() {
    REQUIRE(fs::is_directory("tests/fixtures/upstream/nhs_dd"));
    REQUIRE(fs::is_directory("tests/fixtures/upstream/rcpch"));
    fs::copy("tests/fixtures/upstream", root_.path(),
             fs::copy_options::recursive);
    for (const auto& e : fs::recursive_directory_iterator(root_.path())) {
      if (!e.is_regular_file()) continue;
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
      pristine_[e.path().string()] = testing::ReadFile(e.path().string());
    }
    server_ = std::make_unique<testing::FakeUpstreamServer>(
        testing::FakeUpstreamOptions{.root = root_.path()});
  }

  void SetVariant(int k) {
    if (k == variant_) return;
    for (const auto& [path, text] : pristine_) {
      testing::WriteFile(path, Variant(path, text, k));
    }
    variant_ = k;
  }

  testing::FakeUpstreamServer& server() { return *server_; }

  // The environment of a datasnap run against this upstream and `store`.
  std::map<std::string, std::string> Env(const std::string& store) const {
    return {{"DATASNAP_STORE", store},
            {"NHS_DD_BASE_URL", server_->base_url() + "/nhs_dd"},
            {"EXTERNAL_DATASET_API_URL", server_->base_url() + "/rcpch"},
            {"USER", "tester"},
            {"PATH", "/usr/bin:/bin"}};
  }

 private:
  testing::TempDir root_;
  std::map<std::string, std::string> pristine_;
  int variant_ = 0;
  std::unique_ptr<testing::FakeUpstreamServer> server_;
};

// Runs `datasnap <args>` against `upstream` and `store`; returns the child,
// already waited for (bounded).
inline std::unique_ptr<Child> RunDatasnap(Upstream& upstream,
                                          const std::string& store,
                                          std::vector<std::string> args,
                                          const SpawnOptions& options = {}) {
  args.insert(args.begin(), DatasnapBinary());
  auto child = std::make_unique<Child>(args, upstream.Env(store), options);
  child->Wait(seconds(60));
  return child;
}

inline std::unique_ptr<Child> StartDatasnap(Upstream& upstream,
                                            const std::string& store,
                                            std::vector<std::string> args) {
  args.insert(args.begin(), DatasnapBinary());
  return std::make_unique<Child>(args, upstream.Env(store));
}

// ------------------------------------------------------------- snapshots

struct VersionSnap {
  std::uint32_t version = 0;
  UnixSeconds created_at = 0;
  std::string sha;
  std::string canonical;  // the options' canonical JSON
  Provenance provenance;
  friend bool operator==(const VersionSnap&, const VersionSnap&) = default;
};

struct Snapshot {
  std::map<std::string, std::vector<VersionSnap>> versions;  // by key
  std::vector<std::string> problems;  // empty when every check held
  std::string Problems() const {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  }
  // key -> the SHA-256s of its versions, oldest first.
  std::map<std::string, std::vector<std::string>> Shas() const {
    std::map<std::string, std::vector<std::string>> shas;
    for (const auto& [key, vs] : versions) {
      auto& list = shas[key];
      for (const auto& v : vs) list.push_back(v.sha);
    }
    return shas;
  }
};

// Every dataset and version of the store at `path`, opened read-only, with
// each check a reader may rely on: versions 1..n with options that hash to
// their recorded SHA-256 and count, the dataset record agreeing with its
// current version.
inline Snapshot TakeSnapshot(const std::string& path) {
  Snapshot snap;
  StoreOptions options;
  options.read_only = true;
  auto store = Store::Open(path, options);
  if (!store) {
    snap.problems.push_back("the store does not open read-only: " +
                            store.error().message);
    return snap;
  }
  auto read = (*store)->Read([&](const ReadTxn& txn) -> Status {
    DS_TRY(datasets, txn.ListDatasets());
    for (const DatasetRecord& d : *datasets) {
      const std::string& key = d.dataset.key;
      auto& list = snap.versions[key];
      DS_TRY(versions, txn.ListVersions(key, /*with_options=*/true));
      std::uint32_t expect = 1;
      for (const VersionRecord& v : *versions) {
        const std::string at = key + " v" + std::to_string(v.version) + ": ";
        if (v.version != expect) {
          snap.problems.push_back(at + "expected version " +
                                  std::to_string(expect));
        }
        ++expect;
        if (OptionsSha256(v.options) != v.options_sha256) {
          snap.problems.push_back(at + "options do not hash to options_sha256");
        }
        if (v.options.size() != v.option_count) {
          snap.problems.push_back(at + "option_count disagrees with options");
        }
        if (v.options.size() == 0) snap.problems.push_back(at + "no options");
        list.push_back({v.version, v.created_at, v.options_sha256,
                        CanonicalOptionsJson(v.options), v.provenance});
      }
      const std::uint32_t n = static_cast<std::uint32_t>(versions->size());
      if (d.sync.version != n) {
        snap.problems.push_back(key + ": dataset record says version " +
                                std::to_string(d.sync.version) + " but " +
                                std::to_string(n) + " versions are stored");
      }
      if (n > 0) {
        if (d.sync.options_sha256 != versions->back().options_sha256 ||
            d.sync.option_count != versions->back().option_count) {
          snap.problems.push_back(key + ": dataset record disagrees with its "
                                        "current version");
        }
        DS_TRY(current, txn.GetVersion(key, 0));
        if (!*current || (*current)->version != n ||
            (*current)->options_sha256 != versions->back().options_sha256) {
          snap.problems.push_back(key + ": GetVersion(key, 0) is not the last "
                                        "listed version");
        }
      }
    }
    return {};
  });
  if (!read) snap.problems.push_back("reading failed: " + read.error().message);
  return snap;
}

// The store after each variant 0..variants-1 of a run without faults:
// reference[k] = key -> SHA-256s of its versions after refreshing variant k.
using Reference = std::vector<std::map<std::string, std::vector<std::string>>>;

inline Reference BuildReference(Upstream& upstream, const std::string& store,
                                int variants) {
  Reference reference;
  upstream.server().SetLatency(milliseconds(0));
  for (int k = 0; k < variants; ++k) {
    upstream.SetVariant(k);
    auto run = RunDatasnap(upstream, store, {"refresh", "--force"});
    INFO("reference refresh of variant " << k << ": " << run->Describe());
    REQUIRE(run->Wait(seconds(0)) == 0);
    const Snapshot snap = TakeSnapshot(store);
    INFO(snap.Problems());
    REQUIRE(snap.problems.empty());
    reference.push_back(snap.Shas());
  }
  return reference;
}

// "" when `before`'s versions are all still in `after`, unchanged in every
// byte we can see (options, SHA-256, provenance, creation time).
inline std::string EarlierVersionsIntact(const Snapshot& before,
                                         const Snapshot& after) {
  std::string problems;
  for (const auto& [key, vs] : before.versions) {
    auto it = after.versions.find(key);
    if (it == after.versions.end()) {
      if (!vs.empty()) problems += key + ": dataset lost\n";
      continue;
    }
    if (it->second.size() < vs.size()) {
      problems += key + ": had " + std::to_string(vs.size()) +
                  " versions, now " + std::to_string(it->second.size()) + "\n";
      continue;
    }
    for (std::size_t i = 0; i < vs.size(); ++i) {
      if (!(it->second[i] == vs[i])) {
        problems += key + " v" + std::to_string(vs[i].version) + " changed\n";
      }
    }
  }
  return problems;
}

// "" when `shas` (key -> version SHA-256s) is exactly `expected` for every
// key of `expected` (datasets without versions count as empty lists).
inline std::string SameShas(
    const std::map<std::string, std::vector<std::string>>& shas,
    const std::map<std::string, std::vector<std::string>>& expected) {
  std::string problems;
  for (const auto& [key, want] : expected) {
    auto it = shas.find(key);
    const std::vector<std::string> got =
        it == shas.end() ? std::vector<std::string>{} : it->second;
    if (got != want) {
      problems += key + ": " + std::to_string(got.size()) +
                  " versions, expected " + std::to_string(want.size()) +
                  (got.size() == want.size() ? " (different options)" : "") +
                  "\n";
    }
  }
  for (const auto& [key, got] : shas) {
    if (!expected.count(key) && !got.empty()) {
      problems += key + ": unexpected dataset with versions\n";
    }
  }
  return problems;
}

// Whether a read-write open of `path` succeeds (waiting up to 30 s for the
// writer lock); the store is closed again at once.
inline std::string OpensReadWrite(const std::string& path) {
  StoreOptions options;
  options.writer_wait = milliseconds(30000);
  options.actor = "reliability test";
  auto store = Store::Open(path, options);
  return store ? "" : store.error().message;
}

}  // namespace datasnap::reliability

#endif  // DATASNAP_TESTS_RELIABILITY_RELIABILITY_SUPPORT_H_
