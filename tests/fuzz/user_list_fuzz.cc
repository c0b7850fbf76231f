// Fuzz target: the import parsers (core/user_list.h). The first byte picks
// the format: 'c' CSV, 'j' JSON, 't' text (any other byte modulo 3 in that
// order); the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/user_list.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kTarget = "user_list";

}  // namespace

extern "C" int DATASNAP_FUZZ_ENTRY(const std::uint8_t* data, std::size_t size) {
  using namespace datasnap;
  using namespace datasnap::fuzz;
  if (size == 0) return 0;
  UserListFormat format;
  switch (data[0]) {
    case 'c': format = UserListFormat::kCsv; break;
    case 'j': format = UserListFormat::kJson; break;
    case 't': format = UserListFormat::kText; break;
    default:
      format = static_cast<UserListFormat>(data[0] % 3);
  }
  const std::string name =
      "fuzz." + std::string(UserListFormatName(format));
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  // Small limits as well as the defaults, so the limit checks are reached.
  const UserListLimits small{.max_options = 8,
                             .max_label_bytes = 16,
                             .max_value_bytes = 8};
  for (const UserListLimits& limits : {UserListLimits{}, small}) {
    auto list = ParseUserList(bytes, format, name, limits);
    if (!list) {
      CheckError(kTarget, list.error(), ErrorCode::kInvalidArgument,
                 name + ": ");
      Require(!FindInvalidUtf8(list.error().message), kTarget,
              "an error message is not valid UTF-8: " + list.error().message);
      continue;
    }
    CheckOptions(kTarget, *list, {.no_c1 = true});
    Require(list->size() <= limits.max_options, kTarget,
            "more options than max_options");
    for (const Option& o : list->options()) {
      Require(!o.is_default, kTarget, "an imported option is flagged default");
      Require(o.value.size() <= limits.max_value_bytes, kTarget,
              "a value is over max_value_bytes");
      Require(o.label.size() <= limits.max_label_bytes, kTarget,
              "a label is over max_label_bytes");
    }
  }
  return 0;
}
