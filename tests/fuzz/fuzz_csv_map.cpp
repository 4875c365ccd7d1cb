// The CSV map (`ingest --map`): YAML parsing and checking; a map that passes must build a
// converter for its own columns and convert a row without crashing.
#include <cstdint>
#include <string>

#include "csv_in.hpp"
#include "error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  medtrail::csv::Map map;
  try {
    map = medtrail::csv::parse_map(text, "fuzz.yaml");
  } catch (const medtrail::Error&) {
    return 0;
  }
  std::vector<std::string> header = map.columns;
  if (header.empty())
    for (const auto& [member, column] : map.fields) header.push_back(column);
  try {
    medtrail::csv::RowConverter rows(map, header);
    std::vector<std::string> row(header.size(), "1");
    (void)rows.convert(row);
  } catch (const medtrail::Error&) {
  }
  return 0;
}
