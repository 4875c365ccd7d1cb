// Validation of incoming readings (PRODUCT.md "Input readings"). A reading is rejected with a
// reason, never coerced: unknown fields, wrong JSON types, non-UCUM units, implausible values.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace medtrail {

struct ValidationLimits {
  std::int64_t now_ms = 0;           // reference "now" for the future-skew check
  std::int64_t max_future_skew_ms = 5 * 60 * 1000;
};

struct ValidReading {
  std::string device;
  std::string type;
  std::int64_t time_ms = 0;
  std::optional<std::string> subject;
  std::vector<std::string> derived_from;  // as given: ids or id prefixes, resolved by the ledger
  std::optional<std::string> payload_file;
  std::optional<std::string> signature;   // base64 Ed25519 by the device over the reading sans "sig"
  // The reading's id in the system it came from (FHIR: "Observation/<id>"), so later input can
  // name it as a derivation source (trace index `source_refs`).
  std::optional<std::string> source_ref;
  // What trace indexes (lib/trace): the tracked asset, a position, a proximity peer.
  std::optional<std::string> asset;
  std::optional<double> lat, lon;
  std::optional<std::string> peer;
  std::optional<double> distance_m;
};

// Result: the valid reading, or the reason it was rejected.
struct ReadingCheck {
  std::optional<ValidReading> reading;
  std::string reason;
};

ReadingCheck validate_reading(const nlohmann::json& reading, const ValidationLimits& limits);

// The reading types medtrail knows, with their LOINC code where one exists (for docs and help).
struct ReadingTypeInfo {
  const char* type;
  const char* loinc;
  const char* units;
};
const std::vector<ReadingTypeInfo>& reading_types();

}  // namespace medtrail
