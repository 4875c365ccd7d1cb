#include "policy.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "keys.hpp"
#include "timefmt.hpp"

namespace medtrail::policy {
namespace {

using nlohmann::json;

// A validation problem at a JSON pointer; the YAML front end turns the pointer into a line.
struct Problem {
  std::string pointer;
  std::string message;
};

std::string escape_pointer(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

// Numeric reading fields a threshold may compare, with the units they come in (FORMATS.md).
struct ThresholdField {
  const char* type;
  const char* field;
  std::vector<const char*> units;  // empty: the field has no unit member (metres)
};
const std::vector<ThresholdField>& threshold_fields() {
  static const std::vector<ThresholdField> kFields = {
      {"body_temperature", "value", {"Cel", "[degF]"}},
      {"heart_rate", "value", {"/min"}},
      {"spo2", "value", {"%"}},
      {"respiratory_rate", "value", {"/min"}},
      {"glucose", "value", {"mg/dL", "mmol/L"}},
      {"blood_pressure", "systolic", {"mm[Hg]"}},
      {"blood_pressure", "diastolic", {"mm[Hg]"}},
      {"proximity", "distance_m", {}},
      {"location", "accuracy_m", {}},
  };
  return kFields;
}

// Which members each kind accepts beyond name, kind, severity and description.
const std::map<std::string, std::set<std::string>>& kind_members() {
  static const std::map<std::string, std::set<std::string>> kMembers = {
      {"threshold", {"type", "field", "op", "value", "unit", "for"}},
      {"geofence", {"devices", "center", "radius_m", "from", "until"}},
      {"proximity", {"distance_m", "for"}},
      {"silence", {"after", "devices"}},
      {"gap", {"devices"}},
      {"sterilization", {"within", "assets"}},
      {"malfunction", {"assets"}},
      {"integrity", {}},
      {"access", {"max_reads", "within"}},
  };
  return kMembers;
}

class Validator {
 public:
  [[noreturn]] static void fail(const std::string& pointer, const std::string& message) {
    throw Problem{pointer, message};
  }

  static const json& member(const json& object, const std::string& pointer, const std::string& key) {
    auto it = object.find(key);
    if (it == object.end()) fail(pointer, "missing \"" + key + "\"");
    return *it;
  }

  static std::string string(const json& v, const std::string& pointer, const std::string& what) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) fail(pointer, what + " must be a non-empty string");
    return v.get<std::string>();
  }

  static double number(const json& v, const std::string& pointer, const std::string& what) {
    if (!v.is_number()) fail(pointer, what + " must be a number");
    double d = v.get<double>();
    if (!std::isfinite(d)) fail(pointer, what + " must be finite");
    return d;
  }

  static std::int64_t duration(const json& v, const std::string& pointer, const std::string& what) {
    std::optional<std::int64_t> ms;
    if (v.is_string()) ms = parse_duration_ms(v.get_ref<const std::string&>());
    else if (v.is_number_unsigned()) ms = static_cast<std::int64_t>(v.get<std::uint64_t>()) * 1000;
    if (!ms || *ms < 0) fail(pointer, what + " must be a duration such as \"90s\", \"5m\", \"2h\" or \"7d\"");
    return *ms;
  }

  static std::int64_t instant(const json& v, const std::string& pointer, const std::string& what) {
    auto ms = v.is_string() ? parse_rfc3339_ms(v.get_ref<const std::string&>()) : std::nullopt;
    if (!ms) fail(pointer, what + " must be an RFC 3339 time such as 2026-03-01T08:00:00Z");
    return *ms;
  }

  static std::vector<std::string> strings(const json& v, const std::string& pointer, const std::string& what) {
    if (!v.is_array() || v.empty()) fail(pointer, what + " must be a non-empty list of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], pointer + "/" + std::to_string(i), what + " entries"));
    return out;
  }

  static Rule rule(const json& r, const std::string& p) {
    if (!r.is_object()) fail(p, "a rule must be a mapping with name, kind and severity");
    Rule rule;
    rule.name = string(member(r, p, "name"), p + "/name", "\"name\"");
    if (!is_valid_name(rule.name)) fail(p + "/name", "rule name \"" + rule.name + "\" must be 1-64 letters, digits, '.', '_' or '-'");
    rule.kind = string(member(r, p, "kind"), p + "/kind", "\"kind\"");
    auto kinds = kind_members().find(rule.kind);
    if (kinds == kind_members().end())
      fail(p + "/kind", "unknown rule kind \"" + rule.kind +
                            "\" (threshold, geofence, proximity, silence, gap, sterilization, malfunction, integrity)");
    auto severity = parse_severity(string(member(r, p, "severity"), p + "/severity", "\"severity\""));
    if (!severity) fail(p + "/severity", "severity must be info, warning or critical");
    rule.severity = *severity;
    for (const auto& [key, value] : r.items()) {
      if (key == "name" || key == "kind" || key == "severity" || key == "description") continue;
      if (!kinds->second.count(key)) fail(p + "/" + escape_pointer(key), "unknown field \"" + key + "\" for a " + rule.kind + " rule");
    }
    if (r.contains("description")) rule.description = string(r["description"], p + "/description", "\"description\"");
    auto has = [&](const char* key) { return r.contains(key); };
    if (has("devices")) rule.devices = strings(r["devices"], p + "/devices", "\"devices\"");
    if (has("assets")) rule.assets = strings(r["assets"], p + "/assets", "\"assets\"");
    if (has("for")) rule.for_ms = duration(r["for"], p + "/for", "\"for\"");

    if (rule.kind == "threshold") {
      rule.type = string(member(r, p, "type"), p + "/type", "\"type\"");
      rule.field = has("field") ? string(r["field"], p + "/field", "\"field\"") : "value";
      const ThresholdField* spec = nullptr;
      bool type_known = false;
      for (const auto& f : threshold_fields()) {
        type_known |= rule.type == f.type;
        if (rule.type == f.type && rule.field == f.field) spec = &f;
      }
      if (!type_known) fail(p + "/type", "a threshold needs a numeric reading type, not \"" + rule.type + "\"");
      if (!spec) fail(p + "/field", "readings of type " + rule.type + " have no numeric field \"" + rule.field + "\"");
      rule.op = string(member(r, p, "op"), p + "/op", "\"op\"");
      if (rule.op != "<" && rule.op != "<=" && rule.op != ">" && rule.op != ">=")
        fail(p + "/op", "op must be one of <, <=, >, >=");
      rule.value = number(member(r, p, "value"), p + "/value", "\"value\"");
      if (spec->units.empty()) {
        if (has("unit")) {
          rule.unit = string(r["unit"], p + "/unit", "\"unit\"");
          if (rule.unit != "m") fail(p + "/unit", rule.field + " is in metres: unit must be \"m\" or left out");
        }
      } else {
        rule.unit = string(member(r, p, "unit"), p + "/unit", "\"unit\"");
        bool ok = false;
        std::string allowed;
        for (const char* u : spec->units) {
          ok |= rule.unit == u;
          allowed += std::string(allowed.empty() ? "" : ", ") + u;
        }
        if (!ok) fail(p + "/unit", rule.type + " comes in " + allowed + ", not \"" + rule.unit + "\" (UCUM)");
      }
    } else if (rule.kind == "geofence") {
      rule.devices = strings(member(r, p, "devices"), p + "/devices", "\"devices\"");
      const json& c = member(r, p, "center");
      if (!c.is_object()) fail(p + "/center", "\"center\" must be a mapping with lat and lon");
      for (const auto& [key, value] : c.items())
        if (key != "lat" && key != "lon") fail(p + "/center/" + escape_pointer(key), "unknown field \"" + key + "\" in center");
      rule.lat = number(member(c, p + "/center", "lat"), p + "/center/lat", "\"lat\"");
      rule.lon = number(member(c, p + "/center", "lon"), p + "/center/lon", "\"lon\"");
      if (rule.lat < -90 || rule.lat > 90) fail(p + "/center/lat", "lat must be within -90..90");
      if (rule.lon < -180 || rule.lon > 180) fail(p + "/center/lon", "lon must be within -180..180");
      rule.radius_m = number(member(r, p, "radius_m"), p + "/radius_m", "\"radius_m\"");
      if (rule.radius_m <= 0) fail(p + "/radius_m", "radius_m must be positive");
      if (has("from")) rule.from_ms = instant(r["from"], p + "/from", "\"from\"");
      if (has("until")) rule.until_ms = instant(r["until"], p + "/until", "\"until\"");
      if (rule.from_ms && rule.until_ms && *rule.until_ms <= *rule.from_ms) fail(p + "/until", "\"until\" must be after \"from\"");
    } else if (rule.kind == "proximity") {
      if (has("distance_m")) rule.distance_m = number(r["distance_m"], p + "/distance_m", "\"distance_m\"");
      if (rule.distance_m <= 0) fail(p + "/distance_m", "distance_m must be positive");
    } else if (rule.kind == "silence") {
      rule.after_ms = duration(member(r, p, "after"), p + "/after", "\"after\"");
      if (rule.after_ms <= 0) fail(p + "/after", "\"after\" must be longer than 0s");
    } else if (rule.kind == "access") {
      if (has("max_reads")) {
        double n = number(r["max_reads"], p + "/max_reads", "\"max_reads\"");
        if (n < 1 || n > 1e12 || n != static_cast<double>(static_cast<std::uint64_t>(n)))
          fail(p + "/max_reads", "max_reads must be a whole number of records, at least 1");
        rule.max_reads = static_cast<std::uint64_t>(n);
        rule.within_ms = has("within") ? duration(r["within"], p + "/within", "\"within\"") : 3600000;
        if (rule.within_ms <= 0) fail(p + "/within", "\"within\" must be longer than 0s");
      } else if (has("within")) {
        fail(p + "/within", "\"within\" is the window of max_reads; give max_reads too");
      }
    } else if (rule.kind == "sterilization") {
      rule.within_ms = duration(member(r, p, "within"), p + "/within", "\"within\"");
      if (rule.within_ms <= 0) fail(p + "/within", "\"within\" must be longer than 0s");
    }
    return rule;
  }

  static Policy policy(const json& v) {
    if (!v.is_object()) fail("", "a policy must be a mapping with name and rules");
    Policy policy;
    for (const auto& [key, value] : v.items())
      if (key != "name" && key != "description" && key != "rules") fail("/" + escape_pointer(key), "unknown field \"" + key + "\" (a policy has name, description, rules)");
    policy.name = string(member(v, "", "name"), "/name", "\"name\"");
    if (!is_valid_name(policy.name)) fail("/name", "policy name \"" + policy.name + "\" must be 1-64 letters, digits, '.', '_' or '-'");
    if (v.contains("description")) policy.description = string(v["description"], "/description", "\"description\"");
    const json& rules = member(v, "", "rules");
    if (!rules.is_array() || rules.empty()) fail("/rules", "\"rules\" must be a non-empty list");
    std::set<std::string> names;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      std::string p = "/rules/" + std::to_string(i);
      Rule r = rule(rules[i], p);
      if (!names.insert(r.name).second) fail(p + "/name", "two rules are named \"" + r.name + "\"");
      policy.rules.push_back(std::move(r));
    }
    return policy;
  }
};

// YAML to JSON, remembering where each JSON pointer came from for error messages.
class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  json convert(const YAML::Node& node, const std::string& pointer) {
    marks_[pointer] = node.Mark();
    switch (node.Type()) {
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        json out = json::array();
        std::size_t i = 0;
        for (const auto& item : node) out.push_back(convert(item, pointer + "/" + std::to_string(i++)));
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& item : node) {
          if (!item.first.IsScalar()) throw at(item.first.Mark(), "mapping keys must be plain strings");
          std::string key = item.first.Scalar();
          if (out.contains(key)) throw at(item.first.Mark(), "duplicate key \"" + key + "\"");
          std::string p = pointer + "/" + escape_pointer(key);
          out[key] = convert(item.second, p);
          marks_[p] = item.first.Mark();  // a problem with a member is reported at its key
        }
        return out;
      }
      default:
        throw at(node.Mark(), "unsupported YAML node");
    }
  }

  Error at(const YAML::Mark& mark, const std::string& message) const {
    if (mark.is_null()) return Error(ExitCode::input_rejected, source_ + ": " + message);
    return Error(ExitCode::input_rejected, source_ + ":" + std::to_string(mark.line + 1) + ":" +
                                               std::to_string(mark.column + 1) + ": " + message);
  }

  // The closest recorded position at or above `pointer`.
  Error at_pointer(std::string pointer, const std::string& message) const {
    while (true) {
      auto it = marks_.find(pointer);
      if (it != marks_.end()) return at(it->second, message);
      auto slash = pointer.find_last_of('/');
      if (slash == std::string::npos) return at(YAML::Mark::null_mark(), message);
      pointer.resize(slash);
    }
  }

 private:
  // Plain scalars are typed as YAML 1.2's core schema types them; quoted ones stay strings.
  static json scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
    bool integer = !s.empty();
    for (std::size_t i = 0; i < s.size(); ++i)
      integer &= (s[i] >= '0' && s[i] <= '9') || (i == 0 && (s[i] == '-' || s[i] == '+') && s.size() > 1);
    if (integer && s.size() <= 15) return std::stoll(s);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    bool numeric = !s.empty() && end == s.c_str() + s.size() && std::isfinite(d) &&
                   s.find_first_of("xXpP") == std::string::npos && s.find_first_not_of("+-.0123456789eE") == std::string::npos;
    if (numeric) return d;
    return s;
  }

  std::string source_;
  std::map<std::string, YAML::Mark> marks_;
};

}  // namespace

std::optional<Severity> parse_severity(std::string_view text) {
  if (text == "info") return Severity::info;
  if (text == "warning") return Severity::warning;
  if (text == "critical") return Severity::critical;
  return std::nullopt;
}

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "critical";
}

std::string format_duration(std::int64_t ms) {
  struct Unit {
    std::int64_t ms;
    char suffix;
  };
  for (Unit u : {Unit{86'400'000, 'd'}, Unit{3'600'000, 'h'}, Unit{60'000, 'm'}})
    if (ms > 0 && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  return std::to_string(ms / 1000) + "s";
}

bool Rule::compare(double reading) const {
  if (op == "<") return reading < value;
  if (op == "<=") return reading <= value;
  if (op == ">") return reading > value;
  return reading >= value;
}

json Rule::to_json() const {
  json j = {{"name", name}, {"kind", kind}, {"severity", severity_name(severity)}};
  if (!description.empty()) j["description"] = description;
  if (!devices.empty()) j["devices"] = devices;
  if (!assets.empty()) j["assets"] = assets;
  if (kind == "threshold") {
    j["type"] = type;
    j["field"] = field;
    j["op"] = op;
    j["value"] = value;
    if (!unit.empty()) j["unit"] = unit;
    if (for_ms > 0) j["for"] = format_duration(for_ms);
  } else if (kind == "geofence") {
    j["center"] = {{"lat", lat}, {"lon", lon}};
    j["radius_m"] = radius_m;
    if (from_ms) j["from"] = format_rfc3339_ms(*from_ms);
    if (until_ms) j["until"] = format_rfc3339_ms(*until_ms);
  } else if (kind == "proximity") {
    j["distance_m"] = distance_m;
    if (for_ms > 0) j["for"] = format_duration(for_ms);
  } else if (kind == "silence") {
    j["after"] = format_duration(after_ms);
  } else if (kind == "access") {
    if (max_reads > 0) {
      j["max_reads"] = max_reads;
      j["within"] = format_duration(within_ms);
    }
  } else if (kind == "sterilization") {
    j["within"] = format_duration(within_ms);
  }
  return j;
}

json Policy::to_json() const {
  json rules_json = json::array();
  for (const auto& r : rules) rules_json.push_back(r.to_json());
  json j = {{"name", name}, {"rules", rules_json}};
  if (!description.empty()) j["description"] = description;
  return j;
}

std::string Policy::canonical() const { return jcs::canonicalize(to_json()); }

Hash Policy::sha256() const { return crypto::sha256(canonical()); }

Policy from_json(const json& value) {
  try {
    return Validator::policy(value);
  } catch (const Problem& p) {
    throw Error(ExitCode::input_rejected, "policy" + (p.pointer.empty() ? std::string() : " at " + p.pointer) + ": " + p.message);
  }
}

Policy parse_yaml(std::string_view text, const std::string& source) {
  YamlReader reader(source);
  json converted;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) throw reader.at(YAML::Mark::null_mark(), "the policy file is empty");
    converted = reader.convert(root, "");
  } catch (const YAML::Exception& e) {
    throw reader.at(e.mark, e.msg);
  }
  try {
    Policy p = Validator::policy(converted);
    p.canonical();  // numbers must survive canonical JSON (no integer beyond 2^53)
    return p;
  } catch (const Problem& p) {
    throw reader.at_pointer(p.pointer, p.message);
  }
}

Policy load_yaml_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(ExitCode::not_found, "cannot open policy file " + path);
  std::string text;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > (1u << 20)) {
      std::fclose(f);
      throw Error(ExitCode::input_rejected, path + ": a policy file is at most 1 MiB");
    }
  }
  std::fclose(f);
  return parse_yaml(text, path);
}

}  // namespace medtrail::policy
