// import, customise, publish, delete: the lists organisations make
// themselves, and their own versions of the global lists. Every change is
// audited with its actor (--actor, else the login name).
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/canonical_json.h"
#include "core/options_diff.h"
#include "core/user_list.h"
#include "tools/commands.h"
#include "tools/refresh.h"

namespace datasnap {
namespace {

// A usage error: printed, exit 2, nothing written.
int Usage(Context& ctx, const std::string& message) {
  ctx.ReportError(Error{ErrorCode::kInvalidArgument, message});
  return kExitUsage;
}

// Errors of a transaction: kInvalidArgument and kNotFound are the user's
// (exit 2); others are failures (exit 1).
int Report(Context& ctx, const Error& e) {
  const int code = ctx.ReportError(e);
  return e.code == ErrorCode::kInvalidArgument ||
                 e.code == ErrorCode::kNotFound ||
                 e.code == ErrorCode::kAlreadyExists
             ? kExitUsage
             : code;
}

// An organisation names a folder of the export (orgs/<org>/), so it
// follows the key syntax.
Status ValidateOrganization(const std::string& org) {
  if (auto ok = ValidateKey(org); !ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "--org '" + org + "' must look like a key (a-z, 0-9, '_', "
                "'-'; starting with a letter or digit): it names the folder "
                "orgs/<org>/ of exports");
  }
  return {};
}

// User keys can never take a catalogue key or alias, even one not seeded.
Status RefuseCatalogueKey(const Context& ctx, const std::string& key) {
  auto catalogue = ctx.LoadCatalogue();
  if (!catalogue) return std::unexpected(catalogue.error());
  if (const CatalogueEntry* e = catalogue->Find(key)) {
    return Fail(ErrorCode::kAlreadyExists,
                "'" + key + "' is " +
                    (e->dataset.key == key
                         ? std::string("a catalogue dataset")
                         : "an older key of the catalogue dataset '" +
                               e->dataset.key + "'") +
                    "; choose another key for a user dataset");
  }
  return {};
}

std::vector<std::string> SplitTags(const std::string& tags) {
  std::vector<std::string> out;
  std::stringstream ss(tags);
  std::string tag;
  while (std::getline(ss, tag, ',')) {
    const auto b = tag.find_first_not_of(" \t");
    const auto e = tag.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(tag.substr(b, e - b + 1));
  }
  return out;
}

std::string KeyPart(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    out.push_back(ok ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32)
                                                  : '_');
  }
  return out;
}

struct ImportResult {
  bool created = false;
  CommitResult commit;
  OptionsDiff diff;
};

}  // namespace

int RunImport(Context& ctx, const CommandArgs& args) {
  if (auto ok = ValidateKey(args.key); !ok) return Usage(ctx, ok.error().message);
  if (!args.org.empty()) {
    if (auto ok = ValidateOrganization(args.org); !ok) {
      return Usage(ctx, ok.error().message);
    }
  }
  std::optional<UserListFormat> format =
      args.list_format.empty() ? UserListFormatForFile(args.file)
                               : ParseUserListFormat(args.list_format);
  if (!format) {
    return Usage(ctx, "--format must be csv, json or text, not '" +
                          args.list_format + "'");
  }
  auto read = ReadWholeFile(args.file);
  if (!read) return Usage(ctx, read.error().message);
  const std::string& bytes = *read;
  auto options = ParseUserList(bytes, *format, args.file);
  if (!options) return Usage(ctx, options.error().message);
  if (auto ok = RefuseCatalogueKey(ctx, args.key); !ok) {
    return Report(ctx, ok.error());
  }

  auto store = ctx.OpenStore(/*read_only=*/false);
  if (!store) return ctx.ReportError(store.error());
  const UnixSeconds now = ctx.Now();
  auto result = (*store)->Write([&](WriteTxn& txn) -> Result<ImportResult> {
    DS_TRY(alias_of, txn.ResolveAlias(args.key));
    if (*alias_of) {
      return Fail(ErrorCode::kAlreadyExists,
                  "'" + args.key + "' is an older key of '" + **alias_of +
                      "'; choose another key");
    }
    DS_TRY(existing, txn.GetDataset(args.key));
    ImportResult r;
    Dataset d;
    std::optional<VersionRecord> before;
    if (*existing) {
      d = (*existing)->dataset;
      if (d.category != Category::kUserCreated) {
        return Fail(ErrorCode::kAlreadyExists,
                    "'" + args.key + "' is a " +
                        std::string(CategoryName(d.category)) +
                        " dataset; only user datasets can be imported into");
      }
      if (!d.is_active) {
        return Fail(ErrorCode::kInvalidArgument,
                    "'" + args.key + "' is deleted; import under another key");
      }
      if (!args.org.empty() && args.org != d.organization) {
        return Fail(ErrorCode::kInvalidArgument,
                    "'" + args.key + "' belongs to " +
                        (d.organization.empty()
                             ? std::string("no organisation")
                             : "organisation '" + d.organization + "'") +
                        ", not '" + args.org + "'");
      }
      if (!args.name.empty()) d.name = args.name;
      if (!args.description.empty()) d.description = args.description;
      if (!args.tags.empty()) d.tags = SplitTags(args.tags);
      DS_TRY(current, txn.GetVersion(args.key, 0));
      before = std::move(*current);
    } else {
      if (args.name.empty()) {
        return Fail(ErrorCode::kInvalidArgument,
                    "a new dataset needs a name: --name NAME");
      }
      r.created = true;
      d.key = args.key;
      d.name = args.name;
      d.description = args.description;
      d.category = Category::kUserCreated;
      d.source_type = SourceType::kImported;
      d.tags = SplitTags(args.tags);
      d.organization = args.org;
      // An organisation's list is its own until published; a list without
      // one is the deployment's and global.
      d.is_global = args.org.empty();
    }
    DS_CHECK(txn.UpsertDataset(d));
    // No source URL: the operator's local path is nobody's business once
    // the list is published; the note keeps the file's name.
    Provenance provenance;
    provenance.fetched_at = now;
    // (Who imported is in the audit log, not in published files.)
    provenance.note = "imported from " +
                      std::filesystem::path(args.file).filename().string() +
                      " (" + std::string(UserListFormatName(*format)) + ")";
    // The file is kept only with a new version, which points at it.
    if (!before || OptionsSha256(*options) != before->options_sha256) {
      DS_TRY(raw, txn.PutRaw(bytes));
      provenance.raw_sha256 = *raw;
    }
    DS_TRY(commit, txn.CommitOptions(
                       args.key, *options, provenance,
                       {"import.created", "import.updated", "import.unchanged",
                        "by " + ctx.global.actor}));
    r.commit = *commit;
    if (before) r.diff = DiffOptions(before->options, *options);
    return r;
  });
  if (!result) return Report(ctx, result.error());
  if (result->created) {
    ctx.out << "Created " << args.key << ": " << options->size()
            << " options (version " << result->commit.version << ")\n";
  } else if (result->commit.changed) {
    ctx.out << "Updated " << args.key << ": version " << result->commit.version
            << " ("
            << DiffCounts(result->diff, Glyphs{ctx.env.out_is_terminal})
            << ")\n";
  } else {
    ctx.out << "Unchanged: " << args.key << " (version "
            << result->commit.version << ")\n";
  }
  return kExitOk;
}

int RunCustomise(Context& ctx, const CommandArgs& args) {
  if (auto ok = ValidateOrganization(args.org); !ok) {
    return Usage(ctx, ok.error().message);
  }
  auto store = ctx.OpenStore(/*read_only=*/false);
  if (!store) return ctx.ReportError(store.error());
  std::string key;
  auto made = (*store)->Write([&](WriteTxn& txn) -> Result<CommitResult> {
    DS_TRY(from, ctx.ResolveDataset(txn, args.key));
    const Dataset& f = from->dataset;
    if (!f.is_active) {
      return Fail(ErrorCode::kInvalidArgument, "'" + f.key + "' is deleted");
    }
    if (!f.is_global) {
      return Fail(ErrorCode::kInvalidArgument,
                  "custom versions are made of global datasets; '" + f.key +
                      "' belongs to organisation '" + f.organization + "'");
    }
    DS_TRY(current, txn.GetVersion(f.key, 0));
    if (!*current) {
      return Fail(ErrorCode::kInvalidArgument,
                  "'" + f.key + "' has no options yet; refresh it first");
    }
    key = args.new_key.empty() ? f.key + "_" + KeyPart(args.org) : args.new_key;
    DS_CHECK(ValidateKey(key));
    DS_CHECK(RefuseCatalogueKey(ctx, key));
    DS_TRY(taken, txn.GetDataset(key));
    DS_TRY(alias, txn.ResolveAlias(key));
    if (*taken || *alias) {
      return Fail(ErrorCode::kAlreadyExists,
                  "'" + key + "' exists; choose another with --key");
    }
    Dataset d;
    d.key = key;
    d.name = args.name.empty() ? f.name + " (Custom)" : args.name;
    d.description = f.description;
    d.category = Category::kUserCreated;
    d.source_type = SourceType::kManual;
    d.tags = f.tags;
    d.is_custom = true;
    d.is_global = false;
    d.parent = f.key;
    d.organization = args.org;
    DS_CHECK(txn.UpsertDataset(d));
    Provenance provenance;
    provenance.source_url = (*current)->provenance.source_url;
    provenance.fetched_at = ctx.Now();
    provenance.note = "customised from " + f.key + " version " +
                      std::to_string((*current)->version) + " by " +
                      ctx.global.actor;
    return txn.CommitOptions(
        key, (*current)->options, provenance,
        {"customise.created", "customise.updated", "customise.unchanged",
         "from " + f.key + " version " + std::to_string((*current)->version) +
             " for organisation " + args.org});
  });
  if (!made) return Report(ctx, made.error());
  ctx.out << "Created " << key << " for organisation " << args.org
          << ", a custom version of " << args.key << " (version "
          << made->version << "); change its options with `datasnap import "
          << key << " --org " << args.org << " --file F`\n";
  return kExitOk;
}

int RunPublish(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/false);
  if (!store) return ctx.ReportError(store.error());
  std::string key;
  auto done = (*store)->Write([&](WriteTxn& txn) -> Status {
    DS_TRY(record, ctx.ResolveDataset(txn, args.key));
    Dataset d = record->dataset;
    key = d.key;
    if (d.category != Category::kUserCreated) {
      return Fail(ErrorCode::kInvalidArgument,
                  "'" + key + "' is a " + std::string(CategoryName(d.category)) +
                      " dataset from the catalogue, global already; only "
                      "user datasets are published");
    }
    if (!d.is_active) {
      return Fail(ErrorCode::kInvalidArgument, "'" + key + "' is deleted");
    }
    if (d.is_global) {
      return Fail(ErrorCode::kInvalidArgument, "'" + key + "' is global already");
    }
    d.is_global = true;
    DS_CHECK(txn.UpsertDataset(d));
    return txn.AppendAudit("dataset.published", key,
                           "published by " + ctx.global.actor +
                               (d.organization.empty()
                                    ? std::string()
                                    : " (organisation " + d.organization + ")"));
  });
  if (!done) return Report(ctx, done.error());
  ctx.out << "Published " << key
          << ": it is in the public manifest from the next export\n";
  return kExitOk;
}

int RunDelete(Context& ctx, const CommandArgs& args) {
  auto store = ctx.OpenStore(/*read_only=*/false);
  if (!store) return ctx.ReportError(store.error());
  std::string key;
  std::string dependants;  // active custom versions, comma-separated
  auto done = (*store)->Write([&](WriteTxn& txn) -> Status {
    dependants.clear();
    DS_TRY(record, ctx.ResolveDataset(txn, args.key));
    Dataset d = record->dataset;
    key = d.key;
    if (!d.is_active) {
      return Fail(ErrorCode::kInvalidArgument, "'" + key + "' is deleted already");
    }
    DS_TRY(all, txn.ListDatasets());
    for (const DatasetRecord& r : *all) {
      if (r.dataset.parent == key && r.dataset.is_active) {
        dependants += (dependants.empty() ? "" : ", ") + r.dataset.key +
                      (r.dataset.organization.empty()
                           ? std::string()
                           : " (organisation " + r.dataset.organization + ")");
      }
    }
    if (!dependants.empty() && !args.force) {
      return Fail(ErrorCode::kInvalidArgument,
                  "'" + key + "' has custom versions that depend on it: " +
                      dependants + "; delete them first, or use --force to "
                      "delete it anyway (they keep their options and their "
                      "link)");
    }
    d.is_active = false;
    DS_CHECK(txn.UpsertDataset(d));
    return txn.AppendAudit(
        "dataset.deleted", key,
        "deleted by " + ctx.global.actor + "; history kept" +
            (dependants.empty() ? std::string()
                                : "; forced past custom versions " + dependants));
  });
  if (!done) return Report(ctx, done.error());
  ctx.out << "Deleted " << key
          << " (hidden from lists and exports; its history is kept)\n";
  if (!dependants.empty()) {
    ctx.Warn("custom versions of '" + key + "' remain: " + dependants);
  }
  return kExitOk;
}

}  // namespace datasnap
