#include "exporters/export_from_record.h"

#include <simdjson.h>

#include <algorithm>
#include <deque>
#include <set>
#include <string_view>

#include "core/sha256.h"
#include "core/version.h"
#include "exporters/export_build.h"
#include "exporters/formats.h"
#include "exporters/manifest_reader.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
namespace dom = simdjson::dom;

std::string Generator() { return std::string("datasnap ") + kVersion; }

// The organisation of a manifest path the record may list
// ("orgs/<org>/manifest.json" or its .gz): "" for the public manifest,
// nullopt for any other path.
std::optional<std::string> OrgOfManifestPath(std::string_view path) {
  if (path.ends_with(".gz")) path.remove_suffix(3);
  if (path == "manifest.json") return std::string();
  constexpr std::string_view kHead = "orgs/", kTail = "/manifest.json";
  if (!path.starts_with(kHead) || !path.ends_with(kTail)) return std::nullopt;
  const std::string org(
      path.substr(kHead.size(), path.size() - kHead.size() - kTail.size()));
  if (!ValidateKey(org)) return std::nullopt;
  return org;
}

// One manifest as this export composes it: entry (or reference) texts by
// key, which point into the earlier manifests' bytes or into texts
// rendered by this export.
using EntryTexts = std::map<std::string, std::string_view, std::less<>>;

std::vector<std::string_view> InKeyOrder(const EntryTexts& texts) {
  std::vector<std::string_view> out;
  out.reserve(texts.size());
  for (const auto& [key, text] : texts) out.push_back(text);
  return out;
}

// Splits an earlier manifest's entries (or references) by key. False when
// one has no key this datasnap writes.
bool IndexTexts(const std::vector<std::string_view>& texts, EntryTexts& out) {
  for (std::string_view text : texts) {
    const std::string_view key = KeyOfEntryText(text);
    if (key.empty()) return false;
    out.emplace(std::string(key), text);
  }
  return true;
}

// What the audit log says changed since `record`'s event: the datasets
// named by the later events, and the newest event. nullopt when the log
// does not continue the recorded one (another store, a copy restored from
// before the record, a migration since): then the export reads everything.
struct ChangesSince {
  std::set<std::string> keys;
  AuditEvent newest;
};
Result<std::optional<ChangesSince>> ReadChanges(const ReadTxn& txn,
                                                const ExportRecord& record) {
  const Result<std::string> created_at = txn.CreatedAt();
  if (!created_at || created_at->empty() ||
      *created_at != record.store_created_at) {
    return std::nullopt;
  }
  DS_TRY(events, txn.ListAuditFrom(record.audit_seq));
  if (events->empty() || events->front().seq != record.audit_seq ||
      AuditFingerprint(events->front()) != record.audit_event_sha256) {
    return std::nullopt;
  }
  ChangesSince changes;
  for (std::size_t i = 1; i < events->size(); ++i) {
    const AuditEvent& e = (*events)[i];
    // A store-wide rewrite names no dataset; a command's summary names
    // none either, but each write it summarises has its own event.
    if (e.action.starts_with("store.")) return std::nullopt;
    if (!e.dataset.empty()) changes.keys.insert(e.dataset);
  }
  changes.newest = std::move(events->back());
  return changes;
}

// Publishes a manifest's .gz and then its .json unless the text is the
// earlier one, whose files (checked against the record `recorded`) stand.
// Sets their hashes in `record`.
Status PublishManifest(ExportDir& tree, const std::string& path,
                       const std::string& text,
                       const std::map<std::string, std::string>& earlier,
                       const ExportRecord& recorded, unsigned workers,
                       ExportRecord& record, bool& changed) {
  const std::string gz_path = path + ".gz";
  auto old_text = earlier.find(path);
  auto old_gz = earlier.find(gz_path);
  if (old_text != earlier.end() && old_gz != earlier.end() &&
      old_text->second == text) {
    tree.Keep(gz_path);
    tree.Keep(path);
    record.manifests[gz_path] = recorded.manifests.at(gz_path);
    record.manifests[path] = recorded.manifests.at(path);
    changed = false;
    return {};
  }
  const TreeFile gz{gz_path, "gzip", /*manifest=*/true, {}, text.size(), {}};
  DS_TRY(bytes, EncodeTreeFile(gz, text, workers,
                               old_gz != earlier.end() ? std::string_view(old_gz->second)
                                                       : std::string_view()));
  DS_CHECK(tree.Put(gz_path, *bytes));
  DS_CHECK(tree.Put(path, text));
  record.manifests[gz_path] = Sha256Hex(*bytes);
  record.manifests[path] = Sha256Hex(text);
  changed = true;
  return {};
}

}  // namespace

std::map<std::string, std::string> WarningsOf(
    const std::vector<ExportableDataset>& headers) {
  std::map<std::string, std::string> warnings;
  for (const ExportableDataset& e : headers) {
    const Dataset& d = e.record.dataset;
    if (auto warning = UnusableOrganizationWarning(d)) {
      warnings.emplace(d.key, std::move(*warning));
    }
  }
  return warnings;
}

Result<ExportRecord> NewRecord(const ReadTxn& txn, const TreeOptions& options) {
  ExportRecord record;
  record.generator = Generator();
  // Every store has had one since it was created; one without could not
  // be told from another, and its exports would read everything.
  if (Result<std::string> created_at = txn.CreatedAt()) {
    record.store_created_at = std::move(*created_at);
  }
  DS_TRY(newest, txn.ListAudit(1));
  if (!newest->empty()) {
    record.audit_seq = newest->front().seq;
    record.audit_event_sha256 = AuditFingerprint(newest->front());
  }
  record.all_versions = options.all_versions;
  record.fhir = options.fhir;
  record.fhir_base_url = options.fhir_base_url;
  return record;
}

Status WriteRecord(const fs::path& root, const ExportRecord& record) {
  const std::string text = ExportRecordJson(record);
  if (ReadIfExists(root / kExportRecordName) == text) return {};
  return WriteAtomically(root / kExportRecordName, text);
}

std::optional<std::map<std::string, std::string>> ReadRecordedManifests(
    const fs::path& root, const ExportRecord& record,
    const TreeOptions& options) {
  if (record.generator != Generator() ||
      record.all_versions != options.all_versions ||
      record.fhir != options.fhir ||
      record.fhir_base_url != options.fhir_base_url ||
      record.audit_seq == 0) {
    return std::nullopt;
  }
  std::set<std::string> orgs;
  for (const auto& [path, sha] : record.manifests) {
    const std::optional<std::string> org = OrgOfManifestPath(path);
    if (!org) return std::nullopt;
    if (!org->empty()) orgs.insert(*org);
  }
  // Both files of every manifest, and the public one.
  if (record.manifests.size() != 2 * (orgs.size() + 1) ||
      !record.manifests.contains("manifest.json") ||
      orgs != options.extra_organizations) {
    return std::nullopt;
  }
  std::map<std::string, std::string> texts;
  for (const auto& [path, sha] : record.manifests) {
    std::optional<std::string> text = ReadIfExists(
        root / path, path.ends_with(".gz") ? 0 : simdjson::SIMDJSON_PADDING);
    if (!text || Sha256Hex(*text) != sha) return std::nullopt;
    texts.emplace(path, std::move(*text));
  }
  return texts;
}

Result<std::optional<ExportReport>> ExportChanged(
    const ReadTxn& txn, const ExportRecord& recorded,
    const std::map<std::string, std::string>& earlier,
    const TreeOptions& options, unsigned workers, ExportDir& tree,
    ExportReport& report) {
  DS_TRY(changes, ReadChanges(txn, recorded));
  if (!*changes) return std::nullopt;
  const std::set<std::string>& keys = (*changes)->keys;

  // The earlier manifests, split into entry texts by key.
  std::map<std::string, EntryTexts> manifests;  // by prefix ("", "orgs/x/")
  EntryTexts refs;  // the global references, the same in every organisation's
  for (const auto& [path, text] : earlier) {
    if (path.ends_with(".gz")) continue;
    const std::optional<ManifestTexts> split = SplitManifest(text);
    const std::string prefix = path.substr(0, path.size() - 13);
    if (!split || !IsOwnManifest(*split) ||
        !IndexTexts(split->entries, manifests[prefix]) ||
        (!prefix.empty() && refs.empty() && !IndexTexts(split->global, refs))) {
      return std::nullopt;
    }
  }
  const bool had_orgs = manifests.size() > 1;

  // The changed datasets as they are now, and where each goes.
  std::vector<ExportableDataset> headers;
  std::vector<std::string> prefixes;
  std::map<std::string, std::string> warnings = recorded.warnings;
  for (const std::string& key : keys) {
    warnings.erase(key);
    DS_TRY(record, txn.GetDataset(key));
    if (!*record) continue;  // removed
    DS_TRY(e, ReadExportableDataset(txn, std::move(**record),
                                    /*with_options=*/false));
    if (!*e) continue;
    const std::optional<std::string> prefix = ScopeOf((*e)->record.dataset);
    if (!prefix) {
      if (auto warning = UnusableOrganizationWarning((*e)->record.dataset)) {
        warnings.emplace(key, std::move(*warning));
      }
      continue;
    }
    headers.push_back(std::move(**e));
    prefixes.push_back(*prefix);
  }
  // A new organisation needs the global references, known only from
  // another organisation's manifest (or every public entry parsed): rare
  // enough to export in full.
  if (!had_orgs && std::any_of(prefixes.begin(), prefixes.end(),
                               [](const std::string& p) { return !p.empty(); })) {
    return std::nullopt;
  }

  // Each changed dataset's earlier entries go, wherever they were; an
  // entry that still stands (an event that changed nothing published)
  // comes back as it was.
  dom::parser parser;
  std::uint64_t listed_files = recorded.listed_files;
  std::map<std::string, KnownEntry> old_entries;  // by prefix + key
  for (auto& [prefix, texts] : manifests) {
    for (const std::string& key : keys) {
      auto it = texts.find(key);
      if (it == texts.end()) continue;
      const std::string padded = PaddedCopy(it->second);
      std::string parsed_key;
      std::optional<KnownEntry> known = ParseEntry(parser, padded, parsed_key);
      if (!known || parsed_key != key) return std::nullopt;
      known->entry.json = it->second;  // ParseEntry's view is into `padded`
      listed_files -= std::min<std::uint64_t>(listed_files,
                                              FilesOf(known->entry).size());
      old_entries.emplace(prefix + key, std::move(*known));
      texts.erase(it);
    }
  }
  for (const std::string& key : keys) refs.erase(key);

  std::vector<std::size_t> todo;
  std::vector<std::string_view> kept_texts(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const ExportableDataset& e = headers[i];
    auto it = old_entries.find(prefixes[i] + e.record.dataset.key);
    const VersionRecord* current = CurrentVersion(e);
    if (it != old_entries.end() &&
        StillStands(it->second, e, *current, prefixes[i], options, tree.root())) {
      kept_texts[i] = it->second.entry.json;
      listed_files += FilesOf(it->second.entry).size();
    } else {
      todo.push_back(i);
    }
  }
  EntryIndex built;
  DS_CHECK(BuildDatasets(txn, headers, todo, options, workers, tree, built));

  // The new entries, and the global references of the new global ones.
  // Texts rendered here; a deque, so that the views into them stay valid
  // as it grows.
  std::deque<std::string> owned;
  std::uint64_t built_files = 0;  // counted by the tree as written or kept
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const ExportableDataset& e = headers[i];
    const std::string& key = e.record.dataset.key;
    const VersionRecord* current = CurrentVersion(e);
    std::string_view text = kept_texts[i];
    std::string sha256;
    if (text.empty()) {
      auto it = built.find(prefixes[i] + key);
      if (it == built.end()) {
        return Fail(ErrorCode::kCorrupt,
                    "export: '" + key + "' was not built before the manifests");
      }
      ManifestEntry& m = it->second.entry;
      m.record = &e.record;
      m.current = current;
      listed_files += FilesOf(m).size();
      built_files += FilesOf(m).size();
      owned.push_back(EntryText(m));
      text = owned.back();
      sha256 = m.snapshot.json_sha256;
    } else {
      sha256 = old_entries.at(prefixes[i] + key).entry.snapshot.json_sha256;
    }
    manifests[prefixes[i]].emplace(key, text);
    if (prefixes[i].empty()) {
      owned.push_back(GlobalRefText(key, current->version, sha256));
      refs.emplace(key, owned.back());
    }
  }

  // Publish: the organisations' manifests, then the public one.
  ExportRecord record = recorded;
  record.audit_seq = (*changes)->newest.seq;
  record.audit_event_sha256 = AuditFingerprint((*changes)->newest);
  record.manifests.clear();
  record.listed_files = listed_files;
  record.warnings = std::move(warnings);
  const std::vector<std::string_view> global = InKeyOrder(refs);
  for (const auto& [prefix, texts] : manifests) {
    if (prefix.empty()) continue;
    const std::string org = prefix.substr(5, prefix.size() - 6);
    bool changed = false;
    DS_CHECK(PublishManifest(tree, prefix + "manifest.json",
                             OrgManifestTextOf(org, InKeyOrder(texts), global),
                             earlier, recorded, workers, record, changed));
    ++report.organizations;
  }
  const EntryTexts& public_texts = manifests[""];
  DS_CHECK(PublishManifest(tree, "manifest.json",
                           ManifestTextOf(InKeyOrder(public_texts)), earlier,
                           recorded, workers, record, report.manifest_changed));
  report.datasets = public_texts.size();
  // Every listed file not built here stands as the earlier export left it.
  report.files_unchanged += record.listed_files - built_files;
  for (const auto& [key, warning] : record.warnings) report.warnings.push_back(warning);
  DS_CHECK(WriteRecord(tree.root(), record));
  report.incremental = true;
  return std::optional<ExportReport>(std::move(report));
}

}  // namespace datasnap
