// The datasnap command line as a library: main() is one call to RunCli, and
// tests call RunCli in-process with their own streams and environment.
//
//   std::ostringstream out, err;
//   int code = RunCli({"--store", path, "show", "ethnic_category", "--json"},
//                     out, err, CliEnvironment::FromProcess());
#ifndef DATASNAP_TOOLS_CLI_H_
#define DATASNAP_TOOLS_CLI_H_

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "core/time.h"

namespace datasnap {

// Exit statuses. Scripts (cron, CI) rely on these; never renumber.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and something failed
  kExitUsage = 2,    // bad arguments, unknown command or dataset, bad input
                     // files; for refresh also "nothing could run"
  kExitTempFail = 75,  // EX_TEMPFAIL (sysexits.h): another process is
                       // writing the store; nothing was done, retry later
};

// What the CLI reads from outside its arguments.
struct CliEnvironment {
  // Environment variables (DATASNAP_STORE, USER, ...).
  std::map<std::string, std::string> variables;
  // Source of "now". Default (empty): the system clock.
  std::function<UnixSeconds()> clock;
  // Whether `err` is a terminal, where long work shows a progress line.
  // Default: false.
  bool err_is_terminal = false;
  // Whether `out` is a terminal, where diffs are coloured (unless NO_COLOR
  // is set). Default: false.
  bool out_is_terminal = false;

  // The variables of this process, the system clock, and whether stderr is
  // a terminal.
  static CliEnvironment FromProcess();
};

// Runs one datasnap invocation; `args` excludes the program name. Results go
// to `out`, diagnostics to `err`. Returns an ExitCode.
int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err, const CliEnvironment& env);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_CLI_H_
