#include "exporters/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/compression.h"
#include "core/model_json.h"
#include "core/time.h"
#include "core/version.h"
#include "exporters/checktick_fixture.h"
#include "exporters/export_tree.h"
#include "exporters/formats.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;

// Largest published document read back to check an existing file.
constexpr std::size_t kMaxDocumentBytes = std::size_t{1} << 31;
// Datasets per unit of work: a worker builds them and syncs their files in
// one batch. Small enough to bound memory (their options are loaded only
// while they are built), large enough that one sync covers many files.
constexpr std::size_t kSliceDatasets = 64;

std::unexpected<Error> IoError(const std::string& what, const fs::path& path,
                               int err) {
  return Fail(ErrorCode::kIo, what + " '" + path.string() +
                                  "': " + std::strerror(err));
}

// The whole file, or nullopt when it cannot be read, with room for
// `padding` more bytes (simdjson parses in place when there are
// SIMDJSON_PADDING). One read into a buffer of the file's size: a stream
// copied a 9 MB manifest several times over as it grew.
std::optional<std::string> ReadIfExists(const fs::path& path,
                                        std::size_t padding = 0) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::string out;
  out.reserve(size + padding);
  bool ok = true;
  out.resize_and_overwrite(size, [&](char* data, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::read(fd, data + done, n - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ok = got == 0;  // 0: the file shrank meanwhile; keep what was read
        break;
      }
      done += static_cast<std::size_t>(got);
    }
    return done;
  });
  ::close(fd);
  if (!ok) return std::nullopt;
  return out;
}

Status CreateDirectories(const fs::path& dir) {
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create directory", dir, ec.value());
  return {};
}

// Makes the entries of `dir` (a rename into it) durable.
Status SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory", dir, err);
  return {};
}

fs::path TempPath(const fs::path& path) {
  return path.parent_path() / ("." + path.filename().string() + ".tmp" +
                               std::to_string(getpid()));
}

// Writes `bytes` to a new temporary file beside `path` and returns its
// descriptor, open and not yet synced.
Result<int> WriteTemp(const fs::path& tmp, std::string_view bytes) {
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  return fd;
}

// Writes `bytes` to a temporary file beside `path`, syncs it and renames it
// over `path`, then syncs the directory, so readers see the old file or the
// new one, never a part, and a crash keeps one of the two.
Status WriteAtomically(const fs::path& path, std::string_view bytes) {
  DS_CHECK(CreateDirectories(path.parent_path()));
  const fs::path tmp = TempPath(path);
  DS_TRY(fd, WriteTemp(tmp, bytes));
  if (::fsync(*fd) != 0 || ::close(*fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot sync", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename into place", path, err);
  }
  return SyncDirectory(path.parent_path());
}

// --- What an earlier export published: its manifests' entries ----------

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

// What IndexManifest reads of a manifest before its entries.
struct ManifestTexts {
  std::uint64_t format = 0;
  std::string generator;
  std::vector<std::string_view> entries;  // each element of "datasets"
};

// The format, the generator and the raw text of each entry of a manifest,
// read with simdjson's on-demand parser, which builds no tree: a DOM of a
// whole 10,000-dataset manifest (9 MB) was a fifth of an export after one
// change, mostly in touching fresh memory. nullopt when the text is not
// such a document. `json` has SIMDJSON_PADDING bytes of room beyond its
// end.
std::optional<ManifestTexts> SplitManifest(const std::string& json) {
  const simdjson::padded_string_view padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  simdjson::ondemand::array datasets;
  ManifestTexts out;
  std::string_view generator;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
      root["format"].get_uint64().get(out.format) ||
      root["generator"].get_string().get(generator)) {
    return std::nullopt;
  }
  out.generator = generator;
  if (root["datasets"].get_array().get(datasets)) return std::nullopt;
  for (auto element : datasets) {
    simdjson::ondemand::object o;
    std::string_view raw;
    if (element.get_object().get(o) || o.raw_json().get(raw)) return std::nullopt;
    out.entries.push_back(raw);
  }
  // (Anything after the root object is not looked at: the manifest is
  // written again whenever its bytes differ from the new one.)
  return out;
}

// Adds the entries of a manifest (JSON text) whose files sit under `prefix`
// to `index`. False, adding nothing, when it is not a manifest this
// datasnap wrote: another format or generator may list other things.
// `json` has SIMDJSON_PADDING bytes of room beyond its end (ReadIfExists
// with padding, or PaddedCopy), so that neither parser copies it.
bool IndexManifest(dom::parser& parser, const std::string& json,
                   const std::string& prefix, EntryIndex& index) {
  const std::optional<ManifestTexts> manifest = SplitManifest(json);
  if (!manifest ||
      manifest->format != static_cast<std::uint64_t>(kExportFormatVersion) ||
      manifest->generator != std::string("datasnap ") + kVersion) {
    return false;
  }
  EntryIndex found;  // merged into `index` once all are read
  for (std::string_view text : manifest->entries) {
    // One entry at a time, in place (the text lies inside `json`, which
    // has the padding beyond its end), with one parser whose buffers stay
    // small.
    dom::object o;
    KnownEntry k;
    std::string key, sha256;
    if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/false)
            .get_object()
            .get(o) ||
        !ReadText(o, "key", key) || !ReadEntry(o, k) ||
        !ReadText(o, "sha256", sha256)) {
      return false;
    }
    // The entry's text as it stands, so that an entry kept as it is need
    // not be rendered again, when rendering it would give these bytes.
    if (sha256 == k.entry.snapshot.json_sha256 && IsEntryShape(o) &&
        IsCompactText(text)) {
      k.entry.json = text;
    }
    found.try_emplace(prefix + key, std::move(k));
  }
  index.merge(found);  // moves the nodes; an id already there stays
  return true;
}

std::string PaddedCopy(std::string_view text) {
  std::string copy;
  copy.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  copy = text;
  return copy;
}

// What the manifests in `out_dir` (public and organisations') say.
struct EarlierManifests {
  EntryIndex entries;
  // Each manifest's bytes by its path ("manifest.json", "manifest.json.gz",
  // "orgs/<org>/manifest.json", ...): the export compares its new
  // manifests with these rather than reading them again, and reuses the
  // pieces of the gzip that still stand.
  std::map<std::string, std::string> texts;
};

EarlierManifests ReadEarlierManifests(const fs::path& out_dir,
                                      const std::set<std::string>& orgs) {
  EarlierManifests earlier;
  dom::parser parser;
  std::vector<std::string> paths = {"manifest.json"};
  for (const std::string& org : orgs) {
    paths.push_back("orgs/" + org + "/manifest.json");
  }
  for (const std::string& path : paths) {
    std::optional<std::string> text =
        ReadIfExists(out_dir / path, simdjson::SIMDJSON_PADDING);
    if (!text) continue;
    IndexManifest(parser, *text, path.substr(0, path.size() - 13),
                  earlier.entries);  // the prefix before "manifest.json"
    earlier.texts.emplace(path, std::move(*text));
    if (std::optional<std::string> gz = ReadIfExists(out_dir / (path + ".gz"))) {
      earlier.texts.emplace(path + ".gz", std::move(*gz));
    }
  }
  return earlier;
}

// Every file an entry lists.
std::vector<const PublishedFile*> FilesOf(const ManifestEntry& e) {
  std::vector<const PublishedFile*> files;
  for (const PublishedFile& f : e.snapshot.files) files.push_back(&f);
  for (const ManifestDiff& d : e.diffs) {
    for (const PublishedFile& f : d.document.files) files.push_back(&f);
  }
  for (const auto& [version, doc] : e.older) {
    for (const PublishedFile& f : doc.files) files.push_back(&f);
  }
  if (e.fhir) files.push_back(&*e.fhir);
  return files;
}

std::optional<std::string> NullIfEmpty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// True when `known` is the entry this export would list for `e` under
// `prefix`, and its files are in `root` at their listed sizes. Versions are
// immutable and never renumbered (docs/STORE.md), so a version's number,
// options hash and creation time name its snapshot and diffs; the dataset's
// own fields are compared one by one. A file of the right size with other
// bytes is left to `verify`.
bool StillStands(const KnownEntry& known, const ExportableDataset& e,
                 const VersionRecord& current, const std::string& prefix,
                 const TreeOptions& options, const fs::path& root) {
  const Dataset& d = e.record.dataset;
  if (known.name != d.name || known.description != d.description ||
      known.category != CategoryName(d.category) || known.tags != d.tags ||
      known.parent != NullIfEmpty(d.parent) ||
      known.version != current.version ||
      known.option_count != current.option_count ||
      known.options_sha256 != current.options_sha256 ||
      known.created_at != FormatIso8601(current.created_at) ||
      known.source_url != NullIfEmpty(current.provenance.source_url)) {
    return false;
  }
  std::vector<std::uint32_t> older;
  for (const VersionRecord& v : e.versions) {
    if (v.version < current.version) older.push_back(v.version);
  }
  const ManifestEntry& k = known.entry;
  if (k.diffs.size() != older.size()) return false;
  for (std::size_t i = 0; i < older.size(); ++i) {
    if (k.diffs[i].from != older[i] || k.diffs[i].to != current.version) {
      return false;
    }
  }
  if (options.all_versions) {
    if (k.older.size() != older.size()) return false;
    for (std::size_t i = 0; i < older.size(); ++i) {
      if (k.older[i].first != older[i]) return false;
    }
  } else if (!k.older.empty()) {
    return false;
  }
  // A FHIR file also depends on the base URL, which no manifest records:
  // only the default is trusted.
  if (options.fhir != k.fhir.has_value() ||
      (options.fhir && options.fhir_base_url != TreeOptions{}.fhir_base_url)) {
    return false;
  }
  const std::string snapshot_stem = prefix + "datasets/" + d.key + "/" +
                                    std::to_string(current.version) + ".";
  for (const PublishedFile& f : k.snapshot.files) {
    if (!f.path.starts_with(snapshot_stem)) return false;
  }
  for (const PublishedFile* f : FilesOf(k)) {
    if (!f->path.starts_with(prefix) || f->path.find("..") != std::string::npos) {
      return false;
    }
    struct stat st {};
    if (::stat((root / f->path).c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != f->bytes) {
      return false;
    }
  }
  return true;
}

// --- Writing files --------------------------------------------------------

// The export directory, shared by the workers: counts what is written and
// kept, and knows every path this export publishes.
class Tree {
 public:
  // `track_published`: remember every path published, for Published()
  // (--prune); 20,000 of them are a cost an export after one change
  // need not pay.
  Tree(fs::path root, ExportReport& report, bool track_published)
      : root_(std::move(root)),
        report_(report),
        track_published_(track_published) {}

  // The current content of a mutable file, read earlier: PutIfDifferent
  // compares with it instead of reading the file again.
  void KnowContent(const std::string& path, std::string text) {
    known_[path] = std::move(text);
  }
  const std::string* KnownContent(const std::string& path) const {
    auto it = known_.find(path);
    return it == known_.end() ? nullptr : &it->second;
  }

  const fs::path& root() const { return root_; }

  // Files staged by one worker: written under temporary names, synced and
  // renamed into place together by Commit.
  struct Batch {
    struct Staged {
      int fd;
      fs::path tmp;
      std::string path;
      std::size_t bytes;
    };
    std::vector<Staged> files;
    ~Batch() {
      for (const Staged& s : files) {
        ::close(s.fd);
        ::unlink(s.tmp.c_str());
      }
    }
  };

  Status Stage(Batch& batch, const std::string& path, std::string_view bytes) {
    const fs::path full = root_ / path;
    DS_CHECK(CreateDirectories(full.parent_path()));
    const fs::path tmp = TempPath(full);
    DS_TRY(fd, WriteTemp(tmp, bytes));
    batch.files.push_back({*fd, tmp, path, bytes.size()});
    return {};
  }

  // Syncs every staged file, then renames them into place, then syncs
  // their directories: each file's bytes are durable before its name
  // appears, and its name before Commit returns (before any manifest).
  Status Commit(Batch& batch) {
    for (const Batch::Staged& s : batch.files) {
      if (::fsync(s.fd) != 0) return IoError("cannot sync", s.tmp, errno);
    }
    std::set<fs::path> dirs;
    for (Batch::Staged& s : batch.files) {
      ::close(s.fd);
      s.fd = -1;
      const fs::path full = root_ / s.path;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (::rename(s.tmp.c_str(), full.c_str()) != 0) {
          return IoError("cannot rename into place", full, errno);
        }
        s.tmp.clear();
        RecordWritten(s.path, s.bytes);
      }
      dirs.insert(full.parent_path());
      dirs.insert(full.parent_path().parent_path());
    }
    batch.files.clear();
    for (const fs::path& dir : dirs) DS_CHECK(SyncDirectory(dir));
    return {};
  }

  // A mutable file (a manifest), written at once unless it already holds
  // `bytes`; true if written.
  Result<bool> PutIfDifferent(const std::string& path, std::string_view bytes) {
    auto known = known_.find(path);
    std::optional<std::string> existing =
        known != known_.end() ? std::move(known->second)
                              : ReadIfExists(root_ / path);
    if (known != known_.end()) known_.erase(known);
    if (existing && *existing == bytes) {
      Keep(path);
      return false;
    }
    DS_CHECK(WriteAtomically(root_ / path, bytes));
    std::lock_guard<std::mutex> lock(mu_);
    RecordWritten(path, bytes.size());
    return true;
  }

  // A file already there with the right content.
  void Keep(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    if (track_published_) published_.insert(path);
    ++report_.files_unchanged;
  }

  // Whether this export published `path` (only with `track_published`).
  bool Published(const std::string& path) const {
    return published_.contains(path);
  }

  void CountBuilt(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    report_.datasets_built += n;
  }

 private:
  void RecordWritten(const std::string& path, std::size_t bytes) {
    if (track_published_) published_.insert(path);
    ++report_.files_written;
    report_.bytes_written += bytes;
    report_.written.push_back(path);
  }

  fs::path root_;
  ExportReport& report_;
  std::mutex mu_;
  const bool track_published_;
  std::set<std::string> published_;
  std::map<std::string, std::string> known_;
};

// Builds one slice of datasets into the directory: content files only. An
// existing content-named file is kept when it decodes to its document:
// decoding is faster than compressing again, and a content-named file must
// never change its bytes (a CDN may hold them for a year), even if another
// library version or level would encode differently. The
// slice's manifests are not written; their entries are read back into
// `built`, for the manifests the export writes at the end.
class SliceSink : public TreeSink {
 public:
  SliceSink(Tree& tree, EntryIndex& built) : tree_(tree), built_(built) {}

  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (file.manifest) return std::string();  // never written
    if (std::optional<std::string> bytes = ReadIfExists(tree_.root() / file.path)) {
      auto decoded = file.encoding == "zstd"
                         ? ZstdDecompress(*bytes, kMaxDocumentBytes)
                     : file.encoding == "gzip"
                         ? GzipDecompress(*bytes, kMaxDocumentBytes)
                         : Result<std::string>(*bytes);
      if (decoded && *decoded == json) {
        verified_.insert(file.path);
        return std::move(*bytes);
      }
    }
    if (file.encoding == "identity") return json;
    return EncodeDocument(file.encoding, json);
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& /*sha256*/,
                 const std::string& json) override {
    if (file.manifest) {
      if (file.encoding == "identity") {
        const std::string prefix =
            file.path.substr(0, file.path.size() - 13);  // "manifest.json"
        if (!IndexManifest(parser_, PaddedCopy(json), prefix, built_)) {
          return Fail(ErrorCode::kCorrupt,
                      "export: cannot read back the manifest of a slice");
        }
      }
      return {};
    }
    if (verified_.contains(file.path)) {
      tree_.Keep(file.path);
      return {};
    }
    return tree_.Stage(batch_, file.path, bytes);
  }

  Status Commit() { return tree_.Commit(batch_); }

 private:
  Tree& tree_;
  EntryIndex& built_;
  Tree::Batch batch_;
  dom::parser parser_;
  std::set<std::string> verified_;
};

// Builds the datasets `todo` (indices into `headers`, which lack options)
// on `workers` threads. This thread loads each slice's options from `txn`
// (LMDB read transactions belong to their thread) a few slices ahead of
// the workers; each worker builds a slice into a SliceSink and commits its
// files in one batch. Entries go to `built`.
Status BuildDatasets(const ReadTxn& txn,
                     const std::vector<ExportableDataset>& headers,
                     const std::vector<std::size_t>& todo,
                     const TreeOptions& options, unsigned workers, Tree& tree,
                     EntryIndex& built) {
  if (todo.empty()) return {};
  const std::size_t slices = (todo.size() + kSliceDatasets - 1) / kSliceDatasets;
  workers = static_cast<unsigned>(std::min<std::size_t>(workers, slices));
  TreeOptions slice_options = options;
  slice_options.extra_organizations.clear();

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<ExportableDataset>> queue;
  bool loaded = false;
  std::optional<Error> error;
  auto fail = [&](const Error& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = e;
    cv.notify_all();
  };

  auto work = [&] {
    for (;;) {
      std::vector<ExportableDataset> slice;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || loaded || error; });
        if (error || queue.empty()) return;
        slice = std::move(queue.front());
        queue.pop_front();
        cv.notify_all();
      }
      EntryIndex entries;
      SliceSink sink(tree, entries);
      auto summary = BuildExportTree(slice, slice_options, sink);
      Status committed = summary ? sink.Commit() : Status{};
      if (!summary) return fail(summary.error());
      if (!committed) return fail(committed.error());
      tree.CountBuilt(slice.size());
      std::lock_guard<std::mutex> lock(mu);
      built.merge(entries);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) threads.emplace_back(work);

  Status load_status;
  for (std::size_t first = 0; first < todo.size(); first += kSliceDatasets) {
    std::vector<ExportableDataset> slice;
    const std::size_t last = std::min(todo.size(), first + kSliceDatasets);
    for (std::size_t i = first; i < last; ++i) {
      const ExportableDataset& h = headers[todo[i]];
      auto versions = txn.ListVersions(h.record.dataset.key, /*with_options=*/true);
      if (!versions) {
        load_status = std::unexpected(versions.error());
        break;
      }
      slice.push_back({h.record, std::move(*versions)});
    }
    if (!load_status) break;
    std::unique_lock<std::mutex> lock(mu);
    // At most two slices waiting per worker: memory stays bounded.
    cv.wait(lock, [&] { return queue.size() < 2 * workers || error; });
    if (error) break;
    queue.push_back(std::move(slice));
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    loaded = true;
    if (!load_status && !error) error = load_status.error();
    cv.notify_all();
  }
  for (std::thread& t : threads) t.join();
  if (error) return std::unexpected(*error);
  return {};
}

// The final pass: every dataset's entry is known (kept or just built), so
// this sink writes only the manifests.
class ManifestSink : public TreeSink {
 public:
  // Moves each entry out of `kept` or `built` as the tree asks for it
  // (once per dataset): copying 10,000 entries' strings cost more than
  // listing them.
  ManifestSink(Tree& tree, EntryIndex& kept, EntryIndex& built,
               unsigned workers)
      : tree_(tree), kept_(kept), built_(built), workers_(workers) {}

  std::optional<ManifestEntry> Reuse(const ExportableDataset& dataset,
                                     const std::string& prefix) override {
    const std::string id = prefix + dataset.record.dataset.key;
    if (auto it = built_.find(id); it != built_.end()) {
      return std::move(it->second.entry);
    }
    auto it = kept_.find(id);
    if (it == kept_.end()) return std::nullopt;
    for (const PublishedFile* f : FilesOf(it->second.entry)) tree_.Keep(f->path);
    return std::move(it->second.entry);
  }

  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (!file.manifest) return Unbuilt(file);
    // On every core, and reusing the pieces of the file as it stands that
    // still hold: the public manifest lists every dataset (megabytes at
    // 10,000), and compressing it all again was most of an incremental
    // export.
    const std::string* earlier = tree_.KnownContent(file.path);
    return EncodeTreeFile(file, json, workers_,
                          earlier != nullptr ? *earlier : std::string_view());
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& /*sha256*/,
                 const std::string& /*json*/) override {
    if (!file.manifest) return Unbuilt(file);
    DS_TRY(written, tree_.PutIfDifferent(file.path, bytes));
    if (file.path == "manifest.json") manifest_changed_ = *written;
    return {};
  }

  bool manifest_changed() const { return manifest_changed_; }

 private:
  static std::unexpected<Error> Unbuilt(const TreeFile& file) {
    return Fail(ErrorCode::kCorrupt,
                "export: '" + file.path + "' was not built before the manifests");
  }

  Tree& tree_;
  EntryIndex& kept_;
  EntryIndex& built_;
  unsigned workers_;
  bool manifest_changed_ = false;
};

// Where a dataset's files go ("" or "orgs/<org>/"), or nullopt when it is
// not published (BuildExportTree warns about an unusable organisation).
std::optional<std::string> ScopeOf(const Dataset& d) {
  if (d.is_global) return std::string();
  if (!d.organization.empty() && ValidateKey(d.organization)) {
    return "orgs/" + d.organization + "/";
  }
  return std::nullopt;
}

// As ReadExportable, without the options.
Result<std::vector<ExportableDataset>> ReadHeaders(const ReadTxn& txn) {
  DS_TRY(all, txn.ListDatasets());  // sorted by key
  std::vector<ExportableDataset> out;
  out.reserve(all->size());
  for (DatasetRecord& r : *all) {
    if (!r.dataset.is_active || r.sync.version == 0) continue;
    DS_TRY(versions, txn.ListVersions(r.dataset.key, /*with_options=*/false));
    if (versions->empty()) continue;
    out.push_back({std::move(r), std::move(*versions)});
  }
  return out;
}

// Deletes the files under `dirs` that this run did not publish, and
// temporary files a crashed run left behind.
Status Prune(const Tree& tree, const std::vector<std::string>& dirs,
             ExportReport& report) {
  const fs::path& root = tree.root();
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::exists(root / dir, ec)) continue;
    std::vector<fs::path> doomed;
    for (auto it = fs::recursive_directory_iterator(root / dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string rel = fs::relative(it->path(), root).generic_string();
      if (!tree.Published(rel)) doomed.push_back(it->path());
    }
    if (ec) return IoError("cannot list", root / dir, ec.value());
    std::sort(doomed.begin(), doomed.end());
    for (const fs::path& p : doomed) {
      if (!fs::remove(p, ec) || ec) {
        return IoError("cannot delete", p, ec ? ec.value() : ENOENT);
      }
      ++report.files_pruned;
    }
  }
  return {};
}

// Organisations that have a manifest in `out_dir` from an earlier export:
// one whose last own dataset went (deleted or published) keeps a manifest,
// now with global datasets only, rather than a stale one listing what it
// no longer has.
std::set<std::string> OrganizationsWithManifest(const fs::path& out_dir) {
  std::set<std::string> orgs;
  std::error_code ec;
  for (auto it = fs::directory_iterator(out_dir / "orgs", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string org = it->path().filename().string();
    if (it->is_directory() && ValidateKey(org) &&
        fs::exists(it->path() / "manifest.json")) {
      orgs.insert(org);
    }
  }
  return orgs;
}

Status WriteFixture(const ReadTxn& txn,
                    const std::vector<ExportableDataset>& headers,
                    const std::string& path) {
  std::vector<std::pair<DatasetRecord, VersionRecord>> all;
  for (const ExportableDataset& e : headers) {
    const VersionRecord* v = CurrentVersion(e);
    if (v == nullptr) continue;
    DS_TRY(full, txn.GetVersion(e.record.dataset.key, v->version));
    if (*full) all.emplace_back(e.record, std::move(**full));
  }
  const std::string fixture =
      CheckTickFixture(all).dump(2, ' ', false,
                                 OrderedJson::error_handler_t::replace) +
      "\n";
  const std::optional<std::string> existing = ReadIfExists(path);
  if (!existing || *existing != fixture) {
    DS_CHECK(WriteAtomically(path, fixture));
  }
  return {};
}

}  // namespace

Result<ExportReport> ExportStore(Store& store, const ExportOptions& options) {
  if (options.out_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no output directory given");
  }
  const fs::path root(options.out_dir);
  DS_CHECK(CreateDirectories(root));
  TreeOptions tree_options;
  tree_options.all_versions = options.all_versions;
  tree_options.fhir = options.fhir;
  tree_options.fhir_base_url = options.fhir_base_url;
  tree_options.extra_organizations = OrganizationsWithManifest(root);
  unsigned workers = options.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  // The earlier manifests are read on a thread of their own while this one
  // lists the store: at 10,000 datasets each takes a fifth of an export
  // after one change. --prune must know every file of every dataset, and
  // the consecutive diffs are in no manifest: it builds everything, as
  // --verify does.
  EarlierManifests earlier;
  std::jthread reader;  // joined at the latest when this returns
  if (!options.verify && !options.prune) {
    reader = std::jthread([&] {
      earlier = ReadEarlierManifests(root, tree_options.extra_organizations);
    });
  }

  ExportReport report;
  Tree tree(root, report, /*track_published=*/options.prune);
  return store.Read([&](const ReadTxn& txn) -> Result<ExportReport> {
    auto headers = ReadHeaders(txn);
    if (reader.joinable()) reader.join();
    if (!headers) return std::unexpected(headers.error());
    for (auto& [path, text] : earlier.texts) tree.KnowContent(path, std::move(text));
    // What becomes of each dataset: not published, built, or kept as its
    // earlier entry (which moves: `earlier` is not read again). The checks
    // (a stat of each listed file: 20,000 at 10,000 datasets) run on every
    // core.
    struct Verdict {
      enum { kUnpublished, kBuild, kKeep } what = kUnpublished;
      EntryIndex::iterator entry;  // kKeep
    };
    std::vector<Verdict> verdicts(headers->size());
    auto judge = [&](std::size_t first, std::size_t step) {
      for (std::size_t i = first; i < headers->size(); i += step) {
        const ExportableDataset& e = (*headers)[i];
        const std::optional<std::string> prefix = ScopeOf(e.record.dataset);
        const VersionRecord* current = CurrentVersion(e);
        if (!prefix || current == nullptr) continue;
        auto it = earlier.entries.find(*prefix + e.record.dataset.key);
        verdicts[i] = it != earlier.entries.end() &&
                              StillStands(it->second, e, *current, *prefix,
                                          tree_options, root)
                          ? Verdict{Verdict::kKeep, it}
                          : Verdict{Verdict::kBuild, {}};
      }
    };
    {
      std::vector<std::jthread> judges;
      for (unsigned t = 1; t < workers; ++t) judges.emplace_back(judge, t, workers);
      judge(0, workers);
    }
    EntryIndex kept, built;
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      if (verdicts[i].what == Verdict::kKeep) kept.insert(std::move(*verdicts[i].entry));
      if (verdicts[i].what == Verdict::kBuild) todo.push_back(i);
    }
    DS_CHECK(BuildDatasets(txn, *headers, todo, tree_options, workers, tree,
                           built));
    // Everything the manifests name is durable now: write them.
    ManifestSink sink(tree, kept, built, workers);
    DS_TRY(summary, BuildExportTree(*headers, tree_options, sink));
    report.datasets = summary->datasets;
    report.organizations = summary->organizations;
    report.warnings = std::move(summary->warnings);
    report.manifest_changed = sink.manifest_changed();
    if (!options.checktick_fixture.empty()) {
      DS_CHECK(WriteFixture(txn, *headers, options.checktick_fixture));
    }
    if (options.prune) {
      DS_CHECK(Prune(tree, {"datasets", "diffs", "fhir", "orgs"}, report));
    }
    return std::move(report);
  });
}

}  // namespace datasnap
