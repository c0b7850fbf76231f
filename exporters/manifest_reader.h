// Reading back the manifests this datasnap wrote: each dataset's entry,
// with what says whether an export would list the same, and its text when
// that text is exactly what this version renders (so an export can copy it
// instead of rendering it again): what an earlier export published
// (docs/FORMATS.md, "How an export writes").
//
//   std::string json = PaddedCopy(manifest_text);
//   EntryIndex index;
//   simdjson::dom::parser parser;
//   if (!IndexManifest(parser, json, "", index)) ... not this datasnap's
#ifndef DATASNAP_EXPORTERS_MANIFEST_READER_H_
#define DATASNAP_EXPORTERS_MANIFEST_READER_H_

#include <simdjson.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/formats.h"

namespace datasnap {

// One dataset's entry in a manifest, with the fields that say whether this
// export would list the same.
struct KnownEntry {
  ManifestEntry entry;  // record and current unset
  std::string name, description, category, options_sha256, created_at;
  std::vector<std::string> tags;
  std::optional<std::string> source_url, parent;
  std::uint32_t version = 0;
  std::uint64_t option_count = 0;
};
// By "<prefix><key>": "ethnic_category", "orgs/org-12/ethnic_category_org_12".
using EntryIndex = std::map<std::string, KnownEntry>;

// What a manifest holds, as raw texts: its format, its generator, and the
// text of each element of "datasets" and (an organisation's) "global".
// The views point into the text that was split.
struct ManifestTexts {
  std::uint64_t format = 0;
  std::string generator;
  std::vector<std::string_view> entries;  // each element of "datasets"
  std::vector<std::string_view> global;   // each element of "global"
};

// The parts of a manifest, read with simdjson's on-demand parser, which
// builds no tree: a DOM of a whole 10,000-dataset manifest (9 MB) was a
// fifth of an export after one change, mostly in touching fresh memory.
// nullopt when the text is not such a document. `json` has
// SIMDJSON_PADDING bytes of room beyond its end (PaddedCopy).
std::optional<ManifestTexts> SplitManifest(const std::string& json);

// True when `manifest` is of this datasnap's format and generator: another
// may list other things.
bool IsOwnManifest(const ManifestTexts& manifest);

// The entry whose text is `text`, a view into a string with
// SIMDJSON_PADDING bytes of room beyond its end (SplitManifest's views);
// its `entry.json` is set to `text` when that is exactly what EntriesJson
// renders for it. The key goes to `key`. nullopt when it is not an entry
// this datasnap writes.
std::optional<KnownEntry> ParseEntry(simdjson::dom::parser& parser,
                                     std::string_view text, std::string& key);

// Adds the entries of a manifest (JSON text) whose files sit under `prefix`
// to `index`, by "<prefix><key>". False, adding nothing, when it is not a
// manifest this datasnap wrote. `json` has SIMDJSON_PADDING bytes of room
// beyond its end (PaddedCopy), so that neither parser copies it.
bool IndexManifest(simdjson::dom::parser& parser, const std::string& json,
                   const std::string& prefix, EntryIndex& index);

// The key of an entry or reference this datasnap wrote ({"key":"...",...}),
// read without parsing it; empty when the text does not start so.
std::string_view KeyOfEntryText(std::string_view text);

// A copy of `text` with SIMDJSON_PADDING bytes of room beyond its end.
std::string PaddedCopy(std::string_view text);

}  // namespace datasnap

#endif  // DATASNAP_EXPORTERS_MANIFEST_READER_H_
