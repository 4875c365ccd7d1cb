// RFC 8785: canonical text must parse back to the same value and be a fixed point, and
// jcs::ObjectWriter must agree with canonicalize on every object.
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
  // An object written member by member (as the record envelope is) gives the same text.
  if (parsed.is_object()) {
    medtrail::jcs::ObjectWriter writer;
    for (const auto& [key, value] : parsed.items()) writer.value(key, value);
    if (writer.finish() != canonical) __builtin_trap();
  }
  return 0;
}
