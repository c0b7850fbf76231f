// datasnap: see README.md, or run `datasnap --help`.
#include <iostream>

#include "tools/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return datasnap::RunCli(args, std::cout, std::cerr,
                          datasnap::CliEnvironment::FromProcess());
}
