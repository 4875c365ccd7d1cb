#include "commands.hpp"
#include "error.hpp"
#include "privacy.hpp"

namespace medtrail::cli {
namespace {

const char* outcome_name(privacy::ReadOutcome o) {
  switch (o) {
    case privacy::ReadOutcome::clear: return "clear";
    case privacy::ReadOutcome::decrypted: return "decrypted";
    case privacy::ReadOutcome::erased: return "erased";
    case privacy::ReadOutcome::refused: return "refused";
    case privacy::ReadOutcome::missing: return "missing";
    case privacy::ReadOutcome::corrupt: return "corrupt";
  }
  return "missing";
}

}  // namespace

Command show_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("show", "Show one record: envelope, reading (where readable), block and status");
  struct Args {
    std::string id, format, key, purpose;
  };
  auto args = std::make_shared<Args>();
  app->add_option("id", args->id, "Record id or a unique prefix of at least 8 hex digits")->required();
  app->add_option("--key", args->key, "Reader key (data owner, or a clinician/auditor with a live grant) to decrypt the reading; the read is recorded in the ledger")
      ->envname("MEDTRAIL_KEY");
  app->add_option("--purpose", args->purpose, "Why you read it, kept in the access record (e.g. \"treatment\")");
  add_format_option(*app, args->format);
  app->footer(examples({
      "medtrail show --db ward3.db 3f9a01c2",
      "medtrail show --db ward3.db 3f9a01c2 --key keys/dr-lee.key --purpose treatment --format json | jq .reading.value",
      "Without --key an encrypted reading shows as \"payload\": \"encrypted\". With --key, every read and every",
      "refusal appends an access record signed by the reader; a refusal exits 4, a ciphertext that does not open 1.",
  }));
  return {app, [args, &g]() {
            bool reading_key = !args->key.empty();
            auto ledger = open_ledger(g, reading_key);
            std::optional<SigningKey> key;
            if (reading_key) key = load_signing_key(args->key, g);
            std::optional<sql::ReadTransaction> snapshot;
            if (!reading_key) snapshot.emplace(ledger.db());
            auto index = ledger.resolve(args->id);
            LeafRow row = ledger.leaf(index);
            nlohmann::json out = {{"id", to_hex(row.id)}, {"index", index}, {"record", envelope_of(row)}};
            privacy::ReadResult read;
            std::optional<LeafRow> access;
            if (row.kind == "reading") {
              privacy::PayloadReader reader(ledger, key ? &*key : nullptr);
              read = reader.read(row);
              if (read.payload) {
                auto parsed = nlohmann::json::parse(read.payload->reading, nullptr, false);
                out["reading"] = parsed.is_discarded() ? nlohmann::json(read.payload->reading) : parsed;
              }
              // Without a key an encrypted reading is simply that, not a refusal to explain.
              bool locked = !key && read.outcome == privacy::ReadOutcome::refused;
              out["payload"] = locked ? "encrypted" : outcome_name(read.outcome);
              if (!locked && !read.reason.empty()) out["reason"] = read.reason;
              access = reader.record_access("show", args->purpose);
              if (access) out["access_record"] = to_hex(access->id);
            }
            auto height = ledger.block_height_of(index);
            out["status"] = height ? "anchored" : "pending";
            if (height) out["block"] = *height;
            if (resolve_format(args->format) == Format::json) {
              print_json(out);
            } else {
              print_line("record   " + to_hex(row.id));
              print_line("index    " + std::to_string(index) + "  (" + out["status"].get<std::string>() +
                         (height ? " in block " + std::to_string(*height) : std::string()) + ")");
              for (const auto& [k, value] : out["record"].items())
                print_line("  " + k + std::string(k.size() < 12 ? 12 - k.size() : 1, ' ') +
                           (value.is_string() ? value.get<std::string>() : value.dump()));
              if (out.contains("payload")) print_line("payload  " + out["payload"].get<std::string>());
              if (out.contains("reading")) print_line("reading  " + out["reading"].dump());
              if (out.contains("reason")) print_line("reason   " + out["reason"].get<std::string>());
              if (access) print_line("access   recorded as " + to_hex(access->id));
            }
            if (key && read.outcome == privacy::ReadOutcome::refused)
              throw Error(ExitCode::not_found, "read refused: " + read.reason + " (the attempt is recorded)");
            if (read.outcome == privacy::ReadOutcome::corrupt)
              throw Error(ExitCode::verification_failed, "the payload of " + to_hex(row.id) + " cannot be read: " + read.reason);
            return 0;
          }};
}

}  // namespace medtrail::cli
