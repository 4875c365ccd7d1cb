#include "commands.hpp"
#include "error.hpp"
#include "verify.hpp"

namespace medtrail::cli {

Command prove_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("prove", "Print a self-contained receipt: record, inclusion proof, signed checkpoint");
  auto id = std::make_shared<std::string>();
  app->add_option("id", *id, "Record id or a unique prefix of at least 8 hex digits")->required();
  app->footer(examples({
      "medtrail prove --db ward3.db 3f9a01c2 > receipt.json",
      "medtrail verify --receipt receipt.json --trust keys/hospital.pub   # offline, no database",
  }));
  return {app, [id, &g]() {
            auto ledger = open_ledger(g, false);
            print_json(make_receipt(ledger, ledger.resolve(*id)));
            return 0;
          }};
}

}  // namespace medtrail::cli
