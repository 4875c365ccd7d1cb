// medtrail: the command registry. Each command lives in its own file (tools/cmd_*.cpp) and
// only wires options to one call into lib/; errors end here, as "medtrail: error: ..." and
// the exit status of PRODUCT.md.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "common.hpp"
#include "error.hpp"

namespace {
constexpr medtrail::cli::CommandFactory kCommands[] = {
    medtrail::cli::keygen_command,   medtrail::cli::init_command,     medtrail::cli::enroll_command,
    medtrail::cli::retire_command,   medtrail::cli::ingest_command,   medtrail::cli::anchor_command,
    medtrail::cli::verify_command,   medtrail::cli::prove_command,    medtrail::cli::checkpoint_command,
    medtrail::cli::show_command,     medtrail::cli::log_command,      medtrail::cli::trace_command,
    medtrail::cli::policy_command,   medtrail::cli::audit_command,    medtrail::cli::simulate_command,
    medtrail::cli::grant_command,    medtrail::cli::revoke_command,   medtrail::cli::forget_command,
    medtrail::cli::completion_command,
};
}  // namespace

namespace medtrail::cli {

void build_app(CLI::App& app, Globals& globals, std::vector<Command>& commands) {
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("medtrail ") + MEDTRAIL_VERSION);
  if (const char* env = std::getenv("MEDTRAIL_DB")) globals.db = env;
  app.add_option("--db", globals.db, "Ledger file (env MEDTRAIL_DB)")->capture_default_str();
  app.add_option("--busy-timeout", globals.busy_timeout_ms,
                 "Milliseconds to wait for another writer before giving up (exit 5)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3'600'000));
  app.add_option("--passphrase-file", globals.passphrase_file,
                 "File whose first line is the private key's passphrase (else env MEDTRAIL_PASSPHRASE)");
  app.footer(
      "\nExit status: 0 success, 1 verification failed or findings, 2 usage error, 3 some input rejected,\n"
      "4 not found, 5 environment error (locked, unreadable, read-only, disk full, bad key).\n"
      "Run 'medtrail COMMAND --help' for a command's options and examples; 'man medtrail-COMMAND' for more.");
  for (auto factory : kCommands) commands.push_back(factory(app, globals));
}

}  // namespace medtrail::cli

int main(int argc, char** argv) {
  using medtrail::Error;
  using medtrail::ExitCode;
  // Past a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ mid-write;
  // ignored, the write fails with EFBIG, SQLite rolls back, and we exit 5 saying why.
  std::signal(SIGXFSZ, SIG_IGN);
  // A reader that stops early (`medtrail log | head -1`) ends us quietly, as it ends cat, even
  // when our parent ignored SIGPIPE: else every later write would fail and end in an error.
  std::signal(SIGPIPE, SIG_DFL);
  CLI::App app{"medtrail: a tamper-evident, signed, traceable history for medical IoT data", "medtrail"};
  medtrail::cli::Globals globals;
  std::vector<medtrail::cli::Command> commands;
  medtrail::cli::build_app(app, globals, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }
  try {
    for (auto& command : commands)
      if (command.app->parsed()) {
        int code = command.run();
        if (std::fflush(stdout) != 0) throw Error(ExitCode::environment, "cannot write to standard output");
        return code;
      }
    return static_cast<int>(ExitCode::usage);
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "medtrail: error: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "medtrail: error: %s\n", e.what());
    return static_cast<int>(ExitCode::environment);
  }
}
