// A parsed HTML document (Gumbo) that is safe on any input, and the text
// rules the page extractors share. Private to core's parsers.
//
//   HtmlDocument doc(bytes);          // never fails: HTML5 parsing rules
//   for (const GumboNode* n : doc.Elements()) ...   // document order
//   std::string label = NodeText(cell);  // "General Surgery", not
//                                        // "GeneralSurgery"
//
// Gumbo 0.10 needs time and memory quadratic in the nesting depth (and
// recursion proportional to it), so elements nested deeper than
// kMaxHtmlDepth are flattened before parsing: their tags are dropped, their
// text kept. Tables, lists and headings get some extra room so that a code
// table buried in junk still parses.
#ifndef DATASNAP_CORE_HTML_DOCUMENT_H_
#define DATASNAP_CORE_HTML_DOCUMENT_H_

#include <gumbo.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace datasnap {

// Nesting depth (counting only elements whose end tag is required) beyond
// which tags are dropped; table, list and heading tags may go
// kMaxHtmlStructureDepth deeper.
inline constexpr std::size_t kMaxHtmlDepth = 192;
inline constexpr std::size_t kMaxHtmlStructureDepth = 64;

// Returns `html` with tags nested deeper than the limits above removed
// (their content stays). Input that nests less is returned unchanged.
std::string LimitHtmlNesting(std::string_view html);

class HtmlDocument {
 public:
  explicit HtmlDocument(std::string_view html);
  ~HtmlDocument();
  HtmlDocument(const HtmlDocument&) = delete;
  HtmlDocument& operator=(const HtmlDocument&) = delete;

  const GumboNode* root() const;
  // Every element under `from` (default: the root), `from` included, in
  // document order. Pointers stay valid while the document lives.
  std::vector<const GumboNode*> Elements(const GumboNode* from = nullptr) const;

 private:
  std::string html_;  // Gumbo points into it
  GumboOutput* output_;
};

// Lower-case tag name ("td"; the tag's own text for unknown elements).
std::string TagName(const GumboNode* node);
bool IsElement(const GumboNode* node, GumboTag tag);
// The attribute's value, or "" when absent.
std::string_view Attribute(const GumboNode* node, const char* name);
// True when the class attribute has `token` as one of its words.
bool HasClass(const GumboNode* node, std::string_view token);
// The element's element children, in order.
std::vector<const GumboNode*> ChildElements(const GumboNode* node);

// True for elements whose content is struck through: s, strike, del, or a
// style with line-through.
bool IsStruckThrough(const GumboNode* node);

struct TextOptions {
  // Leave out text inside struck-through elements.
  bool skip_struck = false;
  // Leave out these descendant elements' text (nested lists of an item).
  std::vector<GumboTag> skip_tags;
};

// The text of `node` by the shared rules: <br>, block and cell boundaries
// give one space, inline elements none; whitespace (non-breaking and other
// Unicode spaces, control characters) collapsed to one space; zero-width
// characters removed; trimmed. Always valid UTF-8.
std::string NodeText(const GumboNode* node, const TextOptions& options = {});

// Collapses and trims whitespace in `text` as NodeText does.
std::string NormalizeSpace(std::string_view text);

}  // namespace datasnap

#endif  // DATASNAP_CORE_HTML_DOCUMENT_H_
