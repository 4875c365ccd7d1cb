#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command anchor_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("anchor", "Seal pending records into a signed block; print it and a signed checkpoint");
  struct Args {
    std::string key, checkpoint_out;
    std::uint64_t max = 0;
    bool allow_empty = false;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Authority private key that signs the block")->envname("MEDTRAIL_KEY");
  app->add_option("--max", args->max, "Seal at most N pending records (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--checkpoint-out", args->checkpoint_out, "Also write the new signed checkpoint to FILE (atomically)");
  app->add_flag("--allow-empty", args->allow_empty, "Make a block even when nothing is pending (a heartbeat)");
  app->footer(examples({
      "medtrail anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-1.txt",
      "*/5 * * * * medtrail anchor --db /var/lib/medtrail/ward3.db --key /etc/medtrail/hospital.key >> blocks.ndjson",
  }));
  return {app, [args, &g]() {
            auto key = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, true);
            auto block = ledger.anchor(key, args->max, args->allow_empty);
            if (!block) {
              print_stderr("medtrail: nothing pending; no block made (use --allow-empty for a heartbeat block)");
              return 0;
            }
            auto out = block->to_json();
            out["checkpoint"] = block->checkpoint;
            // The block is committed: print it before writing the file, so that a failure to
            // write the file never hides a block that exists.
            print_json(out);
            if (!args->checkpoint_out.empty()) {
              try {
                write_file_atomic(args->checkpoint_out, block->checkpoint);
              } catch (const Error& e) {
                throw Error(e.code(), std::string(e.what()) + " (block " + std::to_string(block->height) +
                                          " was sealed; 'medtrail checkpoint' prints its checkpoint)");
              }
            }
            return 0;
          }};
}

}  // namespace medtrail::cli
