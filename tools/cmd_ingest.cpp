#include <cstring>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "error.hpp"
#include "ingest.hpp"
#include "input_format.hpp"
#include "keys.hpp"
#include "line_reader.hpp"
#include "timefmt.hpp"

namespace medtrail::cli {

Command ingest_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("ingest", "Validate readings (NDJSON, FHIR, CSV), commit them as records, print a receipt per record");
  struct Args {
    std::string key, data_key, rejects, max_skew = "5m";
    std::string format, map, device;
    std::vector<std::string> files;
    bool atomic = false;
    std::size_t chunk = 16384;
    std::size_t max_line = 65536;
    std::size_t max_document = 64u << 20;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Gateway private key that attests the readings")->envname("MEDTRAIL_KEY");
  app->add_option("--data-key", args->data_key, "Pseudonymisation key (default: a matching *.datakey beside --key or the ledger)");
  app->add_option("--rejects", args->rejects, "Write rejection lines here instead of stderr");
  app->add_flag("--atomic", args->atomic, "Commit all or nothing: any rejected line rolls everything back");
  app->add_option("--max-skew", args->max_skew, "How far in the future a reading time may be (e.g. 30s, 5m)")->capture_default_str();
  app->add_option("--chunk", args->chunk, "Records per commit and per gateway seal")->capture_default_str()->check(CLI::Range(1, 1000000));
  app->add_option("--max-line", args->max_line, "Longest accepted input line in bytes")->capture_default_str()->check(CLI::Range(64, 16777216));
  app->add_option("--format", args->format, "Input format: ndjson, fhir (an Observation, a Bundle, or Bulk NDJSON) or csv; default: detected from the content, and a contradiction is an error")
      ->check(CLI::IsMember({"ndjson", "fhir", "csv"}));
  app->add_option("--map", args->map, "CSV: YAML map from columns to reading members (default: the header names the members)");
  app->add_option("--device", args->device, "FHIR: device name for Observations whose device names none medtrail can use");
  app->add_option("--max-document", args->max_document, "FHIR: largest JSON document (a Bundle) or Bulk NDJSON line in bytes")
      ->capture_default_str()->check(CLI::Range(1024, 1073741824));
  app->add_option("files", args->files, "Files to read (NDJSON, FHIR JSON or NDJSON, CSV); - or nothing for stdin");
  app->footer(examples({
      "medtrail simulate --devices 50 --minutes 60 --seed 7 | medtrail ingest --db ward3.db --key keys/gw-1.key > receipts.ndjson",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --rejects rejects.ndjson day1.ndjson day2.ndjson",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --atomic batch.ndjson   # all or nothing",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --format fhir bundle.json Observation.000.ndjson",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --format fhir --device monitor-7 ehr-export.json",
      "medtrail ingest --db ward3.db --key keys/gw-1.key readings.csv   # header row names the members",
      "medtrail ingest --db ward3.db --key keys/gw-1.key --map examples/maps/garmin.yaml garmin.csv",
      "Exit 3 when a line, Bundle entry or CSV row was rejected; valid ones are still committed unless --atomic.",
      "Exit 2 when --format contradicts a file's content.",
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
            FormatOptions formats;
            formats.fhir.default_device = args->device;
            formats.max_line = args->max_line;
            formats.max_document = args->max_document;
            if (!args->map.empty()) {
              std::FILE* f = std::fopen(args->map.c_str(), "rb");
              if (!f) throw Error(errno == ENOENT ? ExitCode::not_found : ExitCode::environment, "cannot open --map " + args->map + ": " + std::strerror(errno));
              std::string text;
              char buf[4096];
              for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
              std::fclose(f);
              formats.csv_map = csv::parse_map(text, args->map);
            }
            if (!args->device.empty() && !is_valid_name(args->device))
              throw Error(ExitCode::usage, "--device must be a name of 1-64 letters, digits, '.', '_' or '-'");
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
            // Each input's format, decided before anything is ingested: a contradiction with
            // --format, or a --map for what is not CSV, stops the run with nothing committed.
            std::vector<std::unique_ptr<LineReader>> readers;
            std::vector<InputFormat> input_formats;
            for (std::size_t i = 0; i < files.size(); ++i) {
              std::string source = files[i] == "-" ? "stdin" : files[i];
              readers.push_back(std::make_unique<LineReader>(inputs[i].get(), args->max_line));
              auto prefix = readers.back()->peek_first_line(65536);
              bool blank = prefix.find_first_not_of(" \t\r\n\xEF\xBB\xBF") == std::string_view::npos;
              auto detected = detect_format(prefix);
              if (blank) {
                detected = args->format == "csv" || !args->map.empty() ? InputFormat::csv
                         : args->format == "fhir" ? InputFormat::fhir_json : InputFormat::ndjson;
              } else if (!args->format.empty() && !format_matches(args->format, detected)) {
                throw Error(ExitCode::usage, source + " holds " + format_name(detected) + ", not --format " + args->format);
              }
              if (!args->map.empty() && detected != InputFormat::csv)
                throw Error(ExitCode::usage, "--map is for CSV input, but " + source + " holds " + format_name(detected));
              if (detected == InputFormat::fhir_json || detected == InputFormat::fhir_ndjson)
                readers.back()->set_max_line(args->max_document);
              input_formats.push_back(detected);
            }
            std::uint64_t skipped = 0;
            for (std::size_t i = 0; i < files.size(); ++i) {
              const auto& file = files[i];
              std::string source = file == "-" ? "stdin" : file;
              LineReader& reader = *readers[i];
              auto sink = make_sink(input_formats[i], ingestor, ledger, source, formats);
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
                if (s == LineReader::Status::too_long) sink->too_long(reader.line_number());
                else sink->line(reader.line_number(), line);
              }
              bool failed = reader.failed();
              if (!failed) sink->finish();
              skipped += sink->skipped();
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
            if (skipped > 0) summary["skipped"] = skipped;
            if (args->atomic && stats.rejected > 0) summary["committed"] = false;
            print_stderr("medtrail: ingest " + summary.dump());
            return stats.rejected > 0 ? static_cast<int>(ExitCode::input_rejected) : 0;
          }};
}

}  // namespace medtrail::cli
