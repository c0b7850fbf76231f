// The domain model: datasets, their options, and the rules both obey.
//
//   auto list = OptionList::Make({{"01", "Yes"}, {"02", "No"}});
//   if (!list) ... list.error().message names the offending option
//
// A Dataset describes a list (what the catalogue or a user says about it);
// SyncState is what the store learns while keeping it (versions, times,
// errors). The store owns SyncState; callers only read it.
#ifndef DATASNAP_CORE_MODEL_H_
#define DATASNAP_CORE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace datasnap {

// Where a dataset comes from. Names are stored; never renumber.
enum class Category { kNhsDd, kRcpch, kExternalApi, kUserCreated };
inline constexpr Category kAllCategories[] = {
    Category::kNhsDd, Category::kRcpch, Category::kExternalApi,
    Category::kUserCreated};
std::string_view CategoryName(Category c);  // "nhs_dd", "rcpch", ...
std::optional<Category> ParseCategory(std::string_view name);

// How its options are obtained.
enum class SourceType { kScrape, kApi, kManual, kImported };
std::string_view SourceTypeName(SourceType s);  // "scrape", "api", ...
std::optional<SourceType> ParseSourceType(std::string_view name);

// Longest key the model accepts, in bytes.
inline constexpr std::size_t kMaxKeyBytes = 100;

// OK when `key` matches [a-z0-9][a-z0-9_-]* and is at most kMaxKeyBytes
// long; otherwise an kInvalidArgument error that quotes the key and says
// which rule it breaks.
Status ValidateKey(std::string_view key);

// One choice of a dropdown: the code that is stored as the answer, the text
// shown, optionally the code of its parent in the same list (a health
// board's hospitals, for instance), and whether it is a default code (the
// NHS Data Dictionary's "Default Codes": "Not known" and the like, listed
// after the national codes).
struct Option {
  std::string value;
  std::string label;
  std::optional<std::string> parent;
  bool is_default = false;

  friend bool operator==(const Option&, const Option&) = default;
};

// Options in the source's published order, with unique codes.
class OptionList {
 public:
  OptionList() = default;

  // Validates and wraps `options`. Fails (kInvalidArgument) when a value or
  // label is empty or not valid UTF-8, when a value repeats (naming both
  // positions), or when a parent names no value of the list or the option
  // itself.
  static Result<OptionList> Make(std::vector<Option> options);

  const std::vector<Option>& options() const { return options_; }
  std::size_t size() const { return options_.size(); }
  bool empty() const { return options_.empty(); }

  friend bool operator==(const OptionList&, const OptionList&) = default;

 private:
  explicit OptionList(std::vector<Option> options)
      : options_(std::move(options)) {}
  std::vector<Option> options_;
};

// What a catalogue entry or a user says about a dataset.
struct Dataset {
  std::string key;
  std::string name;
  std::string description;
  Category category = Category::kUserCreated;
  SourceType source_type = SourceType::kManual;
  std::string reference_url;  // the page a person reads; may be empty
  std::string api_endpoint;   // path under the API base URL; may be empty
  std::vector<std::string> tags;
  std::vector<std::string> aliases;  // older keys that still resolve here
  // How often the upstream is checked. Default: daily.
  std::int32_t sync_frequency_hours = 24;
  bool is_custom = false;
  bool is_global = true;
  std::string parent;        // key of the dataset this customises; "" = none
  std::string organization;  // owning organisation; "" = none
  bool is_active = true;

  friend bool operator==(const Dataset&, const Dataset&) = default;
};

// What the store knows about keeping a dataset. Times are nullopt until the
// event first happens.
struct SyncState {
  std::uint32_t version = 0;  // current version; 0 = no options stored yet
  std::size_t option_count = 0;
  std::string options_sha256;  // of the current version's canonical options
  std::optional<UnixSeconds> last_synced_at;   // last successful fetch
  std::optional<UnixSeconds> last_scraped;     // same, for scraped sources
  std::optional<UnixSeconds> last_checked_at;  // last attempt, good or bad
  std::string last_error;                      // "" after a success
  std::optional<UnixSeconds> created_at;
  std::optional<UnixSeconds> updated_at;

  friend bool operator==(const SyncState&, const SyncState&) = default;
};

struct DatasetRecord {
  Dataset dataset;
  SyncState sync;
};

// Where a version's options came from.
struct Provenance {
  std::string source_url;     // page, API URL, or file the options came from
  std::optional<UnixSeconds> fetched_at;
  std::string etag;           // HTTP validators of the response, if any
  std::string last_modified;
  std::string content_type;
  std::string raw_sha256;     // key of the raw body in the raw table, if kept
  std::string note;           // free text, e.g. "imported by alice"

  friend bool operator==(const Provenance&, const Provenance&) = default;
};

// One immutable version of a dataset's options.
struct VersionRecord {
  std::string key;
  std::uint32_t version = 0;
  UnixSeconds created_at = 0;
  std::size_t option_count = 0;
  std::string options_sha256;
  Provenance provenance;
  OptionList options;  // empty when listed without options
};

// One entry of the audit log.
struct AuditEvent {
  std::uint64_t seq = 0;  // 1, 2, 3, ... in the order events were written
  UnixSeconds time = 0;
  std::string actor;
  std::string action;   // e.g. "dataset.created", "version.created", "seed"
  std::string dataset;  // "" when the event concerns no single dataset
  std::string detail;   // human-readable
};

// True when the dataset should be fetched at `now`: never synced, or its
// sync_frequency_hours have passed since the last successful sync. A
// frequency of 0 or less means "only when forced".
bool IsDue(const DatasetRecord& record, UnixSeconds now);

// When the dataset next falls due: its last successful sync plus its
// frequency; nullopt when it was never synced or is synced only when forced.
std::optional<UnixSeconds> NextDueAt(const DatasetRecord& record);

}  // namespace datasnap

#endif  // DATASNAP_CORE_MODEL_H_
