// NDJSON input as ingest sees it: bounded line reading, JSON parsing, reading validation; and
// for a valid reading, what verify reads back from its canonical text for the trace index.
#include <cstdint>
#include <cstdio>
#include <string>

#include "error.hpp"
#include "jcs.hpp"
#include "line_reader.hpp"
#include "reading.hpp"
#include "trace_index.hpp"

namespace {
// Verify reads the members the trace index holds straight from the stored canonical text
// (trace::indexed_members); ingest indexed them from validate_reading's result. Where the
// direct reading gives anything, it must be exactly that.
void same_indexed_members(const nlohmann::json& parsed, const medtrail::ValidReading& valid) {
  std::string canonical;
  try {
    canonical = medtrail::jcs::canonicalize(parsed);
  } catch (const medtrail::Error&) {
    return;  // ingest refuses what JCS cannot write
  }
  auto direct = medtrail::trace::indexed_members(canonical, valid.type);
  if (!direct) {
    // Only a string with an escape is left to the full parse.
    if (canonical.find('\\') == std::string::npos) __builtin_trap();
    return;
  }
  bool position = valid.lat && valid.lon;
  if (direct->asset != valid.asset || direct->source_ref != valid.source_ref ||
      (position ? direct->lat != valid.lat || direct->lon != valid.lon : direct->lat || direct->lon) ||
      direct->peer != valid.peer || direct->distance_m != valid.distance_m)
    __builtin_trap();
}
}  // namespace

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
      if (check.reading) same_indexed_members(parsed, *check.reading);
    }
  }
  std::fclose(file);
  return 0;
}
