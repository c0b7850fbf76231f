// The export tree as `datasnap serve` answers it: every path `datasnap
// export` writes, each a resource with its representations (identity,
// gzip, zstd), the bytes computed once per content and kept.
//
//   auto tree = store.Read([&](const ReadTxn& txn) {
//     return BuildServedTree(txn, scope, previous.get());
//   });
//   const Resource* r = (*tree)->Find("manifest.json");
//
// The files and their bytes come from exporters/export_tree.h, the source
// the export writes from, so serve and export publish the same bytes.
// Besides the export's files a tree has, per document, the uncompressed
// "<stem>.<h>.json" (negotiated: its gzip and zstd representations are the
// bytes of the .json.gz and .json.zst files) and, per dataset,
// "datasets/<key>/current.json" (the current snapshot under a mutable
// name). docs/SERVING.md lists them.
#ifndef DATASNAP_SERVE_SERVED_TREE_H_
#define DATASNAP_SERVE_SERVED_TREE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "exporters/export_tree.h"
#include "store/store.h"

namespace datasnap {

enum class Coding { kIdentity, kGzip, kZstd };

// "identity", "gzip" or "zstd".
std::string_view CodingName(Coding coding);

// One encoding of a resource's content.
struct Representation {
  Coding coding = Coding::kIdentity;  // its Content-Encoding
  std::shared_ptr<const std::string> bytes;
  std::string etag;  // "\"<SHA-256 of bytes, hex>\"", quoted
};

struct Resource {
  std::string content_type;  // application/json, application/gzip, ...
  // Content-named (its name never changes content): cached forever.
  // Else (manifests, current.json) revalidated on every use.
  bool immutable = false;
  // An organisation's (orgs/<org>/...): caches shared between users must
  // not keep it (Cache-Control: private), as deploy/nginx/datasnap.conf.
  bool private_cache = false;
  // Several encodings to choose from by Accept-Encoding: Vary on it.
  bool negotiated = false;
  std::vector<Representation> representations;  // identity first
};

// What part of the export a server publishes.
struct ServeScope {
  // When set, only this organisation's orgs/<org>/ tree besides the public
  // one; other organisations' paths do not exist. Else every organisation's
  // tree, as the export writes it.
  std::optional<std::string> organization;
  // Content-named resources of earlier trees (files of versions a refresh
  // replaced) stay answerable, newest first, up to this many bytes: a
  // client holding the previous manifest still finds its files.
  std::size_t retain_bytes = std::size_t{64} << 20;
  // As export's --all-versions and --fhir (the manifest then lists them).
  bool all_versions = false;
  bool fhir = false;
};

class ServedTree {
 public:
  // LMDB's id of the snapshot the tree was built from (ReadTxn::TxnId).
  std::uint64_t generation() const { return generation_; }
  // The resource at `path` (relative, no leading '/'), or nullptr.
  const Resource* Find(std::string_view path) const;
  // Every path, sorted.
  std::vector<std::string> Paths() const;
  std::size_t size() const { return resources_.size(); }
  // Of the export tree built (datasets, organisations, warnings).
  const TreeSummary& summary() const { return summary_; }

 private:
  friend class ServedTreeBuilder;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::uint64_t generation_ = 0;
  TreeSummary summary_;
  std::unordered_map<std::string, std::shared_ptr<const Resource>, Hash,
                     std::equal_to<>>
      resources_;
  // Content-named paths of earlier trees kept in this one, newest first.
  std::vector<std::string> retained_;
  // Encoded bytes by "<json sha256>/<encoding>", for the next tree.
  std::unordered_map<std::string, std::shared_ptr<const std::string>> encoded_;
};

// The tree of `txn`'s snapshot within `scope`. `previous` (may be null):
// the tree before, whose compressed bytes are reused rather than computed
// again and whose content-named resources the new tree lacks are retained
// (ServeScope::retain_bytes).
Result<std::shared_ptr<const ServedTree>> BuildServedTree(
    const ReadTxn& txn, const ServeScope& scope, const ServedTree* previous);

}  // namespace datasnap

#endif  // DATASNAP_SERVE_SERVED_TREE_H_
