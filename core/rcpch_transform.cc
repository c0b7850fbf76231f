#include "core/rcpch_transform.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/json_read.h"
#include "core/text.h"

namespace datasnap {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// How many examples a warning or error names before "and N more".
constexpr std::size_t kExamples = 5;

// Trims and turns each run of ASCII whitespace into one space.
std::string CollapseWhitespace(std::string_view s) {
  s = TrimAsciiSpace(s);
  std::string out;
  out.reserve(s.size());
  bool in_space = false;
  for (char c : s) {
    if (IsAsciiSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out += ' ';
    in_space = false;
    out += c;
  }
  return out;
}

// True when valid UTF-8 `s` holds a C1 control character (U+0080-U+009F,
// encoded C2 80 to C2 9F).
bool HasC1Control(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xC2) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

// Why `text` (already trimmed) cannot be a code or label, or "" if it can.
std::string TextProblem(std::string_view field, std::string_view text) {
  if (text.empty()) return std::string(field) + " is empty";
  if (FindInvalidUtf8(text)) return std::string(field) + " is not valid UTF-8";
  if (HasControlCharacter(text) || HasC1Control(text)) {
    return std::string(field) + " has a control character";
  }
  return "";
}

// A usable field value, or why there is none ("ods_code is missing").
using Text = std::expected<std::string, std::string>;

// The element of `o` named `field`, or why there is none.
std::expected<element, std::string> FieldOf(object o, std::string_view field) {
  element e;
  if (o.at_key(field).get(e)) {
    return std::unexpected(std::string(field) + " is missing");
  }
  if (e.is_null()) return std::unexpected(std::string(field) + " is null");
  return e;
}

// A code: a string, or a whole number as its decimal text; trimmed.
Text ReadCode(object o, std::string_view field) {
  auto e = FieldOf(o, field);
  if (!e) return std::unexpected(e.error());
  std::string code;
  std::string_view s;
  std::int64_t n = 0;
  std::uint64_t u = 0;
  if (!e->get(s)) {
    code = std::string(TrimAsciiSpace(s));
  } else if (!e->get(n)) {
    code = std::to_string(n);
  } else if (!e->get(u)) {
    code = std::to_string(u);
  } else if (e->type() == element_type::DOUBLE) {
    return std::unexpected(std::string(field) +
                           " is a number that is not a whole number");
  } else {
    return std::unexpected(std::string(field) + " is " +
                           std::string(json::TypeName(*e)));
  }
  if (std::string why = TextProblem(field, code); !why.empty()) {
    return std::unexpected(std::move(why));
  }
  return code;
}

// A label: a string, whitespace trimmed and collapsed.
Text ReadLabel(object o, std::string_view field) {
  auto e = FieldOf(o, field);
  if (!e) return std::unexpected(e.error());
  std::string_view s;
  if (e->get(s)) {
    return std::unexpected(std::string(field) + " is " +
                           std::string(json::TypeName(*e)));
  }
  std::string label = CollapseWhitespace(s);
  if (std::string why = TextProblem(field, label); !why.empty()) {
    return std::unexpected(std::move(why));
  }
  return label;
}

// fallback_label with every "{code}" replaced by `code`.
std::string FormatFallback(std::string_view pattern, std::string_view code) {
  constexpr std::string_view kPlaceholder = "{code}";
  std::string out;
  for (;;) {
    const std::size_t at = pattern.find(kPlaceholder);
    if (at == std::string_view::npos) break;
    out += pattern.substr(0, at);
    out += code;
    pattern.remove_prefix(at + kPlaceholder.size());
  }
  out += pattern;
  return CollapseWhitespace(out);
}

std::string Plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "a; b; c; and 4 more" from the first kExamples of `parts` and the total.
std::string ListExamples(const std::vector<std::string>& parts,
                         std::size_t total, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size() && i < kExamples; ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  const std::size_t shown = std::min(parts.size(), kExamples);
  if (total > shown) {
    out += std::string(separator) + "and " + std::to_string(total - shown) +
           " more";
  }
  return out;
}

// Where an option came from, for messages about duplicates.
struct Origin {
  std::string where;      // "[3]" or "[3].organisations[1]"
  std::string unit_code;  // the item's own code (PDU mode); "" otherwise
};

class Transformer {
 public:
  Transformer(const FieldMapping& mapping, std::string_view key)
      : mapping_(mapping), key_(key) {}

  Result<RcpchOptions> Run(std::string_view body);

 private:
  // Adds `option` unless its value was seen; records the duplicate if so.
  // Returns whether it was added.
  bool Add(Option option, Origin origin);
  void Skip(std::string where, std::string why, std::size_t count = 1);

  // One top-level item; `where` is "[i]".
  void Item(element item, const std::string& where);
  void FromFirstObject(object o, const std::string& where);
  void Children(object o, const std::string& where,
                const std::string& board_value);
  // How many nested items `o` holds (for a board left out).
  std::size_t NestedCount(object o) const;

  void Warn(std::string message) {
    out_.warnings.push_back(key_ + ": " + std::move(message));
  }
  std::string SkippedSummary() const;

  const FieldMapping& mapping_;
  const std::string key_;
  RcpchOptions out_;
  std::vector<Option> options_;
  std::unordered_map<std::string, Origin> seen_;  // value -> first origin

  std::size_t invalid_ = 0;  // items and nested items that were unusable
  std::size_t invalid_entries_ = 0;  // Skip() calls: a board and its
                                     // nested items are one entry
  std::vector<std::string> invalid_examples_;
  std::size_t duplicates_ = 0;
  std::vector<std::string> duplicate_examples_;
  // Units mapping to a value an earlier unit has: {kept unit, left-out
  // unit, value, kept label}.
  struct Collision {
    std::string kept, dropped, value, label;
  };
  std::size_t unit_collisions_ = 0;
  std::vector<Collision> unit_collision_examples_;
  std::size_t fallbacks_ = 0;
  std::unordered_set<std::string> top_level_;  // values of top-level items
  std::vector<std::string> fallback_examples_;
  std::size_t bad_children_ = 0;
  std::vector<std::string> bad_children_examples_;
};

void Transformer::Skip(std::string where, std::string why, std::size_t count) {
  invalid_ += count;
  ++invalid_entries_;
  out_.skipped += count;
  if (invalid_examples_.size() < kExamples) {
    invalid_examples_.push_back(std::move(where) + " " + std::move(why));
  }
}

bool Transformer::Add(Option option, Origin origin) {
  auto [it, inserted] = seen_.emplace(option.value, origin);
  if (inserted) {
    options_.push_back(std::move(option));
    return true;
  }
  ++out_.skipped;
  const Origin& first = it->second;
  if (!origin.unit_code.empty() && !first.unit_code.empty()) {
    ++unit_collisions_;
    if (unit_collision_examples_.size() < kExamples) {
      // The kept option's label: the first one with this value.
      std::string kept_label;
      for (const Option& o : options_) {
        if (o.value == option.value) kept_label = o.label;
      }
      unit_collision_examples_.push_back(
          {first.unit_code, origin.unit_code, option.value, kept_label});
    }
  } else {
    ++duplicates_;
    if (duplicate_examples_.size() < kExamples) {
      duplicate_examples_.push_back("\"" + option.value + "\" at " +
                                    origin.where + " (first at " + first.where +
                                    ")");
    }
  }
  return false;
}

std::size_t Transformer::NestedCount(object o) const {
  if (!mapping_.children) return 0;
  array nested;
  if (o.at_key(mapping_.children->field).get(nested)) return 0;
  return nested.size();
}

void Transformer::Item(element item, const std::string& where) {
  object o;
  if (item.get(o)) {
    Skip(where, "is " + std::string(json::TypeName(item)) + ", not an object");
    return;
  }
  if (mapping_.from_first_object) {
    FromFirstObject(o, where);
    return;
  }
  auto code = ReadCode(o, mapping_.code);
  Text label = std::unexpected(std::string());
  if (code) {
    label = mapping_.label.empty()
                ? Text(std::unexpected(std::string("no label field")))
                : ReadLabel(o, mapping_.label);
    if (!label && !mapping_.fallback_label.empty()) {
      ++fallbacks_;
      if (fallback_examples_.size() < kExamples) {
        fallback_examples_.push_back(where + " " + *code + " (" +
                                     label.error() + ")");
      }
      label = FormatFallback(mapping_.fallback_label, *code);
    }
  }
  if (!code || !label) {
    const std::size_t nested = NestedCount(o);
    std::string why = code ? label.error() : code.error();
    if (nested > 0) {
      why += ", so its " + Plural(nested, "nested item", "nested items") +
             " too";
    }
    Skip(where, std::move(why), 1 + nested);
    return;
  }
  const std::string value = *code;
  const bool added =
      Add(Option{std::move(*code), std::move(*label), std::nullopt, false},
          Origin{where, ""});
  if (added) top_level_.insert(value);
  if (!mapping_.children) return;
  // A repeated board's children join the first board with that code; an
  // item whose code repeats a nested item's is no board, and its children
  // go with it (else they would hang two levels deep).
  if (added || top_level_.contains(value)) {
    Children(o, where, value);
  } else if (const std::size_t nested = NestedCount(o); nested > 0) {
    Skip(where, "its code repeats a nested item's, so its " +
                    Plural(nested, "nested item", "nested items") +
                    " are left out",
         nested);
  }
}

void Transformer::FromFirstObject(object o, const std::string& where) {
  const FieldMapping::FirstObject& first = *mapping_.from_first_object;
  auto unit = ReadCode(o, mapping_.code);
  if (!unit) {
    Skip(where, unit.error());
    return;
  }
  for (const std::string& field : first.fields) {
    object candidate;
    if (o.at_key(field).get(candidate)) continue;  // absent, null, not object
    auto code = ReadCode(candidate, first.code);
    if (!code) continue;
    auto label = ReadLabel(candidate, first.label);
    if (!label) continue;
    Add(Option{std::move(*code), std::move(*label), std::nullopt, false},
        Origin{where, *unit});
    return;
  }
  // Nothing usable: the unit's own code, labelled by its label field or the
  // fallback.
  Text label = std::unexpected(std::string());
  if (!mapping_.label.empty()) label = ReadLabel(o, mapping_.label);
  if (!label && !mapping_.fallback_label.empty()) {
    label = FormatFallback(mapping_.fallback_label, *unit);
  }
  if (!label) {
    std::string why = "has no ";
    for (std::size_t i = 0; i < first.fields.size(); ++i) {
      if (i > 0) why += i + 1 == first.fields.size() ? " or " : ", ";
      why += first.fields[i];
    }
    why += " with " + first.code + " and " + first.label;
    if (!mapping_.label.empty()) why += ", and " + label.error();
    Skip(where, std::move(why));
    return;
  }
  ++fallbacks_;
  if (fallback_examples_.size() < kExamples) {
    fallback_examples_.push_back(*unit + " (" + *label + ")");
  }
  const std::string value = *unit;
  Add(Option{value, std::move(*label), std::nullopt, false},
      Origin{where, value});
}

void Transformer::Children(object o, const std::string& where,
                           const std::string& board_value) {
  const FieldMapping::Children& c = *mapping_.children;
  element e;
  if (o.at_key(c.field).get(e) || e.is_null()) return;  // just the board
  array nested;
  if (e.get(nested)) {
    ++bad_children_;
    if (bad_children_examples_.size() < kExamples) {
      bad_children_examples_.push_back(where + " " +
                                       std::string(json::TypeName(e)));
    }
    return;
  }
  std::size_t j = 0;
  for (element child : nested) {
    const std::string child_where =
        where + "." + c.field + "[" + std::to_string(j++) + "]";
    object co;
    if (child.get(co)) {
      Skip(child_where,
           "is " + std::string(json::TypeName(child)) + ", not an object");
      continue;
    }
    auto code = ReadCode(co, c.code);
    if (!code) {
      Skip(child_where, code.error());
      continue;
    }
    auto label = ReadLabel(co, c.label);
    if (!label) {
      Skip(child_where, label.error());
      continue;
    }
    Add(Option{std::move(*code), std::move(*label), board_value, false},
        Origin{child_where, ""});
  }
}

std::string Transformer::SkippedSummary() const {
  return Plural(invalid_, "item", "items") + " skipped: " +
         ListExamples(invalid_examples_, invalid_entries_, "; ");
}

Result<RcpchOptions> Transformer::Run(std::string_view body) {
  if (mapping_.code.empty() ||
      (mapping_.label.empty() && mapping_.fallback_label.empty())) {
    return Fail(ErrorCode::kInvalidArgument,
                key_ + ": the mapping needs a code field and a label field "
                       "or fallback_label");
  }
  simdjson::dom::parser parser;
  DS_TRY(root, json::Parse(parser, body, key_));
  array items;
  if (root->get(items)) {
    return Fail(ErrorCode::kCorrupt, key_ + ": expected a JSON array, found " +
                                         std::string(json::TypeName(*root)));
  }
  out_.items = items.size();
  if (out_.items == 0) {
    return Fail(ErrorCode::kCorrupt,
                key_ + ": no valid options in the response (the array is "
                       "empty)");
  }
  std::size_t i = 0;
  for (element item : items) Item(item, "[" + std::to_string(i++) + "]");

  if (options_.empty()) {
    return Fail(ErrorCode::kCorrupt, key_ +
                                         ": no valid options in the response (" +
                                         SkippedSummary() + ")");
  }
  if (invalid_ > 0) Warn(SkippedSummary());
  if (duplicates_ > 0) {
    Warn(Plural(duplicates_, "duplicate code", "duplicate codes") +
         " left out, the first of each kept: " +
         ListExamples(duplicate_examples_, duplicates_, "; "));
  }
  if (unit_collisions_ > 0) {
    // One: "units PZ024 and PZ031 both map to RXX01 (Hospital X); kept
    // PZ024". Several: the same clauses, ", kept" and joined with "; ".
    const bool one = unit_collisions_ == 1;
    std::vector<std::string> parts;
    for (const Collision& c : unit_collision_examples_) {
      parts.push_back("units " + c.kept + " and " + c.dropped +
                      " both map to " + c.value + " (" + c.label + ")" +
                      (one ? "; kept " : ", kept ") + c.kept);
    }
    Warn(one ? parts.front()
             : std::to_string(unit_collisions_) +
                   " units map to the code of an earlier unit and were left "
                   "out: " +
                   ListExamples(parts, unit_collisions_, "; "));
  }
  if (fallbacks_ > 0) {
    if (mapping_.from_first_object) {
      const FieldMapping::FirstObject& first = *mapping_.from_first_object;
      std::string fields;
      for (std::size_t k = 0; k < first.fields.size(); ++k) {
        if (k > 0) fields += k + 1 == first.fields.size() ? " or " : ", ";
        fields += first.fields[k];
      }
      Warn(Plural(fallbacks_, "unit has", "units have") + " no " + fields +
           " with " + first.code + " and " + first.label + ", so " +
           (fallbacks_ == 1 ? "its" : "their") + " own " + mapping_.code +
           " is the value: " +
           ListExamples(fallback_examples_, fallbacks_, ", "));
    } else {
      Warn(Plural(fallbacks_, "item", "items") + " labelled \"" +
           mapping_.fallback_label + "\": " +
           ListExamples(fallback_examples_, fallbacks_, "; "));
    }
  }
  if (bad_children_ > 0) {
    Warn(mapping_.children->field + " is not an array in " +
         Plural(bad_children_, "item", "items") +
         ", so their nested items were left out: " +
         ListExamples(bad_children_examples_, bad_children_, "; "));
  }

  auto list = OptionList::Make(std::move(options_));
  if (!list) {
    // Unreachable in principle: every rule Make checks was applied above.
    return Fail(ErrorCode::kCorrupt, key_ + ": " + list.error().message);
  }
  out_.options = std::move(*list);
  return std::move(out_);
}

}  // namespace

Result<RcpchOptions> TransformRcpchResponse(std::string_view body,
                                            const FieldMapping& mapping,
                                            std::string_view key) {
  return Transformer(mapping, key).Run(body);
}

}  // namespace datasnap
