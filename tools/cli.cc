#include "tools/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/version.h"
#include "seeds/embedded.h"
#include "tools/commands.h"
#include "tools/completion.h"
#include "tools/context.h"
#include "tools/suggest.h"

extern char** environ;

namespace datasnap {
namespace {

constexpr const char kDefaultStore[] = "datasnap.lmdb";

// One row per command: the table drives both dispatch and help.
struct CommandSpec {
  const char* name;
  std::vector<std::string> aliases;  // the original Django command names
  const char* summary;
  void (*define)(CLI::App& sub, CommandArgs& args);
  // nullptr for `completion`, which RunCli answers from the CLI11 app.
  int (*run)(Context& ctx, const CommandArgs& args);
};

// The end of `datasnap --help` (and so of the man page help2man makes).
constexpr const char kHelpFooter[] = R"(Environment:
  DATASNAP_STORE        the store file when --store is not given
  NHS_DD_BASE_URL       replaces https://www.datadictionary.nhs.uk (a mirror,
                        a test server, or file:///dir)
  EXTERNAL_DATASET_API_URL
                        the RCPCH API base (default
                        https://api.rcpch.ac.uk/nhs-organisations/v1)
  EXTERNAL_DATASET_API_KEY
                        the RCPCH API subscription key; never printed
  EXTERNAL_DATASET_API_KEY_FILE
                        a file holding that key (systemd LoadCredential=),
                        trimmed of white space
  DATASNAP_USER_AGENT   replaces the default User-Agent
  http_proxy, https_proxy, no_proxy
                        proxies for upstream requests
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID_FILE,
  AWS_SECRET_ACCESS_KEY_FILE), AWS_SESSION_TOKEN
                        upload's credentials; never printed
  AWS_ENDPOINT_URL, AWS_REGION
                        upload's endpoint when --endpoint is not given, and
                        region (default us-east-1)
  NO_COLOR              no colour, even on a terminal
  USER, LOGNAME         the actor of audit events when --actor is not given

Exit status:
  0   success
  1   the command ran and something failed (the message says what and what
      to do); refresh: some datasets or the export failed; status --check:
      datasets need attention
  2   usage error: unknown command, option or dataset, bad input file;
      refresh: nothing could run
  75  EX_TEMPFAIL: another process is writing the store; nothing was done,
      try again later

Run 'datasnap COMMAND --help' for a command's options. Documentation:
README.md, docs/OPERATIONS.md, docs/FORMATS.md, docs/STORE.md.)";

// The flags of the refresh commands, as the original commands had them.
void DefineRefreshFlags(CLI::App& sub, CommandArgs& args, const char* verb) {
  sub.add_option("--dataset", args.datasets,
                 "only this dataset (its key or an older alias); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_flag("--force", args.force,
               std::string(verb) + " every selected dataset, due or not");
  sub.add_flag("--dry-run", args.dry_run,
               "fetch and parse, print what would change, write nothing");
  sub.add_flag("--allow-shrink", args.allow_shrink,
               "accept a list with fewer than half the options of the "
               "current version (refused by default as a likely upstream "
               "fault)");
}

// The options of an export, shared by export and refresh.
void DefineExportOptions(CLI::App& sub, CommandArgs& args) {
  sub.add_flag("--all-versions", args.all_versions,
               "also publish the snapshots of older versions");
  sub.add_flag("--prune", args.prune,
               "delete files of earlier exports that the new manifest does "
               "not list (kept by default: clients may hold an old manifest)");
  sub.add_flag("--fhir", args.fhir,
               "also publish a FHIR R4 ValueSet (with expansion) per dataset");
  sub.add_flag("--verify", args.verify,
               "check every file of the export directory by decoding it and "
               "repair what is damaged or missing, rebuilding every dataset "
               "(by default only the datasets changed since the export "
               "recorded in DIR/.datasnap-export.json are read, and the "
               "files it wrote are trusted)");
  sub.add_option("--checktick-fixture", args.checktick_fixture,
                 "also write a Django fixture of CheckTick's DataSet model "
                 "to FILE (manage.py loaddata FILE)");
}

void DefineKey(CLI::App& sub, CommandArgs& args) {
  sub.add_option("KEY", args.key, "dataset key (or an older alias)")
      ->required();
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = {
      {"seed-nhs-dd", {"seed_nhs_datasets"},
       "Create or update the 48 NHS Data Dictionary dataset records",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_flag("--clear", args.clear,
                      "first delete every NHS Data Dictionary dataset, with "
                      "its versions (recorded in the audit log)");
       },
       RunSeedNhsDd},
      {"seed-external", {"seed_external_datasets"},
       "Create or update the 7 RCPCH NHS Organisations dataset records",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_flag("--clear", args.clear,
                      "first delete every RCPCH dataset, with its versions "
                      "(recorded in the audit log)");
       },
       RunSeedExternal},
      {"scrape-nhs-dd", {"scrape_nhs_dd_datasets"},
       "Scrape the NHS Data Dictionary pages of the datasets that are due "
       "(NHS_DD_BASE_URL replaces https://www.datadictionary.nhs.uk)",
       [](CLI::App& sub, CommandArgs& args) {
         DefineRefreshFlags(sub, args, "scrape");
       },
       RunScrapeNhsDd},
      {"sync-external", {"sync_external_datasets"},
       "Sync the RCPCH NHS Organisations API datasets that are due "
       "(EXTERNAL_DATASET_API_URL, EXTERNAL_DATASET_API_KEY)",
       [](CLI::App& sub, CommandArgs& args) {
         DefineRefreshFlags(sub, args, "sync");
       },
       RunSyncExternal},
      {"refresh", {},
       "The nightly job: seed what is missing, scrape and sync what is due "
       "in one batch, export to --out DIR, print a table. Exit 0: all "
       "well; 1: some datasets failed (they keep their last good version); "
       "2: nothing could run; 75: another process is writing the store",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--out", args.out,
                        "export directory (no export without it)");
         sub.add_option("--json", args.json_report,
                        "also write a JSON run report to FILE ('-': stdout, "
                        "and the table goes to stderr); "
                        "docs/schemas/refresh-report.schema.json");
         DefineRefreshFlags(sub, args, "refresh");
         DefineExportOptions(sub, args);
       },
       RunRefreshAll},
      {"export", {},
       "Publish the store as static files: content-named snapshots and "
       "diffs (zstd and gzip) and manifest.json (docs/FORMATS.md)",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--out", args.out, "export directory")->required();
         DefineExportOptions(sub, args);
       },
       RunExport},
      {"serve", {},
       "Serve the export's files over HTTP straight from the store "
       "(--store; read-only; each request reads the store, so new versions "
       "appear without a restart; SIGTERM drains and exits 0; "
       "docs/SERVING.md)",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--listen", args.listen,
                        "HOST:PORT to listen on, IPv4 or [IPv6] (default "
                        "127.0.0.1:8080; port 0: any free port; the URL is "
                        "printed on stdout)");
         sub.add_option("--org", args.org,
                        "serve the public tree and only this organisation's "
                        "orgs/ORG/ tree (others: 404); default: every "
                        "organisation's, as export writes them");
         sub.add_flag("--all-versions", args.all_versions,
                      "as export --all-versions: every older snapshot too");
         sub.add_flag("--fhir", args.fhir, "as export --fhir: FHIR ValueSets too");
         sub.add_option("--threads", args.threads,
                        "worker threads (default: one per core)")
             ->check(CLI::Range(0u, 256u));
         sub.add_option("--max-connections", args.max_connections,
                        "connections at once; more wait unanswered in the "
                        "listen backlog until one closes (default 1024)")
             ->check(CLI::Range(1u, 100000u));
         sub.add_option("--timeout", args.idle_timeout,
                        "seconds before an idle or too slow connection is "
                        "closed (default 30)")
             ->check(CLI::Range(1u, 3600u));
         sub.add_option("--cache-mb", args.cache_mb,
                        "MiB of files no longer current kept servable for "
                        "clients with an older manifest (default 64)")
             ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
       },
       RunServe},
      {"diff", {},
       "What changed between two versions of a dataset (default: the "
       "previous version against the current one)",
       [](CLI::App& sub, CommandArgs& args) {
         DefineKey(sub, args);
         sub.add_option("FROM", args.from, "older version");
         sub.add_option("TO", args.to, "newer version (default: current)");
         sub.add_option("--format", args.format,
                        "text (default), json (the published diff file) or "
                        "patch (its RFC 6902 JSON Patch)");
       },
       RunDiff},
      {"list", {},
       "List datasets",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--category", args.category,
                        "only this category: nhs_dd, rcpch, external_api, "
                        "user_created");
         sub.add_option("--org", args.org,
                        "what this organisation sees: the global datasets "
                        "and its own");
         sub.add_flag("--json", args.json, "print a JSON array");
       },
       RunList},
      {"import", {},
       "Create a user dataset from a CSV, JSON or text file, or store a new "
       "version of one when the content changed",
       [](CLI::App& sub, CommandArgs& args) {
         DefineKey(sub, args);
         sub.add_option("--name", args.name, "display name (required for a new dataset)");
         sub.add_option("--file", args.file, "the list: CSV (value,label[,parent] "
                        "header), JSON, or text (CODE - Label lines, or plain "
                        "values)")->required();
         sub.add_option("--format", args.list_format,
                        "csv, json or text (default: by the file's extension)");
         sub.add_option("--org", args.org,
                        "the owning organisation (its lists are private to it "
                        "until published); none: a global list");
         sub.add_option("--tags", args.tags, "comma-separated tags");
         sub.add_option("--description", args.description, "description");
       },
       RunImport},
      {"customise", {"customize"},
       "Make an organisation's own copy of a global dataset (parent link "
       "kept); edit it afterwards with import",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("FROM_KEY", args.key, "the global dataset")->required();
         sub.add_option("--org", args.org, "the organisation")->required();
         sub.add_option("--key", args.new_key,
                        "key of the copy (default: FROM_KEY_<org>)");
         sub.add_option("--name", args.name,
                        "name of the copy (default: '<name> (Custom)')");
       },
       RunCustomise},
      {"publish", {},
       "Make an organisation's dataset global",
       [](CLI::App& sub, CommandArgs& args) { DefineKey(sub, args); },
       RunPublish},
      {"delete", {},
       "Soft-delete a dataset: hidden from lists and exports, history kept "
       "(seeding brings catalogue datasets back)",
       [](CLI::App& sub, CommandArgs& args) {
         DefineKey(sub, args);
         sub.add_flag("--force", args.force,
                      "delete even when custom versions depend on it");
       },
       RunDelete},
      {"show", {},
       "Show a dataset and its options",
       [](CLI::App& sub, CommandArgs& args) {
         DefineKey(sub, args);
         sub.add_option("--version", args.version,
                        "show this version instead of the current one");
         sub.add_flag("--json", args.json, "print one JSON object");
       },
       RunShow},
      {"history", {},
       "List the versions of a dataset",
       [](CLI::App& sub, CommandArgs& args) {
         DefineKey(sub, args);
         sub.add_flag("--json", args.json, "print a JSON array");
       },
       RunHistory},
      {"status", {},
       "Per dataset: version, options, last sync, whether due, last error; "
       "with --check, exit 1 naming the datasets that failed or are overdue",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_flag("--json", args.json, "print a JSON array");
         sub.add_flag("--check", args.check,
                      "exit 1 when a dataset's last check failed or it is "
                      "overdue (never fetched, or not for twice its sync "
                      "frequency), naming them on stderr");
         sub.add_option("--max-age", args.max_age_hours,
                        "overdue after HOURS without a successful fetch "
                        "(default: twice each dataset's frequency)")
             ->check(CLI::PositiveNumber);
       },
       RunStatus},
      {"audit", {},
       "Show the newest audit log events",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--limit", args.limit, "how many events (default 20)")
             ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
         sub.add_flag("--json", args.json, "print a JSON array");
       },
       RunAudit},
      {"fetch", {},
       "Fetch one URL with datasnap's HTTP client (retries, limits, "
       "User-Agent) and describe the response: a check that an upstream "
       "answers",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("URL", args.url, "http(s) URL")->required();
         sub.add_flag("--body", args.body,
                      "print the body instead of the description");
       },
       RunFetch},
      {"upload", {},
       "Publish an export to S3-compatible object storage: new "
       "content-named files first (immutable), then the organisations' "
       "manifests, then the public manifest (no-cache); never deletes a file "
       "a live manifest names",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("--from", args.upload_from,
                        "the export directory (datasnap export --out DIR)")
             ->required();
         sub.add_option("--to", args.upload_to, "s3://BUCKET[/PREFIX]")
             ->required();
         sub.add_option("--endpoint", args.endpoint,
                        "the S3 endpoint, path-style (default "
                        "AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com)");
         sub.add_option("--prune-days", args.prune_days,
                        "then delete content-named objects under the prefix "
                        "that no live manifest names and that are older than "
                        "N days (decimals allowed)")
             ->check(CLI::NonNegativeNumber);
         sub.add_flag("--dry-run", args.dry_run,
                      "list what would be uploaded and pruned, change nothing");
       },
       RunUpload},
      {"completion", {},
       "Print a bash completion script for datasnap, generated from this "
       "command table (tools/install installs it)",
       [](CLI::App& sub, CommandArgs& args) {
         sub.add_option("SHELL", args.shell, "bash (the only one)")
             ->required()
             ->check(CLI::IsMember({"bash"}));
       },
       nullptr},
  };
  return kCommands;
}

// The global options, for finding the command name in argv.
bool TakesValue(std::string_view arg) {
  return arg == "--store" || arg == "--catalogue" ||
         arg == "--wait-for-writer" || arg == "--actor" || arg == "--jobs";
}
bool IsGlobalFlag(std::string_view arg) {
  return arg == "-h" || arg == "--help" || arg == "--version";
}

// Where the command name stands in argv.
struct CommandWord {
  std::optional<std::string> word;  // the first argument that is neither an
                                    // option nor an option's value
  bool after_unknown_option = false;  // an unknown option came first, so
                                      // the word may be that option's value
};

CommandWord FindCommandWord(const std::vector<std::string>& args) {
  CommandWord found;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      if (i + 1 < args.size()) found.word = args[i + 1];
      return found;
    }
    if (a.starts_with("-")) {
      const std::string name = a.substr(0, a.find('='));
      if (TakesValue(name)) {
        if (name == a) ++i;  // "--store PATH" rather than "--store=PATH"
      } else if (!IsGlobalFlag(name)) {
        found.after_unknown_option = true;
      }
      continue;
    }
    found.word = a;
    return found;
  }
  return found;
}

std::string Lookup(const CliEnvironment& env, const std::string& name) {
  auto it = env.variables.find(name);
  return it == env.variables.end() ? "" : it->second;
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(ErrorCode::kNotFound, "cannot read '" + path + "': " +
                                          std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------- Context

UnixSeconds Context::Now() const {
  return env.clock ? env.clock() : NowUnixSeconds();
}

Result<std::unique_ptr<Store>> Context::OpenStore(bool read_only) const {
  StoreOptions options;
  options.read_only = read_only;
  options.actor = global.actor;
  options.purpose = "datasnap " + command;
  options.writer_wait = std::chrono::milliseconds(
      static_cast<long long>(std::llround(global.wait_for_writer * 1000)));
  options.clock = [this] { return Now(); };
  auto store = Store::Open(global.store_path, options);
  if (store) return store;
  Error e = store.error();
  if (e.code == ErrorCode::kNotFound && read_only) {
    e.message += "; create it with `datasnap seed-nhs-dd` and "
                 "`datasnap seed-external`, or point --store (or "
                 "DATASNAP_STORE) at an existing store";
  } else if (e.code == ErrorCode::kBusy) {
    e.message += ", or allow more time with --wait-for-writer SECONDS";
  }
  return std::unexpected(std::move(e));
}

std::string Context::Variable(const std::string& name) const {
  return Lookup(env, name);
}

FetchOptions Context::MakeFetchOptions() const {
  FetchOptions options;
  options.user_agent = Lookup(env, "DATASNAP_USER_AGENT");  // "" = default
  options.ca_file = Lookup(env, "DATASNAP_CA_FILE");        // "" = system's
  if (global.jobs > 0) {
    options.max_connections = global.jobs;
    options.max_per_host = std::min(options.max_per_host, global.jobs);
    options.max_streams_per_host =
        std::min(options.max_streams_per_host, global.jobs);
  }
  return options;
}

Result<Catalogue> Context::LoadCatalogue() const {
  if (global.catalogue_dir.empty()) {
    return ParseCatalogue({seeds::NhsDdJson(), "seeds/nhs_dd.json"},
                          {seeds::RcpchJson(), "seeds/rcpch.json"});
  }
  const std::string nhs_path = global.catalogue_dir + "/nhs_dd.json";
  const std::string rcpch_path = global.catalogue_dir + "/rcpch.json";
  DS_TRY(nhs, ReadWholeFile(nhs_path));
  DS_TRY(rcpch, ReadWholeFile(rcpch_path));
  return ParseCatalogue({*nhs, nhs_path}, {*rcpch, rcpch_path});
}

Result<DatasetRecord> Context::ResolveDataset(const ReadTxn& txn,
                                             const std::string& typed) const {
  DS_TRY(record, txn.GetDataset(typed));
  if (*record) return std::move(**record);
  DS_TRY(target, txn.ResolveAlias(typed));
  std::optional<std::string> key = *target;
  if (!key) {
    if (auto catalogue = LoadCatalogue()) {
      if (const CatalogueEntry* e = catalogue->Find(typed)) key = e->dataset.key;
    }
  }
  if (key) {
    DS_TRY(aliased, txn.GetDataset(*key));
    if (*aliased) return std::move(**aliased);
  }
  DS_TRY(all, txn.ListDatasets());
  std::vector<std::string> candidates;
  for (const DatasetRecord& r : *all) {
    candidates.push_back(r.dataset.key);
    for (const std::string& a : r.dataset.aliases) candidates.push_back(a);
  }
  std::string message = "no dataset '" + typed + "'";
  if (auto close = ClosestMatch(typed, candidates)) {
    message += "; did you mean '" + *close + "'?";
  } else {
    message += "; `datasnap list` shows the datasets in the store";
  }
  return Fail(ErrorCode::kNotFound, message);
}

int Context::ReportError(const Error& error) const {
  err << "datasnap: error: " << error.message << "\n";
  // A busy store is transient: schedulers retry on 75 (EX_TEMPFAIL).
  return error.code == ErrorCode::kBusy ? kExitTempFail : kExitFailure;
}

void Context::Warn(std::string_view message) const {
  err << "datasnap: warning: " << message << "\n";
}

// ------------------------------------------------------------ Environment

CliEnvironment CliEnvironment::FromProcess() {
  CliEnvironment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.variables.emplace(std::string(kv.substr(0, eq)),
                          std::string(kv.substr(eq + 1)));
  }
  env.err_is_terminal = isatty(STDERR_FILENO) == 1;
  env.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  return env;
}

// ----------------------------------------------------------------- RunCli

int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err, const CliEnvironment& env) {
  CLI::App app(
      "datasnap keeps the reference lists behind dropdown questions (NHS Data "
      "Dictionary code lists, NHS organisation lists, lists organisations "
      "make) in a versioned LMDB store.",
      "datasnap");
  app.set_version_flag("--version", std::string("datasnap ") + kVersion);
  app.fallthrough();  // global options may also follow the command name
  app.footer(kHelpFooter);

  GlobalOptions global;
  app.add_option("--store", global.store_path,
                 "the store file (default: $DATASNAP_STORE, else ./" +
                     std::string(kDefaultStore) + ")");
  app.add_option("--catalogue", global.catalogue_dir,
                 "read nhs_dd.json and rcpch.json from this directory instead "
                 "of the built-in catalogue");
  app.add_option("--wait-for-writer", global.wait_for_writer,
                 "seconds to wait for another process writing the store "
                 "(default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--jobs", global.jobs,
                 "upstream transfers at once (default 8; per host at most 2 "
                 "connections over HTTP/1.1, 6 streams of one connection "
                 "over HTTP/2); 1 fetches one page at a time")
      ->check(CLI::Range(1, 64));
  app.add_option("--actor", global.actor,
                 "who is acting, for the audit log (default: login name)");

  CommandArgs command_args;
  std::vector<std::pair<CLI::App*, const CommandSpec*>> subcommands;
  std::vector<std::string> names;
  for (const CommandSpec& spec : Commands()) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.summary);
    for (const std::string& alias : spec.aliases) sub->alias(alias);
    spec.define(*sub, command_args);
    subcommands.emplace_back(sub, &spec);
    names.push_back(spec.name);
    names.insert(names.end(), spec.aliases.begin(), spec.aliases.end());
  }

  // An unknown command gets a suggestion rather than CLI11's generic text.
  // (After an unknown option, CLI11 reports that option instead.)
  const CommandWord command_word = FindCommandWord(args);
  const std::optional<std::string>& word = command_word.word;
  if (word && !command_word.after_unknown_option &&
      std::find(names.begin(), names.end(), *word) == names.end()) {
    err << "datasnap: error: unknown command '" << *word << "'";
    if (auto close = ClosestMatch(*word, names)) {
      err << "; did you mean '" << *close << "'?";
    }
    err << "\nRun 'datasnap --help' for the list of commands.\n";
    return kExitUsage;
  }
  if (!word && !command_word.after_unknown_option) {
    const bool asks = std::any_of(args.begin(), args.end(), [](const auto& a) {
      return a == "--help" || a == "-h" || a == "--version";
    });
    if (!asks) {
      err << app.help() << "\ndatasnap: error: no command given\n";
      return kExitUsage;
    }
  }

  std::vector<const char*> argv{"datasnap"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e, out, err);  // help, version
    err << "datasnap: error: " << e.what() << "\n";
    err << "Run 'datasnap " << (word ? *word + " " : "")
        << "--help' for usage.\n";
    return kExitUsage;
  }

  if (global.store_path.empty()) global.store_path = Lookup(env, "DATASNAP_STORE");
  if (global.store_path.empty()) global.store_path = kDefaultStore;
  if (global.actor.empty()) global.actor = Lookup(env, "USER");
  if (global.actor.empty()) global.actor = Lookup(env, "LOGNAME");
  if (global.actor.empty()) {
    const passwd* pw = getpwuid(geteuid());
    global.actor = pw != nullptr ? pw->pw_name : "unknown";
  }

  for (auto [sub, spec] : subcommands) {
    if (!sub->parsed()) continue;
    if (spec->run == nullptr) {
      PrintBashCompletion(app, out);
      return kExitOk;
    }
    Context ctx(out, err, env, global, spec->name);
    return spec->run(ctx, command_args);
  }
  err << "datasnap: error: no command given\n";
  return kExitUsage;
}

}  // namespace datasnap
