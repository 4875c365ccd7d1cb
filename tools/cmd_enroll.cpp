#include <cstdio>

#include "commands.hpp"
#include "error.hpp"
#include "line_reader.hpp"

namespace medtrail::cli {
namespace {

Ledger::EnrollRequest request_from_line(const std::string& line, std::uint64_t number, const std::string& default_role) {
  auto fail = [&](const std::string& why) {
    return Error(ExitCode::input_rejected, "enrollment line " + std::to_string(number) + ": " + why);
  };
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) throw fail("not a JSON object");
  Ledger::EnrollRequest r;
  if (!j.contains("name") || !j["name"].is_string()) throw fail("missing \"name\"");
  r.name = j["name"].get<std::string>();
  r.role = j.value("role", default_role);
  if (r.role.empty()) throw fail("missing \"role\" (or give --role)");
  if (j.contains("kind")) {
    if (!j["kind"].is_string()) throw fail("\"kind\" must be a string");
    r.kind = j["kind"].get<std::string>();
  }
  if (j.contains("public_key")) {
    auto bytes = j["public_key"].is_string() ? base64_decode(j["public_key"].get<std::string>()) : std::nullopt;
    if (!bytes || bytes->size() != 32) throw fail("\"public_key\" must be a base64 Ed25519 public key");
    PublicKey k;
    std::copy(bytes->begin(), bytes->end(), k.begin());
    r.key = k;
  }
  // The X25519 key keygen prints as "enc_key", for clinicians and auditors who will receive grants.
  if (j.contains("enc_key")) {
    auto bytes = j["enc_key"].is_string() ? base64_decode(j["enc_key"].get<std::string>()) : std::nullopt;
    if (!bytes || bytes->size() != 32) throw fail("\"enc_key\" must be a base64 X25519 public key");
    if (!r.key) throw fail("\"enc_key\" needs \"public_key\" too");
    PublicKey k;
    std::copy(bytes->begin(), bytes->end(), k.begin());
    r.enc_key = k;
  }
  for (const auto& [key, value] : j.items())
    if (key != "name" && key != "role" && key != "kind" && key != "public_key" && key != "enc_key")
      throw fail("unknown field \"" + key + "\"");
  return r;
}

}  // namespace

Command enroll_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("enroll", "Register identities (devices, gateways, clinicians...) on the ledger");
  struct Args {
    std::string key, role, name, kind, from, public_key_file;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--key", args->key, "Authority private key that signs the enrollment")->envname("MEDTRAIL_KEY");
  app->add_option("--role", args->role, "Role: authority, gateway, device, clinician, auditor")
      ->check(CLI::IsMember({"authority", "gateway", "device", "clinician", "auditor"}));
  auto* name = app->add_option("--name", args->name, "Identity name");
  app->add_option("--kind", args->kind, "Device kind, e.g. wristband, thermometer");
  auto* from = app->add_option("--from", args->from, "NDJSON of {\"name\",\"role\",\"kind\",\"public_key\"} lines; - for stdin");
  app->add_option("public_key_file", args->public_key_file, "The identity's NAME.pub (required except for devices)");
  name->excludes(from);
  app->footer(examples({
      "medtrail enroll --db ward3.db --key keys/hospital.key --role gateway --name gw-1 keys/gw-1.pub",
      "medtrail enroll --db ward3.db --key keys/hospital.key --role device --name thermo-7 --kind thermometer",
      "medtrail simulate --devices 50 --list-devices | medtrail enroll --db ward3.db --key keys/hospital.key --from -",
  }));
  return {app, [args, &g]() {
            if (args->name.empty() && args->from.empty()) throw Error(ExitCode::usage, "give --name NAME [PUBFILE] or --from FILE");
            std::vector<Ledger::EnrollRequest> requests;
            if (!args->name.empty()) {
              if (args->role.empty()) throw Error(ExitCode::usage, "--role is required with --name");
              Ledger::EnrollRequest r{args->name, args->role, std::nullopt, args->kind, std::nullopt};
              if (!args->public_key_file.empty()) {
                auto identity = load_public_key(args->public_key_file);
                if (!identity.role.empty() && identity.role != args->role)
                  throw Error(ExitCode::usage, args->public_key_file + " was made for the role " + identity.role +
                                                   ", not " + args->role);
                r.key = identity.key;
                r.enc_key = identity.enc_key;
              }
              requests.push_back(r);
            } else {
              if (!args->kind.empty() || !args->public_key_file.empty())
                throw Error(ExitCode::usage, "with --from, give kind and public_key in each line, not on the command line");
              std::FILE* in = args->from == "-" ? stdin : std::fopen(args->from.c_str(), "rb");
              if (!in) throw Error(ExitCode::not_found, "cannot open " + args->from);
              LineReader reader(in, 1 << 16);
              std::string line;
              for (auto s = reader.next(line); s != LineReader::Status::eof; s = reader.next(line)) {
                if (s == LineReader::Status::too_long)
                  throw Error(ExitCode::input_rejected, "enrollment line " + std::to_string(reader.line_number()) + " is too long");
                if (line.find_first_not_of(" \t") == std::string::npos) continue;
                requests.push_back(request_from_line(line, reader.line_number(), args->role));
              }
              if (in != stdin) std::fclose(in);
            }
            auto key = load_signing_key(args->key, g);
            auto ledger = open_ledger(g, true);
            for (const auto& row : ledger.enroll(key, requests))
              print_json({{"id", to_hex(row.id)}, {"index", row.index}, {"name", *row.device}, {"role", *row.type},
                          {"status", "enrolled"}});
            return 0;
          }};
}

}  // namespace medtrail::cli
