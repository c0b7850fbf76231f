#include "serve/served_tree.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/model.h"
#include "core/sha256.h"

namespace datasnap {

std::string_view CodingName(Coding coding) {
  switch (coding) {
    case Coding::kGzip: return "gzip";
    case Coding::kZstd: return "zstd";
    case Coding::kIdentity: break;
  }
  return "identity";
}

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

std::string Quoted(const std::string& sha256) { return "\"" + sha256 + "\""; }

// A resource while the tree is built: representations by coding.
struct Draft {
  std::string content_type;
  bool immutable = false;
  bool negotiated = false;
  std::map<Coding, Representation> by_coding;  // identity < gzip < zstd
};

}  // namespace

// Collects the export tree's files as resources.
class ServedTreeBuilder : public TreeSink {
 public:
  ServedTreeBuilder(ServedTree& tree, const ServedTree* previous)
      : tree_(tree), previous_(previous) {}

  Result<std::string> Encode(const TreeFile& file,
                             const std::string& json) override {
    if (auto bytes = Reuse(file.json_sha256, file.encoding)) return *bytes;
    return EncodeTreeFile(file, json);
  }

  Status Publish(const TreeFile& file, const std::string& bytes,
                 const std::string& sha256, const std::string& json) override {
    const bool immutable = !file.manifest;
    // The previous tree's copy when it has these bytes (Encode took them
    // from it): trees share them rather than holding one copy each.
    std::shared_ptr<const std::string> shared;
    if (file.encoding != "identity") {
      shared = Reuse(file.json_sha256, file.encoding);
      if (shared != nullptr && *shared != bytes) shared = nullptr;
    }
    if (shared == nullptr) shared = Intern(bytes);
    if (file.encoding == "identity") {
      // The document itself (a manifest, a FHIR file).
      AddDocument(file.path, immutable, Coding::kIdentity, shared, sha256);
      return {};
    }
    const bool zstd = file.encoding == "zstd";
    const std::string_view suffix = zstd ? ".zst" : ".gz";
    if (!EndsWith(file.path, suffix)) {
      return Fail(ErrorCode::kCorrupt,
                  "export file '" + file.path + "' is " +
                      std::string(file.encoding) + " without its suffix");
    }
    // The file as the export writes it: bytes with no Content-Encoding.
    Draft& raw = drafts_[file.path];
    raw.content_type = zstd ? "application/zstd" : "application/gzip";
    raw.immutable = immutable;
    raw.by_coding[Coding::kIdentity] = {Coding::kIdentity, shared,
                                        Quoted(sha256)};
    tree_.encoded_[file.json_sha256 + "/" + std::string(file.encoding)] =
        shared;
    // The document it encodes, negotiated.
    const std::string stem =
        file.path.substr(0, file.path.size() - suffix.size());
    const Coding coding = zstd ? Coding::kZstd : Coding::kGzip;
    auto document = Intern(json);
    for (const std::string& path : {stem, file.current_alias}) {
      if (path.empty()) continue;
      const bool named = path == stem && immutable;
      AddDocument(path, named, Coding::kIdentity, document, file.json_sha256);
      AddDocument(path, named, coding, shared, sha256);
    }
    return {};
  }

  // Gives manifests (which the export writes as identity and gzip) a zstd
  // representation too, then freezes the drafts into the tree.
  Status Finish(const ServeScope& scope, std::uint64_t generation,
                TreeSummary summary) {
    tree_.generation_ = generation;
    tree_.summary_ = std::move(summary);
    for (auto& [path, draft] : drafts_) {
      if (!draft.negotiated || draft.immutable) continue;
      if (draft.by_coding.count(Coding::kZstd)) continue;
      const auto identity = draft.by_coding.find(Coding::kIdentity);
      if (identity == draft.by_coding.end()) continue;
      const std::string& json = *identity->second.bytes;
      const std::string json_sha = identity->second.etag.substr(
          1, identity->second.etag.size() - 2);
      std::shared_ptr<const std::string> zstd = Reuse(json_sha, "zstd");
      if (!zstd) {
        DS_TRY(bytes, EncodeDocument("zstd", json));
        zstd = std::make_shared<const std::string>(std::move(*bytes));
      }
      tree_.encoded_[json_sha + "/zstd"] = zstd;
      draft.by_coding[Coding::kZstd] = {Coding::kZstd, zstd,
                                        Quoted(Sha256Hex(*zstd))};
    }
    for (auto& [path, draft] : drafts_) {
      auto resource = std::make_shared<Resource>();
      resource->content_type = std::move(draft.content_type);
      resource->immutable = draft.immutable;
      resource->private_cache = path.starts_with("orgs/");
      resource->negotiated = draft.negotiated;
      for (auto& [coding, rep] : draft.by_coding) {
        resource->representations.push_back(std::move(rep));
      }
      tree_.resources_.emplace(path, std::move(resource));
    }
    Retain(scope.retain_bytes);
    return {};
  }

 private:
  // Bytes of the previous tree (or this one) for a document's encoding.
  std::shared_ptr<const std::string> Reuse(const std::string& json_sha,
                                           std::string_view encoding) const {
    const std::string key = json_sha + "/" + std::string(encoding);
    if (auto it = tree_.encoded_.find(key); it != tree_.encoded_.end()) {
      return it->second;
    }
    if (previous_ != nullptr) {
      if (auto it = previous_->encoded_.find(key);
          it != previous_->encoded_.end()) {
        return it->second;
      }
    }
    return nullptr;
  }

  // One shared copy per distinct content.
  std::shared_ptr<const std::string> Intern(const std::string& bytes) {
    auto [it, added] = interned_.try_emplace(bytes);
    if (added) it->second = std::make_shared<const std::string>(bytes);
    return it->second;
  }

  void AddDocument(const std::string& path, bool immutable, Coding coding,
                   std::shared_ptr<const std::string> bytes,
                   const std::string& sha256) {
    Draft& d = drafts_[path];
    d.content_type = "application/json";
    d.immutable = immutable;
    d.negotiated = true;
    d.by_coding[coding] = {coding, std::move(bytes), Quoted(sha256)};
  }

  // Keeps the previous tree's content-named resources that this one lacks:
  // first those it published itself, then those it had retained.
  void Retain(std::size_t budget) {
    if (previous_ == nullptr) return;
    std::vector<std::string> candidates;
    for (const auto& [path, resource] : previous_->resources_) {
      if (resource->immutable &&
          std::find(previous_->retained_.begin(), previous_->retained_.end(),
                    path) == previous_->retained_.end()) {
        candidates.push_back(path);
      }
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.insert(candidates.end(), previous_->retained_.begin(),
                      previous_->retained_.end());
    std::size_t used = 0;
    for (const std::string& path : candidates) {
      if (tree_.resources_.count(path)) continue;
      const auto& resource = previous_->resources_.find(path)->second;
      std::size_t bytes = 0;
      for (const Representation& r : resource->representations) {
        bytes += r.bytes->size();
      }
      if (used + bytes > budget) break;
      used += bytes;
      tree_.resources_.emplace(path, resource);
      tree_.retained_.push_back(path);
    }
  }

  ServedTree& tree_;
  const ServedTree* previous_;
  std::map<std::string, Draft> drafts_;
  std::map<std::string, std::shared_ptr<const std::string>> interned_;
};

const Resource* ServedTree::Find(std::string_view path) const {
  auto it = resources_.find(path);
  return it == resources_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ServedTree::Paths() const {
  std::vector<std::string> paths;
  paths.reserve(resources_.size());
  for (const auto& [path, resource] : resources_) paths.push_back(path);
  std::sort(paths.begin(), paths.end());
  return paths;
}

Result<std::shared_ptr<const ServedTree>> BuildServedTree(
    const ReadTxn& txn, const ServeScope& scope, const ServedTree* previous) {
  DS_TRY(data, ReadExportable(txn));
  TreeOptions options;
  options.all_versions = scope.all_versions;
  options.fhir = scope.fhir;
  // Every organisation a dataset names keeps a manifest, as the export
  // keeps one for an organisation whose datasets all went.
  DS_TRY(all, txn.ListDatasets());
  for (const DatasetRecord& r : *all) {
    if (!r.dataset.organization.empty()) {
      options.extra_organizations.insert(r.dataset.organization);
    }
  }
  if (scope.organization) {
    // Only the public tree and this organisation's: the others' datasets
    // are left out before anything of theirs is computed.
    std::erase_if(*data, [&](const ExportableDataset& e) {
      return !e.record.dataset.is_global &&
             e.record.dataset.organization != *scope.organization;
    });
    options.extra_organizations = {*scope.organization};
  }
  auto tree = std::make_shared<ServedTree>();
  ServedTreeBuilder builder(*tree, previous);
  DS_TRY(summary, BuildExportTree(*data, options, builder));
  DS_CHECK(builder.Finish(scope, txn.TxnId(), std::move(*summary)));
  return std::shared_ptr<const ServedTree>(std::move(tree));
}

}  // namespace datasnap
