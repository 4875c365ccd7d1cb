#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command retire_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("retire", "Revoke an identity: its key signs nothing valid from now on");
  struct Args {
    std::string key, name, reason;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Authority private key that signs the retirement")->envname("MEDTRAIL_KEY");
  app->add_option("name", args->name, "Identity to retire")->required();
  app->add_option("--reason", args->reason, "Why, kept on the ledger (e.g. \"lost\", \"key compromised\")");
  app->footer(examples({
      "medtrail retire --db ward3.db --key keys/hospital.key wb-0042 --reason \"band lost\"",
  }));
  return {app, [args, &g]() {
            auto key = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, true);
            auto row = ledger.retire(key, args->name, args->reason);
            print_json({{"id", to_hex(row.id)}, {"index", row.index}, {"name", args->name}, {"status", "retired"}});
            return 0;
          }};
}

}  // namespace medtrail::cli
