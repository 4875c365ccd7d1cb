#include "commands.hpp"
#include "error.hpp"

namespace medtrail::cli {

Command log_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand("log", "List blocks (and with --records, the records they seal)");
  struct Args {
    std::uint64_t since_height = 0;
    bool records = false;
    std::string format;
  };
  auto args = std::make_shared<Args>();
  app->add_option("--since-height", args->since_height, "Start at this block height")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_flag("--records", args->records, "Also list each block's records, and the pending ones");
  add_format_option(*app, args->format);
  app->footer(examples({
      "medtrail log --db ward3.db --format text",
      "medtrail log --db ward3.db --since-height 10 --records | jq -c 'select(.kind==\"reading\")'",
  }));
  return {app, [args, &g]() {
            auto ledger = open_ledger(g, false);
            sql::ReadTransaction snapshot(ledger.db());
            Format format = resolve_format(args->format);
            std::string sql = std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx";
            auto leaves = ledger.db().prepare(sql.c_str());
            auto print_records = [&](std::uint64_t from, std::uint64_t to, std::optional<std::uint64_t> height) {
              leaves.bind(1, from).bind(2, to);
              while (leaves.step()) {
                LeafRow row = read_leaf_row(leaves, 0);
                nlohmann::json env = envelope_of(row);
                if (format == Format::json) {
                  nlohmann::json line = {{"id", to_hex(row.id)}, {"index", row.index}, {"kind", row.kind}, {"record", env}};
                  if (height) line["block"] = *height; else line["status"] = "pending";
                  print_json(line);
                } else {
                  print_line("  " + std::to_string(row.index) + "  " + to_hex(row.id).substr(0, 16) + "  " + row.kind + "  " +
                             row.device.value_or("") + "  " + row.type.value_or("") + "  " +
                             env.value("time", env.value("received", "")));
                }
              }
              leaves.reset();
            };
            std::uint64_t last_size = 0;
            for (std::uint64_t h = args->since_height;; ++h) {
              auto block = ledger.block(h);
              if (!block) break;
              const auto& hd = block->header;
              if (format == Format::json) {
                auto j = block->to_json();
                j["kind"] = "block";
                print_json(j);
              } else {
                // Inclusive range, as a person reads it: "records 1-174 (174)".
                auto first = hd.value("first", 0ull);
                auto end = hd.value("tree_size", 0ull);
                std::string range = end > first ? "records " + std::to_string(first) + "-" + std::to_string(end - 1) +
                                                      " (" + std::to_string(end - first) + ")"
                                                : std::string("no records");
                print_line("block " + std::to_string(h) + "  " + hd.value("time", "") + "  " + range + "  hash " +
                           to_hex(block->hash).substr(0, 16));
              }
              if (args->records) print_records(hd.value("first", 0ull), hd.value("tree_size", 0ull), h);
              last_size = block->tree_size();
            }
            if (args->records) {
              auto latest = ledger.latest_block();
              std::uint64_t from = latest ? latest->tree_size() : last_size;
              print_records(from, ledger.size(), std::nullopt);
            }
            return 0;
          }};
}

}  // namespace medtrail::cli
