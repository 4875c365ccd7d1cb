// Policies ("contracts"): YAML files of rules that watch the data. A policy is validated into
// typed rules and has one canonical JSON form (RFC 8785), which is what the ledger records and
// what the policy root of every block commits to. The same validator reads the YAML (for
// `policy add` and `audit --policy`) and the canonical JSON back from the ledger, so a rule
// means the same thing on both paths.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encoding.hpp"

namespace medtrail::policy {

enum class Severity { info = 0, warning = 1, critical = 2 };
std::optional<Severity> parse_severity(std::string_view text);
const char* severity_name(Severity s);

// The rule kinds of issue 4, each with its own members (see docs/FORMATS.md, "Policies").
struct Rule {
  std::string name;
  std::string kind;  // threshold | geofence | proximity | silence | gap | sterilization | malfunction | integrity | access
  Severity severity = Severity::warning;
  std::string description;
  std::vector<std::string> devices;  // geofence (required), silence, gap (optional filter)
  // threshold
  std::string type, field, op, unit;
  double value = 0;
  std::int64_t for_ms = 0;  // threshold: sustained at least; proximity: contact at least
  // geofence
  double lat = 0, lon = 0, radius_m = 0;
  std::optional<std::int64_t> from_ms, until_ms;
  // proximity
  double distance_m = 1.8;
  // silence: longer than; sterilization: a passing cycle at most this long before use
  std::int64_t after_ms = 0;
  std::int64_t within_ms = 0;
  std::vector<std::string> assets;  // sterilization, malfunction: asset name prefixes (optional)
  // access: more than max_reads records read by one reader within within_ms (0: no volume check)
  std::uint64_t max_reads = 0;

  bool compare(double reading) const;  // threshold: `reading op value`
  nlohmann::json to_json() const;      // canonical member set, durations as "5m", times RFC 3339
};

struct Policy {
  std::string name;
  std::string description;
  std::vector<Rule> rules;
  nlohmann::json to_json() const;
  std::string canonical() const;  // JCS(to_json())
  Hash sha256() const;            // SHA-256 of canonical()
};

// Parses and validates YAML. Errors throw Error(input_rejected) as "SOURCE:LINE:COLUMN: why".
Policy parse_yaml(std::string_view text, const std::string& source);
// Reads and parses a YAML file (Error(not_found) when it cannot be opened).
Policy load_yaml_file(const std::string& path);
// Validates a JSON policy (the canonical form kept on the ledger). Errors throw
// Error(input_rejected) naming the JSON pointer of the offending member.
Policy from_json(const nlohmann::json& value);

// "5m", "2h", "90s": the largest unit that divides the duration exactly.
std::string format_duration(std::int64_t ms);

}  // namespace medtrail::policy
