// The NHS Data Dictionary extractor: a data element page's bytes in, its
// national codes and default codes out, in published order.
//
//   auto page = ExtractNhsDdCodes(html, url);
//   if (!page) ... page.error().message, e.g. "No valid options found on
//                  the page" (kInvalidArgument)
//   for (const NhsDdCode& c : page->national) ...   // "01", "Yes"
//   for (const std::string& w : page->warnings) ...   // retired, duplicates
//   OptionList options = *page->ToOptions();  // national, then default codes
//
// How the codes are found, first match wins:
//   1. sections headed "National Codes", "Permitted National Codes" or
//      "Default Codes" (an h1-h6 heading; else an element whose id ends in
//      the site's section ids such as "_nationalCodes" or
//      ".national_codes"; else a table caption, or a paragraph or bold
//      text, with that title): the tables in each section, else its
//      definition lists, else its "CODE - Label" list items;
//   2. the first table whose header row has a code column (Code, Value) and
//      a description column (Description, Meaning, Name, Label), matched as
//      whole header texts, so "Data Element Name" is not one;
//   3. definition lists whose terms are codes;
//   4. list items of the form "CODE - Label" (hyphen, en dash, em dash or
//      colon).
// Page chrome (nav, header, footer, the WebHelp menus and breadcrumb) is
// never searched.
//
// Text: entities decoded; <br>, block and cell boundaries become one space;
// runs of whitespace (non-breaking and other Unicode spaces included) become
// one space; trimmed. Codes are kept exactly as published ("01" stays "01").
// Retired codes (row class "retired", a "(Retired <date>)" suffix with a
// date in it, or struck through) and repeated codes (the first is kept) are left out and reported
// as warnings.
//
// A pure function of its input. Any bytes are accepted: invalid UTF-8
// becomes U+FFFD, and elements nested deeper than a few hundred levels are
// flattened before parsing, so malformed, huge or hostile input can neither
// crash nor stall it.
#ifndef DATASNAP_CORE_NHS_DD_EXTRACT_H_
#define DATASNAP_CORE_NHS_DD_EXTRACT_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace datasnap {

struct NhsDdCode {
  std::string code;
  std::string label;

  friend bool operator==(const NhsDdCode&, const NhsDdCode&) = default;
};

struct NhsDdPage {
  std::string title;           // the page's h1, e.g. "SMOKING STATUS CODE"
  std::vector<NhsDdCode> national;  // national codes, published order
  std::vector<NhsDdCode> defaults;  // default codes, published order
  // Human-readable notes on what was left out or looked odd, e.g.
  //   "retired code 03 'Ex-smoker' left out".
  std::vector<std::string> warnings;
  // Which rule found the codes: "sections", "table", "definition list" or
  // "list items".
  std::string method;

  // National codes then default codes (flagged is_default) as options.
  // Fails only if the codes break the model's rules, which the extractor
  // already enforces.
  Result<OptionList> ToOptions() const;
};

// Extracts the codes of the data element page `html`; `url` is used in
// messages only. Fails with kInvalidArgument "No valid options found on the
// page" (followed by the reason when one is known, such as a retired data
// element) when the page has no codes.
Result<NhsDdPage> ExtractNhsDdCodes(std::string_view html,
                                    std::string_view url);

}  // namespace datasnap

#endif  // DATASNAP_CORE_NHS_DD_EXTRACT_H_
