#include "core/user_list.h"

#include <csv.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/json_read.h"
#include "core/text.h"

namespace datasnap {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::string_view kFormatNames[] = {"csv", "json", "text"};
constexpr std::string_view kBom = "\xEF\xBB\xBF";
// Bytes of a value or key shown in a message before it is cut with "...".
constexpr std::size_t kShownBytes = 60;

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), IsAsciiSpace);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The first control character of valid UTF-8 `s`: C0, DEL or C1 (U+0080 to
// U+009F, encoded C2 80 to C2 9F; C2 is always a lead byte).
std::optional<unsigned> FindControl(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return c;
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return next;
    }
  }
  return std::nullopt;
}

std::string CodePoint(unsigned cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

// True when byte `i` of `s` starts a character (is not a continuation byte).
bool StartsCharacter(std::string_view s, std::size_t i) {
  return (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

// `s` for a message, in single quotes: C0 controls and DEL escaped, cut at a
// character boundary after kShownBytes bytes.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i >= kShownBytes && StartsCharacter(s, i)) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

// The JSON path of a member of the top-level object: ["01"], with the key
// escaped as in JSON and cut like Quote.
std::string KeyPath(std::string_view key) {
  std::string out = "[\"";
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i >= kShownBytes && StartsCharacter(key, i)) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"]";
}

// 001, 002, ..., 999, 1000, ...: CheckTick's keys for plain values.
std::string PlainValueKey(std::size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%03zu", n);
  return buf;
}

std::unexpected<Error> Invalid(std::string_view name, std::string_view where,
                               std::string_view message) {
  std::string text(name);
  text += ": ";
  if (!where.empty()) {
    text += where;
    text += ": ";
  }
  text += message;
  return std::unexpected(Error{ErrorCode::kInvalidArgument, std::move(text)});
}

// How the places of options are named in messages.
enum class Places {
  kLines,    // "line 4" (CSV, text); n is the line, from 1
  kObjects,  // "[3].value" (array of objects); n is the index
  kStrings,  // "[3]" (array of strings); n is the index
  kMembers,  // ["01"] (the object form); n is the member's index
};

// Collects options one at a time, checking each as it comes, then the
// parents once all are known.
class Builder {
 public:
  Builder(std::string_view name, const UserListLimits& limits, Places places)
      : name_(name), limits_(limits), places_(places) {}

  std::size_t size() const { return options_.size(); }

  // `n` and `key` say where the option is (see Places); `key` is used for
  // kMembers only.
  Status Add(std::size_t n, std::string_view key, std::string_view raw_value,
             std::string_view raw_label,
             std::optional<std::string_view> raw_parent) {
    if (options_.size() >= limits_.max_options) {
      return Invalid(name_, At(n, key, "value"),
                     "too many options (the limit is " +
                         std::to_string(limits_.max_options) + ")");
    }
    const std::string_view value = TrimAsciiSpace(raw_value);
    const std::string_view label = TrimAsciiSpace(raw_label);
    DS_CHECK(CheckText(At(n, key, "value"), "value", value,
                       limits_.max_value_bytes));
    DS_CHECK(CheckText(At(n, key, "label"), "label", label,
                       limits_.max_label_bytes));
    std::optional<std::string> parent;
    if (raw_parent) {
      const std::string_view p = TrimAsciiSpace(*raw_parent);
      if (!p.empty()) {
        if (auto c = FindControl(p)) {
          return Invalid(name_, At(n, key, "parent"),
                         "parent has a control character (" + CodePoint(*c) +
                             ")");
        }
        parent.emplace(p);
      }
    }
    auto [it, inserted] = first_.try_emplace(std::string(value), n);
    if (!inserted) return Duplicate(it->first, it->second, n, key);
    options_.push_back(Option{std::string(value), std::string(label),
                              std::move(parent), false});
    where_.push_back(n);
    return {};
  }

  // The list, or "no options (<why_empty>)" when none was added.
  Result<OptionList> Finish(std::string_view why_empty) {
    if (options_.empty()) {
      return Invalid(name_, "", "no options (" + std::string(why_empty) + ")");
    }
    for (std::size_t i = 0; i < options_.size(); ++i) {
      const Option& o = options_[i];
      if (!o.parent) continue;
      if (*o.parent == o.value) {
        return Invalid(name_, At(where_[i], "", "parent"),
                       "option " + Quote(o.value) +
                           " names itself as its parent");
      }
      if (!first_.contains(*o.parent)) {
        return Invalid(name_, At(where_[i], "", "parent"),
                       "unknown parent " + Quote(*o.parent) +
                           " (no option of the list has that value)");
      }
    }
    auto list = OptionList::Make(std::move(options_));
    if (!list) {  // not expected: every rule was checked above
      return Invalid(name_, "", list.error().message);
    }
    return list;
  }

 private:
  std::string At(std::size_t n, std::string_view key,
                 std::string_view field) const {
    switch (places_) {
      case Places::kLines: return "line " + std::to_string(n);
      case Places::kObjects:
        return "[" + std::to_string(n) + "]." + std::string(field);
      case Places::kStrings: return "[" + std::to_string(n) + "]";
      case Places::kMembers: return KeyPath(key);
    }
    return "";
  }

  Status CheckText(const std::string& where, std::string_view field,
                   std::string_view text, std::size_t limit) const {
    const std::string f(field);
    if (text.empty()) return Invalid(name_, where, "empty " + f);
    if (auto bad = FindInvalidUtf8(text)) {  // the input was checked already
      return Invalid(name_, where,
                     f + " is not valid UTF-8 (byte " +
                         std::to_string(*bad + 1) + ")");
    }
    if (auto c = FindControl(text)) {
      return Invalid(name_, where,
                     f + " has a control character (" + CodePoint(*c) + ")");
    }
    if (text.size() > limit) {
      return Invalid(name_, where,
                     f + " is " + std::to_string(text.size()) +
                         " bytes long, over the limit of " +
                         std::to_string(limit));
    }
    return {};
  }

  std::unexpected<Error> Duplicate(const std::string& value,
                                   std::size_t first, std::size_t n,
                                   std::string_view key) const {
    const std::string where = At(n, key, "value");
    switch (places_) {
      case Places::kLines:
        return Invalid(name_, where,
                       "duplicate value " + Quote(value) + " (first on line " +
                           std::to_string(first) + ")");
      case Places::kObjects:
      case Places::kStrings:
        return Invalid(name_, where,
                       "duplicate value " + Quote(value) + " (first at " +
                           At(first, "", "value") + ")");
      case Places::kMembers:
        return Invalid(name_, where,
                       "duplicate key " + Quote(value) + " (members " +
                           std::to_string(first + 1) + " and " +
                           std::to_string(n + 1) + " of the object)");
    }
    return Invalid(name_, where, "duplicate value " + Quote(value));
  }

  std::string_view name_;
  const UserListLimits& limits_;
  Places places_;
  std::vector<Option> options_;
  std::vector<std::size_t> where_;  // each option's n
  std::unordered_map<std::string, std::size_t> first_;  // value -> its n
};

// The 1-based line holding byte `offset` of `text`, and the 1-based byte of
// that line.
std::pair<std::size_t, std::size_t> LineAndColumn(std::string_view text,
                                                  std::size_t offset) {
  const std::string_view before = text.substr(0, offset);
  const std::size_t line = 1 + std::count(before.begin(), before.end(), '\n');
  const std::size_t newline = before.rfind('\n');
  const std::size_t column =
      newline == std::string_view::npos ? offset + 1 : offset - newline;
  return {line, column};
}

// A carriage return not followed by a line feed (CR-only line endings would
// make libcsv end records where no line ends). One at the very end is fine.
Status CheckLineEndings(std::string_view body, std::string_view name) {
  for (std::size_t i = body.find('\r'); i != std::string_view::npos;
       i = body.find('\r', i + 1)) {
    if (i + 1 < body.size() && body[i + 1] != '\n') {
      return Invalid(name, "line " + std::to_string(LineAndColumn(body, i).first),
                     "a carriage return not followed by a line feed (save "
                     "the file with LF or CRLF line endings)");
    }
  }
  return {};
}

// ---------------------------------------------------------------------------
// CSV

constexpr std::string_view kAcceptedColumns =
    "accepted: value or code, label, and optionally parent";

class CsvReader {
 public:
  CsvReader(std::string_view name, const UserListLimits& limits,
            std::size_t bom_bytes)
      : name_(name),
        bom_bytes_(bom_bytes),
        builder_(name, limits, Places::kLines) {}

  Result<OptionList> Read(std::string_view body) {
    DS_CHECK(CheckLineEndings(body, name_));
    csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
      return Invalid(name_, "", "the CSV parser could not start");
    }
    // Feed one physical line at a time, so that callbacks know the line.
    // Records end only at line ends (lone CRs were refused above), so a
    // record starts on the first non-blank line after the previous one
    // (libcsv skips lines of spaces and tabs).
    std::size_t line = 1;
    bool ok = true;
    for (std::size_t pos = 0; pos < body.size() && !error_; ++line) {
      std::size_t end = body.find('\n', pos);
      end = end == std::string_view::npos ? body.size() : end + 1;
      const std::string_view chunk = body.substr(pos, end - pos);
      if (record_pending_ &&
          chunk.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        record_line_ = line;
        record_pending_ = false;
      }
      const std::size_t done = csv_parse(&parser, chunk.data(), chunk.size(),
                                         &CsvReader::OnField,
                                         &CsvReader::OnRecord, this);
      if (done != chunk.size() && !error_) {
        error_ = SyntaxError(parser, chunk, done, line);
        ok = false;
      }
      pos = end;
    }
    if (ok && !error_) {
      if (csv_fini(&parser, &CsvReader::OnField, &CsvReader::OnRecord, this) !=
              0 &&
          !error_) {
        if (csv_error(&parser) == CSV_EPARSE) {
          error_ = Invalid(name_, "line " + std::to_string(record_line_),
                           "a quoted field of the record starting here is "
                           "never closed (libcsv: " +
                               std::string(csv_strerror(CSV_EPARSE)) + ")")
                       .error();
        } else {
          error_ = Invalid(name_, "",
                           "CSV: " + std::string(
                                         csv_strerror(csv_error(&parser))))
                       .error();
        }
      }
    }
    csv_free(&parser);
    if (error_) return std::unexpected(std::move(*error_));
    return builder_.Finish(columns_ == 0 ? "the file has only blank lines"
                                         : "the file has only a header row");
  }

 private:
  static void OnField(void* data, std::size_t size, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    if (r->error_) return;
    if (size == 0) {
      r->fields_.emplace_back();
    } else {
      r->fields_.emplace_back(static_cast<const char*>(data), size);
    }
  }

  static void OnRecord(int /*terminator*/, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    r->record_pending_ = true;
    if (!r->error_) {
      if (Status s = r->Record(); !s) r->error_ = std::move(s.error());
    }
    r->fields_.clear();
  }

  Status Record() {
    // A record of one blank field (e.g. `""`, or a line of form feeds).
    if (fields_.size() == 1 && IsBlank(fields_[0])) return {};
    const std::string where = "line " + std::to_string(record_line_);
    if (columns_ == 0) return Header(where);
    if (fields_.size() != columns_) {
      return Invalid(name_, where,
                     std::to_string(fields_.size()) + " field" +
                         (fields_.size() == 1 ? "" : "s") +
                         ", but the header has " + std::to_string(columns_));
    }
    std::optional<std::string_view> parent;
    if (parent_column_) parent = fields_[*parent_column_];
    return builder_.Add(record_line_, "", fields_[*value_column_],
                        fields_[*label_column_], parent);
  }

  Status Header(const std::string& where) {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      const std::string column = AsciiLower(TrimAsciiSpace(fields_[i]));
      std::optional<std::size_t>* slot = nullptr;
      if (column == "value" || column == "code") {
        slot = &value_column_;
      } else if (column == "label") {
        slot = &label_column_;
      } else if (column == "parent") {
        slot = &parent_column_;
      } else if (column.empty()) {
        return Invalid(name_, where,
                       "column " + std::to_string(i + 1) +
                           " of the header has no name (" +
                           std::string(kAcceptedColumns) + ")");
      } else {
        return Invalid(name_, where,
                       "unknown column " + Quote(TrimAsciiSpace(fields_[i])) +
                           " in the header (" + std::string(kAcceptedColumns) +
                           "; the first row must be a header)");
      }
      if (*slot) {
        return Invalid(name_, where,
                       "columns " + std::to_string(**slot + 1) + " and " +
                           std::to_string(i + 1) + " of the header are both " +
                           (slot == &value_column_ ? "'value' or 'code'"
                                                   : Quote(column)));
      }
      *slot = i;
    }
    if (!value_column_) {
      return Invalid(name_, where,
                     "the header has no 'value' (or 'code') column (" +
                         std::string(kAcceptedColumns) + ")");
    }
    if (!label_column_) {
      return Invalid(name_, where,
                     "the header has no 'label' column (" +
                         std::string(kAcceptedColumns) + ")");
    }
    columns_ = fields_.size();
    return {};
  }

  Error SyntaxError(csv_parser& parser, std::string_view chunk,
                    std::size_t done, std::size_t line) {
    const int code = csv_error(&parser);
    std::string message;
    if (code == CSV_EPARSE) {
      const std::size_t column = done + 1 + (line == 1 ? bom_bytes_ : 0);
      message = "CSV syntax error at byte " + std::to_string(column) +
                " of the line: ";
      if (done < chunk.size() && chunk[done] == '"') {
        message +=
            "a stray quote (quote the whole field and double the quotes "
            "inside it: \"say \"\"hi\"\"\")";
      } else {
        message += "text after a closing quote";
      }
      message += " (libcsv: " + std::string(csv_strerror(code)) + ")";
    } else {
      message = "CSV: " + std::string(csv_strerror(code));
    }
    return Invalid(name_, "line " + std::to_string(line), message).error();
  }

  std::string_view name_;
  std::size_t bom_bytes_;
  Builder builder_;
  std::optional<Error> error_;
  std::vector<std::string> fields_;  // of the record being read
  bool record_pending_ = true;       // the next non-blank line starts one
  std::size_t record_line_ = 1;      // where the current record starts
  std::size_t columns_ = 0;          // 0 until the header is read
  std::optional<std::size_t> value_column_;
  std::optional<std::size_t> label_column_;
  std::optional<std::size_t> parent_column_;
};

// ---------------------------------------------------------------------------
// Text (CheckTick's grammar)

Result<OptionList> ParseText(std::string_view body, std::string_view name,
                             const UserListLimits& limits) {
  DS_CHECK(CheckLineEndings(body, name));
  Builder builder(name, limits, Places::kLines);
  constexpr std::string_view kSeparator = " - ";
  enum class Style { kNone, kPairs, kPlain };
  Style style = Style::kNone;
  std::size_t style_line = 0;
  std::size_t line = 1;
  for (std::size_t pos = 0; pos <= body.size(); ++line) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view text = TrimAsciiSpace(body.substr(pos, end - pos));
    pos = end + 1;
    if (text.empty()) continue;
    const std::size_t separator = text.find(kSeparator);
    const Style this_style =
        separator == std::string_view::npos ? Style::kPlain : Style::kPairs;
    if (style == Style::kNone) {
      style = this_style;
      style_line = line;
    } else if (this_style != style) {
      const std::string pairs_line =
          std::to_string(style == Style::kPairs ? style_line : line);
      const std::string plain_line =
          std::to_string(style == Style::kPlain ? style_line : line);
      return Invalid(name, "line " + std::to_string(line),
                     "mixed formats: line " + pairs_line +
                         " is 'CODE - Label' but line " + plain_line +
                         " is a plain value; use one style for every line");
    }
    if (this_style == Style::kPairs) {
      DS_CHECK(builder.Add(line, "", text.substr(0, separator),
                           text.substr(separator + kSeparator.size()),
                           std::nullopt));
    } else {
      DS_CHECK(builder.Add(line, "", PlainValueKey(builder.size() + 1), text,
                           std::nullopt));
    }
  }
  return builder.Finish("the file has only blank lines");
}

// ---------------------------------------------------------------------------
// JSON

std::string Index(std::size_t i) { return "[" + std::to_string(i) + "]"; }

std::string MustBeString(std::string_view field, const element& e) {
  return std::string(field) + " must be a string, found " +
         std::string(json::TypeName(e));
}

Status ReadObjectItem(Builder& builder, object o, std::size_t i,
                      std::string_view name) {
  std::optional<std::string_view> value;
  std::optional<std::string_view> label;
  std::optional<std::string_view> parent;
  bool parent_seen = false;
  for (auto field : o) {
    const std::string_view key = field.key;
    std::optional<std::string_view>* slot = nullptr;
    if (key == "value") {
      slot = &value;
    } else if (key == "label") {
      slot = &label;
    } else if (key == "parent") {
      slot = &parent;
    } else {
      return Invalid(name, Index(i),
                     "unknown field " + Quote(key) +
                         " (accepted: value, label, parent)");
    }
    const std::string where = Index(i) + "." + std::string(key);
    if (*slot || (slot == &parent && parent_seen)) {
      return Invalid(name, where, "the field appears twice");
    }
    if (slot == &parent) {
      parent_seen = true;
      if (field.value.is_null()) continue;
    }
    std::string_view s;
    if (field.value.get(s)) {
      std::string message = MustBeString(key, field.value);
      if (slot == &parent) message += " (or null)";
      return Invalid(name, where, message);
    }
    *slot = s;
  }
  if (!value) return Invalid(name, Index(i) + ".value", "value is missing");
  if (!label) return Invalid(name, Index(i) + ".label", "label is missing");
  return builder.Add(i, "", *value, *label, parent);
}

Result<OptionList> ParseJson(std::string_view body, std::string_view name,
                             const UserListLimits& limits) {
  simdjson::dom::parser parser;
  auto root = json::Parse(parser, body, name);
  if (!root) {  // "<name>: not valid JSON (...)"; the user's input, though
    return std::unexpected(
        Error{ErrorCode::kInvalidArgument, std::move(root.error().message)});
  }
  array items;
  object members;
  if (!root->get(items)) {
    if (items.size() == 0) {
      return Invalid(name, "", "no options (the array is empty)");
    }
    enum class Kind { kObjects, kStrings };
    std::optional<Kind> kind;
    std::optional<Builder> builder;
    std::size_t i = 0;
    for (element item : items) {
      const bool is_object = item.is_object();
      const bool is_string = item.is_string();
      if (!kind) {
        if (!is_object && !is_string) {
          return Invalid(name, Index(i),
                         "expected an object or a string, found " +
                             std::string(json::TypeName(item)) +
                             " (the list is an array of {\"value\", "
                             "\"label\"} objects or of strings)");
        }
        kind = is_object ? Kind::kObjects : Kind::kStrings;
        builder.emplace(name, limits,
                        is_object ? Places::kObjects : Places::kStrings);
      }
      if (*kind == Kind::kObjects) {
        if (!is_object) {
          return Invalid(name, Index(i),
                         "expected an object like [0], found " +
                             std::string(json::TypeName(item)));
        }
        object o;
        if (item.get(o)) return Invalid(name, Index(i), "not an object");
        DS_CHECK(ReadObjectItem(*builder, o, i, name));
      } else {
        std::string_view s;
        if (item.get(s)) {
          return Invalid(name, Index(i),
                         "expected a string like [0], found " +
                             std::string(json::TypeName(item)));
        }
        DS_CHECK(builder->Add(i, "", s, s, std::nullopt));
      }
      ++i;
    }
    return builder->Finish("the array is empty");
  }
  if (!root->get(members)) {
    Builder builder(name, limits, Places::kMembers);
    std::size_t i = 0;
    for (auto member : members) {
      std::string_view label;
      if (member.value.get(label)) {
        return Invalid(name, KeyPath(member.key),
                       MustBeString("label", member.value));
      }
      DS_CHECK(builder.Add(i, member.key, member.key, label, std::nullopt));
      ++i;
    }
    return builder.Finish("the object is empty");
  }
  return Invalid(name, "",
                 "expected an array or an object at the top level, found " +
                     std::string(json::TypeName(*root)));
}

}  // namespace

std::string_view UserListFormatName(UserListFormat f) {
  return kFormatNames[static_cast<int>(f)];
}

std::optional<UserListFormat> ParseUserListFormat(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (kFormatNames[i] == name) return static_cast<UserListFormat>(i);
  }
  return std::nullopt;
}

UserListFormat UserListFormatForFile(std::string_view file_name) {
  const std::size_t slash = file_name.find_last_of('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return UserListFormat::kText;
  const std::string extension = AsciiLower(file_name.substr(dot + 1));
  if (extension == "csv") return UserListFormat::kCsv;
  if (extension == "json") return UserListFormat::kJson;
  return UserListFormat::kText;
}

Result<OptionList> ParseUserList(std::string_view bytes, UserListFormat format,
                                 std::string_view name,
                                 const UserListLimits& limits) {
  if (auto bad = FindInvalidUtf8(bytes)) {
    const auto [line, column] = LineAndColumn(bytes, *bad);
    return Invalid(name, "line " + std::to_string(line),
                   "invalid UTF-8 at byte " + std::to_string(column) +
                       " of the line (file offset " + std::to_string(*bad) +
                       ")");
  }
  std::string_view body = bytes;
  std::size_t bom_bytes = 0;
  if (body.starts_with(kBom)) {
    body.remove_prefix(kBom.size());
    bom_bytes = kBom.size();
  }
  if (body.empty()) return Invalid(name, "", "no options (the file is empty)");
  if (IsBlank(body)) {
    return Invalid(name, "", "no options (the file has only blank lines)");
  }
  switch (format) {
    case UserListFormat::kCsv:
      return CsvReader(name, limits, bom_bytes).Read(body);
    case UserListFormat::kJson: return ParseJson(body, name, limits);
    case UserListFormat::kText: return ParseText(body, name, limits);
  }
  return Invalid(name, "", "unknown format");
}

}  // namespace datasnap
