// seed-nhs-dd and seed-external: write the catalogue's dataset records into
// the store. Idempotent: a second run changes nothing but the audit log.
#include <algorithm>
#include <string>
#include <vector>

#include "tools/commands.h"

namespace datasnap {
namespace {

struct SeedTally {
  std::size_t catalogue = 0;
  std::vector<std::pair<const Dataset*, UpsertOutcome>> outcomes;
  std::size_t cleared = 0;
  std::size_t cleared_versions = 0;
  std::vector<std::string> conflicts;  // keys taken by another category
  std::vector<std::string> orphans;    // stored, but gone from the catalogue
  // --clear: kept because custom versions name them as their parent;
  // "key (customised by a, b)".
  std::vector<std::string> kept;

  std::size_t Count(UpsertOutcome o) const {
    return std::count_if(outcomes.begin(), outcomes.end(),
                         [o](const auto& p) { return p.second == o; });
  }
};

int Seed(Context& ctx, Category category, std::string_view title,
         bool clear) {
  auto catalogue = ctx.LoadCatalogue();
  if (!catalogue) return ctx.ReportError(catalogue.error());
  std::vector<const CatalogueEntry*> entries;
  for (const CatalogueEntry& e : catalogue->entries()) {
    if (e.dataset.category == category) entries.push_back(&e);
  }
  auto store = ctx.OpenStore(/*read_only=*/false);
  if (!store) return ctx.ReportError(store.error());

  auto tally = (*store)->Write([&](WriteTxn& txn) -> Result<SeedTally> {
    SeedTally t;
    t.catalogue = entries.size();
    if (clear) {
      DS_TRY(all, txn.ListDatasets());
      for (const DatasetRecord& r : *all) {
        if (r.dataset.category != category) continue;
        // A custom version (deleted or not: it keeps its link) names this
        // dataset as its parent: removing it would leave the link dangling,
        // so it stays, versions and all, and is updated below.
        std::string children;
        for (const DatasetRecord& c : *all) {
          if (c.dataset.parent == r.dataset.key &&
              c.dataset.category != category) {
            children += (children.empty() ? "" : ", ") + c.dataset.key;
          }
        }
        if (!children.empty()) {
          t.kept.push_back(r.dataset.key + " (customised by " + children +
                           ")");
          continue;
        }
        DS_TRY(versions, txn.RemoveDataset(r.dataset.key));
        ++t.cleared;
        t.cleared_versions += *versions;
      }
    }
    // Aliases may move between entries: first drop, from every stored
    // dataset of the category, the aliases the catalogue now gives to
    // another key, so that the upserts below can point them at their new
    // owners. (Entries still in the catalogue get its aliases below.)
    DS_TRY(stored, txn.ListDatasets());
    for (const DatasetRecord& r : *stored) {
      if (r.dataset.category != category) continue;
      Dataset pruned = r.dataset;
      std::erase_if(pruned.aliases, [&](const std::string& alias) {
        const CatalogueEntry* owner = catalogue->Find(alias);
        return owner != nullptr && owner->dataset.key != r.dataset.key;
      });
      if (pruned.aliases != r.dataset.aliases) {
        DS_CHECK(txn.UpsertDataset(pruned));
      }
      // The upserts below touch catalogue keys only, so this is final.
      if (catalogue->Find(r.dataset.key) == nullptr) {
        t.orphans.push_back(r.dataset.key);
      }
    }
    for (const CatalogueEntry* e : entries) {
      DS_TRY(existing, txn.GetDataset(e->dataset.key));
      if (*existing && (*existing)->dataset.category != category) {
        t.conflicts.push_back(e->dataset.key + " (stored as " +
                              std::string(CategoryName(
                                  (*existing)->dataset.category)) +
                              ")");
        continue;
      }
      DS_TRY(outcome, txn.UpsertDataset(e->dataset));
      t.outcomes.emplace_back(&e->dataset, *outcome);
    }
    std::string detail = "created " + std::to_string(t.Count(UpsertOutcome::kCreated)) +
                         ", updated " + std::to_string(t.Count(UpsertOutcome::kUpdated)) +
                         ", unchanged " + std::to_string(t.Count(UpsertOutcome::kUnchanged));
    if (clear) {
      detail += "; cleared " + std::to_string(t.cleared) + " dataset(s) with " +
                std::to_string(t.cleared_versions) + " version(s) first";
      for (const std::string& k : t.kept) detail += "; kept " + k;
    }
    DS_CHECK(txn.AppendAudit(ctx.command, "", detail));
    return t;
  });
  if (!tally) return ctx.ReportError(tally.error());

  if (clear) {
    ctx.out << "Cleared " << tally->cleared << " " << title
            << " dataset(s) with " << tally->cleared_versions
            << " version(s).\n";
    for (const std::string& k : tally->kept) {
      ctx.Warn("kept " + k + ": custom versions depend on it; it keeps its "
               "versions");
    }
  }
  for (const auto& [dataset, outcome] : tally->outcomes) {
    if (outcome == UpsertOutcome::kUnchanged) continue;
    ctx.out << (outcome == UpsertOutcome::kCreated ? "  created  " : "  updated  ")
            << dataset->key << "  " << dataset->name << "\n";
  }
  ctx.out << title << ": " << tally->catalogue << " datasets in the catalogue; "
          << tally->Count(UpsertOutcome::kCreated) << " created, "
          << tally->Count(UpsertOutcome::kUpdated) << " updated, "
          << tally->Count(UpsertOutcome::kUnchanged) << " unchanged.\n";
  for (const std::string& key : tally->orphans) {
    ctx.Warn("'" + key + "' is in the store but no longer in the catalogue; `datasnap " +
             ctx.command + " --clear` removes it");
  }
  for (const std::string& conflict : tally->conflicts) {
    ctx.ReportError(Error{ErrorCode::kAlreadyExists,
                          "key " + conflict +
                              " is taken by a dataset of another category; "
                              "left as it is"});
  }
  return tally->conflicts.empty() ? kExitOk : kExitFailure;
}

}  // namespace

Result<std::size_t> SeedMissing(Store& store, const Catalogue& catalogue) {
  return store.Write([&](WriteTxn& txn) -> Result<std::size_t> {
    std::size_t created = 0;
    for (const CatalogueEntry& e : catalogue.entries()) {
      DS_TRY(existing, txn.GetDataset(e.dataset.key));
      if (*existing) continue;
      // An alias the store already gives to another dataset is left to
      // the seed commands, which sort such moves out.
      bool alias_taken = false;
      for (const std::string& alias : e.dataset.aliases) {
        DS_TRY(owner, txn.ResolveAlias(alias));
        alias_taken = alias_taken || owner->has_value();
      }
      if (alias_taken) continue;
      DS_CHECK(txn.UpsertDataset(e.dataset));
      ++created;
    }
    return created;
  });
}

int RunSeedNhsDd(Context& ctx, const CommandArgs& args) {
  return Seed(ctx, Category::kNhsDd, "NHS Data Dictionary", args.clear);
}

int RunSeedExternal(Context& ctx, const CommandArgs& args) {
  return Seed(ctx, Category::kRcpch, "RCPCH NHS Organisations", args.clear);
}

}  // namespace datasnap
