#include <catch2/catch.hpp>
#include <string>

#include "stored_reading.hpp"

using namespace medtrail;

namespace {
// 2026-03-01T08:00:00.001Z
constexpr std::int64_t kTimeMs = 1772352000001;
const EnvelopeMembers kEnvelope{"wb-0134", "heart_rate", kTimeMs};

void check_round_trip(const std::string& canonical, const EnvelopeMembers& envelope, int want_elided,
                      const std::string& want_stored) {
  auto stored = elide_envelope_members(canonical, envelope);
  CHECK(stored.elided == want_elided);
  CHECK(stored.text == want_stored);
  CHECK(restore_envelope_members(stored.text, stored.elided, envelope) == canonical);
}
}  // namespace

TEST_CASE("a reading is stored without its envelope's device, type and time and put back byte for byte",
          "[stored_reading]") {
  check_round_trip(
      R"({"device":"wb-0134","seq":2,"subject":"patient-0134","time":"2026-03-01T08:00:00.001Z","type":"heart_rate","unit":"/min","value":91})",
      kEnvelope, kElidedDevice | kElidedTime | kElidedType | kElidedUnit,
      R"({"seq":2,"subject":"patient-0134","value":91})");
  // Put back between members that sort just before and after each of them.
  check_round_trip(
      R"({"a":1,"device":"wb-0134","devices":[1,{"x":"}"}],"ti":"\"","time":"2026-03-01T08:00:00.001Z","tx":null,"type":"heart_rate","u":{"device":"wb-0134"}})",
      kEnvelope, kElidedDevice | kElidedTime | kElidedType,
      R"({"a":1,"devices":[1,{"x":"}"}],"ti":"\"","tx":null,"u":{"device":"wb-0134"}})");
  // First and last members, and nothing else.
  check_round_trip(R"({"device":"wb-0134","type":"heart_rate"})", kEnvelope, kElidedDevice | kElidedType, "{}");
  // Names written with escapes sort by what they stand for: "de\"" is before "device".
  check_round_trip(R"({"de\"":1,"device":"wb-0134","t\\":2,"time":"2026-03-01T08:00:00.001Z"})", kEnvelope,
                   kElidedDevice | kElidedTime, R"({"de\"":1,"t\\":2})");
  // The empty name sorts first; names sharing the cut names' first letters.
  check_round_trip(
      R"({"":0,"d":1,"device":"wb-0134","e":2,"t":3,"time":"2026-03-01T08:00:00.001Z","type":"heart_rate"})", kEnvelope,
      kElidedDevice | kElidedTime | kElidedType, R"({"":0,"d":1,"e":2,"t":3})");
  // Names beyond ASCII sort after every ASCII name.
  check_round_trip(R"({"device":"wb-0134","type":"heart_rate","é":1})", kEnvelope, kElidedDevice | kElidedType,
                   R"({"é":1})");
}

TEST_CASE("a unit is cut when it is its type's usual one, and put back in its place", "[stored_reading]") {
  const EnvelopeMembers temperature{"wb-1", "body_temperature", 1772352000000};
  check_round_trip(R"({"unit":"Cel","value":36.6})", temperature, kElidedUnit, R"({"value":36.6})");
  // Another unit the type accepts is kept.
  check_round_trip(R"({"unit":"[degF]","value":97.9})", temperature, 0, R"({"unit":"[degF]","value":97.9})");
  // Between names sharing its first letter, and after the type.
  check_round_trip(R"({"type":"body_temperature","u":1,"unit":"Cel","unita":2,"v":3})", temperature,
                   kElidedType | kElidedUnit, R"({"u":1,"unita":2,"v":3})");
  // A type with no usual unit, and an envelope with no type: nothing to put back.
  check_round_trip(R"({"unit":"Cel"})", {"wb-1", "location", std::nullopt}, 0, R"({"unit":"Cel"})");
  check_round_trip(R"({"unit":"Cel"})", {"wb-1", std::nullopt, std::nullopt}, 0, R"({"unit":"Cel"})");
  CHECK(restore_envelope_members(R"({"value":1})", kElidedUnit, {"wb-1", "location", std::nullopt}) == std::nullopt);
  // Cut, yet stored too.
  CHECK(restore_envelope_members(R"({"unit":"Cel"})", kElidedUnit, temperature) == std::nullopt);
  for (const char* type : {"blood_pressure", "body_temperature", "glucose", "heart_rate", "respiratory_rate", "spo2"})
    CHECK(usual_unit_of(type));
  CHECK(usual_unit_of("heart_rate") == std::string_view("/min"));
  CHECK_FALSE(usual_unit_of("heart_rat"));
}

TEST_CASE("a time written to the second is cut and put back to the second", "[stored_reading]") {
  const EnvelopeMembers whole_second{"wb-1", "spo2", 1772352000000};
  check_round_trip(R"({"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"spo2","value":98})", whole_second,
                   kElidedDevice | kElidedTimeToTheSecond | kElidedType, R"({"value":98})");
  check_round_trip(R"({"device":"wb-1","time":"2026-03-01T08:00:00.000Z","type":"spo2","value":98})", whole_second,
                   kElidedDevice | kElidedTime | kElidedType, R"({"value":98})");
  // Not a whole second: only the millisecond form matches.
  check_round_trip(R"({"time":"2026-03-01T08:00:00Z"})", kEnvelope, 0, R"({"time":"2026-03-01T08:00:00Z"})");
}

TEST_CASE("members that differ from the envelope, or text that is not a canonical object, are stored whole",
          "[stored_reading]") {
  // Another device, an offset time, a type the envelope lacks.
  check_round_trip(R"({"device":"wb-9","time":"2026-03-01T09:00:00.001+01:00","type":"heart_rate"})", kEnvelope,
                   kElidedType, R"({"device":"wb-9","time":"2026-03-01T09:00:00.001+01:00"})");
  check_round_trip(R"({"device":"wb-0134","type":"spo2"})", {"wb-0134", std::nullopt, std::nullopt}, kElidedDevice,
                   R"({"type":"spo2"})");
  // A value that needs escaping is never cut.
  check_round_trip(R"({"device":"a\"b"})", {"a\"b", std::nullopt, std::nullopt}, 0, R"({"device":"a\"b"})");
  for (std::string text : {"", "{", "}", "[]", R"({"device":"wb-0134")", R"({"device":"wb-0134",})",
                           R"({"device":"wb-0134"}x)", R"({"device" :"wb-0134"})", R"({"x":"unterminated})", "{}"})
    check_round_trip(text, kEnvelope, 0, text);
}

TEST_CASE("a stored reading that cannot be put together is refused", "[stored_reading]") {
  const std::string stored = R"({"seq":2,"value":91})";
  CHECK(restore_envelope_members(stored, 0, kEnvelope) == stored);
  CHECK(restore_envelope_members(stored, kElidedAll + 1, kEnvelope) == std::nullopt);
  CHECK(restore_envelope_members(stored, -1, kEnvelope) == std::nullopt);
  CHECK(restore_envelope_members(stored, std::int64_t(1) << 32 | kElidedDevice, kEnvelope) == std::nullopt);
  CHECK(restore_envelope_members(stored, kElidedTime | kElidedTimeToTheSecond, kEnvelope) == std::nullopt);
  // The envelope lacks what should be put back; a whole-second form of a time with milliseconds.
  CHECK(restore_envelope_members(stored, kElidedType, {"wb-0134", std::nullopt, kTimeMs}) == std::nullopt);
  CHECK(restore_envelope_members(stored, kElidedTimeToTheSecond, kEnvelope) == std::nullopt);
  // A member both cut and stored.
  CHECK(restore_envelope_members(R"({"device":"wb-0134","seq":2})", kElidedDevice, kEnvelope) == std::nullopt);
  CHECK(restore_envelope_members(R"({"device":"wb-9","seq":2})", kElidedDevice, kEnvelope) == std::nullopt);
  for (std::string text : {"", "x", "{", R"({"seq":2,})", R"({"seq":})", R"({"seq":2}})", R"(["seq",2])"})
    CHECK(restore_envelope_members(text, kElidedDevice, kEnvelope) == std::nullopt);
}
