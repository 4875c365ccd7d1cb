#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command show_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("show", "Show one record: envelope, reading (where held), block and status");
  struct Args {
    std::string id, format;
  };
  auto args = std::make_shared<Args>();
  app->add_option("id", args->id, "Record id or a unique prefix of at least 8 hex digits")->required();
  add_format_option(*app, args->format);
  app->footer(examples({
      "medtrail show --db ward3.db 3f9a01c2",
      "medtrail show --db ward3.db 3f9a01c2 --format json | jq .reading.value",
  }));
  return {app, [args, &g]() {
            auto ledger = open_ledger(g, false);
            sql::ReadTransaction snapshot(ledger.db());
            auto index = ledger.resolve(args->id);
            LeafRow row = ledger.leaf(index);
            nlohmann::json out = {{"id", to_hex(row.id)}, {"index", index}, {"record", envelope_of(row)}};
            if (auto payload = ledger.payload(index)) out["reading"] = (*payload)["reading"];
            auto height = ledger.block_height_of(index);
            out["status"] = height ? "anchored" : "pending";
            if (height) out["block"] = *height;
            if (resolve_format(args->format) == Format::json) {
              print_json(out);
            } else {
              print_line("record   " + to_hex(row.id));
              print_line("index    " + std::to_string(index) + "  (" + out["status"].get<std::string>() +
                         (height ? " in block " + std::to_string(*height) : std::string()) + ")");
              for (const auto& [key, value] : out["record"].items())
                print_line("  " + key + std::string(key.size() < 12 ? 12 - key.size() : 1, ' ') +
                           (value.is_string() ? value.get<std::string>() : value.dump()));
              if (out.contains("reading")) print_line("reading  " + out["reading"].dump());
            }
            return 0;
          }};
}

}  // namespace medtrail::cli
