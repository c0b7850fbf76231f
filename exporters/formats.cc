#include "exporters/formats.h"

#include <span>

#include "core/version.h"
#include "exporters/json_patch.h"

namespace datasnap {
namespace {

// An option without its value: what a changed option was and became.
OrderedJson OptionBody(const Option& o) {
  OrderedJson j;
  j["label"] = o.label;
  if (o.parent) j["parent"] = *o.parent;
  if (o.is_default) j["default"] = true;
  return j;
}

OrderedJson OptionArray(const std::vector<Option>& options) {
  OrderedJson array = OrderedJson::array();
  for (const Option& o : options) {
    OrderedJson item;
    item["value"] = o.value;
    item.update(OptionBody(o));
    array.push_back(std::move(item));
  }
  return array;
}

OrderedJson FileJson(const PublishedFile& f) {
  OrderedJson j;
  j["path"] = f.path;
  j["encoding"] = f.encoding;
  j["bytes"] = f.bytes;
  j["sha256"] = f.sha256;
  return j;
}

OrderedJson DocumentJson(const PublishedDocument& d) {
  OrderedJson j;
  j["json_sha256"] = d.json_sha256;
  j["json_bytes"] = d.json_bytes;
  OrderedJson files = OrderedJson::array();
  for (const PublishedFile& f : d.files) files.push_back(FileJson(f));
  j["files"] = std::move(files);
  return j;
}

OrderedJson SummaryJson(const DiffSummary& summary) {
  OrderedJson s;
  s["added"] = summary.added;
  s["removed"] = summary.removed;
  s["changed"] = summary.changed;
  s["reordered"] = summary.reordered;
  return s;
}

}  // namespace

DiffSummary Summarize(const OptionsDiff& diff) {
  return {diff.added.size(), diff.removed.size(), diff.changed.size(),
          diff.reordered};
}

OrderedJson SnapshotJson(const DatasetRecord& record,
                         const VersionRecord& version) {
  OrderedJson j;
  j["format"] = kExportFormatVersion;
  j["key"] = record.dataset.key;
  j["name"] = record.dataset.name;
  j["version"] = version.version;
  j["created_at"] = FormatIso8601(version.created_at);
  j["option_count"] = version.options.size();
  j["sha256"] = version.options_sha256;
  j["provenance"] = ProvenanceToJson(version.provenance);
  j["options"] = OptionsToJson(version.options);
  return j;
}

OrderedJson DiffJson(const std::string& key, const VersionRecord& from,
                     const VersionRecord& to) {
  return DiffJson(key, from, to, DiffOptions(from.options, to.options));
}

OrderedJson DiffJson(const std::string& key, const VersionRecord& from,
                     const VersionRecord& to, const OptionsDiff& diff) {
  OrderedJson j;
  j["format"] = kExportFormatVersion;
  j["key"] = key;
  j["from"] = from.version;
  j["to"] = to.version;
  j["from_sha256"] = from.options_sha256;
  j["to_sha256"] = to.options_sha256;
  j["summary"] = SummaryJson(Summarize(diff));
  j["added"] = OptionArray(diff.added);
  j["removed"] = OptionArray(diff.removed);
  OrderedJson changed = OrderedJson::array();
  for (const ChangedOption& c : diff.changed) {
    OrderedJson item;
    item["value"] = c.after.value;
    item["before"] = OptionBody(c.before);
    item["after"] = OptionBody(c.after);
    changed.push_back(std::move(item));
  }
  j["changed"] = std::move(changed);
  // Removals and relabels keep the old order; additions and moves do not.
  if (!diff.added.empty() || diff.reordered) {
    OrderedJson order = OrderedJson::array();
    for (const Option& o : to.options.options()) order.push_back(o.value);
    j["order"] = std::move(order);
  }
  j["patch"] = OptionsJsonPatch(diff);
  return j;
}

namespace {

OrderedJson EntriesJson(std::span<const ManifestEntry> entries) {
  OrderedJson datasets = OrderedJson::array();
  for (const ManifestEntry& e : entries) {
    const Dataset& d = e.record->dataset;
    const VersionRecord& v = *e.current;
    OrderedJson item;
    item["key"] = d.key;
    item["name"] = d.name;
    item["description"] = d.description;
    item["category"] = CategoryName(d.category);
    item["tags"] = d.tags;
    item["version"] = v.version;
    item["option_count"] = v.option_count;
    item["sha256"] = e.snapshot.json_sha256;
    item["options_sha256"] = v.options_sha256;
    item["created_at"] = FormatIso8601(v.created_at);
    item["source_url"] = TextOrNull(v.provenance.source_url);
    item["parent"] = TextOrNull(d.parent);
    item["snapshot"] = DocumentJson(e.snapshot);
    OrderedJson diffs = OrderedJson::array();
    for (const ManifestDiff& md : e.diffs) {
      OrderedJson dj;
      dj["from"] = md.from;
      dj["to"] = md.to;
      dj["summary"] = SummaryJson(md.summary);
      dj.update(DocumentJson(md.document));
      diffs.push_back(std::move(dj));
    }
    item["diffs"] = std::move(diffs);
    if (!e.older.empty()) {
      OrderedJson older = OrderedJson::array();
      for (const auto& [version, doc] : e.older) {
        OrderedJson oj;
        oj["version"] = version;
        oj.update(DocumentJson(doc));
        older.push_back(std::move(oj));
      }
      item["older_snapshots"] = std::move(older);
    }
    if (e.fhir) item["fhir"] = FileJson(*e.fhir);
    datasets.push_back(std::move(item));
  }
  return datasets;
}

}  // namespace

OrderedJson ManifestJson(const std::vector<ManifestEntry>& entries) {
  OrderedJson j;
  j["format"] = kExportFormatVersion;
  j["generator"] = std::string("datasnap ") + kVersion;
  j["datasets"] = EntriesJson(entries);
  return j;
}

std::string EntryText(const ManifestEntry& entry) {
  if (!entry.json.empty()) return entry.json;
  const std::string array = DumpCompact(EntriesJson(std::span(&entry, 1)));
  return array.substr(1, array.size() - 2);
}

namespace {

// Appends `texts` joined as compact JSON joins array elements: with a bare
// comma.
void AppendJoined(std::string& out, const std::vector<std::string_view>& texts) {
  for (std::size_t k = 0; k < texts.size(); ++k) {
    if (k > 0) out += ',';
    out += texts[k];
  }
}

std::size_t JoinedSize(const std::vector<std::string_view>& texts) {
  std::size_t size = texts.size();
  for (std::string_view t : texts) size += t.size();
  return size;
}

}  // namespace

std::string ManifestTextOf(const std::vector<std::string_view>& entries) {
  // The members before "datasets" (the last member), rendered by the same
  // code as ManifestJson: "{...,"datasets":[]}" without its "]}".
  const std::string head = DumpCompact(ManifestJson({}));
  std::string text;
  text.reserve(head.size() + JoinedSize(entries));  // 9 MB at 10,000: once
  text.append(head, 0, head.size() - 2);
  AppendJoined(text, entries);
  text += "]}";
  return text;
}

std::string ManifestText(const std::vector<ManifestEntry>& entries) {
  // At 10,000 datasets rendering every entry again was a fifth of an
  // export after one change: those with a text are copied.
  std::vector<std::string> rendered(entries.size());
  std::vector<std::string_view> texts(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) {
    if (entries[k].json.empty()) rendered[k] = EntryText(entries[k]);
    texts[k] = entries[k].json.empty() ? rendered[k] : entries[k].json;
  }
  return ManifestTextOf(texts);
}

namespace {

// {"key","version","sha256","manifest"}: an organisation manifest's
// reference to a global dataset.
OrderedJson GlobalRefJson(std::string_view key, std::uint32_t version,
                          std::string_view sha256) {
  OrderedJson r;
  r["key"] = key;
  r["version"] = version;
  r["sha256"] = sha256;
  r["manifest"] = "manifest.json";
  return r;
}

}  // namespace

std::string GlobalRefText(std::string_view key, std::uint32_t version,
                          std::string_view sha256) {
  return DumpCompact(GlobalRefJson(key, version, sha256));
}

std::string OrgManifestTextOf(const std::string& organization,
                              const std::vector<std::string_view>& own,
                              const std::vector<std::string_view>& global) {
  // "{...,"datasets":[],"global":[]}" cut after "datasets":[ .
  constexpr std::string_view kTail = "],\"global\":[]}";
  const std::string head = DumpCompact(OrgManifestJson(organization, {}, {}));
  std::string text;
  text.reserve(head.size() + JoinedSize(own) + JoinedSize(global));
  text.append(head, 0, head.size() - kTail.size());
  AppendJoined(text, own);
  text += "],\"global\":[";
  AppendJoined(text, global);
  text += "]}";
  return text;
}

OrderedJson OrgManifestJson(const std::string& organization,
                            const std::vector<ManifestEntry>& own,
                            const std::vector<ManifestEntry>& global) {
  OrderedJson j;
  j["format"] = kExportFormatVersion;
  j["generator"] = std::string("datasnap ") + kVersion;
  j["organization"] = organization;
  j["datasets"] = EntriesJson(own);
  OrderedJson refs = OrderedJson::array();
  for (const ManifestEntry& e : global) {
    refs.push_back(GlobalRefJson(e.record->dataset.key, e.current->version,
                                 e.snapshot.json_sha256));
  }
  j["global"] = std::move(refs);
  return j;
}

}  // namespace datasnap
