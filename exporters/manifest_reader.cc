#include "exporters/manifest_reader.h"

#include <array>

#include "core/model.h"
#include "core/version.h"

namespace datasnap {
namespace {

namespace dom = simdjson::dom;

bool ReadText(dom::object o, const char* field, std::string& out) {
  std::string_view v;
  if (o[field].get_string().get(v)) return false;
  out = v;
  return true;
}

bool ReadTextOrNull(dom::object o, const char* field,
                    std::optional<std::string>& out) {
  dom::element e;
  if (o[field].get(e)) return false;
  if (e.is_null()) {
    out.reset();
    return true;
  }
  std::string_view v;
  if (e.get_string().get(v)) return false;
  out = std::string(v);
  return true;
}

template <typename T>
bool ReadNumber(dom::object o, const char* field, T& out) {
  std::uint64_t v = 0;
  if (o[field].get_uint64().get(v)) return false;
  out = static_cast<T>(v);
  return true;
}

bool ReadFile(dom::object o, PublishedFile& f) {
  return ReadText(o, "path", f.path) && ReadText(o, "encoding", f.encoding) &&
         ReadNumber(o, "bytes", f.bytes) && ReadText(o, "sha256", f.sha256);
}

bool ReadDocument(dom::object o, PublishedDocument& d) {
  dom::array files;
  if (!ReadText(o, "json_sha256", d.json_sha256) ||
      !ReadNumber(o, "json_bytes", d.json_bytes) ||
      o["files"].get_array().get(files)) {
    return false;
  }
  for (dom::element e : files) {
    dom::object fo;
    PublishedFile f;
    if (e.get_object().get(fo) || !ReadFile(fo, f)) return false;
    d.files.push_back(std::move(f));
  }
  return true;
}

bool ReadEntry(dom::object o, KnownEntry& k) {
  std::string key;
  dom::array tags, diffs;
  dom::object snapshot;
  if (!ReadText(o, "key", key) || !ReadText(o, "name", k.name) ||
      !ReadText(o, "description", k.description) ||
      !ReadText(o, "category", k.category) ||
      o["tags"].get_array().get(tags) || !ReadNumber(o, "version", k.version) ||
      !ReadNumber(o, "option_count", k.option_count) ||
      !ReadText(o, "options_sha256", k.options_sha256) ||
      !ReadText(o, "created_at", k.created_at) ||
      !ReadTextOrNull(o, "source_url", k.source_url) ||
      !ReadTextOrNull(o, "parent", k.parent) ||
      o["snapshot"].get_object().get(snapshot) ||
      !ReadDocument(snapshot, k.entry.snapshot) ||
      o["diffs"].get_array().get(diffs)) {
    return false;
  }
  for (dom::element t : tags) {
    std::string_view v;
    if (t.get_string().get(v)) return false;
    k.tags.emplace_back(v);
  }
  for (dom::element e : diffs) {
    dom::object d, s;
    ManifestDiff md;
    if (e.get_object().get(d) || !ReadNumber(d, "from", md.from) ||
        !ReadNumber(d, "to", md.to) || d["summary"].get_object().get(s) ||
        !ReadNumber(s, "added", md.summary.added) ||
        !ReadNumber(s, "removed", md.summary.removed) ||
        !ReadNumber(s, "changed", md.summary.changed) ||
        s["reordered"].get_bool().get(md.summary.reordered) ||
        !ReadDocument(d, md.document)) {
      return false;
    }
    k.entry.diffs.push_back(std::move(md));
  }
  dom::array older;
  if (!o["older_snapshots"].get_array().get(older)) {
    for (dom::element e : older) {
      dom::object d;
      std::uint32_t version = 0;
      PublishedDocument doc;
      if (e.get_object().get(d) || !ReadNumber(d, "version", version) ||
          !ReadDocument(d, doc)) {
        return false;
      }
      k.entry.older.emplace_back(version, std::move(doc));
    }
  }
  dom::object fhir;
  if (!o["fhir"].get_object().get(fhir)) {
    PublishedFile f;
    if (!ReadFile(fhir, f)) return false;
    k.entry.fhir = std::move(f);
  }
  return true;
}

// --- An entry's text, when it is what this version would render ---------

// True when the object's members are `keys`, in that order, and no others.
bool KeysAre(dom::object o, const std::vector<std::string_view>& keys) {
  auto want = keys.begin();
  for (dom::key_value_pair field : o) {
    if (want == keys.end() || field.key != *want) return false;
    ++want;
  }
  return want == keys.end();
}

bool IsFileShape(dom::element e) {
  dom::object o;
  return !e.get_object().get(o) &&
         KeysAre(o, {"path", "encoding", "bytes", "sha256"});
}

// An object with `keys` (ending in DocumentJson's "json_sha256",
// "json_bytes", "files") whose files are FileJson's.
bool IsDocumentShape(dom::object o, const std::vector<std::string_view>& keys) {
  dom::array files;
  if (!KeysAre(o, keys) || o["files"].get_array().get(files)) return false;
  for (dom::element f : files) {
    if (!IsFileShape(f)) return false;
  }
  return true;
}

// True when the members of a manifest entry (already read by ReadEntry)
// come in EntriesJson's order, with no others, nested objects too.
bool IsEntryShape(dom::object o) {
  std::vector<std::string_view> keys = {
      "key",        "name",       "description",    "category",
      "tags",       "version",    "option_count",   "sha256",
      "options_sha256", "created_at", "source_url", "parent",
      "snapshot",   "diffs"};
  dom::element unused;
  if (!o["older_snapshots"].get(unused)) keys.push_back("older_snapshots");
  if (!o["fhir"].get(unused)) keys.push_back("fhir");
  if (!KeysAre(o, keys)) return false;
  dom::object snapshot;
  dom::array diffs, older;
  if (o["snapshot"].get_object().get(snapshot) ||
      !IsDocumentShape(snapshot, {"json_sha256", "json_bytes", "files"}) ||
      o["diffs"].get_array().get(diffs)) {
    return false;
  }
  for (dom::element e : diffs) {
    dom::object d, summary;
    if (e.get_object().get(d) ||
        !IsDocumentShape(d, {"from", "to", "summary", "json_sha256",
                             "json_bytes", "files"}) ||
        d["summary"].get_object().get(summary) ||
        !KeysAre(summary, {"added", "removed", "changed", "reordered"})) {
      return false;
    }
  }
  if (!o["older_snapshots"].get_array().get(older)) {
    for (dom::element e : older) {
      dom::object v;
      if (e.get_object().get(v) ||
          !IsDocumentShape(v, {"version", "json_sha256", "json_bytes",
                               "files"})) {
        return false;
      }
    }
  }
  return o["fhir"].get(unused) || IsFileShape(unused);
}

// True when `text` is compact JSON as DumpCompact writes it: no whitespace
// between tokens, integers without sign, fraction or leading zero, strings
// with only '"', '\\' and control characters escaped, those as \b \f \n
// \r \t or \u00xx (lower-case hex). Together with IsEntryShape and the
// values ReadEntry and StillStands check, such a text is the one
// EntriesJson would render.
bool IsCompactText(std::string_view text) {
  static constexpr std::string_view kShort = "\"\\bfnrt";
  // The bytes that end a run of plain string characters: the quote, the
  // backslash and the control characters (a 9 MB manifest is mostly
  // strings; a table keeps the scan to a load and a test per byte).
  static constexpr auto kSpecial = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        while (i < text.size() && !kSpecial[static_cast<unsigned char>(text[i])]) ++i;
        if (i == text.size() || text[i] == '"') break;
        const unsigned char s = static_cast<unsigned char>(text[i]);
        if (s < 0x20) return false;
        if (s != '\\') continue;
        if (++i == text.size()) return false;
        if (kShort.find(text[i]) != std::string_view::npos) continue;
        // \u00xx, only for a control character without a short form.
        if (text.substr(i, 3) != "u00" || i + 4 >= text.size()) return false;
        const std::string_view hex = text.substr(i + 3, 2);
        if (hex.find_first_not_of("0123456789abcdef") !=
                std::string_view::npos ||
            hex[0] > '1' || hex == "08" || hex == "09" || hex == "0a" ||
            hex == "0c" || hex == "0d") {
          return false;
        }
        i += 4;
      }
      if (i == text.size()) return false;
      ++i;
    } else if (c >= '0' && c <= '9') {
      const std::size_t end = text.find_first_not_of("0123456789", i);
      if (c == '0' && end != i + 1) return false;
      i = end == std::string_view::npos ? text.size() : end;
    } else if (std::string_view("{}[],:").find(static_cast<char>(c)) !=
               std::string_view::npos) {
      ++i;
    } else {
      bool literal = false;
      for (std::string_view word : {"true", "false", "null"}) {
        if (text.substr(i, word.size()) == word) {
          i += word.size();
          literal = true;
          break;
        }
      }
      if (!literal) return false;
    }
  }
  return true;
}

}  // namespace

std::optional<ManifestTexts> SplitManifest(const std::string& json) {
  const simdjson::padded_string_view padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  ManifestTexts out;
  std::string_view generator;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
      root["format"].get_uint64().get(out.format) ||
      root["generator"].get_string().get(generator)) {
    return std::nullopt;
  }
  out.generator = generator;
  // Elements of the array `field` as raw texts.
  auto split = [&](const char* field, std::vector<std::string_view>& texts,
                   bool required) {
    simdjson::ondemand::array array;
    const auto rc = root[field].get_array().get(array);
    if (rc) return !required && rc == simdjson::NO_SUCH_FIELD;
    for (auto element : array) {
      simdjson::ondemand::object o;
      std::string_view raw;
      if (element.get_object().get(o) || o.raw_json().get(raw)) return false;
      texts.push_back(raw);
    }
    return true;
  };
  // Fields in the order the manifests have them: "global" follows
  // "datasets" in an organisation's, and the public one has none.
  if (!split("datasets", out.entries, true) ||
      !split("global", out.global, false)) {
    return std::nullopt;
  }
  // (Anything after the root object is not looked at: the manifest is
  // written again whenever its bytes differ from the new one.)
  return out;
}

bool IsOwnManifest(const ManifestTexts& manifest) {
  return manifest.format == static_cast<std::uint64_t>(kExportFormatVersion) &&
         manifest.generator == std::string("datasnap ") + kVersion;
}

std::optional<KnownEntry> ParseEntry(dom::parser& parser, std::string_view text,
                                     std::string& key) {
  // In place (the text lies inside a padded string), with one parser whose
  // buffers stay small.
  dom::object o;
  KnownEntry k;
  std::string sha256;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/false)
          .get_object()
          .get(o) ||
      !ReadText(o, "key", key) || !ReadEntry(o, k) ||
      !ReadText(o, "sha256", sha256)) {
    return std::nullopt;
  }
  // The entry's text as it stands, so that an entry kept as it is need
  // not be rendered again, when rendering it would give these bytes.
  if (sha256 == k.entry.snapshot.json_sha256 && IsEntryShape(o) &&
      IsCompactText(text)) {
    k.entry.json = text;
  }
  return k;
}

bool IndexManifest(dom::parser& parser, const std::string& json,
                   const std::string& prefix, EntryIndex& index) {
  const std::optional<ManifestTexts> manifest = SplitManifest(json);
  if (!manifest || !IsOwnManifest(*manifest)) return false;
  EntryIndex found;  // merged into `index` once all are read
  for (std::string_view text : manifest->entries) {
    std::string key;
    std::optional<KnownEntry> k = ParseEntry(parser, text, key);
    if (!k) return false;
    found.try_emplace(prefix + key, std::move(*k));
  }
  index.merge(found);  // moves the nodes; an id already there stays
  return true;
}

std::string_view KeyOfEntryText(std::string_view text) {
  constexpr std::string_view kStart = "{\"key\":\"";
  if (!text.starts_with(kStart)) return {};
  text.remove_prefix(kStart.size());
  const std::size_t end = text.find('"');
  // Keys are [a-z0-9_-]: no escapes to undo.
  if (end == std::string_view::npos || !ValidateKey(text.substr(0, end))) return {};
  return text.substr(0, end);
}

std::string PaddedCopy(std::string_view text) {
  std::string copy;
  copy.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  copy = text;
  return copy;
}

}  // namespace datasnap
