// FHIR input as ingest sees it: format detection, JSON parsing, the Observation/Bundle
// conversion, and validation of every reading it produces.
#include <cstdint>
#include <string>

#include "fhir_in.hpp"
#include "input_format.hpp"
#include "reading.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)medtrail::detect_format(text);
  (void)medtrail::fhir::normalize_reference(text);
  auto resource = nlohmann::json::parse(text, nullptr, false);
  if (resource.is_discarded()) return 0;
  auto conversion = medtrail::fhir::convert(resource, {"fuzz-device"});
  if (!conversion.error.empty() && !conversion.items.empty()) __builtin_trap();
  const medtrail::ValidationLimits limits{1772352000000, 5 * 60 * 1000};
  for (const auto& item : conversion.items) {
    // Exactly one of: a reading, or the reason the resource was rejected.
    if (item.reading.is_object() == !item.rejection.empty()) __builtin_trap();
    if (item.reading.is_object()) {
      auto check = medtrail::validate_reading(item.reading, limits);
      if (check.reading.has_value() == !check.reason.empty()) __builtin_trap();
    }
  }
  return 0;
}
