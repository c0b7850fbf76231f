// extract_bench: NHS Data Dictionary extraction throughput (docs/BENCHMARKS.md).
//
//   extract_bench DIR [ITERATIONS]
//
// Reads every *.html under DIR into memory, then runs ExtractNhsDdCodes on
// each page ITERATIONS times (default 20) and prints one JSON line:
// {"pages":N,"bytes":B,"iterations":I,"seconds":S,"mb_per_s":X,"options":O,
//  "failed":F}. Only the extraction is timed (no I/O, no store).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/nhs_dd_extract.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: extract_bench DIR [ITERATIONS]\n";
    return 2;
  }
  const int iterations = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  std::vector<std::pair<std::string, std::string>> pages;  // url, bytes
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    if (entry.path().extension() != ".html") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    pages.emplace_back("file://" + entry.path().string(), s.str());
  }
  std::sort(pages.begin(), pages.end());
  std::size_t bytes = 0;
  for (const auto& p : pages) bytes += p.second.size();

  std::size_t options = 0, failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    options = 0;
    failed = 0;
    for (const auto& [url, html] : pages) {
      auto page = datasnap::ExtractNhsDdCodes(html, url);
      if (!page) {
        ++failed;
        continue;
      }
      options += page->national.size() + page->defaults.size();
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const double total = static_cast<double>(bytes) * iterations;
  std::printf(
      "{\"pages\":%zu,\"bytes\":%zu,\"iterations\":%d,\"seconds\":%.6f,"
      "\"mb_per_s\":%.3f,\"options\":%zu,\"failed\":%zu}\n",
      pages.size(), bytes, iterations, seconds, total / seconds / 1e6,
      options, failed);
  return 0;
}
