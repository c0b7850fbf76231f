// upload: publishes an export directory to S3-compatible object storage
// (docs/OPERATIONS.md, "Publishing to object storage"). The order keeps a
// client's view whole at every moment: content-named files first (skipping
// those already there), then the organisations' manifests, then the public
// manifest; a file any live manifest names is never deleted.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "core/time.h"
#include "exporters/export_record.h"
#include "tools/commands.h"
#include "tools/s3_client.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char kImmutable[] = "max-age=31536000, immutable";
// Test-only: every PUT after the first N fails, as an upload cut off
// halfway (tests/ops/upload_test.py).
constexpr const char kFailAfterVariable[] = "DATASNAP_UPLOAD_FAIL_AFTER";

// kRecord: the export's note to its next run (exporters/export_record.h),
// not for clients.
enum class FileKind { kContent, kOrgManifest, kManifest, kRecord, kOther };

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      parts.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool IsManifestName(const std::string& name) {
  return name == "manifest.json" || name == "manifest.json.gz";
}

bool IsContentFolder(const std::string& name) {
  return name == "datasets" || name == "diffs" || name == "fhir";
}

// What a path of an export is (docs/FORMATS.md's layout).
FileKind KindOf(const std::string& rel) {
  const std::vector<std::string> p = Split(rel);
  if (p.size() == 1 && IsManifestName(p[0])) return FileKind::kManifest;
  if (rel == kExportRecordName) return FileKind::kRecord;
  if (p.size() >= 3 && IsContentFolder(p[0])) return FileKind::kContent;
  if (p.size() == 3 && p[0] == "orgs" && IsManifestName(p[2])) {
    return FileKind::kOrgManifest;
  }
  if (p.size() >= 5 && p[0] == "orgs" && IsContentFolder(p[2])) {
    return FileKind::kContent;
  }
  return FileKind::kOther;
}

// The object metadata docs/SERVING.md gives each kind of file. No
// Content-Encoding: clients decompress and check the bytes the manifest
// hashes.
Headers HeadersOf(const std::string& rel, FileKind kind) {
  const bool org = rel.starts_with("orgs/");
  std::string type = "application/json";
  if (rel.ends_with(".zst")) type = "application/zstd";
  if (rel.ends_with(".gz")) type = "application/gzip";
  const std::string cache =
      kind == FileKind::kContent
          ? std::string(org ? "private, " : "public, ") + kImmutable
          : std::string(org ? "private, " : "") + "no-cache";
  return {{"Content-Type", type}, {"Cache-Control", cache}};
}

// A credential from NAME or the file NAME_FILE names (trimmed).
Result<std::string> Credential(const Context& ctx, const std::string& name) {
  const std::string value = ctx.Variable(name);
  const std::string path = ctx.Variable(name + "_FILE");
  if (path.empty()) return value;
  if (!value.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "both " + name + " and " + name +
                                                 "_FILE are set; set only one");
  }
  auto contents = ReadWholeFile(path);
  if (!contents) {
    return Fail(ErrorCode::kInvalidArgument,
                name + "_FILE: " + contents.error().message);
  }
  return std::string(TrimAsciiSpace(*contents));
}

// Every string in a manifest: the paths it names (and other values, which
// name no object and do no harm).
void CollectStrings(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_string()) {
    out.insert(j.get<std::string>());
  } else if (j.is_structured()) {
    for (const auto& v : j) CollectStrings(v, out);
  }
}

Status CollectNames(std::string_view manifest, const std::string& what,
                    std::set<std::string>& names) {
  auto j = nlohmann::json::parse(manifest, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Fail(ErrorCode::kCorrupt, what + " is not JSON");
  }
  CollectStrings(j, names);
  return {};
}

std::optional<UnixSeconds> ListedTime(const std::string& last_modified) {
  // "2026-12-07T02:00:41.000Z": drop the fraction.
  if (last_modified.size() < 19) return std::nullopt;
  return ParseIso8601(last_modified.substr(0, 19) + "Z");
}

struct Target {
  std::string bucket;
  std::string prefix;  // "" or "a/b/" (ends with '/')
};

Result<Target> ParseTarget(const std::string& to) {
  constexpr std::string_view kScheme = "s3://";
  if (!to.starts_with(kScheme)) {
    return Fail(ErrorCode::kInvalidArgument,
                "--to '" + to + "': expected s3://BUCKET[/PREFIX]");
  }
  const std::string rest = to.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  Target t{rest.substr(0, slash),
           slash == std::string::npos ? "" : rest.substr(slash + 1)};
  const auto bucket_ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  };
  if (t.bucket.empty() || !std::all_of(t.bucket.begin(), t.bucket.end(),
                                       bucket_ok)) {
    return Fail(ErrorCode::kInvalidArgument,
                "--to '" + to +
                    "': the bucket name must be lower-case letters, digits, "
                    "'-' and '.'");
  }
  while (t.prefix.starts_with('/')) t.prefix.erase(0, 1);
  while (t.prefix.ends_with("//")) t.prefix.pop_back();
  if (!t.prefix.empty() && !t.prefix.ends_with('/')) t.prefix += '/';
  const auto prefix_ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '/';
  };
  if (!std::all_of(t.prefix.begin(), t.prefix.end(), prefix_ok)) {
    return Fail(ErrorCode::kInvalidArgument,
                "--to '" + to +
                    "': the prefix may hold letters, digits, '-', '_', '.' "
                    "and '/'");
  }
  return t;
}

}  // namespace

int RunUpload(Context& ctx, const CommandArgs& args) {
  const auto usage = [&](const std::string& message) {
    ctx.ReportError(Error{ErrorCode::kInvalidArgument, message});
    return kExitUsage;
  };
  auto target = ParseTarget(args.upload_to);
  if (!target) return usage(target.error().message);
  const fs::path from = args.upload_from;
  std::error_code ec;
  if (!fs::is_regular_file(from / "manifest.json", ec)) {
    return usage("--from '" + args.upload_from +
                 "' is not an export: it has no manifest.json (write one "
                 "with datasnap export --out DIR)");
  }
  if (args.prune_days && !(*args.prune_days >= 0)) {
    return usage("--prune-days must be a number of days, 0 or more");
  }

  S3Config config;
  config.bucket = target->bucket;
  config.region = ctx.Variable("AWS_REGION");
  if (config.region.empty()) config.region = ctx.Variable("AWS_DEFAULT_REGION");
  if (config.region.empty()) config.region = "us-east-1";
  config.endpoint = args.endpoint;
  if (config.endpoint.empty()) config.endpoint = ctx.Variable("AWS_ENDPOINT_URL");
  if (config.endpoint.empty()) {
    config.endpoint = "https://s3." + config.region + ".amazonaws.com";
  }
  while (config.endpoint.ends_with('/')) config.endpoint.pop_back();
  if (!config.endpoint.starts_with("http://") &&
      !config.endpoint.starts_with("https://")) {
    return usage("the endpoint '" + config.endpoint +
                 "' must start with https:// (or http://)");
  }
  auto key_id = Credential(ctx, "AWS_ACCESS_KEY_ID");
  if (!key_id) return usage(key_id.error().message);
  auto secret = Credential(ctx, "AWS_SECRET_ACCESS_KEY");
  if (!secret) return usage(secret.error().message);
  if (key_id->empty() || secret->empty()) {
    return usage(
        "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
        "AWS_ACCESS_KEY_ID_FILE and AWS_SECRET_ACCESS_KEY_FILE)");
  }
  config.access_key_id = *key_id;
  config.secret_access_key = *secret;
  config.session_token = ctx.Variable("AWS_SESSION_TOKEN");
  S3Client s3(config);
  const std::string where = args.upload_to;

  // The export's files, by kind.
  std::vector<std::string> content, org_manifests;
  for (auto it = fs::recursive_directory_iterator(from, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), from).generic_string();
    switch (KindOf(rel)) {
      case FileKind::kContent: content.push_back(rel); break;
      case FileKind::kOrgManifest: org_manifests.push_back(rel); break;
      case FileKind::kManifest:
      case FileKind::kRecord: break;
      case FileKind::kOther:
        ctx.Warn("not uploaded: '" + rel + "' is not a file of an export");
        break;
    }
  }
  if (ec) {
    return ctx.ReportError(Error{ErrorCode::kIo, "cannot read '" +
                                                     args.upload_from +
                                                     "': " + ec.message()});
  }
  std::sort(content.begin(), content.end());
  // Each organisation's manifest.json.gz before its manifest.json, as the
  // public ones below.
  std::sort(org_manifests.begin(), org_manifests.end(),
            [](const std::string& a, const std::string& b) {
              return std::pair(a.substr(0, a.rfind('/')), !a.ends_with(".gz")) <
                     std::pair(b.substr(0, b.rfind('/')), !b.ends_with(".gz"));
            });

  // What is there already, and what the live manifests name.
  auto listed = s3.List(target->prefix);
  if (!listed) {
    return ctx.ReportError(
        Wrap(listed.error(), "upload to " + where + ": listing the bucket")
            .error());
  }
  std::map<std::string, S3Object> remote;
  for (S3Object& o : *listed) remote[o.key] = std::move(o);
  std::set<std::string> named;  // paths relative to the export
  std::map<std::string, std::string> live_manifests;  // by path
  // A live manifest that does not parse may name anything: no pruning.
  bool live_unreadable = false;
  for (const auto& [key, object] : remote) {
    const std::string rel = key.substr(target->prefix.size());
    if (!rel.ends_with("manifest.json")) continue;
    const FileKind kind = KindOf(rel);
    if (kind != FileKind::kManifest && kind != FileKind::kOrgManifest) continue;
    auto body = s3.Get(key);
    if (!body) {
      return ctx.ReportError(Wrap(body.error(), "upload to " + where).error());
    }
    if (!*body) continue;
    live_manifests[rel] = **body;
    if (auto s = CollectNames(**body, key, named); !s) {
      live_unreadable = true;
      ctx.Warn("the live " + rel + " is not JSON" +
               (args.prune_days ? ": nothing will be pruned" : ""));
    }
  }

  // Test-only fault injection (see kFailAfterVariable).
  const std::string fail_after_text = ctx.Variable(kFailAfterVariable);
  const long fail_after =
      fail_after_text.empty() ? -1 : std::atol(fail_after_text.c_str());
  long puts = 0;
  std::size_t uploaded = 0, skipped = 0;
  unsigned long long bytes = 0;
  // One file: read, PUT (three attempts), or an error naming what failed
  // and what is live.
  const auto put = [&](const std::string& rel, FileKind kind,
                       const std::string& state) -> Status {
    auto body = ReadWholeFile((from / rel).string());
    if (!body) return Wrap(body.error(), "upload to " + where);
    if (args.dry_run) {
      ctx.out << "would upload " << rel << "\n";
      ++uploaded;
      return {};
    }
    Status s;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      if (fail_after >= 0 && puts >= fail_after) {
        s = Fail(ErrorCode::kIo, "PUT " + rel + ": injected fault (" +
                                     kFailAfterVariable + ")");
        break;
      }
      s = s3.Put(target->prefix + rel, *body, HeadersOf(rel, kind));
      if (s) break;
      if (attempt < 3) std::this_thread::sleep_for(std::chrono::seconds(attempt));
    }
    if (!s) {
      return Fail(ErrorCode::kIo,
                  "upload to " + where + " failed after " +
                      std::to_string(uploaded) + " files: " + s.error().message +
                      "; " + state +
                      ". Run it again: files already uploaded are skipped");
    }
    ++puts;
    ++uploaded;
    bytes += body->size();
    return {};
  };

  // What the new manifests name: what is uploaded. Every named file must
  // be in the export, or clients would find it missing.
  std::set<std::string> to_publish;
  auto manifest = ReadWholeFile((from / "manifest.json").string());
  if (!manifest) return ctx.ReportError(manifest.error());
  for (const std::string& rel : org_manifests) {
    if (!rel.ends_with(".json")) continue;
    auto body = ReadWholeFile((from / rel).string());
    if (!body) return ctx.ReportError(body.error());
    if (auto s = CollectNames(*body, rel, to_publish); !s) {
      return ctx.ReportError(s.error());
    }
  }
  if (auto s = CollectNames(*manifest, "manifest.json", to_publish); !s) {
    return ctx.ReportError(s.error());
  }
  std::size_t unnamed_local = 0;
  std::erase_if(content, [&](const std::string& rel) {
    const bool unnamed = !to_publish.contains(rel);
    unnamed_local += unnamed;
    return unnamed;
  });
  for (const std::string& rel : to_publish) {
    const FileKind kind = KindOf(rel);
    if ((kind == FileKind::kContent || kind == FileKind::kOrgManifest) &&
        !fs::is_regular_file(from / rel, ec)) {
      return ctx.ReportError(Error{
          ErrorCode::kNotFound,
          "the export in '" + args.upload_from + "' names '" + rel +
              "' but lacks it: nothing was uploaded; export again"});
    }
  }

  const std::string before_manifests =
      "no manifest was replaced: clients still see the previous export";
  for (const std::string& rel : content) {
    auto it = remote.find(target->prefix + rel);
    std::error_code size_ec;
    const auto size = fs::file_size(from / rel, size_ec);
    if (it != remote.end() && !size_ec &&
        it->second.size == static_cast<long long>(size)) {
      ++skipped;  // content-named: same name, same bytes
      continue;
    }
    if (auto s = put(rel, FileKind::kContent, before_manifests); !s) {
      return ctx.ReportError(s.error());
    }
  }
  // A manifest is uploaded when its JSON changed; its .gz with it.
  const auto changed = [&](const std::string& json_path) {
    auto local = ReadWholeFile((from / json_path).string());
    auto live = live_manifests.find(json_path);
    return !local || live == live_manifests.end() || live->second != *local;
  };
  for (const std::string& rel : org_manifests) {
    const std::string json_path =
        rel.ends_with(".gz") ? rel.substr(0, rel.size() - 3) : rel;
    if (!changed(json_path)) continue;
    if (auto s = put(rel, FileKind::kOrgManifest,
                     "the public manifest was not replaced (organisations' "
                     "manifests before " + rel + " are new)");
        !s) {
      return ctx.ReportError(s.error());
    }
  }
  const bool manifest_changed = changed("manifest.json");
  if (manifest_changed) {
    if (fs::exists(from / "manifest.json.gz")) {
      if (auto s = put("manifest.json.gz", FileKind::kManifest,
                       "manifest.json was not replaced");
          !s) {
        return ctx.ReportError(s.error());
      }
    }
    if (auto s = put("manifest.json", FileKind::kManifest,
                     "manifest.json.gz is new, manifest.json is not");
        !s) {
      return ctx.ReportError(s.error());
    }
  }
  named.insert(to_publish.begin(), to_publish.end());

  // Prune: content-named objects no live manifest names (neither the ones
  // just published nor the ones they replaced) and older than N days.
  std::size_t pruned = 0;
  if (args.prune_days && !live_unreadable) {
    const UnixSeconds cutoff =
        ctx.Now() - static_cast<UnixSeconds>(*args.prune_days * 86400.0);
    for (const auto& [key, object] : remote) {
      const std::string rel = key.substr(target->prefix.size());
      if (KindOf(rel) != FileKind::kContent || named.contains(rel)) continue;
      const auto when = ListedTime(object.last_modified);
      if (!when || *when > cutoff) continue;
      if (args.dry_run) {
        ctx.out << "would delete " << rel << "\n";
        ++pruned;
        continue;
      }
      if (auto s = s3.Delete(key); !s) {
        return ctx.ReportError(
            Wrap(s.error(), "upload to " + where +
                                ": the export is published; pruning failed "
                                "after " + std::to_string(pruned) +
                                " deletions")
                .error());
      }
      ++pruned;
    }
  }

  ctx.out << (args.dry_run ? "Would upload " : "Uploaded ") << uploaded
          << " files (" << bytes << " bytes) to " << where << ", " << skipped
          << " already there";
  if (unnamed_local > 0) {
    ctx.out << " (" << unnamed_local << " not named by the manifests: not "
            << "uploaded)";
  }
  ctx.out << "; manifest "
          << (manifest_changed ? "replaced" : "unchanged");
  if (args.prune_days) {
    ctx.out << "; " << pruned << (args.dry_run ? " would be" : "")
            << " pruned (unnamed, older than " << *args.prune_days
            << " days)";
  }
  ctx.out << "\n";
  return kExitOk;
}

}  // namespace datasnap
