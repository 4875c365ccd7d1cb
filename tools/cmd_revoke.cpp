#include "commands.hpp"
#include "error.hpp"
#include "privacy.hpp"

namespace medtrail::cli {

Command revoke_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("revoke", "End a grant: the grantee's reads are refused from now on");
  struct Args {
    std::string key, grant, reason;
  };
  auto args = std::make_shared<Args>();
  app->add_option("grant", args->grant, "The grant record's id (or a unique prefix of >= 8 hex digits)")->required();
  app->add_option("--key", args->key, "The data owner's key")->envname("MEDTRAIL_KEY")->required();
  app->add_option("--reason", args->reason, "Why, kept in the revocation record");
  app->footer(examples({
      "medtrail revoke --db ward3.db --key keys/hospital.key 5be0c2d1 --reason \"treatment ended\"",
      "The grantee's wrapped keys that no other live grant needs are destroyed; the revocation is a signed record.",
  }));
  return {app, [args, &g]() {
            auto ledger = open_ledger(g, true);
            auto key = load_signing_key(args->key, g);
            auto result = privacy::revoke(ledger, key, args->grant, args->reason);
            print_json({{"revocation", to_hex(result.record.id)},
                        {"index", result.record.index},
                        {"record", envelope_of(result.record)},
                        {"keys_destroyed", result.unwrapped}});
            return 0;
          }};
}

}  // namespace medtrail::cli
