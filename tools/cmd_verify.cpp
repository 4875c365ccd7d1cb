#include "commands.hpp"
#include "error.hpp"
#include "keys.hpp"
#include "proofs.hpp"
#include "timestamp.hpp"
#include "verify.hpp"

namespace medtrail::cli {

Command verify_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("verify", "Check the whole chain, records, a receipt, a consistency proof, a file, or an old checkpoint");
  struct Args {
    std::string trust, receipt, consistency, checkpoint, file, record, format, tsa_cert, key, purpose;
    std::vector<std::string> ids;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--trust", args->trust, "Authority public key (NAME.pub) to pin; without it the authority is unpinned");
  auto* receipt = app->add_option("--receipt", args->receipt,
                                  "Verify a receipt from 'prove' offline (no database): JSON, or tlog-proof text (needs --trust)");
  auto* consistency = app->add_option("--consistency", args->consistency,
                                      "Verify a consistency proof from 'prove --consistency-from' offline (no database)");
  auto* checkpoint = app->add_option("--checkpoint", args->checkpoint, "Check the ledger only grew since this old checkpoint");
  auto* file = app->add_option("--file", args->file, "Check a file against the digest its record committed to (with --record)");
  auto* record = app->add_option("--record", args->record, "Record id for --file");
  auto* tsa_cert = app->add_option("--tsa-cert", args->tsa_cert,
                                   "With a whole-chain check: also verify every block's RFC 3161 token against this CA (PEM)");
  tsa_cert->excludes(receipt)->excludes(consistency)->excludes(checkpoint)->excludes(file);
  auto* key = app->add_option("--key", args->key, "With a whole-chain check: the data owner's key, to decrypt every reading and check its commitment and trace index rows too (recorded as an access)")
                  ->envname("MEDTRAIL_KEY");
  app->add_option("--purpose", args->purpose, "Why you read, kept in the access record (default: verify)");
  key->excludes(receipt)->excludes(consistency)->excludes(checkpoint)->excludes(file);
  app->add_option("ids", args->ids, "Record ids (or unique prefixes) whose inclusion to check in O(log n)");
  add_format_option(*app, args->format);
  file->needs(record);
  record->needs(file);
  receipt->excludes(checkpoint)->excludes(file)->excludes(consistency);
  consistency->excludes(checkpoint)->excludes(file);
  checkpoint->excludes(file);
  // Every mode takes its own target: ids given with another mode would be silently ignored.
  app->callback([args]() {
    if (!args->ids.empty() && !args->key.empty())
      throw CLI::ValidationError("ids", "--key decrypts during a whole-chain check; it cannot be combined with record ids");
    if (!args->ids.empty() && !args->tsa_cert.empty())
      throw CLI::ValidationError("ids", "--tsa-cert checks the whole chain; it cannot be combined with record ids");
    if (!args->ids.empty() && (!args->receipt.empty() || !args->consistency.empty() || !args->checkpoint.empty() || !args->file.empty()))
      throw CLI::ValidationError("ids", "record ids cannot be combined with --receipt, --consistency, --checkpoint or --file");
  });
  app->footer(examples({
      "medtrail verify --db ward3.db --trust keys/hospital.pub",
      "medtrail verify --db ward3.db 3f9a01c2 b21c7d40",
      "medtrail verify --receipt receipt.json --trust keys/hospital.pub",
      "medtrail verify --receipt 3f9a01c2.tlog-proof --trust keys/hospital.pub",
      "medtrail verify --consistency grew.json --trust keys/hospital.pub",
      "medtrail verify --db ward3.db --checkpoint cp-1.txt --trust keys/hospital.pub",
      "medtrail verify --db ward3.db --trust keys/hospital.pub --tsa-cert tsa-ca.pem",
      "medtrail verify --db ward3.db --trust keys/hospital.pub --key keys/hospital.key   # decrypt and check everything",
      "medtrail verify --db ward3.db --file reports/ecg-0042.pdf --record 9c1e22aa",
      "Exit 1 and one JSON finding per problem when anything does not verify. Encrypted readings are checked",
      "against the ciphertext digest their records commit to; erased ones are listed as erased, not as findings.",
  }));
  return {app, [args, &g]() {
            Format format = resolve_format(args->format);
            std::optional<PublicIdentity> trusted;
            if (!args->trust.empty()) trusted = load_public_key(args->trust);
            std::uint64_t findings = 0;
            auto sink = [&](const Finding& f) {
              ++findings;
              if (format == Format::json) print_json(f.to_json());
              else print_line("FAIL " + f.check + (f.height ? " height " + std::to_string(*f.height) : "") +
                              (f.index ? " index " + std::to_string(*f.index) : "") + ": " + f.message);
            };
            auto finish = [&](nlohmann::json summary) {
              summary["status"] = findings == 0 ? "verified" : "failed";
              if (!trusted) summary["authority"] = "unpinned";
              else summary["authority"] = "pinned";
              if (format == Format::json) print_json(summary);
              else print_line(std::string(findings == 0 ? "OK" : "FAILED") + ": " + summary.dump());
              if (!trusted) print_stderr("medtrail: note: the authority is unpinned; pass --trust AUTHORITY.pub to pin it");
              return findings == 0 ? 0 : static_cast<int>(ExitCode::verification_failed);
            };
            if (!args->receipt.empty()) {
              auto text = read_file(args->receipt);
              if (looks_like_tlog_proof(text)) {
                // The text form carries no key: only a pinned authority can check its signature.
                if (!trusted) throw Error(ExitCode::usage, "a tlog-proof names no key; pass --trust AUTHORITY.pub to verify it");
                std::uint64_t ignored = 0;
                Hash leaf = verify_tlog_proof(TlogProof::parse(text), *trusted, ignored, sink);
                return finish({{"receipt", args->receipt}, {"record", to_hex(leaf)}, {"form", "tlog-proof"}});
              }
              auto receipt_json = nlohmann::json::parse(text, nullptr, false);
              if (!receipt_json.is_object()) throw Error(ExitCode::usage, args->receipt + " is not a JSON receipt");
              verify_receipt(receipt_json, trusted, sink);
              return finish({{"receipt", args->receipt}, {"record", receipt_json.value("leaf_hash", "")}});
            }
            if (!args->consistency.empty()) {
              auto proof = nlohmann::json::parse(read_file(args->consistency), nullptr, false);
              if (!proof.is_object()) throw Error(ExitCode::usage, args->consistency + " is not a JSON consistency proof");
              verify_consistency_proof(proof, trusted, sink);
              return finish({{"consistency", args->consistency}, {"old_size", proof.value("old_size", 0)},
                             {"new_size", proof.value("new_size", 0)}});
            }
            // Note: the environment's MEDTRAIL_KEY only applies to a whole-chain check.
            auto ledger = open_ledger(g, !args->key.empty());
            if (!args->checkpoint.empty()) {
              verify_against_checkpoint(ledger, read_file(args->checkpoint), trusted, sink);
              return finish({{"checkpoint", args->checkpoint}});
            }
            if (!args->file.empty()) {
              auto index = ledger.resolve(args->record);
              verify_file(ledger, index, args->file, sink);
              return finish({{"file", args->file}, {"record", to_hex(ledger.leaf(index).id)}});
            }
            if (!args->ids.empty()) {
              VerifyOptions options{trusted, {}, {}, {}};
              for (const auto& id : args->ids) {
                auto status = verify_record(ledger, ledger.resolve(id), options, sink);
                if (format == Format::json) print_json(status);
                else print_line(status.value("status", "") + " " + status.value("id", ""));
              }
              return finish({{"records", args->ids.size()}});
            }
            std::optional<tsa::TrustStore> tsa_trust;
            if (!args->tsa_cert.empty()) tsa_trust = tsa::TrustStore::load(args->tsa_cert);
            Progress progress("verified");
            VerifyOptions options{trusted, [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); },
                                  [&](const nlohmann::json& erased) {
                                    if (format == Format::json) print_json(erased);
                                    else print_line("ERASED " + erased.value("record", "") + " (erasure record " +
                                                    std::to_string(erased.value("erasure", 0)) + ")");
                                  },
                                  {}};
            std::optional<SigningKey> reader_key;
            if (!args->key.empty()) reader_key = load_signing_key(args->key, g);
            std::optional<privacy::PayloadReader> reader;
            if (reader_key) {
              reader.emplace(ledger, &*reader_key);
              if (!reader->is_owner() && privacy::owner_key(ledger))
                throw Error(ExitCode::usage, "verify --key needs the data owner's key (the authority that created the ledger)");
              options.decrypt = [&reader](const LeafRow& row) { return reader->read(row); };
            }
            auto summary = verify_ledger(ledger, options, sink).to_json();
            if (reader) reader->record_access("verify", args->purpose.empty() ? "verify" : args->purpose);
            if (tsa_trust) {
              auto stamps = tsa::verify_timestamps(ledger, *tsa_trust, sink);
              summary["timestamped"] = stamps.timestamped;
              summary["untimestamped"] = stamps.untimestamped;
              summary["findings"] = findings;
            }
            return finish(summary);
          }};
}

}  // namespace medtrail::cli
