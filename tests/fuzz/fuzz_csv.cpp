// CSV input as ingest sees it: bounded lines, record assembly (quotes, embedded line breaks),
// the header, and the default map's row conversion and validation.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "csv_in.hpp"
#include "error.hpp"
#include "line_reader.hpp"
#include "reading.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the delimiter, so ';' and tab files are explored too.
  const char delimiters[] = {',', ';', '\t', '|'};
  char delimiter = delimiters[data[0] % 4];
  std::string copy(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (copy.empty()) return 0;  // fmemopen rejects size 0
  std::FILE* file = fmemopen(copy.data(), copy.size(), "r");
  if (!file) return 0;
  medtrail::LineReader reader(file, 1024);
  medtrail::csv::Map map;
  map.delimiter = delimiter;
  medtrail::csv::RecordAssembler assembler(delimiter, 1024);
  std::unique_ptr<medtrail::csv::RowConverter> rows;
  const medtrail::ValidationLimits limits{1772352000000, 5 * 60 * 1000};
  std::string line;
  for (auto s = reader.next(line); s != medtrail::LineReader::Status::eof; s = reader.next(line)) {
    if (s == medtrail::LineReader::Status::too_long) continue;
    if (assembler.add_line(line) != medtrail::csv::RecordAssembler::Status::record) continue;
    if (!rows) {
      try {
        rows = std::make_unique<medtrail::csv::RowConverter>(map, assembler.fields());
      } catch (const medtrail::Error&) {
        break;  // a header that names no reading members: ingest stops the file here too
      }
      continue;
    }
    auto row = rows->convert(assembler.fields());
    if (row.skipped) __builtin_trap();  // the default map skips nothing
    if (row.reading.is_object() == !row.rejection.empty()) __builtin_trap();
    if (row.reading.is_object()) {
      auto check = medtrail::validate_reading(row.reading, limits);
      if (check.reading.has_value() == !check.reason.empty()) __builtin_trap();
    }
  }
  std::fclose(file);
  return 0;
}
