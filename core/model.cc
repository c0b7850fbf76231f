#include "core/model.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/text.h"

namespace datasnap {
namespace {

constexpr std::string_view kCategoryNames[] = {"nhs_dd", "rcpch",
                                               "external_api", "user_created"};
constexpr std::string_view kSourceTypeNames[] = {"scrape", "api", "manual",
                                                 "imported"};

// Describes option `index` (0-based) for messages: `option 3 ("01")`.
std::string Describe(std::size_t index, std::string_view value) {
  return "option " + std::to_string(index + 1) + " (\"" + std::string(value) +
         "\")";
}

}  // namespace

std::string_view CategoryName(Category c) {
  return kCategoryNames[static_cast<int>(c)];
}

std::optional<Category> ParseCategory(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kCategoryNames[i] == name) return static_cast<Category>(i);
  }
  return std::nullopt;
}

std::string_view SourceTypeName(SourceType s) {
  return kSourceTypeNames[static_cast<int>(s)];
}

std::optional<SourceType> ParseSourceType(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kSourceTypeNames[i] == name) return static_cast<SourceType>(i);
  }
  return std::nullopt;
}

Status ValidateKey(std::string_view key) {
  const std::string quoted = "dataset key '" + std::string(key) + "'";
  if (key.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "dataset key is empty");
  }
  if (key.size() > kMaxKeyBytes) {
    return Fail(ErrorCode::kInvalidArgument,
                quoted + " is " + std::to_string(key.size()) +
                    " bytes long; keys are at most " +
                    std::to_string(kMaxKeyBytes));
  }
  auto lower_or_digit = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!lower_or_digit(key[0])) {
    return Fail(ErrorCode::kInvalidArgument,
                quoted + " must start with a lower-case letter or a digit");
  }
  for (std::size_t i = 1; i < key.size(); ++i) {
    const char c = key[i];
    if (!lower_or_digit(c) && c != '_' && c != '-') {
      return Fail(ErrorCode::kInvalidArgument,
                  quoted + " has '" + std::string(1, c) + "' at byte " +
                      std::to_string(i + 1) +
                      "; keys use only a-z, 0-9, '_' and '-'");
    }
  }
  return {};
}

Result<OptionList> OptionList::Make(std::vector<Option> options) {
  std::unordered_map<std::string_view, std::size_t> position;
  position.reserve(options.size());
  for (std::size_t i = 0; i < options.size(); ++i) {
    const Option& o = options[i];
    if (o.value.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "option " + std::to_string(i + 1) + " has an empty value");
    }
    if (o.label.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  Describe(i, o.value) + " has an empty label");
    }
    for (const std::string* field : {&o.value, &o.label}) {
      if (auto bad = FindInvalidUtf8(*field)) {
        return Fail(ErrorCode::kInvalidArgument,
                    "option " + std::to_string(i + 1) +
                        " is not valid UTF-8 (byte " + std::to_string(*bad + 1) +
                        " of its " + (field == &o.value ? "value" : "label") +
                        ")");
      }
    }
    auto [it, inserted] = position.emplace(o.value, i);
    if (!inserted) {
      return Fail(ErrorCode::kInvalidArgument,
                  "duplicate value \"" + o.value + "\" in options " +
                      std::to_string(it->second + 1) + " and " +
                      std::to_string(i + 1));
    }
  }
  for (std::size_t i = 0; i < options.size(); ++i) {
    const Option& o = options[i];
    if (!o.parent) continue;
    if (*o.parent == o.value) {
      return Fail(ErrorCode::kInvalidArgument,
                  Describe(i, o.value) + " names itself as its parent");
    }
    if (!position.contains(*o.parent)) {
      return Fail(ErrorCode::kInvalidArgument,
                  Describe(i, o.value) + " has parent \"" + *o.parent +
                      "\", which is not a value of the list");
    }
  }
  return OptionList(std::move(options));
}

std::optional<UnixSeconds> NextDueAt(const DatasetRecord& record) {
  const auto hours = record.dataset.sync_frequency_hours;
  if (!record.sync.last_synced_at || hours <= 0) return std::nullopt;
  return *record.sync.last_synced_at + UnixSeconds{hours} * 3600;
}

bool IsDue(const DatasetRecord& record, UnixSeconds now) {
  if (!record.sync.last_synced_at) return true;
  const auto next = NextDueAt(record);
  return next && now >= *next;
}

}  // namespace datasnap
