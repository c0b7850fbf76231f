// Writes the store that //tests/exporters:export_validation_test exports:
// datasets with several versions (options added, removed, relabelled,
// reordered, re-parented, default flags set and cleared), a hierarchy of
// parents, default codes, codes that need JSON Pointer escaping ("/", "~"),
// non-ASCII and control characters, a global customisation, a key and
// texts over the FHIR and CheckTick column limits, datasets that must not
// be published (inactive, never fetched), and two organisations' own
// datasets (published under orgs/<org>/ only):
//   org-7:  smoking_status_code_custom_7, a custom version of a global
//           dataset (parent), one version;
//   org-12: clinic_rooms_12, a plain list with two versions;
//           ethnic_category_org_12, a second organisation's custom version
//           of ethnic_category (two versions);
//           wards_12_deleted, soft-deleted (published nowhere);
//           referral_reasons_12, made global (`publish`): public, with its
//           organisation kept in the store;
// and unscoped_draft_list, neither global nor an organisation's: in no
// manifest and no file of the tree (the CheckTick fixture has it).
//
//   make_export_store PATH
//
// The clock is fixed (2026-11-01T05:00:00Z, one minute per reading), so
// the same program always writes the same records.
#include <iostream>
#include <string>
#include <vector>

#include "core/model.h"
#include "store/store.h"

namespace datasnap {
namespace {

constexpr UnixSeconds kStart = 1793509200;  // 2026-11-01T05:00:00Z

Dataset Describe(const std::string& key, const std::string& name,
                 Category category, SourceType source_type) {
  Dataset d;
  d.key = key;
  d.name = name;
  d.category = category;
  d.source_type = source_type;
  return d;
}

Option Opt(std::string value, std::string label,
           std::optional<std::string> parent = std::nullopt,
           bool is_default = false) {
  return Option{std::move(value), std::move(label), std::move(parent),
                is_default};
}

Provenance From(const std::string& url, UnixSeconds fetched_at,
                const std::string& etag, const std::string& content_type) {
  Provenance p;
  p.source_url = url;
  p.fetched_at = fetched_at;
  p.etag = etag;
  p.content_type = content_type;
  return p;
}

// Stores one version per list, each in its own write transaction.
Status CommitAll(Store& store, const std::string& key,
                 const std::vector<std::vector<Option>>& versions,
                 const Provenance& provenance = {}) {
  for (const std::vector<Option>& options : versions) {
    DS_TRY(list, OptionList::Make(options));
    DS_CHECK(store.Write([&](WriteTxn& txn) -> Status {
      DS_TRY(commit, txn.CommitOptions(key, *list, provenance));
      if (!commit->changed) {
        return Fail(ErrorCode::kInvalidArgument,
                    key + ": a version repeats the one before it");
      }
      return {};
    }));
  }
  return {};
}

Status Upsert(Store& store, const Dataset& d) {
  return store.Write([&](WriteTxn& txn) -> Status {
    DS_CHECK(txn.UpsertDataset(d));
    return {};
  });
}

Status Build(Store& store) {
  // An NHS Data Dictionary list: 3 versions. 1 -> 2 adds codes (one of
  // them a default code) and relabels one; 2 -> 3 only removes one.
  Dataset smoking = Describe("smoking_status_code", "Smoking Status Code",
                             Category::kNhsDd, SourceType::kScrape);
  smoking.description = "NHS Data Dictionary - Smoking Status Code";
  smoking.reference_url =
      "https://www.datadictionary.nhs.uk/data_elements/smoking_status_code.html";
  smoking.tags = {"clinic", "medical", "NHS"};
  smoking.sync_frequency_hours = 168;
  DS_CHECK(Upsert(store, smoking));
  DS_CHECK(CommitAll(
      store, smoking.key,
      {{Opt("1", "Current smoker"), Opt("2", "Ex-smoker"),
        Opt("4", "Never smoked"), Opt("Z", "Not stated", {}, true)},
       {Opt("1", "Current smoker"), Opt("2", "Ex-smoker"),
        Opt("3", "Non-smoker - history unknown"), Opt("4", "Never smoked"),
        Opt("Z", "Not Stated (PERSON asked but declined to provide a response)",
            {}, true),
        Opt("9", "Unknown", {}, true)},
       {Opt("1", "Current smoker"), Opt("2", "Ex-smoker"),
        Opt("4", "Never smoked"),
        Opt("Z", "Not Stated (PERSON asked but declined to provide a response)",
            {}, true),
        Opt("9", "Unknown", {}, true)}},
      From(smoking.reference_url, kStart - 30, "\"5f1-6a\"", "text/html")));

  // An ODS-coded RCPCH list with a hierarchy: boards and their hospitals.
  // 1 -> 2 reorders, adds a parent, changes one, adds a board with a
  // hospital; 2 -> 3 removes a parent and relabels a board.
  Dataset lhbs = Describe("welsh_lhbs", "Welsh Local Health Boards",
                          Category::kRcpch, SourceType::kApi);
  lhbs.description = "Local health boards in Wales and their hospitals";
  lhbs.api_endpoint = "/local_health_boards/extended/";
  lhbs.tags = {"NHS", "Wales"};
  DS_CHECK(Upsert(store, lhbs));
  DS_CHECK(CommitAll(
      store, lhbs.key,
      {{Opt("7A1", "Betsi Cadwaladr University Health Board"),
        Opt("7A1AU", "Ysbyty Gwynedd – Bangor", "7A1"),
        Opt("7A2", "Hywel Dda University Health Board"),
        Opt("7A2AJ", "Ysbyty Glangwili", "7A2"),
        Opt("7A2AL", "Bronglais General Hospital")},
       {Opt("7A2", "Hywel Dda University Health Board"),
        Opt("7A2AJ", "Ysbyty Glangwili", "7A2"),
        Opt("7A2AL", "Bronglais General Hospital", "7A2"),
        Opt("7A1", "Betsi Cadwaladr University Health Board"),
        Opt("7A1AU", "Ysbyty Gwynedd – Bangor", "7A2"),
        Opt("7A3", "Swansea Bay University Health Board"),
        Opt("7A3CJ", "Morriston Hospital", "7A3")},
       {Opt("7A2", "Hywel Dda UHB"),
        Opt("7A2AJ", "Ysbyty Glangwili", "7A2"),
        Opt("7A2AL", "Bronglais General Hospital", "7A2"),
        Opt("7A1", "Betsi Cadwaladr University Health Board"),
        Opt("7A1AU", "Ysbyty Gwynedd – Bangor"),
        Opt("7A3", "Swansea Bay University Health Board"),
        Opt("7A3CJ", "Morriston Hospital", "7A3")}},
      From("https://api.rcpch.ac.uk/nhs-organisations/v1/"
           "local_health_boards/extended/",
           kStart - 20, "", "application/json")));

  // Codes that need escaping in JSON Pointers and JSON, and labels that
  // test every encoder. 4 versions: relabel, remove, add, default set and
  // cleared, a parent through an escaped code.
  Dataset awkward = Describe("awkward-codes", "Awkward \"codes\" / ~ \\ é 😀",
                             Category::kUserCreated, SourceType::kManual);
  awkward.description = "Line one\nline two\ttabbed <b>&amp;</b>";
  awkward.tags = {"a/b", "~", "ünïcode"};
  awkward.is_custom = true;
  DS_CHECK(Upsert(store, awkward));
  DS_CHECK(CommitAll(
      store, awkward.key,
      {{Opt("a/b", "Slash / in code"), Opt("~0", "Tilde zero"),
        Opt("x~1y", "Tilde one"), Opt("q", "says \"hi\" \\ back"),
        Opt("é", "Café 😀 naïve"),
        Opt("ctl", std::string("bell\x07") + "\x1f" + "\x7f"),
        Opt("sp ace", "Tab\there\nnewline", {}, true),
        Opt("<script>", "</script>&amp;\u2028\u2029")},
       {Opt("a/b", "Slash / still in code"), Opt("x~1y", "Tilde one", {}, true),
        Opt("q", "says \"hi\" \\ back"), Opt("é", "Café 😀 naïve"),
        Opt("ctl", std::string("bell\x07") + "\x1f" + "\x7f"),
        Opt("sp ace", "Tab\there\nnewline"),
        Opt("<script>", "</script>&amp;\u2028\u2029"),
        Opt("new/~", "Child of a/b", "a/b")},
       {Opt("a/b", "Slash / still in code"), Opt("x~1y", "Tilde one"),
        Opt("q", "says \"hi\" \\ back"), Opt("é", "Café 😀 naïve"),
        Opt("ctl", std::string("bell\x07") + "\x1f" + "\x7f"),
        Opt("sp ace", "Tab\there\nnewline"),
        Opt("<script>", "</script>&amp;\u2028\u2029"),
        Opt("new/~", "Child of x~1y", "x~1y"), Opt("~", "Bare tilde")},
       {Opt("~", "Bare tilde"), Opt("a/b", "Slash / still in code"),
        Opt("x~1y", "Tilde one"), Opt("é", "Café 😀 naïve"),
        Opt("ctl", std::string("bell\x07") + "\x1f" + "\x7f"),
        Opt("sp ace", "Tab\there\nnewline"),
        Opt("<script>", "</script>&amp;\u2028\u2029"),
        Opt("new/~", "Child of x~1y", "x~1y"), Opt("//", "Two slashes")}}));

  // One version only: no diffs, no older snapshots. Two default codes.
  Dataset ethnic = Describe("ethnic_category", "Ethnic Category",
                            Category::kNhsDd, SourceType::kScrape);
  ethnic.reference_url =
      "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html";
  ethnic.tags = {"NHS"};
  DS_CHECK(Upsert(store, ethnic));
  DS_CHECK(CommitAll(store, ethnic.key,
                     {{Opt("A", "White - British"), Opt("B", "White - Irish"),
                       Opt("Z", "Not stated", {}, true),
                       Opt("99", "Not known", {}, true)}}));

  // A global customisation of ethnic_category (manifest "parent").
  Dataset custom = Describe("ethnic_category_rcpch", "Ethnic Category (RCPCH)",
                            Category::kUserCreated, SourceType::kManual);
  custom.is_custom = true;
  custom.parent = ethnic.key;
  custom.sync_frequency_hours = 0;
  DS_CHECK(Upsert(store, custom));
  DS_CHECK(CommitAll(store, custom.key,
                     {{Opt("A", "White - British"), Opt("B", "White - Irish")},
                      {Opt("A", "White: British"), Opt("B", "White: Irish"),
                       Opt("C", "Any other White background")}}));

  // An organisation's private customisation: published under orgs/org-7/
  // only, and in the CheckTick fixture, whose parent points at
  // smoking_status_code's row.
  Dataset priv = Describe("smoking_status_code_custom_7", "Smoking (ours)",
                          Category::kUserCreated, SourceType::kManual);
  priv.is_custom = true;
  priv.is_global = false;
  priv.parent = smoking.key;
  priv.organization = "org-7";
  DS_CHECK(Upsert(store, priv));
  DS_CHECK(CommitAll(store, priv.key,
                     {{Opt("1", "Smokes"), Opt("2", "Used to smoke")}}));

  // Over the limits: a key that starts with a digit and is longer than a
  // FHIR id may be, a name over CheckTick's 255 characters (2-byte
  // characters, so bytes and characters differ), URLs over 200.
  const std::string long_key =
      "2024_" + std::string(70, 'x') + "_list";  // 80 bytes
  Dataset big = Describe(long_key, "", Category::kExternalApi, SourceType::kApi);
  for (int i = 0; i < 300; ++i) big.name += "Ä";
  big.reference_url = "https://example.org/" + std::string(200, 'p');
  big.api_endpoint = "/very/long/endpoint";
  DS_CHECK(Upsert(store, big));
  DS_CHECK(CommitAll(store, big.key, {{Opt("1", "One")}, {Opt("1", "Uno")}},
                     From("https://api.example.org/" + std::string(200, 'q'),
                          kStart, "W/\"weak\"", "application/json")));

  // Inactive (soft-deleted) with a version, and never fetched: neither is
  // published nor in the fixture.
  Dataset retired = Describe("retired_list", "Retired", Category::kUserCreated,
                             SourceType::kManual);
  DS_CHECK(Upsert(store, retired));
  DS_CHECK(CommitAll(store, retired.key, {{Opt("1", "Old")}}));
  retired.is_active = false;
  DS_CHECK(Upsert(store, retired));
  DS_CHECK(Upsert(store, Describe("never_fetched", "Never fetched",
                                  Category::kNhsDd, SourceType::kScrape)));

  // Organisation org-12's own plain list (what `datasnap import KEY --org
  // org-12` makes): two versions, one option added and one relabelled.
  Dataset rooms = Describe("clinic_rooms_12", "Clinic rooms",
                           Category::kUserCreated, SourceType::kImported);
  rooms.description = "Rooms of the paediatric outpatient clinic";
  rooms.tags = {"rooms"};
  rooms.is_global = false;
  rooms.organization = "org-12";
  DS_CHECK(Upsert(store, rooms));
  const Provenance rooms_file =
      From("https://intranet.example.org/clinic/rooms.csv", kStart + 3600,
           "", "text/csv");
  DS_CHECK(CommitAll(store, rooms.key,
                     {{Opt("R1", "Room 1"), Opt("R2", "Room 2")},
                      {Opt("R1", "Room 1 (play room)"), Opt("R2", "Room 2"),
                       Opt("R3", "Room 3")}},
                     rooms_file));

  // org-12's custom version of ethnic_category (what `datasnap customise
  // ethnic_category --org org-12` makes), changed once since.
  Dataset org_ethnic = Describe("ethnic_category_org_12",
                                "Ethnic Category (Custom)",
                                Category::kUserCreated, SourceType::kManual);
  org_ethnic.tags = ethnic.tags;
  org_ethnic.is_custom = true;
  org_ethnic.is_global = false;
  org_ethnic.parent = ethnic.key;
  org_ethnic.organization = "org-12";
  DS_CHECK(Upsert(store, org_ethnic));
  DS_CHECK(CommitAll(store, org_ethnic.key,
                     {{Opt("A", "White - British"), Opt("B", "White - Irish"),
                       Opt("Z", "Not stated", {}, true),
                       Opt("99", "Not known", {}, true)},
                      {Opt("A", "White - British"), Opt("B", "White - Irish"),
                       Opt("W", "Welsh"), Opt("Z", "Not stated", {}, true)}}));

  // org-12's soft-deleted list: published nowhere, not in the fixture.
  Dataset wards = Describe("wards_12_deleted", "Wards (deleted)",
                           Category::kUserCreated, SourceType::kImported);
  wards.is_global = false;
  wards.organization = "org-12";
  DS_CHECK(Upsert(store, wards));
  DS_CHECK(CommitAll(store, wards.key, {{Opt("W1", "Ward 1")}}));
  wards.is_active = false;
  DS_CHECK(Upsert(store, wards));

  // A list org-12 made and then published (`datasnap publish`): global, so
  // public like any other, though its organisation stays in the store.
  Dataset referral = Describe("referral_reasons_12", "Referral reasons",
                              Category::kUserCreated, SourceType::kImported);
  referral.is_global = false;
  referral.organization = "org-12";
  DS_CHECK(Upsert(store, referral));
  DS_CHECK(CommitAll(store, referral.key,
                     {{Opt("S", "Seizures"), Opt("H", "Headaches")}}));
  referral.is_global = true;
  DS_CHECK(Upsert(store, referral));

  // Neither global nor an organisation's: not published at all.
  Dataset draft = Describe("unscoped_draft_list", "Unscoped draft",
                           Category::kUserCreated, SourceType::kManual);
  draft.is_global = false;
  DS_CHECK(Upsert(store, draft));
  DS_CHECK(CommitAll(store, draft.key,
                     {{Opt("D1", "Draft one")}, {Opt("D1", "Draft 1")}}));
  return {};
}

}  // namespace
}  // namespace datasnap

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_export_store PATH\n";
    return 2;
  }
  datasnap::StoreOptions options;
  options.actor = "make_export_store";
  options.clock = [t = datasnap::kStart]() mutable { return t += 60; };
  auto store = datasnap::Store::Open(argv[1], options);
  if (!store) {
    std::cerr << store.error().message << "\n";
    return 1;
  }
  if (auto built = datasnap::Build(**store); !built) {
    std::cerr << built.error().message << "\n";
    return 1;
  }
  return 0;
}
