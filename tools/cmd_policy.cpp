#include "commands.hpp"
#include "error.hpp"
#include "policy_log.hpp"
#include "timefmt.hpp"

namespace medtrail::cli {
namespace {

// The policy record named by ID (a record id or unique prefix of 8+ hex digits).
const PolicyRecord& find_policy(const PolicyLog& log, Ledger& ledger, const std::string& id) {
  auto index = ledger.resolve(id);
  auto it = log.all().find(index);
  if (it == log.all().end()) throw Error(ExitCode::not_found, "record " + id + " is not a policy record");
  return it->second;
}

}  // namespace

Command policy_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("policy", "Add, list, show or retire the audit rules (policies) recorded on the ledger");
  struct Args {
    std::string action, target, key, reason, format;
  };
  auto args = std::make_shared<Args>();
  app->add_option("action", args->action, "add FILE, list, show ID, or retire ID")
      ->required()
      ->check(CLI::IsMember({"add", "list", "show", "retire"}));
  app->add_option("target", args->target, "The policy YAML file (add) or a policy record id (show, retire)");
  app->add_option("--key", args->key, "Authority private key that signs add and retire")->envname("MEDTRAIL_KEY");
  app->add_option("--reason", args->reason, "Why a policy is retired, kept on the ledger (retire)");
  add_format_option(*app, args->format);
  app->footer(examples({
      "medtrail policy add --db ward3.db --key keys/hospital.key examples/policies/quarantine.yaml",
      "medtrail policy list --db ward3.db --format text",
      "medtrail policy show --db ward3.db 3f9a01c2",
      "medtrail policy retire --db ward3.db --key keys/hospital.key 3f9a01c2 --reason \"replaced by v2\"",
  }));
  app->callback([args]() {
    bool needs_target = args->action != "list";
    if (needs_target && args->target.empty())
      throw CLI::ValidationError("target", "policy " + args->action + " needs " + (args->action == "add" ? "a FILE" : "a policy ID"));
    if (!needs_target && !args->target.empty()) throw CLI::ValidationError("target", "policy list takes no argument");
    if (!args->reason.empty() && args->action != "retire") throw CLI::ValidationError("--reason", "--reason is for policy retire");
  });
  return {app, [args, &g]() {
            Format format = resolve_format(args->format);
            auto print_record = [&](const PolicyRecord& r, bool with_policy) {
              nlohmann::json j = r.to_json();
              if (with_policy) j["policy"] = r.policy;
              if (format == Format::json) return print_json(j);
              print_line(to_hex(r.id).substr(0, 16) + "  " + std::to_string(r.index) + "  " + r.name + "  " +
                         j.value("status", "") + "  " + std::to_string(r.policy.value("rules", nlohmann::json::array()).size()) +
                         " rules  " + j.value("received", ""));
              if (with_policy)
                for (const auto& rule : r.policy.value("rules", nlohmann::json::array()))
                  print_line("  " + rule.value("name", "") + "  " + rule.value("kind", "") + "  " + rule.value("severity", "") +
                             "  " + rule.dump());
            };
            if (args->action == "add") {
              auto parsed = policy::load_yaml_file(args->target);
              auto key = load_signing_key(args->key, g);
              auto ledger = open_ledger(g, true);
              auto row = add_policy(ledger, key, parsed);
              print_json({{"id", to_hex(row.id)}, {"index", row.index}, {"name", parsed.name},
                          {"rules", parsed.rules.size()}, {"sha256", to_hex(parsed.sha256())}, {"status", "active"}});
              return 0;
            }
            if (args->action == "retire") {
              auto key = load_signing_key(args->key, g);
              auto ledger = open_ledger(g, true);
              std::uint64_t index;
              {
                sql::ReadTransaction snapshot(ledger.db());
                index = find_policy(load_policy_log(ledger, ledger.size()), ledger, args->target).index;
              }
              auto row = retire_policy(ledger, key, index, args->reason);
              print_json({{"id", to_hex(row.id)}, {"index", row.index}, {"name", *row.device},
                          {"policy", row.extra.value("policy_id", "")}, {"status", "retired"}});
              return 0;
            }
            auto ledger = open_ledger(g, false);
            sql::ReadTransaction snapshot(ledger.db());
            auto log = load_policy_log(ledger, ledger.size());
            if (args->action == "show") {
              print_record(find_policy(log, ledger, args->target), true);
              return 0;
            }
            for (const auto& [index, record] : log.all()) print_record(record, false);
            return 0;
          }};
}

}  // namespace medtrail::cli
