#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command checkpoint_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("checkpoint", "Print the latest signed checkpoint (C2SP tlog-checkpoint note)");
  auto out = std::make_shared<std::string>();
  app->add_option("--out", *out, "Write it to FILE (atomically) instead of stdout");
  app->footer(examples({
      "medtrail checkpoint --db ward3.db > cp-$(date +%F).txt",
      "0 * * * * medtrail checkpoint --db /var/lib/medtrail/ward3.db --out /srv/www/ward3/checkpoint",
  }));
  return {app, [out, &g]() {
            auto ledger = open_ledger(g, false);
            auto block = ledger.latest_block();
            if (!block) throw Error(ExitCode::not_found, "the ledger has no blocks");
            if (!out->empty()) write_file_atomic(*out, block->checkpoint);
            else std::fputs(block->checkpoint.c_str(), stdout);
            return 0;
          }};
}

}  // namespace medtrail::cli
