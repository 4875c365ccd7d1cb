#include "commands.hpp"
#include "error.hpp"
#include "proofs.hpp"
#include "verify.hpp"

namespace medtrail::cli {

Command prove_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("prove", "Print a self-contained receipt (record, inclusion proof, signed checkpoint) or a consistency proof");
  struct Args {
    std::string id, format = "json", consistency_from;
  };
  auto args = std::make_shared<Args>();
  auto* id = app->add_option("id", args->id, "Record id or a unique prefix of at least 8 hex digits");
  app->add_option("--format", args->format, "Receipt form: json (medtrail's receipt) or tlog-proof (C2SP c2sp.org/tlog-proof@v1 text)")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "tlog-proof"}));
  auto* consistency = app->add_option("--consistency-from", args->consistency_from,
                                      "Instead of a receipt, prove the ledger extends this old signed checkpoint (RFC 9162 consistency proof)");
  consistency->excludes(id);
  app->callback([args, id, consistency]() {
    if (id->count() == 0 && consistency->count() == 0)
      throw CLI::ValidationError("id", "give a record id, or --consistency-from CHECKPOINT");
    if (consistency->count() > 0 && args->format != "json")
      throw CLI::ValidationError("--format", "a consistency proof is JSON only");
  });
  app->footer(examples({
      "medtrail prove --db ward3.db 3f9a01c2 > receipt.json",
      "medtrail verify --receipt receipt.json --trust keys/hospital.pub   # offline, no database",
      "medtrail prove --db ward3.db 3f9a01c2 --format tlog-proof > 3f9a01c2.tlog-proof",
      "medtrail prove --db ward3.db --consistency-from cp-1.txt > grew.json",
      "medtrail verify --consistency grew.json --trust keys/hospital.pub   # offline",
  }));
  return {app, [args, &g]() {
            auto ledger = open_ledger(g, false);
            if (!args->consistency_from.empty()) {
              print_json(make_consistency_proof(ledger, read_file(args->consistency_from)));
              return 0;
            }
            auto receipt = make_receipt(ledger, ledger.resolve(args->id));
            if (args->format == "tlog-proof") {
              std::string text = tlog_proof_of(receipt).serialize();
              text.pop_back();  // print_line adds the checkpoint's final newline back
              print_line(text);
            } else {
              print_json(receipt);
            }
            return 0;
          }};
}

}  // namespace medtrail::cli
