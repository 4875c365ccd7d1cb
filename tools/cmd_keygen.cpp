#include <filesystem>
#include <sys/stat.h>

#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command keygen_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("keygen", "Create an Ed25519 key pair for an identity");
  struct Args {
    std::string name, role, out = ".";
    bool no_encryption_key = false;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--name", args->name, "Identity name (letters, digits, '.', '_', '-')")->required();
  app->add_option("--role", args->role, "authority, gateway, device, clinician or auditor")
      ->required()
      ->check(CLI::IsMember({"authority", "gateway", "device", "clinician", "auditor"}));
  app->add_option("--out", args->out, "Directory for NAME.key (0600) and NAME.pub")->capture_default_str();
  app->add_flag("--no-encryption-key", args->no_encryption_key,
                "No X25519 key: a ledger this authority creates stores payloads in clear (only for data with no personal content)");
  app->footer(examples({
      "medtrail keygen --name hospital --role authority --out keys/",
      "medtrail keygen --name gw-1 --role gateway --out keys/ --passphrase-file gw-1.pass",
      "medtrail keygen --name dr-lee --role clinician --out keys/",
      "An authority also gets NAME.datakey (0600): the key that pseudonymises patients.",
      "Authorities, clinicians and auditors also get an X25519 encryption key (in NAME.key and NAME.pub)",
      "to read encrypted readings; the authority that runs init becomes the ledger's data owner.",
  }));
  return {app, [args, &g]() {
            if (!is_valid_name(args->name))
              throw Error(ExitCode::usage, "--name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
            ::mkdir(args->out.c_str(), 0755);
            std::string base = (std::filesystem::path(args->out) / args->name).string();
            auto key = SigningKey::generate(args->name, args->role, !args->no_encryption_key);
            auto pass = passphrase(g);
            if (pass && pass->empty()) throw Error(ExitCode::usage, "the passphrase is empty");
            key.save(base + ".key", base + ".pub", pass);
            nlohmann::json out = {{"name", args->name},
                                  {"role", args->role},
                                  {"key_id", key.identity().key_id()},
                                  {"public_key", base64_encode(key.identity().key)},
                                  {"vkey", vkey_of(args->name, key.identity().key)},
                                  {"private_key_file", base + ".key"},
                                  {"public_key_file", base + ".pub"}};
            if (auto enc = key.identity().enc_key) {
              out["enc_key"] = base64_encode(*enc);
              out["enc_key_id"] = key_id_of(*enc);
            }
            if (args->role == "authority") {
              DataKey::generate().save(base + ".datakey");
              out["data_key_file"] = base + ".datakey";
            }
            print_json(out);
            return 0;
          }};
}

}  // namespace medtrail::cli
