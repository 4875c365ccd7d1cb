#include <filesystem>
#include <unistd.h>

#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command init_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("init", "Create a ledger with a genesis block signed by the authority");
  struct Args {
    std::string authority, origin, data_key;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--authority", args->authority, "The authority's private key file")->required()->envname("MEDTRAIL_KEY");
  app->add_option("--origin", args->origin, "Unique log name used in checkpoints, e.g. hospital-a.example/ward3")->required();
  app->add_option("--data-key", args->data_key, "Pseudonymisation key (default: NAME.datakey beside the authority key)");
  app->footer(examples({
      "medtrail init --db ward3.db --authority keys/hospital.key --origin hospital-a.example/ward3",
  }));
  return {app, [args, &g]() {
            auto key = load_signing_key(args->authority, g);
            if (!key.identity().role.empty() && key.identity().role != "authority")
              throw Error(ExitCode::usage, args->authority + " is a " + key.identity().role +
                                               " key; a ledger is created by an authority (keygen --role authority)");
            std::string data_key_path = args->data_key;
            if (data_key_path.empty())
              data_key_path = std::filesystem::path(args->authority).replace_extension(".datakey").string();
            DataKey data_key;
            if (::access(data_key_path.c_str(), F_OK) == 0) {
              data_key = DataKey::load(data_key_path);
            } else {
              data_key = DataKey::generate();
              data_key.save(data_key_path);
              print_stderr("medtrail: created data key " + data_key_path + " (keep it beside the authority key)");
            }
            auto ledger = Ledger::create(g.db, key, args->origin, data_key, {g.busy_timeout_ms});
            auto genesis = ledger.latest_block();
            print_json({{"ledger", g.db},
                        {"origin", ledger.origin()},
                        {"authority", key.identity().name},
                        {"key_id", key.identity().key_id()},
                        {"data_key_id", ledger.data_key_id()},
                        {"genesis", genesis->to_json()}});
            return 0;
          }};
}

}  // namespace medtrail::cli
