// Fuzz target: the NHS Data Dictionary page extractor (core/nhs_dd_extract.h)
// on arbitrary bytes as a page. Run with tools/fuzz; replayed over the corpus
// and regressions by fuzz_regression_test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/nhs_dd_extract.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kTarget = "nhs_dd_extract";
constexpr std::string_view kUrl =
    "https://www.datadictionary.nhs.uk/data_elements/fuzz.html";

}  // namespace

extern "C" int DATASNAP_FUZZ_ENTRY(const std::uint8_t* data, std::size_t size) {
  using namespace datasnap;
  using namespace datasnap::fuzz;
  const std::string_view html(reinterpret_cast<const char*>(data), size);
  auto page = ExtractNhsDdCodes(html, kUrl);
  if (!page) {
    CheckError(kTarget, page.error(), ErrorCode::kInvalidArgument,
               "No valid options found on the page");
    Require(page.error().message.find(kUrl) != std::string::npos, kTarget,
            "error message does not name the URL: " + page.error().message);
    return 0;
  }
  Require(!page->national.empty() || !page->defaults.empty(), kTarget,
          "a page was returned with no codes");
  Require(page->method == "sections" || page->method == "table" ||
              page->method == "definition list" ||
              page->method == "list items",
          kTarget, "unknown method '" + page->method + "'");
  Require(!FindInvalidUtf8(page->title), kTarget, "title is not valid UTF-8");
  for (const std::string& w : page->warnings) {
    Require(!w.empty(), kTarget, "an empty warning");
    Require(!FindInvalidUtf8(w), kTarget, "a warning is not valid UTF-8");
  }
  auto options = page->ToOptions();
  if (!options) {
    Violation(kTarget, "ToOptions failed: " + options.error().message);
  }
  CheckOptions(kTarget, *options, {});
  Require(options->size() == page->national.size() + page->defaults.size(),
          kTarget, "ToOptions lost or added codes");
  for (std::size_t i = 0; i < options->size(); ++i) {
    Require(options->options()[i].is_default == (i >= page->national.size()),
            kTarget, "is_default does not match national/default codes");
    Require(!options->options()[i].parent, kTarget, "a code has a parent");
  }
  return 0;
}
