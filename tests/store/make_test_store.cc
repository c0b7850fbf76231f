// Writes a small store for //tests/store:python_reader_test: datasets with
// several versions, an alias, parents, non-ASCII and escaped text, and one
// dataset that was never fetched.
//
//   make_test_store PATH
#include <iostream>

#include "core/model.h"
#include "store/store.h"

namespace datasnap {
namespace {

Dataset Describe(const std::string& key, std::vector<std::string> aliases) {
  Dataset d;
  d.key = key;
  d.name = "Test " + key;
  d.category = Category::kUserCreated;
  d.aliases = std::move(aliases);
  return d;
}

Status Build(WriteTxn& txn) {
  DS_TRY(a, txn.UpsertDataset(Describe("smoking_status_code", {"smoking_status"})));
  DS_TRY(b, txn.UpsertDataset(Describe("welsh_lhbs", {})));
  DS_TRY(c, txn.UpsertDataset(Describe("never_fetched", {})));
  DS_TRY(d, txn.UpsertDataset(Describe("text_edge_cases", {})));
  const std::vector<std::vector<Option>> smoking = {
      {{"1", "Current smoker", {}}, {"2", "Ex-smoker", {}}},
      {{"1", "Current smoker", {}}, {"2", "Ex-smoker", {}},
       {"4", "Never smoked", {}}, {"Z", "Not stated", {}}},
  };
  for (const auto& options : smoking) {
    DS_TRY(list, OptionList::Make(options));
    DS_TRY(commit, txn.CommitOptions("smoking_status_code", *list, {}));
  }
  DS_TRY(lhbs, OptionList::Make({{"7A1", "Betsi Cadwaladr University", {}},
                                 {"7A1AU", "Ysbyty Gwynedd – Bangor", "7A1"},
                                 {"7A2", "Hywel Dda", {}},
                                 {"7A2AJ", "Ysbyty Glangwili", "7A2"}}));
  DS_TRY(commit_lhbs, txn.CommitOptions("welsh_lhbs", *lhbs, {}));
  DS_TRY(edge, OptionList::Make({{"q", "says \"hi\" \\ back", {}},
                                 {"tab", "a\tb\nc", {}},
                                 {"ctl", std::string("bell\x07") + "\x1f", {}},
                                 {"é", "Café 😀 naïve", {}}}));
  DS_TRY(commit_edge, txn.CommitOptions("text_edge_cases", *edge, {}));
  return {};
}

}  // namespace
}  // namespace datasnap

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_test_store PATH\n";
    return 2;
  }
  auto store = datasnap::Store::Open(argv[1], {});
  if (!store) {
    std::cerr << store.error().message << "\n";
    return 1;
  }
  auto built = (*store)->Write(datasnap::Build);
  if (!built) {
    std::cerr << built.error().message << "\n";
    return 1;
  }
  return 0;
}
