#include "commands.hpp"
#include "error.hpp"
#include "timestamp.hpp"

namespace medtrail::cli {

Command anchor_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("anchor", "Seal pending records into a signed block; print it and a signed checkpoint");
  struct Args {
    std::string key, checkpoint_out, tsa_url, tsa_cmd;
    int tsa_timeout = 30;
    std::uint64_t max = 0;
    bool allow_empty = false;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Authority private key that signs the block")->envname("MEDTRAIL_KEY");
  app->add_option("--max", args->max, "Seal at most N pending records (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--checkpoint-out", args->checkpoint_out, "Also write the new signed checkpoint to FILE (atomically)");
  auto* tsa_url = app->add_option("--tsa-url", args->tsa_url,
                                  "Obtain an RFC 3161 timestamp token over the new checkpoint from this http:// TSA and store it with the block");
  auto* tsa_cmd = app->add_option("--tsa-cmd", args->tsa_cmd,
                                  "Like --tsa-url, through a command (sh -c) that reads a DER TimeStampReq on stdin and writes the DER TimeStampResp");
  tsa_url->excludes(tsa_cmd);
  app->add_option("--tsa-timeout", args->tsa_timeout, "Seconds to wait for --tsa-url")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_flag("--allow-empty", args->allow_empty, "Make a block even when nothing is pending (a heartbeat)");
  app->footer(examples({
      "medtrail anchor --db ward3.db --key keys/hospital.key --checkpoint-out cp-1.txt",
      "medtrail anchor --db ward3.db --key keys/hospital.key --tsa-url http://timestamp.example/tsr",
      "medtrail anchor --db ward3.db --key keys/hospital.key --tsa-cmd 'openssl ts -reply -queryfile /dev/stdin -config tsa.cnf -output /dev/stdout'",
      "*/5 * * * * medtrail anchor --db /var/lib/medtrail/ward3.db --key /etc/medtrail/hospital.key >> blocks.ndjson",
  }));
  return {app, [args, &g]() {
            // A URL the transport would refuse is a usage error before any block is made.
            if (!args->tsa_url.empty() && args->tsa_url.rfind("http://", 0) != 0)
              throw Error(ExitCode::usage, "--tsa-url supports http:// only (a timestamp token is signed, so TLS adds no trust); "
                                           "for https use --tsa-cmd 'curl -sf --data-binary @- -H \"Content-Type: application/timestamp-query\" URL'");
            auto key = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, true);
            auto block = ledger.anchor(key, args->max, args->allow_empty);
            if (!block) {
              print_stderr("medtrail: nothing pending; no block made (use --allow-empty for a heartbeat block)");
              return 0;
            }
            auto out = block->to_json();
            out["checkpoint"] = block->checkpoint;
            // The token is requested after the block is committed: a slow or failing TSA never
            // holds the write lock, and never loses a block.
            std::string tsa_problem;
            if (!args->tsa_url.empty() || !args->tsa_cmd.empty()) {
              try {
                auto request = tsa::make_request(tsa::imprint_of(block->checkpoint));
                auto response = args->tsa_url.empty() ? tsa::run_command(args->tsa_cmd, request)
                                                       : tsa::post_http(args->tsa_url, request, args->tsa_timeout);
                auto token = tsa::token_from_response(request, response);
                ledger.store_timestamp(block->height, token);
                out["timestamp_token"] = base64_encode(token);
              } catch (const Error& e) {
                tsa_problem = e.what();
              }
            }
            // The block is committed: print it before writing the file, so that a failure to
            // write the file never hides a block that exists.
            print_json(out);
            if (!args->checkpoint_out.empty()) {
              try {
                write_file_atomic(args->checkpoint_out, block->checkpoint);
              } catch (const Error& e) {
                throw Error(e.code(), std::string(e.what()) + " (block " + std::to_string(block->height) +
                                          " was sealed; 'medtrail checkpoint' prints its checkpoint)");
              }
            }
            if (!tsa_problem.empty())
              throw Error(ExitCode::environment, tsa_problem + " (block " + std::to_string(block->height) +
                                                     " was sealed without a timestamp)");
            return 0;
          }};
}

}  // namespace medtrail::cli
