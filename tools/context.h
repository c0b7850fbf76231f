// Private to the CLI: what every command receives, and the arguments any
// command may take (each command registers the ones it uses).
#ifndef DATASNAP_TOOLS_CONTEXT_H_
#define DATASNAP_TOOLS_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/catalogue.h"
#include "core/error.h"
#include "core/http_client.h"
#include "store/store.h"
#include "tools/cli.h"

namespace datasnap {

// Options that come before the command name.
struct GlobalOptions {
  std::string store_path;        // --store, else DATASNAP_STORE, else default
  std::string catalogue_dir;     // --catalogue; "" = the built-in catalogue
  double wait_for_writer = 10;   // --wait-for-writer SECONDS
  int jobs = 0;  // --jobs N: transfers at once; 0 = the client's default
  std::string actor;             // --actor, else the login name
};

// Every command's arguments; a command fills only those it registers.
struct CommandArgs {
  std::string key;
  std::optional<std::uint32_t> version;
  std::string category;
  bool json = false;
  bool clear = false;
  std::size_t limit = 20;
  std::string url;
  bool body = false;
  std::vector<std::string> datasets;  // --dataset KEY (repeatable)
  bool force = false;
  bool dry_run = false;
  bool allow_shrink = false;
  std::string out;  // --out DIR
  std::string json_report;
  std::string shell;                    // completion SHELL
  bool check = false;                   // status --check
  std::optional<double> max_age_hours;  // status --max-age HOURS  // refresh --json FILE|-: the run report
  bool all_versions = false;
  bool prune = false;
  bool verify = false;  // export: build everything, decode every file
  bool fhir = false;
  std::string checktick_fixture;
  std::optional<std::uint32_t> from;  // diff FROM [TO]
  std::optional<std::uint32_t> to;
  std::string format = "text";
  // import, customise, list --org
  std::string name;
  std::string file;
  std::string list_format;  // import --format; "" = by file extension
  std::string org;
  std::string tags;  // comma-separated
  std::string description;
  std::string new_key;  // customise --key
  // upload
  std::string upload_from;  // --from DIR
  std::string upload_to;    // --to s3://BUCKET/PREFIX
  std::string endpoint;     // --endpoint URL
  std::optional<double> prune_days;
  // serve
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 0;
  unsigned max_connections = 1024;
  unsigned idle_timeout = 30;  // seconds
  std::size_t cache_mb = 64;
};

// The bytes of the file at `path`; kNotFound "cannot read '<path>': <why>".
Result<std::string> ReadWholeFile(const std::string& path);

class Context {
 public:
  Context(std::ostream& out, std::ostream& err, const CliEnvironment& env,
          GlobalOptions global, std::string command)
      : out(out), err(err), env(env), global(std::move(global)),
        command(std::move(command)) {}

  std::ostream& out;
  std::ostream& err;
  const CliEnvironment& env;
  const GlobalOptions global;
  const std::string command;  // the command's canonical name

  UnixSeconds Now() const;

  // The environment variable `name`, or "" when it is not set.
  std::string Variable(const std::string& name) const;

  // Opens the store named by the global options. Read-write opens create
  // it; read-only opens of a missing store fail with advice on creating it.
  Result<std::unique_ptr<Store>> OpenStore(bool read_only) const;

  // Fetch options for upstream requests: the defaults of FetchOptions, with
  // the User-Agent from DATASNAP_USER_AGENT when it is set and the limits
  // of --jobs.
  FetchOptions MakeFetchOptions() const;

  // The built-in catalogue, or the one in --catalogue DIR.
  Result<Catalogue> LoadCatalogue() const;

  // The stored dataset named `typed`: its key, or an alias known to the
  // store or the catalogue. An unknown name is kNotFound, "no dataset 'x';
  // did you mean 'y'?".
  Result<DatasetRecord> ResolveDataset(const ReadTxn& txn,
                                       const std::string& typed) const;

  // Prints "datasnap: error: <message>" to err and returns kExitFailure,
  // or kExitTempFail for kBusy (another writer holds the store); callers
  // that report a usage error return kExitUsage themselves.
  int ReportError(const Error& error) const;
  void Warn(std::string_view message) const;
};

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_CONTEXT_H_
