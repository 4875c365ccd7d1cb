#include <cstring>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "error.hpp"
#include "ingest.hpp"
#include "line_reader.hpp"
#include "timefmt.hpp"

namespace medtrail::cli {

Command ingest_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("ingest", "Validate readings (NDJSON), commit them as records, print a receipt per record");
  struct Args {
    std::string key, data_key, rejects, max_skew = "5m";
    std::vector<std::string> files;
    bool atomic = false;
    std::size_t chunk = 4096;
    std::size_t max_line = 65536;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Gateway private key that attests the readings")->envname("MEDTRAIL_KEY");
  app->add_option("--data-key", args->data_key, "Pseudonymisation key (default: a matching *.datakey beside --key or the ledger)");
  app->add_option("--rejects", args->rejects, "Write rejection lines here instead of stderr");
  app->add_flag("--atomic", args->atomic, "Commit all or nothing: any rejected line rolls everything back");
  app->add_option("--max-skew", args->max_skew, "How far in the future a reading time may be (e.g. 30s, 5m)")->capture_default_str();
  app->add_option("--chunk", args->chunk, "Records per commit and per gateway seal")->capture_default_str()->check(CLI::Range(1, 1000000));
  app->add_option("--max-line", args->max_line, "Longest accepted input line in bytes")->capture_default_str()->check(CLI::Range(64, 16777216));
  app->add_option("files", args->files, "NDJSON files to read; - or nothing for stdin");
  app->footer(examples({
      "medtrail simulate --devices 50 --minutes 60 --seed 7 | medtrail ingest --db ward3.db --key keys/gw-1.key > receipts.ndjson",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --rejects rejects.ndjson day1.ndjson day2.ndjson",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --atomic batch.ndjson   # all or nothing",
      "Exit 3 when a line was rejected; valid lines are still committed unless --atomic.",
  }));
  return {app, [args, &g]() {
            auto skew = parse_duration_ms(args->max_skew);
            if (!skew) throw Error(ExitCode::usage, "--max-skew must look like 30s, 5m or 1h");
            auto key = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, true);
            auto data_key = find_data_key(ledger, args->data_key, args->key, g);
            std::FILE* rejects = nullptr;
            if (!args->rejects.empty()) {
              rejects = std::fopen(args->rejects.c_str(), "w");
              if (!rejects) throw Error(ExitCode::environment, "cannot write " + args->rejects);
            }
            Progress progress("ingested");
            std::uint64_t receipts = 0;
            IngestEvents events;
            events.receipt = [&](const std::string& line) {
              print_line(line);
              ++receipts;
            };
            events.rejection = [&](const std::string& line) {
              if (rejects) {
                std::fputs(line.c_str(), rejects);
                std::fputc('\n', rejects);
              } else {
                print_stderr(line);
              }
            };
            events.committed = [&]() {
              std::fflush(stdout);
              progress.update(receipts);
            };
            IngestOptions options;
            options.atomic = args->atomic;
            options.chunk_records = args->chunk;
            options.max_future_skew_ms = *skew;
            Ingestor ingestor(ledger, key, data_key, options, events);
            std::vector<std::string> files = args->files;
            if (files.empty()) files.push_back("-");
            // Open every input before reading any: a missing second file must not cut a run short
            // after the first file's readings were half committed.
            struct CloseInput {
              void operator()(std::FILE* f) const {
                if (f != stdin) std::fclose(f);
              }
            };
            std::vector<std::unique_ptr<std::FILE, CloseInput>> inputs;
            for (const auto& file : files) {
              std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
              if (!in)
                throw Error(errno == ENOENT ? ExitCode::not_found : ExitCode::environment,
                            "cannot open input " + file + ": " + std::strerror(errno));
              inputs.emplace_back(in);
            }
            for (std::size_t i = 0; i < files.size(); ++i) {
              const auto& file = files[i];
              std::FILE* in = inputs[i].get();
              std::string source = file == "-" ? "stdin" : file;
              LineReader reader(in, args->max_line);
              std::string line;
              auto next_line = [&]() {
                // A quiet stream: commit what waits once it is due, then block for more input.
                for (auto due = ingestor.commit_due_in_ms(); due >= 0; due = ingestor.commit_due_in_ms()) {
                  if (reader.wait_for_input(static_cast<int>(std::min<std::int64_t>(due, 60'000)))) break;
                  if (ingestor.commit_due_in_ms() == 0) ingestor.commit_waiting();
                }
                return reader.next(line);
              };
              for (auto s = next_line(); s != LineReader::Status::eof; s = next_line()) {
                if (s == LineReader::Status::too_long) {
                  ingestor.reject(source, reader.line_number(), "line longer than " + std::to_string(args->max_line) + " bytes");
                  continue;
                }
                if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines carry nothing
                ingestor.add_line(source, reader.line_number(), line);
              }
              bool failed = reader.failed();
              inputs[i].reset();
              if (failed) {
                // Commit what was read before the error, then stop: nothing read is lost.
                ingestor.finish();
                throw Error(ExitCode::environment, "error reading " + source + " after line " +
                                                       std::to_string(reader.line_number()) +
                                                       "; the lines before it were ingested");
              }
            }
            auto stats = ingestor.finish();
            if (rejects && std::fclose(rejects) != 0) throw Error(ExitCode::environment, "cannot write " + args->rejects);
            nlohmann::json summary = {{"lines", stats.lines}, {"accepted", stats.accepted},
                                      {"duplicates", stats.duplicates}, {"rejected", stats.rejected}};
            if (args->atomic && stats.rejected > 0) summary["committed"] = false;
            print_stderr("medtrail: ingest " + summary.dump());
            return stats.rejected > 0 ? static_cast<int>(ExitCode::input_rejected) : 0;
          }};
}

}  // namespace medtrail::cli
