// Shared by the command files: global options, key loading, output and progress.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "keys.hpp"
#include "ledger.hpp"
#include "privacy.hpp"

namespace medtrail::cli {

struct Globals {
  std::string db = "medtrail.db";
  int busy_timeout_ms = 5000;
  std::string passphrase_file;
};

using Runner = std::function<int()>;

struct Command {
  CLI::App* app = nullptr;
  Runner run;
};

// Every command file provides one of these; tools/main.cpp lists them.
using CommandFactory = Command (*)(CLI::App& root, Globals& globals);

// The passphrase for an encrypted key: --passphrase-file, else MEDTRAIL_PASSPHRASE.
std::optional<std::string> passphrase(const Globals& g);
SigningKey load_signing_key(const std::string& path, const Globals& g);
Ledger open_ledger(const Globals& g, bool writable);
// The data (pseudonym) key: explicit path, MEDTRAIL_DATA_KEY, or a *.datakey file beside the
// signing key or the ledger whose id matches the ledger's.
DataKey find_data_key(const Ledger& ledger, const std::string& explicit_path, const std::string& key_path,
                      const Globals& g);

// A reader for commands that read reading values (trace, audit): installs itself as the
// ledger's reading source, and on finish() appends the reader's access record and says on
// stderr what could not be read.
class ScopedReader {
 public:
  ScopedReader(Ledger& ledger, const SigningKey* key);
  ~ScopedReader();
  void finish(const std::string& command, const std::string& purpose);
  privacy::PayloadReader& reader() { return reader_; }

 private:
  Ledger& ledger_;
  privacy::PayloadReader reader_;
};

enum class Format { json, text };
// "auto" resolves to text on a terminal and JSON in a pipe.
Format resolve_format(const std::string& requested);
void add_format_option(CLI::App& app, std::string& target);

void print_line(const std::string& line);
inline void print_json(const nlohmann::json& j) { print_line(j.dump()); }
void print_stderr(const std::string& line);

// A one-line progress indicator on stderr, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();
  void update(std::uint64_t done, std::uint64_t total = 0);

 private:
  std::string what_;
  bool enabled_;
  std::int64_t started_ms_;
  std::int64_t last_ms_ = 0;
  bool shown_ = false;
};

// Option values: an RFC 3339 time (empty text: nullopt) and a duration ("30s", "15m", "2h",
// "7d"); anything else is a usage error naming the option.
std::optional<std::int64_t> parse_time_option(const std::string& text, const char* option);
std::int64_t parse_duration_option(const std::string& text, const char* option);

// "Examples:" block appended to --help.
std::string examples(std::initializer_list<const char*> lines);

}  // namespace medtrail::cli
