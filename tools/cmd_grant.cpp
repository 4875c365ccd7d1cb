#include "commands.hpp"
#include "error.hpp"
#include "privacy.hpp"

namespace medtrail::cli {

Command grant_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("grant", "Let a clinician or auditor read a subject's, a device's or one record's readings");
  struct Args {
    std::string key, to, subject, record, device, until, purpose, data_key;
    bool all = false;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "The data owner's key (the authority that created the ledger)")
      ->envname("MEDTRAIL_KEY")->required();
  app->add_option("--to", args->to, "Enrolled clinician or auditor to grant to")->required();
  auto* subject = app->add_option("--subject", args->subject, "Every reading of this subject (patient id), now and later");
  auto* record = app->add_option("--record", args->record, "One record (id or unique prefix of >= 8 hex digits)");
  auto* device = app->add_option("--device", args->device, "Every reading of this device, now and later");
  auto* all = app->add_flag("--all", args->all, "Every reading, now and later (for auditors who judge the whole ledger)");
  subject->excludes(record)->excludes(device)->excludes(all);
  record->excludes(device)->excludes(all);
  device->excludes(all);
  app->add_option("--until", args->until, "The grant lapses after this RFC 3339 time");
  app->add_option("--purpose", args->purpose, "Why, kept in the grant record (e.g. \"treatment\")");
  app->add_option("--data-key", args->data_key, "Pseudonymisation key for --subject (default: a matching *.datakey beside --key or the ledger)");
  app->footer(examples({
      "medtrail grant --db ward3.db --key keys/hospital.key --to dr-lee --subject patient-0001 --purpose treatment",
      "medtrail grant --db ward3.db --key keys/hospital.key --to dr-lee --device bp-0003 --until 2026-12-31T00:00:00Z",
      "medtrail grant --db ward3.db --key keys/hospital.key --to auditor-1 --record 3f9a01c2",
      "medtrail grant --db ward3.db --key keys/hospital.key --to auditor-1 --all --purpose \"quality audit\"",
      "Existing readings in scope get their keys wrapped to the grantee now; later ones at ingest.",
      "Prints the grant record's id, which medtrail revoke takes.",
  }));
  return {app, [args, &g]() {
            int scopes = !args->subject.empty() + !args->record.empty() + !args->device.empty() + args->all;
            if (scopes != 1) throw Error(ExitCode::usage, "give exactly one of --subject, --device, --record or --all");
            auto ledger = open_ledger(g, true);
            auto key = load_signing_key(args->key, g);
            privacy::GrantRequest request;
            request.grantee = args->to;
            request.purpose = args->purpose;
            request.until_ms = parse_time_option(args->until, "--until");
            if (!args->subject.empty()) {
              request.scope = "subject";
              request.target = to_hex(find_data_key(ledger, args->data_key, args->key, g).pseudonym(args->subject));
            } else if (args->all) {
              request.scope = "all";
              request.target = "*";
            } else if (!args->device.empty()) {
              request.scope = "device";
              request.target = args->device;
            } else {
              request.scope = "record";
              request.target = to_hex(ledger.leaf(ledger.resolve(args->record)).id);
            }
            auto result = privacy::grant(ledger, key, request);
            nlohmann::json out = {{"grant", to_hex(result.record.id)},
                                  {"index", result.record.index},
                                  {"record", envelope_of(result.record)},
                                  {"wrapped", result.wrapped}};
            print_json(out);
            return 0;
          }};
}

}  // namespace medtrail::cli
