#include "commands.hpp"
#include "error.hpp"
#include "privacy.hpp"

namespace medtrail::cli {

Command forget_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("forget", "Erase a subject's readings (GDPR Art. 17) by destroying their ciphertexts and keys");
  struct Args {
    std::string key, subject, reason, data_key;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "The data owner's key")->envname("MEDTRAIL_KEY")->required();
  app->add_option("--subject", args->subject, "The subject (patient id) to erase")->required();
  app->add_option("--reason", args->reason, "Why, kept in the erasure record");
  app->add_option("--data-key", args->data_key, "Pseudonymisation key (default: a matching *.datakey beside --key or the ledger)");
  app->footer(examples({
      "medtrail forget --db ward3.db --key keys/hospital.key --subject patient-0001 --reason \"Art. 17 request 2026-114\"",
      "The chain is untouched: verify still exits 0 and lists the readings as erased. The ledger's free space",
      "is zeroed and its WAL checkpointed and truncated, so no byte of the erased payloads remains in either.",
  }));
  return {app, [args, &g]() {
            auto ledger = open_ledger(g, true);
            auto key = load_signing_key(args->key, g);
            auto subject = find_data_key(ledger, args->data_key, args->key, g).pseudonym(args->subject);
            auto result = privacy::forget(ledger, key, subject, args->reason);
            nlohmann::json out = {{"subject", to_hex(subject)}, {"erased", result.erased}};
            if (result.record) {
              out["erasure"] = to_hex(result.record->id);
              out["index"] = result.record->index;
            } else {
              print_stderr("medtrail: nothing left to erase for this subject");
            }
            print_json(out);
            return 0;
          }};
}

}  // namespace medtrail::cli
