// How a clear reading is stored (lib/stored_reading.hpp), both ways. Stored text and its
// elided flags come from the ledger file, which a hostile writer may have chosen: putting a
// reading back must answer or refuse, never crash. And for any canonical object, cutting the
// members its envelope holds must give the canonical text of the object without them, and
// putting them back the very same text (the unit only when it is the type's usual one).
//
// Input: [elided flags byte][text]. The envelope is the text's own device, type and time
// when it is a canonical object holding them as strings, else a fixed one.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"
#include "jcs.hpp"
#include "stored_reading.hpp"
#include "timefmt.hpp"

namespace {
std::optional<std::string> string_member(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::int64_t flags = static_cast<std::int8_t>(data[0]);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string device = "wb-0134", type = "heart_rate";
  medtrail::EnvelopeMembers envelope{device, type, std::int64_t(1772352000000)};
  (void)medtrail::restore_envelope_members(text, flags, envelope);

  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return 0;
  std::string canonical;
  try {
    canonical = medtrail::jcs::canonicalize(parsed);
  } catch (const medtrail::Error&) {
    return 0;
  }
  if (canonical != text) return 0;
  if (auto d = string_member(parsed, "device")) device = *d;
  if (auto t = string_member(parsed, "type")) type = *t;
  if (auto time = string_member(parsed, "time"))
    if (auto ms = medtrail::parse_rfc3339_ms(*time)) envelope.time_ms = *ms;
  envelope.device = device;
  envelope.type = type;

  auto stored = medtrail::elide_envelope_members(canonical, envelope);
  if (medtrail::restore_envelope_members(stored.text, stored.elided, envelope) != canonical) __builtin_trap();
  if (stored.elided == 0) {
    if (stored.text != canonical) __builtin_trap();
    return 0;
  }
  auto without = parsed;
  if (stored.elided & medtrail::kElidedDevice) without.erase("device");
  if (stored.elided & medtrail::kElidedType) without.erase("type");
  if (stored.elided & (medtrail::kElidedTime | medtrail::kElidedTimeToTheSecond)) without.erase("time");
  if (stored.elided & medtrail::kElidedUnit) {
    // Only the type's usual unit is ever cut.
    if (string_member(parsed, "unit") != medtrail::usual_unit_of(type)) __builtin_trap();
    without.erase("unit");
  }
  if (medtrail::jcs::canonicalize(without) != stored.text) __builtin_trap();
  return 0;
}
