// Parsers for the lists users import (`datasnap import KEY --file F`): the
// bytes of a CSV, JSON or text file in, a validated OptionList out. Pure
// functions; any bytes are accepted (a list or an error, never a crash).
//
//   auto format = ParseUserListFormat(flag).value_or(
//       UserListFormatForFile(path));
//   auto list = ParseUserList(bytes, format, "codes.csv");
//   if (!list) ... list.error().message, e.g.
//                  "codes.csv: line 4: duplicate value '01' (first on line 2)"
//                  "codes.json: [3].label: empty label"
//
// Accepted shapes:
//   - CSV (RFC 4180, libcsv in strict mode): a header row naming the columns,
//     case-insensitively: `value` (or `code`) and `label` are required,
//     `parent` is optional, in any order; any other column is an error
//     listing the accepted ones. Quoted fields may hold commas, doubled
//     quotes and line breaks (a line break left inside a value or label
//     after trimming is a control character, so an error). Every row has as
//     many fields as the header. An empty `parent` cell means no parent.
//     Blank (or whitespace-only) lines are skipped.
//   - JSON: an array of objects {"value", "label", optional "parent" (a
//     string or null)}, no other fields; an object {code: label, ...} in
//     document order; or an array of strings (value = label = the string).
//     Values and labels must be JSON strings ("must be a string, found a
//     number"). Anything else (a number, nested arrays, an array mixing
//     objects and strings) is an error naming the JSON path.
//   - text (CheckTick's options textarea): lines are trimmed and blank ones
//     dropped; a line containing " - " is `CODE - Label`, split on the first
//     occurrence; every other line is a plain value, numbered 001, 002, ...
//     (3 digits, zero-padded, then 1000, ...) in file order. Mixing the two
//     styles is an error naming a line of each. Unlike CheckTick, a repeated
//     code is an error (it silently overwrote the earlier one).
//
// Rules for every format:
//   - a UTF-8 byte order mark at the start is skipped; LF and CRLF line
//     endings are accepted; a carriage return not followed by a line feed
//     (CSV, text) is an error;
//   - invalid UTF-8 anywhere is an error naming the line, the byte of the
//     line and the file offset (0-based);
//   - values, labels and parents are trimmed of ASCII whitespace; the order
//     is the file's;
//   - a value or label that is empty, holds a control character (C0, DEL,
//     C1), or is longer than the limit in bytes; a repeated value (both
//     places named); more than max_options options; a parent that is no
//     value of the list or the option itself (parents may name options later
//     in the file); and a file with no options (empty, blank lines only, a
//     header only, [] or {}) are errors.
// Places are "line N" (CSV and text; physical lines counting from 1, blank
// ones included; the line a CSV record starts on), or a JSON path: "[3].label"
// (arrays) or "[\"01\"]" (the object form).
//
// Every error is kInvalidArgument and its message starts with `name`.
#ifndef DATASNAP_CORE_USER_LIST_H_
#define DATASNAP_CORE_USER_LIST_H_

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "core/model.h"

namespace datasnap {

enum class UserListFormat { kCsv, kJson, kText };

// "csv", "json", "text".
std::string_view UserListFormatName(UserListFormat f);

// The inverse of UserListFormatName (exact, lower-case); nullopt otherwise.
std::optional<UserListFormat> ParseUserListFormat(std::string_view name);

// The format a file name implies: .csv, .json (either case), else text.
UserListFormat UserListFormatForFile(std::string_view file_name);

struct UserListLimits {
  std::size_t max_options = 100'000;
  std::size_t max_label_bytes = 1024;
  std::size_t max_value_bytes = 1024;
};

// Parses a user's list. `name` (the file name) starts every message:
//   "codes.csv: line 4: duplicate value '01' (first on line 2)"
//   "codes.json: [3].label: empty label"
// All errors are kInvalidArgument. Values and labels are trimmed (ASCII
// whitespace); order is the file's.
Result<OptionList> ParseUserList(std::string_view bytes, UserListFormat format,
                                 std::string_view name,
                                 const UserListLimits& limits = {});

}  // namespace datasnap

#endif  // DATASNAP_CORE_USER_LIST_H_
