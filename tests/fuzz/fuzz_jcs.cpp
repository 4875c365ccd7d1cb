// RFC 8785: canonical text must parse back to the same value and be a fixed point.
#include <cstdint>
#include <string>

#include "error.hpp"
#include "jcs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = nlohmann::json::parse(data, data + size, nullptr, false);
  if (parsed.is_discarded()) return 0;
  std::string canonical;
  try {
    canonical = medtrail::jcs::canonicalize(parsed);
  } catch (const medtrail::Error&) {
    return 0;  // NaN, integers beyond 2^53, invalid UTF-8: refused, not mangled
  }
  auto again = nlohmann::json::parse(canonical, nullptr, false);
  if (again.is_discarded()) __builtin_trap();
  if (medtrail::jcs::canonicalize(again) != canonical) __builtin_trap();
  return 0;
}
