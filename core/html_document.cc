#include "core/html_document.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>

namespace datasnap {
namespace {

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IsAsciiAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsNameChar(char c) {
  return IsAsciiAlpha(c) || (c >= '0' && c <= '9') || c == '-' || c == ':' ||
         c == '_';
}

bool IsOneOf(std::string_view name, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

// Elements without content, and elements whose end tag HTML lets authors
// leave out (the parser closes them itself, so they never nest deeply).
bool NeverNests(std::string_view name) {
  return IsOneOf(name, {"area", "base", "basefont", "bgsound", "br", "col",
                        "embed", "frame", "hr", "image", "img", "input",
                        "keygen", "link", "meta", "param", "source", "track",
                        "wbr", "p", "li", "dt", "dd", "tr", "td", "th",
                        "thead", "tbody", "tfoot", "option", "optgroup", "rb",
                        "rt", "rtc", "rp", "colgroup", "caption", "html",
                        "head", "body"});
}

// Tags that the extractors need even in deeply nested junk.
bool IsStructure(std::string_view name) {
  return IsOneOf(name, {"table", "dl", "ul", "ol", "h1", "h2", "h3", "h4",
                        "h5", "h6", "article", "section"});
}

// Elements whose content is raw text up to their end tag.
bool IsRawText(std::string_view name) {
  return IsOneOf(name, {"script", "style", "textarea", "title", "xmp",
                        "iframe", "noembed", "noframes"});
}

// Finds "</name" (any case) at or after `from`; npos if absent.
std::size_t FindEndTag(std::string_view html, std::string_view name,
                       std::size_t from) {
  for (std::size_t i = html.find("</", from); i != std::string_view::npos;
       i = html.find("</", i + 2)) {
    if (i + 2 + name.size() > html.size()) return std::string_view::npos;
    bool same = true;
    for (std::size_t k = 0; k < name.size() && same; ++k) {
      same = Lower(html[i + 2 + k]) == name[k];
    }
    if (same) return i;
  }
  return std::string_view::npos;
}

// The byte after the '>' that ends the tag starting at `i`, honouring
// quoted attribute values; html.size() when the tag never ends.
std::size_t TagEnd(std::string_view html, std::size_t i, bool* self_closing) {
  char quote = 0;
  for (std::size_t j = i; j < html.size(); ++j) {
    const char c = html[j];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      // A quote only opens a value right after '=' (possibly spaced).
      std::size_t k = j;
      while (k > i && (html[k - 1] == ' ' || html[k - 1] == '\t' ||
                       html[k - 1] == '\n' || html[k - 1] == '\r')) {
        --k;
      }
      if (k > i && html[k - 1] == '=') quote = c;
    } else if (c == '>') {
      if (self_closing != nullptr) *self_closing = j > i && html[j - 1] == '/';
      return j + 1;
    }
  }
  return html.size();
}

}  // namespace

std::string LimitHtmlNesting(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  std::vector<std::string> open;  // kept elements that nest, innermost last
  std::unordered_map<std::string, std::size_t> dropped;  // by tag name
  bool changed = false;
  std::size_t copied = 0;  // html[copied, i) still has to go to `out`
  auto skip = [&](std::size_t from, std::size_t to) {
    out.append(html.substr(copied, from - copied));
    copied = to;
    changed = true;
  };

  std::size_t i = 0;
  while (i < html.size()) {
    const std::size_t lt = html.find('<', i);
    if (lt == std::string_view::npos || lt + 1 >= html.size()) break;
    const char next = html[lt + 1];
    if (html.substr(lt, 4) == "<!--") {
      const std::size_t end = html.find("-->", lt + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    if (next == '!' || next == '?') {
      i = TagEnd(html, lt + 2, nullptr);
      continue;
    }
    const bool is_end = next == '/';
    const std::size_t name_at = lt + (is_end ? 2 : 1);
    if (name_at >= html.size() || !IsAsciiAlpha(html[name_at])) {
      i = lt + 1;
      continue;
    }
    std::size_t name_end = name_at;
    std::string name;
    while (name_end < html.size() && IsNameChar(html[name_end])) {
      name.push_back(Lower(html[name_end++]));
    }
    bool self_closing = false;
    const std::size_t tag_end = TagEnd(html, name_end, &self_closing);

    if (is_end) {
      if (!NeverNests(name)) {
        auto d = dropped.find(name);
        if (d != dropped.end() && d->second > 0) {
          --d->second;
          skip(lt, tag_end);
        } else {
          auto it = std::find(open.rbegin(), open.rend(), name);
          if (it != open.rend()) open.erase(std::next(it).base(), open.end());
        }
      }
      i = tag_end;
      continue;
    }
    if (IsRawText(name)) {
      const std::size_t end = FindEndTag(html, name, tag_end);
      i = end == std::string_view::npos ? html.size() : end;
      continue;
    }
    if (!NeverNests(name) && !self_closing) {
      const std::size_t limit =
          kMaxHtmlDepth + (IsStructure(name) ? kMaxHtmlStructureDepth : 0);
      if (open.size() >= limit) {
        ++dropped[name];
        skip(lt, tag_end);
      } else {
        open.push_back(std::move(name));
      }
    }
    i = tag_end;
  }
  if (!changed) return std::string(html);
  out.append(html.substr(copied));
  return out;
}

// ----------------------------------------------------------- HtmlDocument

HtmlDocument::HtmlDocument(std::string_view html)
    : html_(LimitHtmlNesting(html)) {
  GumboOptions options = kGumboDefaultOptions;
  // Gumbo copies the stack of open elements into every parse error; errors
  // are of no use here and cost quadratic memory on bad markup.
  options.max_errors = 0;
  output_ = gumbo_parse_with_options(&options, html_.data(), html_.size());
}

HtmlDocument::~HtmlDocument() {
  gumbo_destroy_output(&kGumboDefaultOptions, output_);
}

const GumboNode* HtmlDocument::root() const { return output_->root; }

std::vector<const GumboNode*> HtmlDocument::Elements(
    const GumboNode* from) const {
  std::vector<const GumboNode*> out;
  std::vector<const GumboNode*> stack{from != nullptr ? from : root()};
  while (!stack.empty()) {
    const GumboNode* node = stack.back();
    stack.pop_back();
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) {
      continue;
    }
    out.push_back(node);
    const GumboVector& children = node->v.element.children;
    for (unsigned k = children.length; k > 0; --k) {
      stack.push_back(static_cast<const GumboNode*>(children.data[k - 1]));
    }
  }
  return out;
}

// ---------------------------------------------------------------- helpers

std::string TagName(const GumboNode* node) {
  if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) {
    return "";
  }
  const GumboElement& e = node->v.element;
  if (e.tag != GUMBO_TAG_UNKNOWN) return gumbo_normalized_tagname(e.tag);
  GumboStringPiece piece = e.original_tag;
  gumbo_tag_from_original_text(&piece);
  std::string name(piece.data, piece.length);
  for (char& c : name) c = Lower(c);
  return name;
}

bool IsElement(const GumboNode* node, GumboTag tag) {
  return (node->type == GUMBO_NODE_ELEMENT ||
          node->type == GUMBO_NODE_TEMPLATE) &&
         node->v.element.tag == tag;
}

std::string_view Attribute(const GumboNode* node, const char* name) {
  if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) {
    return {};
  }
  const GumboAttribute* a =
      gumbo_get_attribute(&node->v.element.attributes, name);
  return a != nullptr ? std::string_view(a->value) : std::string_view();
}

bool HasClass(const GumboNode* node, std::string_view token) {
  std::string_view classes = Attribute(node, "class");
  std::size_t i = 0;
  while (i < classes.size()) {
    while (i < classes.size() && (classes[i] == ' ' || classes[i] == '\t' ||
                                  classes[i] == '\n' || classes[i] == '\r' ||
                                  classes[i] == '\f')) {
      ++i;
    }
    std::size_t j = i;
    while (j < classes.size() && classes[j] != ' ' && classes[j] != '\t' &&
           classes[j] != '\n' && classes[j] != '\r' && classes[j] != '\f') {
      ++j;
    }
    if (j > i && classes.substr(i, j - i) == token) return true;
    i = j;
  }
  return false;
}

std::vector<const GumboNode*> ChildElements(const GumboNode* node) {
  std::vector<const GumboNode*> out;
  if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) {
    return out;
  }
  const GumboVector& children = node->v.element.children;
  for (unsigned k = 0; k < children.length; ++k) {
    const auto* child = static_cast<const GumboNode*>(children.data[k]);
    if (child->type == GUMBO_NODE_ELEMENT ||
        child->type == GUMBO_NODE_TEMPLATE) {
      out.push_back(child);
    }
  }
  return out;
}

bool IsStruckThrough(const GumboNode* node) {
  if (IsElement(node, GUMBO_TAG_S) || IsElement(node, GUMBO_TAG_STRIKE) ||
      IsElement(node, GUMBO_TAG_DEL)) {
    return true;
  }
  std::string style(Attribute(node, "style"));
  for (char& c : style) c = Lower(c);
  return style.find("line-through") != std::string::npos;
}

namespace {

// Elements that do not break the text flow; every other element does.
bool IsInline(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_A: case GUMBO_TAG_ABBR: case GUMBO_TAG_B:
    case GUMBO_TAG_BDI: case GUMBO_TAG_BDO: case GUMBO_TAG_BIG:
    case GUMBO_TAG_CITE: case GUMBO_TAG_CODE: case GUMBO_TAG_DATA:
    case GUMBO_TAG_DEL: case GUMBO_TAG_DFN: case GUMBO_TAG_EM:
    case GUMBO_TAG_FONT: case GUMBO_TAG_I: case GUMBO_TAG_INS:
    case GUMBO_TAG_KBD: case GUMBO_TAG_LABEL: case GUMBO_TAG_MARK:
    case GUMBO_TAG_NOBR: case GUMBO_TAG_Q: case GUMBO_TAG_S:
    case GUMBO_TAG_SAMP: case GUMBO_TAG_SMALL: case GUMBO_TAG_SPAN:
    case GUMBO_TAG_STRIKE: case GUMBO_TAG_STRONG: case GUMBO_TAG_SUB:
    case GUMBO_TAG_SUP: case GUMBO_TAG_TIME: case GUMBO_TAG_TT:
    case GUMBO_TAG_U: case GUMBO_TAG_VAR: case GUMBO_TAG_UNKNOWN:
      return true;
    default:
      return false;
  }
}

// Content that is never visible text.
bool IsInvisible(GumboTag tag) {
  return tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE ||
         tag == GUMBO_TAG_TEMPLATE || tag == GUMBO_TAG_NOSCRIPT ||
         tag == GUMBO_TAG_HEAD;
}

// Decodes one UTF-8 sequence at `s[i]`; returns its length, or 0 when the
// bytes there are not valid UTF-8.
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t* cp) {
  const auto b = [&](std::size_t k) {
    return static_cast<unsigned char>(s[i + k]);
  };
  const unsigned char c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  std::size_t n;
  std::uint32_t v;
  std::uint32_t min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool IsSpaceLike(std::uint32_t cp) {
  return cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool IsZeroWidth(std::uint32_t cp) {
  return cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x2060 ||
         cp == 0xFEFF || cp == 0xAD;
}

}  // namespace

std::string NormalizeSpace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    std::size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) {  // an invalid byte: the replacement character
      n = 1;
      cp = 0xFFFD;
    }
    if (IsSpaceLike(cp)) {
      pending_space = !out.empty();
    } else if (!IsZeroWidth(cp)) {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      if (cp == 0xFFFD && n == 1) {
        out.append("\xEF\xBF\xBD");
      } else {
        out.append(text.substr(i, n));
      }
    }
    i += n;
  }
  return out;
}

std::string NodeText(const GumboNode* node, const TextOptions& options) {
  std::string raw;
  // Iterative, so no input can exhaust the stack. An entry with a null
  // node stands for the boundary after a block element.
  std::vector<const GumboNode*> stack{node};
  while (!stack.empty()) {
    const GumboNode* n = stack.back();
    stack.pop_back();
    if (n == nullptr) {
      raw.push_back(' ');
      continue;
    }
    switch (n->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        raw.append(n->v.text.text);
        break;
      case GUMBO_NODE_ELEMENT: {
        const GumboTag tag = n->v.element.tag;
        if (n != node) {
          if (IsInvisible(tag)) break;
          if (options.skip_struck && IsStruckThrough(n)) break;
          if (std::find(options.skip_tags.begin(), options.skip_tags.end(),
                        tag) != options.skip_tags.end()) {
            break;
          }
        }
        const bool block = !IsInline(tag);
        if (block) {
          raw.push_back(' ');
          stack.push_back(nullptr);
        }
        const GumboVector& children = n->v.element.children;
        for (unsigned k = children.length; k > 0; --k) {
          stack.push_back(static_cast<const GumboNode*>(children.data[k - 1]));
        }
        break;
      }
      default:
        break;
    }
  }
  return NormalizeSpace(raw);
}

}  // namespace datasnap
