// NDJSON input as ingest sees it: bounded line reading, JSON parsing, reading validation.
#include <cstdint>
#include <cstdio>
#include <string>

#include "line_reader.hpp"
#include "reading.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string copy(reinterpret_cast<const char*>(data), size);
  std::FILE* file = fmemopen(copy.data(), copy.size(), "r");
  if (!file) return 0;
  medtrail::LineReader reader(file, 4096);
  std::string line;
  const medtrail::ValidationLimits limits{1772352000000, 5 * 60 * 1000};
  for (auto status = reader.next(line); status != medtrail::LineReader::Status::eof; status = reader.next(line)) {
    if (status == medtrail::LineReader::Status::too_long) continue;
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_discarded()) {
      auto check = medtrail::validate_reading(parsed, limits);
      // Exactly one of: a valid reading, or a reason.
      if (check.reading.has_value() == !check.reason.empty()) __builtin_trap();
    }
  }
  std::fclose(file);
  return 0;
}
