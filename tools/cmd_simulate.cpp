#include "commands.hpp"
#include "error.hpp"
#include "simulate.hpp"

namespace medtrail::cli {

Command simulate_command(CLI::App& root, Globals&) {
  auto* app = root.add_subcommand("simulate", "Generate realistic, deterministic device readings (NDJSON)");
  auto options = std::make_shared<simulate::Options>();
  auto list = std::make_shared<bool>(false);
  auto truth = std::make_shared<std::string>();
  app->add_option("--devices", options->devices, "Number of devices")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  app->add_option("--minutes", options->minutes, "Simulated duration in minutes")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  app->add_option("--seed", options->seed, "Random seed: the same seed gives the same output")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_flag("--list-devices", *list, "Print the devices as enrollment lines for 'enroll --from -' instead");
  app->add_option("--scenario", options->scenario,
                  "Plant a scenario: contacts (contact tracing, needs --devices 50 --minutes 120), or one of the five uses: "
                  "origin, quarantine, hospital, provenance, telemedicine (need --minutes 120)")
      ->check(CLI::IsMember(simulate::scenarios()));
  app->add_option("--truth", *truth, "Write what the scenario planted (JSON) to this file: for the five uses, every finding "
                                     "its policy (examples/policies/SCENARIO.yaml) must report");
  app->footer(examples({
      "medtrail simulate --devices 50 --minutes 60 --seed 7 --list-devices | medtrail enroll --key keys/hospital.key --from -",
      "medtrail simulate --devices 50 --minutes 60 --seed 7 | medtrail ingest --key keys/gw-1.key",
      "medtrail simulate --devices 50 --minutes 120 --scenario contacts --truth truth.json | medtrail ingest --key keys/gw-1.key",
      "medtrail simulate --devices 30 --minutes 120 --scenario quarantine --truth truth.json > readings.ndjson",
      "jq -r '.findings[] | \"\\(.rule) \\(.device) \\(.start)\"' truth.json   # what audit must report",
  }));
  return {app, [options, list, truth]() {
            auto emit = [](const std::string& line) { print_line(line); };
            if (options->scenario == "contacts" || options->scenario.empty()) {
              if (!truth->empty()) write_file_atomic(*truth, simulate::contact_truth(*options) + "\n");
              if (*list) simulate::list_devices(*options, emit);
              else simulate::generate(*options, emit);
              return 0;
            }
            // The five uses: the truth is collected while generating, written when done.
            if (*list) {
              simulate::list_devices(*options, emit);
              if (truth->empty()) return 0;
            }
            nlohmann::json planted;
            std::function<void(const std::string&)> sink = emit;
            if (*list) sink = [](const std::string&) {};  // --list-devices --truth: the truth only
            simulate::generate(*options, sink, &planted);
            if (!truth->empty()) write_file_atomic(*truth, planted.dump(2) + "\n");
            return 0;
          }};
}

}  // namespace medtrail::cli
