// datasnap: see README.md, or run `datasnap --help`.
#include <malloc.h>

#include <iostream>

#include "tools/cli.h"

int main(int argc, char** argv) {
  // An export or a refresh allocates and frees buffers of megabytes (a
  // 10,000-dataset manifest is 9 MB) many times. glibc would map each one
  // afresh and unmap it when freed, and every first touch of a page is a
  // page fault (a fifth of an export after one change, measured); keep
  // them in the heap instead, where freed memory is reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  return datasnap::RunCli(args, std::cout, std::cerr,
                          datasnap::CliEnvironment::FromProcess());
}
