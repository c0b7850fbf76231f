// Private to the CLI: the commands, each a function of the context and its
// arguments returning an ExitCode. cli.cc lists them in its command table.
#ifndef DATASNAP_TOOLS_COMMANDS_H_
#define DATASNAP_TOOLS_COMMANDS_H_

#include "tools/context.h"

namespace datasnap {

// seed_commands.cc
int RunSeedNhsDd(Context& ctx, const CommandArgs& args);
int RunSeedExternal(Context& ctx, const CommandArgs& args);
// Creates the catalogue's datasets that the store lacks, leaving the others
// as they are (the seed commands update those); returns how many it made.
Result<std::size_t> SeedMissing(Store& store, const Catalogue& catalogue);

// query_commands.cc
int RunList(Context& ctx, const CommandArgs& args);
int RunShow(Context& ctx, const CommandArgs& args);
int RunHistory(Context& ctx, const CommandArgs& args);
int RunStatus(Context& ctx, const CommandArgs& args);
int RunAudit(Context& ctx, const CommandArgs& args);

// fetch_command.cc
int RunFetch(Context& ctx, const CommandArgs& args);

// scrape_command.cc
int RunScrapeNhsDd(Context& ctx, const CommandArgs& args);

// sync_command.cc
int RunSyncExternal(Context& ctx, const CommandArgs& args);

// user_commands.cc
int RunImport(Context& ctx, const CommandArgs& args);
int RunCustomise(Context& ctx, const CommandArgs& args);
int RunPublish(Context& ctx, const CommandArgs& args);
int RunDelete(Context& ctx, const CommandArgs& args);

// upload_command.cc
int RunUpload(Context& ctx, const CommandArgs& args);

// export_commands.cc
int RunExport(Context& ctx, const CommandArgs& args);
int RunDiff(Context& ctx, const CommandArgs& args);
int RunRefreshAll(Context& ctx, const CommandArgs& args);

// serve_command.cc
int RunServe(Context& ctx, const CommandArgs& args);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_COMMANDS_H_
