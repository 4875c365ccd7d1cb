// One factory per command file.
#pragma once
#include <vector>

#include "common.hpp"

namespace medtrail::cli {
Command keygen_command(CLI::App& root, Globals& g);
Command init_command(CLI::App& root, Globals& g);
Command enroll_command(CLI::App& root, Globals& g);
Command retire_command(CLI::App& root, Globals& g);
Command ingest_command(CLI::App& root, Globals& g);
Command anchor_command(CLI::App& root, Globals& g);
Command verify_command(CLI::App& root, Globals& g);
Command prove_command(CLI::App& root, Globals& g);
Command checkpoint_command(CLI::App& root, Globals& g);
Command show_command(CLI::App& root, Globals& g);
Command log_command(CLI::App& root, Globals& g);
Command simulate_command(CLI::App& root, Globals& g);
Command trace_command(CLI::App& root, Globals& g);
Command policy_command(CLI::App& root, Globals& g);
Command audit_command(CLI::App& root, Globals& g);
Command grant_command(CLI::App& root, Globals& g);
Command revoke_command(CLI::App& root, Globals& g);
Command forget_command(CLI::App& root, Globals& g);
Command completion_command(CLI::App& root, Globals& g);
// Builds the whole command tree (used by main and by the completion generator).
void build_app(CLI::App& app, Globals& globals, std::vector<Command>& commands);
}  // namespace medtrail::cli
