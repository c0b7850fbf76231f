// The catalogue: the datasets datasnap knows how to fetch, loaded from the
// JSON files in seeds/ (nhs_dd.json, rcpch.json; format in seeds/README.md).
//
//   auto catalogue = ParseCatalogue({{nhs_bytes, "seeds/nhs_dd.json"},
//                                    {rcpch_bytes, "seeds/rcpch.json"}});
//   if (!catalogue) ... the message names file, entry and field
//   const CatalogueEntry* e = catalogue->Find("accommodation_status_code");
//
// Parsing is a pure function of the files' bytes; reading them is the
// caller's business.
#ifndef DATASNAP_CORE_CATALOGUE_H_
#define DATASNAP_CORE_CATALOGUE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace datasnap {

// How one item of an RCPCH API response becomes options.
struct FieldMapping {
  std::string code;   // field of the item that gives the option's value
  std::string label;  // field that gives its label; "" when only the
                      // fallback below can give one
  // Nested items that become options whose parent is the item's code.
  struct Children {
    std::string field;  // array field of the item
    std::string code;
    std::string label;
    friend bool operator==(const Children&, const Children&) = default;
  };
  std::optional<Children> children;
  // Value and label come from the first of these object fields that has a
  // label (the PDU rule: primary_organisation, else parent).
  struct FirstObject {
    std::vector<std::string> fields;
    std::string code;
    std::string label;
    friend bool operator==(const FirstObject&, const FirstObject&) = default;
  };
  std::optional<FirstObject> from_first_object;
  // Label when nothing else gives one; "{code}" stands for the code.
  std::string fallback_label;

  friend bool operator==(const FieldMapping&, const FieldMapping&) = default;
};

struct CatalogueEntry {
  Dataset dataset;
  std::optional<FieldMapping> mapping;  // RCPCH entries only
};

// One catalogue file's bytes and the name used for it in messages.
struct CatalogueFile {
  std::string_view bytes;
  std::string name;
};

class Catalogue {
 public:
  // Checks that keys and aliases are unique across all entries.
  static Result<Catalogue> Make(std::vector<CatalogueEntry> entries);

  const std::vector<CatalogueEntry>& entries() const { return entries_; }

  // The entry whose key, or one of whose aliases, is `key`; nullptr if none.
  const CatalogueEntry* Find(std::string_view key) const;

 private:
  std::vector<CatalogueEntry> entries_;
};

// Parses seeds/nhs_dd.json: NHS Data Dictionary entries (category nhs_dd,
// source scrape). Errors are kInvalidArgument and read
//   "<file>: datasets[3] (blood_group_baby): reference_url: ..."
Result<std::vector<CatalogueEntry>> ParseNhsDdCatalogue(const CatalogueFile& file);

// Parses seeds/rcpch.json: RCPCH API entries (category rcpch, source api).
Result<std::vector<CatalogueEntry>> ParseRcpchCatalogue(const CatalogueFile& file);

// Parses both files and combines them with Catalogue::Make.
Result<Catalogue> ParseCatalogue(const CatalogueFile& nhs_dd,
                                 const CatalogueFile& rcpch);

// True for an absolute http(s) URL with a host and no whitespace or
// control characters.
bool IsHttpUrl(std::string_view url);

}  // namespace datasnap

#endif  // DATASNAP_CORE_CATALOGUE_H_
