#include "audit.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "policy_log.hpp"
#include "timefmt.hpp"

namespace medtrail::cli {
namespace {

std::string text_line(const audit::Finding& f) {
  std::string who = !f.asset.empty() ? f.asset : !f.device.empty() ? f.device : f.check;
  std::string when = f.start_ms ? format_rfc3339_ms(*f.start_ms) + (f.end_ms && *f.end_ms != *f.start_ms ? ".." + format_rfc3339_ms(*f.end_ms) : "") : "";
  std::string upper = policy::severity_name(f.severity);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper + "  " + f.rule + "  " + who + "  " + when + "  " + f.message;
}

}  // namespace

Command audit_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("audit", "Evaluate the policy rules over a time window; one JSON finding per line");
  struct Args {
    std::string since, until, policy_file, state, fail_on = "warning", key, trust, format, purpose;
    bool record = false;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--since", args->since, "Audit readings from this RFC 3339 time on");
  app->add_option("--until", args->until, "Audit readings before this RFC 3339 time");
  app->add_option("--policy", args->policy_file, "Evaluate this YAML policy instead of the active ones (a dry run)");
  app->add_option("--state", args->state, "Incremental: resume after the last audited record; save the new position here");
  app->add_option("--fail-on", args->fail_on, "Exit 1 when a finding has at least this severity: info, warning, critical")
      ->capture_default_str()
      ->check(CLI::IsMember({"info", "warning", "critical"}));
  auto* record = app->add_flag("--record-findings", args->record, "Append each finding as a signed alert record (needs --key)");
  auto* key = app->add_option("--key", args->key, "Auditor or authority key: decrypts the readings it may read (the read is recorded) and signs alert records")->envname("MEDTRAIL_KEY");
  app->add_option("--purpose", args->purpose, "Why you read, kept in the access record (default: audit)");
  app->add_option("--trust", args->trust, "Authority public key to pin for the integrity rule and the state's checkpoint");
  app->add_option("--format", args->format,
                  "Output format: json (NDJSON), text, fhir (one FHIR R4 AuditEvent per line; the summary goes to stderr), or auto")
      ->check(CLI::IsMember({"auto", "json", "text", "fhir"}))
      ->default_val("auto");
  record->needs(key);
  app->footer(examples({
      "medtrail audit --db ward3.db --since 2026-03-01T00:00:00Z --until 2026-03-02T00:00:00Z",
      "medtrail audit --db ward3.db --policy new-rules.yaml --fail-on critical   # dry run of a policy",
      "*/15 * * * * medtrail audit --db /var/lib/medtrail/ward3.db --state /var/lib/medtrail/audit.state "
      "--record-findings --key /etc/medtrail/auditor.key >> findings.ndjson",
      "medtrail audit --db ward3.db | jq -c 'select(.kind==\"finding\" and .severity==\"critical\")'",
      "medtrail audit --db ward3.db --format fhir > audit-events.ndjson   # FHIR R4 AuditEvent resources",
      "Exit 1 when a finding is at or above --fail-on (default warning).",
  }));
  return {app, [args, &g]() {
            const bool fhir = args->format == "fhir";
            Format format = fhir ? Format::json : resolve_format(args->format);
            const std::int64_t started_ms = now_unix_ms();
            audit::Options options;
            options.since_ms = parse_time_option(args->since, "--since");
            options.until_ms = parse_time_option(args->until, "--until");
            if (options.since_ms && options.until_ms && *options.until_ms <= *options.since_ms)
              throw Error(ExitCode::usage, "--until must be later than --since");
            if (!args->trust.empty()) options.trusted = load_public_key(args->trust);
            auto fail_on = *policy::parse_severity(args->fail_on);
            std::vector<audit::ScheduledPolicy> policies;
            if (!args->policy_file.empty()) policies.push_back({policy::load_yaml_file(args->policy_file), {}, std::nullopt, std::nullopt});
            std::optional<SigningKey> signer;
            if (!args->key.empty()) signer = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, args->record || signer);
            ScopedReader reader(ledger, signer ? &*signer : nullptr);
            if (args->policy_file.empty()) {
              sql::ReadTransaction snapshot(ledger.db());
              policies = audit::recorded_policies(ledger, ledger.size());
            }
            if (policies.empty())
              throw Error(ExitCode::not_found, "no policy on this ledger: add one with 'medtrail policy add', or give --policy FILE");
            // A clean audit that read nothing would be a silent failure: rules that judge values
            // need a key on a ledger whose readings are encrypted.
            if (!signer && privacy::owner_key(ledger))
              for (const auto& scheduled : policies)
                for (const auto& rule : scheduled.policy.rules)
                  if (rule.kind != "integrity" && rule.kind != "access" && rule.kind != "silence")
                    throw Error(ExitCode::usage, "the readings of this ledger are encrypted and rule " + rule.name + " (" +
                                                     rule.kind + ") judges their values: give --key (the data owner's, or an "
                                                     "auditor's with a grant, e.g. medtrail grant --to AUDITOR --all)");

            std::vector<nlohmann::json> recorded;
            auto emit = [&](const audit::Finding& f) {
              auto j = f.to_json();
              if (fhir) print_json(f.to_fhir(ledger.origin(), started_ms));
              else if (format == Format::json) print_json(j);
              else print_line(text_line(f));
              std::fflush(stdout);
              if (args->record) recorded.push_back(std::move(j));
            };

            std::optional<audit::State> state;
            std::optional<Block> head;
            if (!args->state.empty()) {
              state = audit::load_state(args->state);
              sql::ReadTransaction snapshot(ledger.db());
              head = ledger.latest_block();
              // Only sealed records are audited incrementally: the saved checkpoint must cover
              // everything a later run will not look at again.
              options.to_index = head ? head->tree_size() : 0;
              if (state) {
                if (state->origin != ledger.origin())
                  throw Error(ExitCode::usage, args->state + " is the audit state of log \"" + state->origin + "\", not of \"" +
                                                   ledger.origin() + "\"");
                std::uint64_t problems = 0;
                verify_against_checkpoint(ledger, state->checkpoint, options.trusted, [&](const Finding& v) {
                  ++problems;
                  audit::Finding f;
                  f.rule = "history";
                  f.kind = "integrity";
                  f.severity = policy::Severity::critical;
                  f.check = v.check;
                  f.message = "the ledger is not consistent with the checkpoint the last audit saw (" + args->state +
                              "): " + v.message;
                  emit(f);
                });
                if (problems > 0) {
                  if (args->record) append_alerts(ledger, *signer, recorded, state->next_index);
                  print_stderr("medtrail: error: the audited history was rewritten; " + args->state +
                               " is left unchanged so every run reports it until someone investigates");
                  return static_cast<int>(ExitCode::verification_failed);
                }
                options.from_index = state->next_index;
                options.evaluator_state = state->evaluators;
              }
            }

            Progress progress("audited");
            options.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
            auto result = audit::run(ledger, policies, options, emit);
            reader.finish("audit", args->purpose.empty() ? "audit" : args->purpose);
            std::size_t appended = args->record ? append_alerts(ledger, *signer, recorded, options.from_index).size() : 0;
            if (!args->state.empty()) {
              audit::State next;
              next.origin = ledger.origin();
              next.next_index = result.next_index;
              next.checkpoint = head ? head->checkpoint : std::string();
              next.evaluators = result.evaluator_state;
              if (head) audit::save_state(args->state, next);
            }
            nlohmann::json summary = {{"kind", "summary"},
                                      {"policies", policies.size()},
                                      {"from_index", options.from_index},
                                      {"next_index", result.next_index},
                                      {"readings", result.readings},
                                      {"findings", result.findings},
                                      {"recorded", appended},
                                      {"already_recorded", recorded.size() - appended},
                                      {"worst", result.worst ? nlohmann::json(policy::severity_name(*result.worst)) : nlohmann::json()}};
            if (fhir) print_stderr(summary.dump());
            else if (format == Format::json) print_json(summary);
            else print_line("audited records " + std::to_string(options.from_index) + " to " + std::to_string(result.next_index) +
                            ": " + std::to_string(result.findings) + " findings");
            return result.worst && *result.worst >= fail_on ? static_cast<int>(ExitCode::verification_failed) : 0;
          }};
}

}  // namespace medtrail::cli
