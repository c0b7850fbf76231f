// Private to the CLI: `datasnap completion bash`, a bash completion script
// generated from the CLI's own command table (the CLI11 app RunCli builds),
// so it cannot drift from the commands and options. tools/install writes it
// to share/bash-completion/completions/datasnap.
#ifndef DATASNAP_TOOLS_COMPLETION_H_
#define DATASNAP_TOOLS_COMPLETION_H_

#include <CLI/CLI.hpp>
#include <ostream>

namespace datasnap {

// Writes the script: command names and aliases, each command's options and
// the global ones, file or directory names after options that take a path,
// and dataset keys (from `datasnap list`) after --dataset and where a
// command takes a KEY.
void PrintBashCompletion(const CLI::App& app, std::ostream& out);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_COMPLETION_H_
