#include "core/nhs_dd_extract.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/html_document.h"

namespace datasnap {
namespace {

constexpr const char kNoOptions[] = "No valid options found on the page";

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

enum class SectionKind { kNational, kDefault };

// A section heading's text, lower-cased, without a trailing colon.
std::optional<SectionKind> SectionOfTitle(std::string_view text) {
  std::string t = Lowercase(NormalizeSpace(text));
  while (!t.empty() && (t.back() == ':' || t.back() == ' ')) t.pop_back();
  if (t == "national codes" || t == "national code" ||
      t == "permitted national codes" || t == "permitted national code") {
    return SectionKind::kNational;
  }
  if (t == "default codes" || t == "default code") {
    return SectionKind::kDefault;
  }
  return std::nullopt;
}

// The section ids of the site's generators, current and older:
// data_element_<slug>_nationalCodes, element_<slug>.national_codes, ...
std::optional<SectionKind> SectionOfId(std::string_view id) {
  for (std::string_view s : {"_nationalCodes", "_permittedNationalCodes",
                             ".national_codes", ".permitted_national_codes"}) {
    if (EndsWith(id, s)) return SectionKind::kNational;
  }
  for (std::string_view s : {"_defaultCodes", ".default_codes"}) {
    if (EndsWith(id, s)) return SectionKind::kDefault;
  }
  return std::nullopt;
}

int HeadingLevel(const GumboNode* node) {
  switch (node->v.element.tag) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

// WebHelp page chrome and other places that never hold the codes.
bool IsChrome(const GumboNode* node) {
  switch (node->v.element.tag) {
    case GUMBO_TAG_NAV: case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE: case GUMBO_TAG_HEAD: case GUMBO_TAG_FORM:
      return true;
    default:
      break;
  }
  for (std::string_view c :
       {"wh_header", "wh_top_menu", "wh_top_menu_and_indexterms_link",
        "wh_breadcrumb", "wh_right_tools", "wh_publication_toc",
        "wh_side_toc", "wh_footer", "footer-container", "wh_search_input",
        "wh_tools", "wh_related_links", "wh_child_links"}) {
    if (HasClass(node, c)) return true;
  }
  return false;
}

// The page's content elements in document order, chrome left out; each
// knows where its subtree ends in that order.
struct Flat {
  std::vector<const GumboNode*> nodes;
  std::vector<std::size_t> end;  // index after the last descendant
  std::unordered_map<const GumboNode*, std::size_t> index;
};

Flat Flatten(const GumboNode* root) {
  Flat flat;
  struct Frame {
    const GumboNode* node;
    std::size_t at;  // index in flat.nodes, or npos before the visit
  };
  std::vector<Frame> stack{{root, std::string::npos}};
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    if (f.at != std::string::npos) {  // leaving: the subtree is complete
      flat.end[f.at] = flat.nodes.size();
      continue;
    }
    if (f.node != root && IsChrome(f.node)) continue;
    const std::size_t at = flat.nodes.size();
    flat.nodes.push_back(f.node);
    flat.end.push_back(at + 1);
    flat.index.emplace(f.node, at);
    stack.push_back({f.node, at});
    std::vector<const GumboNode*> children = ChildElements(f.node);
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.push_back({*it, std::string::npos});
    }
  }
  return flat;
}

// Where the topic's content is: WebHelp's main/article, else the body.
const GumboNode* ContentRoot(const HtmlDocument& doc) {
  const GumboNode* body = nullptr;
  const GumboNode* main = nullptr;
  for (const GumboNode* n : doc.Elements()) {
    if (body == nullptr && IsElement(n, GUMBO_TAG_BODY)) body = n;
    if (main == nullptr &&
        (IsElement(n, GUMBO_TAG_MAIN) || Attribute(n, "role") == "main" ||
         Attribute(n, "id") == "wh_topic_body")) {
      main = n;
    }
  }
  if (main != nullptr) return main;
  return body != nullptr ? body : doc.root();
}

// What one table, list or definition list gave.
struct Found {
  std::vector<NhsDdCode> codes;
  std::vector<std::string> warnings;
};

// "(Retired 1 April 2020)" at the end of a label: the label without it.
std::optional<std::string> WithoutRetiredSuffix(std::string_view label) {
  if (label.empty() || label.back() != ')') return std::nullopt;
  const std::size_t open = label.rfind('(');
  if (open == std::string_view::npos) return std::nullopt;
  const std::string inside = Lowercase(label.substr(open + 1));
  if (!inside.starts_with("retired ")) return std::nullopt;
  // A date follows: "(Retired on medical grounds)" is a live label.
  if (inside.find_first_of("0123456789") == std::string::npos) {
    return std::nullopt;
  }
  return NormalizeSpace(label.substr(0, open));
}

// Adds a code unless it is retired (then a warning); `struck` and
// `retired_row` are what the markup said.
void AddCode(std::string code, std::string label, bool retired_row,
             bool struck, Found& found) {
  // A row without a code is blank or a group heading ("White" above the
  // White codes of Ethnic Category): nothing to take, nothing to report.
  if (code.empty()) return;
  if (label.empty()) {
    found.warnings.push_back("code " + Quote(code) + " without a label left out");
    return;
  }
  std::optional<std::string> bare = WithoutRetiredSuffix(label);
  if (retired_row || struck || bare) {
    found.warnings.push_back("retired code " + Quote(code) + " " +
                             Quote(bare && !bare->empty() ? *bare : label) +
                             " left out");
    return;
  }
  found.codes.push_back({std::move(code), std::move(label)});
}

enum class Column { kCode, kDescription, kOther };

// A header cell's text matched as a whole, so that "Data Element Name" is
// neither.
Column ClassifyHeader(std::string_view text) {
  std::string t = Lowercase(NormalizeSpace(text));
  while (!t.empty() && (t.back() == ':' || t.back() == ' ')) t.pop_back();
  if (t == "code" || t == "codes" || t == "value" || t == "national code" ||
      t == "code value" || t == "default code") {
    return Column::kCode;
  }
  if (t == "description" || t == "meaning" || t == "name" || t == "label" ||
      t == "national code description" || t == "code description" ||
      t == "code meaning" || t == "default code description") {
    return Column::kDescription;
  }
  return Column::kOther;
}

int ColSpan(const GumboNode* cell) {
  std::string_view v = Attribute(cell, "colspan");
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') break;
    n = n * 10 + (c - '0');
    if (n > 1000) break;
  }
  return n < 1 ? 1 : std::min(n, 1000);
}

struct Row {
  const GumboNode* tr;
  bool in_head;
  std::vector<const GumboNode*> cells;  // one entry per column covered
};

// The rows of `table` itself (not of tables nested in it), each with its
// cells laid out by column (colspan honoured).
std::vector<Row> TableRows(const GumboNode* table) {
  std::vector<Row> rows;
  auto add_row = [&](const GumboNode* tr, bool in_head) {
    Row row{tr, in_head, {}};
    for (const GumboNode* cell : ChildElements(tr)) {
      if (!IsElement(cell, GUMBO_TAG_TD) && !IsElement(cell, GUMBO_TAG_TH)) {
        continue;
      }
      const int span = ColSpan(cell);
      for (int k = 0; k < span && row.cells.size() < 1000; ++k) {
        row.cells.push_back(cell);
      }
    }
    rows.push_back(std::move(row));
  };
  for (const GumboNode* part : ChildElements(table)) {
    if (IsElement(part, GUMBO_TAG_TR)) {
      add_row(part, false);
    } else if (IsElement(part, GUMBO_TAG_THEAD) ||
               IsElement(part, GUMBO_TAG_TBODY) ||
               IsElement(part, GUMBO_TAG_TFOOT)) {
      for (const GumboNode* tr : ChildElements(part)) {
        if (IsElement(tr, GUMBO_TAG_TR)) {
          add_row(tr, IsElement(part, GUMBO_TAG_THEAD));
        }
      }
    }
  }
  return rows;
}

bool AllHeaderCells(const Row& row) {
  return !row.cells.empty() &&
         std::all_of(row.cells.begin(), row.cells.end(), [](const GumboNode* c) {
           return IsElement(c, GUMBO_TAG_TH);
         });
}

// The header row's code and description columns, when it has them.
struct Columns {
  std::optional<std::size_t> code;
  std::optional<std::size_t> description;
};

Columns FindColumns(const Row& header) {
  Columns cols;
  const GumboNode* previous = nullptr;
  for (std::size_t i = 0; i < header.cells.size(); ++i) {
    if (header.cells[i] == previous) continue;  // a spanned column
    previous = header.cells[i];
    const Column c = ClassifyHeader(NodeText(header.cells[i]));
    if (c == Column::kCode && !cols.code) cols.code = i;
    if (c == Column::kDescription && !cols.description) cols.description = i;
  }
  return cols;
}

// The header row of a table: its thead's first row, else a first row of
// th cells only.
std::optional<std::size_t> HeaderRow(const std::vector<Row>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].in_head) return i;
  }
  if (rows.empty()) return std::nullopt;
  // DITA's sthead row, th cells, or td cells that read "Code",
  // "Description".
  if (AllHeaderCells(rows[0]) || HasClass(rows[0].tr, "sthead")) return 0;
  const Columns cols = FindColumns(rows[0]);
  if (cols.code && cols.description) return 0;
  return std::nullopt;
}

bool CellStruck(const GumboNode* cell) {
  if (IsStruckThrough(cell)) return true;
  const std::string all = NodeText(cell);
  return !all.empty() && NodeText(cell, {.skip_struck = true, .skip_tags = {}}).empty();
}

// Reads a code table. In a codes section a table without a recognisable
// header is read as code, description; elsewhere (`need_header`) both
// columns must be named.
std::optional<Found> ReadTable(const GumboNode* table, bool need_header) {
  const std::vector<Row> rows = TableRows(table);
  const std::optional<std::size_t> header = HeaderRow(rows);
  Columns cols;
  if (header) cols = FindColumns(rows[*header]);
  if (need_header && (!cols.code || !cols.description)) return std::nullopt;
  const std::size_t code_col = cols.code.value_or(0);
  std::size_t desc_col = cols.description.value_or(code_col + 1);
  if (desc_col == code_col) desc_col = code_col + 1;

  Found found;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    if ((header && i == *header) || row.in_head) continue;
    if (AllHeaderCells(row) && !header) continue;  // a caption-like row
    if (row.cells.size() <= std::max(code_col, desc_col)) {
      if (!row.cells.empty() && !NodeText(row.tr).empty()) {
        found.warnings.push_back("a row with too few cells left out: " +
                                 Quote(NodeText(row.tr)));
      }
      continue;
    }
    const GumboNode* code_cell = row.cells[code_col];
    const GumboNode* desc_cell = row.cells[desc_col];
    const bool retired_row = HasClass(row.tr, "retired") ||
                             HasClass(code_cell, "retired") ||
                             HasClass(desc_cell, "retired");
    const bool struck =
        IsStruckThrough(row.tr) || CellStruck(code_cell) || CellStruck(desc_cell);
    AddCode(NodeText(code_cell), NodeText(desc_cell), retired_row, struck,
            found);
  }
  return found;
}

// Splits "CODE - Label" (hyphen, en dash, em dash or colon). A code is one
// to twenty letters, digits or dots starting with a letter or digit; only
// upper-case letters unless `any_case`.
std::optional<NhsDdCode> SplitCodeLine(std::string_view text, bool any_case) {
  std::size_t i = 0;
  auto is_code_char = [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (any_case && c >= 'a' && c <= 'z') || (c == '.' && i > 0);
  };
  while (i < text.size() && i < 21 && is_code_char(text[i])) ++i;
  if (i == 0 || i > 20) return std::nullopt;
  std::string code(text.substr(0, i));
  while (!code.empty() && code.back() == '.') code.pop_back();
  std::size_t j = i;
  while (j < text.size() && text[j] == ' ') ++j;
  std::size_t sep = 0;
  for (std::string_view s : {"-", ":", "\xE2\x80\x93", "\xE2\x80\x94"}) {
    if (text.substr(j, s.size()) == s) sep = s.size();
  }
  if (sep == 0) return std::nullopt;
  std::string label = NormalizeSpace(text.substr(j + sep));
  if (code.empty() || label.empty()) return std::nullopt;
  return NhsDdCode{std::move(code), std::move(label)};
}

bool LooksLikeCode(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         s.find(' ') == std::string_view::npos;
}

// Reads dt/dd pairs. The term is the code; a description that repeats it
// ("01 - Label") loses the repetition.
Found ReadDefinitionList(const GumboNode* dl, bool any_case) {
  Found found;
  std::optional<std::string> term;
  bool term_struck = false;
  bool term_retired = false;
  for (const GumboNode* child : ChildElements(dl)) {
    // <div> groups are allowed around dt/dd pairs.
    std::vector<const GumboNode*> items =
        IsElement(child, GUMBO_TAG_DIV) ? ChildElements(child)
                                        : std::vector<const GumboNode*>{child};
    for (const GumboNode* item : items) {
      if (IsElement(item, GUMBO_TAG_DT)) {
        term = NodeText(item);
        term_struck = CellStruck(item);
        term_retired = HasClass(item, "retired");
      } else if (IsElement(item, GUMBO_TAG_DD) && term) {
        std::string code = *term;
        std::string label = NodeText(item);
        term.reset();
        if (!LooksLikeCode(code)) {
          auto split = SplitCodeLine(code, any_case);
          if (!split || !label.empty()) continue;  // prose, not a code
          code = split->code;
          label = split->label;
        } else if (auto split = SplitCodeLine(label, true);
                   split && split->code == code) {
          label = split->label;
        }
        AddCode(std::move(code), std::move(label),
                term_retired || HasClass(item, "retired"),
                term_struck || CellStruck(item), found);
      }
    }
  }
  return found;
}

// Reads "CODE - Label" items of a ul/ol (nested lists are read on their
// own).
Found ReadList(const GumboNode* list, bool any_case) {
  Found found;
  for (const GumboNode* li : ChildElements(list)) {
    if (!IsElement(li, GUMBO_TAG_LI)) continue;
    const std::string text =
        NodeText(li, {.skip_struck = false, .skip_tags = {GUMBO_TAG_UL, GUMBO_TAG_OL}});
    auto split = SplitCodeLine(text, any_case);
    if (!split) continue;
    const bool struck =
        CellStruck(li) || IsStruckThrough(li);
    AddCode(std::move(split->code), std::move(split->label),
            HasClass(li, "retired"), struck, found);
  }
  return found;
}

// The outermost elements with tag `tag` in flat.nodes[from, to).
std::vector<const GumboNode*> Outermost(const Flat& flat, std::size_t from,
                                        std::size_t to, GumboTag tag) {
  std::vector<const GumboNode*> out;
  for (std::size_t i = from; i < to;) {
    if (IsElement(flat.nodes[i], tag)) {
      out.push_back(flat.nodes[i]);
      i = flat.end[i];
    } else {
      ++i;
    }
  }
  return out;
}

// Reads a codes section (flat.nodes[from, to)): its tables, else its
// definition lists, else its list items.
Found ReadSection(const Flat& flat, std::size_t from, std::size_t to) {
  Found found;
  auto merge = [&](Found part) {
    found.codes.insert(found.codes.end(), part.codes.begin(), part.codes.end());
    found.warnings.insert(found.warnings.end(), part.warnings.begin(),
                          part.warnings.end());
  };
  for (const GumboNode* table : Outermost(flat, from, to, GUMBO_TAG_TABLE)) {
    merge(*ReadTable(table, /*need_header=*/false));
  }
  if (!found.codes.empty()) return found;
  for (const GumboNode* dl : Outermost(flat, from, to, GUMBO_TAG_DL)) {
    merge(ReadDefinitionList(dl, /*any_case=*/true));
  }
  if (!found.codes.empty()) return found;
  for (std::size_t i = from; i < to; ++i) {
    const GumboNode* n = flat.nodes[i];
    if (IsElement(n, GUMBO_TAG_UL) || IsElement(n, GUMBO_TAG_OL)) {
      merge(ReadList(n, /*any_case=*/true));
    }
  }
  return found;
}

struct Section {
  SectionKind kind;
  std::size_t from;  // first content node after the title
  std::size_t to;
};

// Sections found by their titles.
std::vector<Section> SectionsByHeading(const Flat& flat) {
  std::vector<Section> sections;
  for (std::size_t i = 0; i < flat.nodes.size(); ++i) {
    const int level = HeadingLevel(flat.nodes[i]);
    if (level == 0) continue;
    auto kind = SectionOfTitle(NodeText(flat.nodes[i]));
    if (!kind) continue;
    // Up to the next heading of the same or a higher level, or the next
    // codes section however it is headed.
    std::size_t to = flat.end[i];
    while (to < flat.nodes.size()) {
      const int other = HeadingLevel(flat.nodes[to]);
      if (other != 0 &&
          (other <= level || SectionOfTitle(NodeText(flat.nodes[to])))) {
        break;
      }
      ++to;
    }
    sections.push_back({*kind, flat.end[i], to});
  }
  return sections;
}

bool IsList(const GumboNode* n) {
  return IsElement(n, GUMBO_TAG_TABLE) || IsElement(n, GUMBO_TAG_DL) ||
         IsElement(n, GUMBO_TAG_UL) || IsElement(n, GUMBO_TAG_OL);
}

// Sections titled by something other than a heading, as older and
// hand-made pages do: a table's caption (the section is that table), or a
// paragraph or bold text that reads "National Codes" (the section is the
// first table or list after it).
std::vector<Section> SectionsByOtherTitles(const Flat& flat) {
  std::vector<Section> sections;
  for (std::size_t i = 0; i < flat.nodes.size(); ++i) {
    const GumboNode* n = flat.nodes[i];
    const bool caption = IsElement(n, GUMBO_TAG_CAPTION);
    if (!caption && !IsElement(n, GUMBO_TAG_P) &&
        !IsElement(n, GUMBO_TAG_DIV) && !IsElement(n, GUMBO_TAG_B) &&
        !IsElement(n, GUMBO_TAG_STRONG) && !IsElement(n, GUMBO_TAG_SPAN)) {
      continue;
    }
    if (flat.end[i] - i > 8) continue;  // a container, not a title
    auto kind = SectionOfTitle(NodeText(n));
    if (!kind) continue;
    if (caption) {
      auto table = flat.index.find(n->parent);
      if (table != flat.index.end()) {
        sections.push_back({*kind, table->second, flat.end[table->second]});
      }
    } else {
      for (std::size_t j = flat.end[i]; j < flat.nodes.size(); ++j) {
        if (HeadingLevel(flat.nodes[j]) != 0) break;
        if (IsList(flat.nodes[j])) {
          sections.push_back({*kind, j, flat.end[j]});
          break;
        }
      }
    }
    i = flat.end[i] - 1;  // a <b> inside this <p> is the same title
  }
  return sections;
}

// Sections found by the site's ids (pages whose titles are not headings).
std::vector<Section> SectionsById(const Flat& flat) {
  std::vector<Section> sections;
  for (std::size_t i = 0; i < flat.nodes.size(); ++i) {
    auto kind = SectionOfId(Attribute(flat.nodes[i], "id"));
    if (!kind) continue;
    sections.push_back({*kind, i + 1, flat.end[i]});
    i = flat.end[i] - 1;  // nested matches belong to this one
  }
  return sections;
}

bool IsRetiredElement(const std::string& title, const GumboNode* h1) {
  const std::string t = Lowercase(title);
  return EndsWith(t, "(retired)") || (h1 != nullptr && HasClass(h1, "retired"));
}

// Drops repeated codes (keeping the first) and warns about each.
void DropDuplicates(NhsDdPage& page) {
  std::unordered_map<std::string, std::string> seen;  // code -> label kept
  auto filter = [&](std::vector<NhsDdCode>& codes, const char* where) {
    std::vector<NhsDdCode> kept;
    for (NhsDdCode& c : codes) {
      auto [it, fresh] = seen.emplace(c.code, c.label);
      if (fresh) {
        kept.push_back(std::move(c));
      } else {
        page.warnings.push_back("duplicate " + std::string(where) + " code " +
                                Quote(c.code) + " " + Quote(c.label) +
                                " left out (kept " + Quote(it->second) + ")");
      }
    }
    codes = std::move(kept);
  };
  filter(page.national, "national");
  filter(page.defaults, "default");
}

}  // namespace

Result<OptionList> NhsDdPage::ToOptions() const {
  std::vector<Option> options;
  options.reserve(national.size() + defaults.size());
  for (const NhsDdCode& c : national) {
    options.push_back({c.code, c.label, std::nullopt, false});
  }
  for (const NhsDdCode& c : defaults) {
    options.push_back({c.code, c.label, std::nullopt, true});
  }
  return OptionList::Make(std::move(options));
}

Result<NhsDdPage> ExtractNhsDdCodes(std::string_view html,
                                    std::string_view url) {
  const HtmlDocument doc(html);
  const Flat flat = Flatten(ContentRoot(doc));

  NhsDdPage page;
  const GumboNode* h1 = nullptr;
  for (const GumboNode* n : flat.nodes) {
    if (IsElement(n, GUMBO_TAG_H1)) {
      h1 = n;
      page.title = NodeText(n);
      break;
    }
  }

  auto take = [&](Found found, std::vector<NhsDdCode>& into) {
    into.insert(into.end(), found.codes.begin(), found.codes.end());
    page.warnings.insert(page.warnings.end(), found.warnings.begin(),
                         found.warnings.end());
  };

  // 1. The codes sections.
  std::vector<Section> sections = SectionsByHeading(flat);
  if (sections.empty()) sections = SectionsById(flat);
  if (sections.empty()) sections = SectionsByOtherTitles(flat);
  for (const Section& s : sections) {
    take(ReadSection(flat, s.from, s.to),
         s.kind == SectionKind::kNational ? page.national : page.defaults);
  }
  if (!sections.empty()) page.method = "sections";
  // The fallbacks are for pages without codes sections (or with sections
  // that hold nothing at all, not even retired codes).
  const bool fall_back = page.national.empty() && page.defaults.empty() &&
                         page.warnings.empty();

  // 2. A table with code and description headers.
  if (fall_back) {
    std::size_t qualifying = 0;
    for (const GumboNode* table :
         Outermost(flat, 0, flat.nodes.size(), GUMBO_TAG_TABLE)) {
      // Code tables nested in layout tables count too.
      for (std::size_t i = flat.index.at(table); i < flat.end[flat.index.at(table)];
           ++i) {
        if (!IsElement(flat.nodes[i], GUMBO_TAG_TABLE)) continue;
        std::optional<Found> found =
            ReadTable(flat.nodes[i], /*need_header=*/true);
        if (!found) continue;
        if (++qualifying == 1) {
          take(std::move(*found), page.national);
          if (!page.national.empty()) page.method = "table";
        }
      }
    }
    if (qualifying > 1) {
      page.warnings.push_back(
          "no National Codes section; took the first of " +
          std::to_string(qualifying) + " tables with Code and Description "
          "columns");
    }
  }

  // 3. Definition lists, then 4. list items, anywhere in the content.
  if (fall_back && page.national.empty()) {
    Found found;
    for (const GumboNode* dl : Outermost(flat, 0, flat.nodes.size(), GUMBO_TAG_DL)) {
      Found part = ReadDefinitionList(dl, /*any_case=*/false);
      found.codes.insert(found.codes.end(), part.codes.begin(), part.codes.end());
      found.warnings.insert(found.warnings.end(), part.warnings.begin(),
                            part.warnings.end());
    }
    if (!found.codes.empty()) page.method = "definition list";
    if (found.codes.empty()) {
      found = {};
      for (const GumboNode* n : flat.nodes) {
        if (!IsElement(n, GUMBO_TAG_UL) && !IsElement(n, GUMBO_TAG_OL)) continue;
        Found part = ReadList(n, /*any_case=*/false);
        found.codes.insert(found.codes.end(), part.codes.begin(), part.codes.end());
        found.warnings.insert(found.warnings.end(), part.warnings.begin(),
                              part.warnings.end());
      }
      if (!found.codes.empty()) page.method = "list items";
    }
    take(std::move(found), page.national);
  }

  DropDuplicates(page);
  if (page.national.empty() && page.defaults.empty()) {
    std::string message = kNoOptions;
    if (IsRetiredElement(page.title, h1)) {
      message += ": the data element " + Quote(page.title) +
                 " is retired and has no codes";
    } else if (!page.warnings.empty()) {
      message += ": " + page.warnings.front();
      if (page.warnings.size() > 1) {
        message += " (and " + std::to_string(page.warnings.size() - 1) +
                   " more)";
      }
    } else if (page.method == "sections") {
      message += ": the codes sections hold no code table";
    }
    message += " (" + std::string(url) + ")";
    return Fail(ErrorCode::kInvalidArgument, std::move(message));
  }
  return page;
}

}  // namespace datasnap
