#include "reading.hpp"

#include <cmath>
#include <functional>
#include <set>

#include "keys.hpp"
#include "timefmt.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

// A numeric field with its plausible range per unit.
struct UnitRange {
  const char* unit;
  double min;
  double max;
};

struct NumberField {
  const char* name;
  double min;
  double max;
  bool required;
};

struct TypeRule {
  const char* type;
  const char* loinc;
  std::vector<UnitRange> value_units;  // empty: no "value"/"unit" pair
  std::vector<NumberField> numbers;    // other numeric fields
  std::vector<std::pair<const char*, std::vector<const char*>>> enums;  // field -> allowed
  std::vector<const char*> required_strings;
  std::vector<const char*> optional_strings;
  bool subject_required = false;
};

const std::vector<TypeRule>& rules() {
  static const std::vector<TypeRule> kRules = {
      {"body_temperature", "8310-5", {{"Cel", 25.0, 45.0}, {"[degF]", 77.0, 113.0}}, {}, {}, {}, {}},
      {"heart_rate", "8867-4", {{"/min", 20, 300}}, {}, {}, {}, {}},
      {"spo2", "59408-5", {{"%", 40, 100}}, {}, {}, {}, {}},
      {"respiratory_rate", "9279-1", {{"/min", 2, 80}}, {}, {}, {}, {}},
      {"blood_pressure", "85354-9", {},
       {{"systolic", 40, 300, true}, {"diastolic", 20, 200, true}, {"mean", 20, 250, false}},
       {{"unit", {"mm[Hg]"}}}, {}, {}},
      {"glucose", "2339-0", {{"mg/dL", 10, 1000}, {"mmol/L", 0.5, 55}}, {}, {}, {}, {}},
      {"location", "", {}, {{"lat", -90, 90, true}, {"lon", -180, 180, true}, {"accuracy_m", 0, 10000, false}},
       {}, {}, {}},
      {"proximity", "", {}, {{"distance_m", 0, 1000, true}}, {}, {"peer"}, {}},
      {"pcr_test", "94500-6", {}, {}, {{"result", {"positive", "negative", "inconclusive"}}}, {}, {}, true},
      {"sterilization", "", {}, {}, {{"result", {"pass", "fail"}}}, {"asset", "cycle"}, {}},
      {"asset_status", "", {}, {{"lat", -90, 90, false}, {"lon", -180, 180, false}},
       {{"status", {"available", "in_use", "cleaning", "maintenance", "fault"}}}, {"asset"}, {"location"}},
      {"malfunction", "", {}, {}, {}, {"code"}, {"asset", "message"}},
      {"report", "", {}, {}, {}, {}, {"title", "payload_file"}},
      // A coded measurement medtrail has no type for (from FHIR): its members are checked by
      // check_observation below.
      {"observation", "", {}, {}, {}, {}, {}},
  };
  return kRules;
}

// Fields every reading may carry, whatever its type.
const std::set<std::string>& common_fields() {
  static const std::set<std::string> kFields = {"device", "time", "type", "subject", "seq",
                                                "sig", "derived_from", "source_ref"};
  return kFields;
}

bool is_short_text(const json& v, std::size_t max = 256) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > max) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

std::string describe_range(double min, double max) {
  auto fmt = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return std::string(buf);
  };
  return fmt(min) + ".." + fmt(max);
}

// A list of codings: [{"system", "code", "display"?}, ...], 1 to 16 of them.
std::string check_codings(const json& v, const std::string& name) {
  if (!v.is_array() || v.empty() || v.size() > 16)
    return "\"" + name + "\" must be an array of 1-16 codings {\"system\", \"code\", \"display\"}";
  for (const auto& coding : v) {
    if (!coding.is_object()) return "\"" + name + "\" entries must be objects";
    for (const auto& [key, value] : coding.items()) {
      if (key != "system" && key != "code" && key != "display")
        return "\"" + name + "\" coding member \"" + key + "\" is not system, code or display";
      if (!is_short_text(value, key == "display" ? 1024 : 256))
        return "\"" + name + "\" coding member \"" + key + "\" must be a non-empty string";
    }
    if (!coding.contains("system") || !coding.contains("code"))
      return "\"" + name + "\" codings need a \"system\" and a \"code\"";
  }
  return "";
}

// The value members of a generic observation or of one of its components: at most one value
// (a number with an optional UCUM unit, codings, text, a boolean, a time) or the reason it is
// absent. Adds the members it accepts to `allowed`.
std::string check_observation_value(const json& obj, std::set<std::string>& allowed) {
  static const char* const kValues[] = {"value", "value_code", "value_text", "value_bool", "value_time", "data_absent"};
  int values = 0;
  for (const char* name : kValues) {
    allowed.insert(name);
    auto it = obj.find(name);
    if (it == obj.end()) continue;
    ++values;
    const std::string n = name;
    if (n == "value" && (!it->is_number() || !std::isfinite(it->get<double>()))) return "\"value\" must be a finite number";
    if (n == "value_code") {
      if (auto why = check_codings(*it, n); !why.empty()) return why;
    }
    if ((n == "value_text" && !is_short_text(*it, 1024)) || ((n == "value_time" || n == "data_absent") && !is_short_text(*it, 64)))
      return "\"" + n + "\" must be a non-empty string";
    if (n == "value_bool" && !it->is_boolean()) return "\"value_bool\" must be true or false";
  }
  if (values > 1) return "an observation carries at most one of value, value_code, value_text, value_bool, value_time, data_absent";
  allowed.insert("unit");
  if (auto unit = obj.find("unit"); unit != obj.end()) {
    if (!obj.contains("value")) return "\"unit\" needs a \"value\"";
    if (!is_short_text(*unit, 64)) return "\"unit\" must be a UCUM code";
  }
  return "";
}

std::string check_observation(const json& reading, std::set<std::string>& allowed) {
  allowed.insert("code");
  auto code = reading.find("code");
  if (code == reading.end()) return "missing field \"code\" (the observation's codings)";
  if (auto why = check_codings(*code, "code"); !why.empty()) return why;
  if (auto why = check_observation_value(reading, allowed); !why.empty()) return why;
  allowed.insert("components");
  if (auto components = reading.find("components"); components != reading.end()) {
    if (!components->is_array() || components->empty() || components->size() > 32)
      return "\"components\" must be an array of 1-32 objects";
    for (const auto& component : *components) {
      if (!component.is_object()) return "\"components\" entries must be objects";
      std::set<std::string> component_allowed = {"code"};
      if (!component.contains("code")) return "each component needs a \"code\"";
      if (auto why = check_codings(component["code"], "components.code"); !why.empty()) return why;
      if (auto why = check_observation_value(component, component_allowed); !why.empty()) return "component: " + why;
      for (const auto& [key, value] : component.items())
        if (!component_allowed.count(key)) return "unknown component member \"" + key + "\"";
    }
  }
  return "";
}

}  // namespace

const std::vector<ReadingTypeInfo>& reading_types() {
  static const std::vector<ReadingTypeInfo> kInfo = [] {
    std::vector<ReadingTypeInfo> out;
    for (const auto& r : rules()) {
      const char* units = r.value_units.empty() ? "" : r.value_units.front().unit;
      out.push_back({r.type, r.loinc, units});
    }
    return out;
  }();
  return kInfo;
}

ReadingCheck validate_reading(const json& reading, const ValidationLimits& limits) {
  auto reject = [](std::string reason) { return ReadingCheck{std::nullopt, std::move(reason)}; };
  if (!reading.is_object()) return reject("a reading must be a JSON object");

  ValidReading out;
  const auto device = reading.find("device");
  if (device == reading.end()) return reject("missing field \"device\"");
  if (!is_short_text(*device, 64) || !is_valid_name(device->get_ref<const std::string&>()))
    return reject("\"device\" must be a name of 1-64 letters, digits, '.', '_' or '-'");
  out.device = device->get<std::string>();

  const auto time = reading.find("time");
  if (time == reading.end()) return reject("missing field \"time\"");
  if (!time->is_string()) return reject("\"time\" must be an RFC 3339 string");
  auto ms = parse_rfc3339_ms(time->get_ref<const std::string&>());
  if (!ms) return reject("\"time\" is not a valid RFC 3339 date-time: " + time->get<std::string>());
  if (*ms > limits.now_ms + limits.max_future_skew_ms)
    return reject("\"time\" " + time->get<std::string>() + " is in the future beyond the allowed clock skew");
  if (*ms < 946684800000)  // 2000-01-01: older stamps are a device clock fault, not a reading
    return reject("\"time\" " + time->get<std::string>() + " is before 2000-01-01 (device clock not set?)");
  out.time_ms = *ms;

  const auto type = reading.find("type");
  if (type == reading.end()) return reject("missing field \"type\"");
  if (!type->is_string()) return reject("\"type\" must be a string");
  out.type = type->get<std::string>();
  const TypeRule* rule = nullptr;
  for (const auto& r : rules())
    if (out.type == r.type) rule = &r;
  if (!rule) return reject("unknown reading type \"" + out.type + "\"");

  if (auto subject = reading.find("subject"); subject != reading.end()) {
    if (!is_short_text(*subject, 128)) return reject("\"subject\" must be a non-empty string of at most 128 characters");
    out.subject = subject->get<std::string>();
  } else if (rule->subject_required) {
    return reject("a " + out.type + " reading needs a \"subject\"");
  }
  if (auto seq = reading.find("seq"); seq != reading.end()) {
    if (!seq->is_number_unsigned() && !(seq->is_number_integer() && seq->get<std::int64_t>() >= 0))
      return reject("\"seq\" must be a non-negative integer");
  }
  if (auto sig = reading.find("sig"); sig != reading.end()) {
    if (!sig->is_string()) return reject("\"sig\" must be a base64 string");
    out.signature = sig->get<std::string>();
  }
  if (auto ref = reading.find("source_ref"); ref != reading.end()) {
    if (!is_short_text(*ref, 256)) return reject("\"source_ref\" must be a non-empty string of at most 256 characters");
    out.source_ref = ref->get<std::string>();
  }
  if (auto links = reading.find("derived_from"); links != reading.end()) {
    if (!links->is_array() || links->empty() || links->size() > 256)
      return reject("\"derived_from\" must be a non-empty array of record ids");
    for (const auto& link : *links) {
      if (!link.is_string()) return reject("\"derived_from\" entries must be record id strings");
      const auto& id = link.get_ref<const std::string&>();
      if (id.size() < 8 || id.size() > 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
        return reject("\"derived_from\" entry \"" + id + "\" is not a record id (8-64 lowercase hex digits)");
      out.derived_from.push_back(id);
    }
  } else if (out.type == "report") {
    return reject("a report needs \"derived_from\": the ids of the records it was derived from");
  }

  std::set<std::string> allowed;
  auto check_number = [&](const char* name, double min, double max, bool required) -> std::string {
    allowed.insert(name);
    auto it = reading.find(name);
    if (it == reading.end()) return required ? "missing field \"" + std::string(name) + "\"" : "";
    if (!it->is_number()) return "\"" + std::string(name) + "\" must be a number";
    double v = it->get<double>();
    if (!std::isfinite(v)) return "\"" + std::string(name) + "\" must be finite";
    if (v < min || v > max)
      return "\"" + std::string(name) + "\" " + it->dump() + " is outside the plausible range " + describe_range(min, max);
    return "";
  };

  if (!rule->value_units.empty()) {
    allowed.insert("unit");
    auto unit = reading.find("unit");
    if (unit == reading.end()) return reject("missing field \"unit\"");
    const UnitRange* range = nullptr;
    for (const auto& u : rule->value_units)
      if (unit->is_string() && unit->get_ref<const std::string&>() == u.unit) range = &u;
    if (!range) {
      std::string expected;
      for (const auto& u : rule->value_units) expected += std::string(expected.empty() ? "" : " or ") + "\"" + u.unit + "\"";
      return reject("\"unit\" " + unit->dump() + " is not a UCUM unit for " + out.type + " (expected " + expected + ")");
    }
    if (auto why = check_number("value", range->min, range->max, true); !why.empty()) return reject(why);
  }
  for (const auto& n : rule->numbers)
    if (auto why = check_number(n.name, n.min, n.max, n.required); !why.empty()) return reject(why);
  for (const auto& [name, values] : rule->enums) {
    allowed.insert(name);
    auto it = reading.find(name);
    if (it == reading.end()) return reject("missing field \"" + std::string(name) + "\"");
    bool ok = false;
    std::string expected;
    for (const char* v : values) {
      ok = ok || (it->is_string() && it->get_ref<const std::string&>() == v);
      expected += std::string(expected.empty() ? "" : ", ") + v;
    }
    if (!ok) return reject("\"" + std::string(name) + "\" " + it->dump() + " must be one of " + expected);
  }
  for (const char* name : rule->required_strings) {
    allowed.insert(name);
    auto it = reading.find(name);
    if (it == reading.end()) return reject("missing field \"" + std::string(name) + "\"");
    if (!is_short_text(*it)) return reject("\"" + std::string(name) + "\" must be a non-empty string");
  }
  for (const char* name : rule->optional_strings) {
    allowed.insert(name);
    auto it = reading.find(name);
    if (it != reading.end() && !is_short_text(*it, 1024))
      return reject("\"" + std::string(name) + "\" must be a non-empty string");
  }
  if (out.type == "observation")
    if (auto why = check_observation(reading, allowed); !why.empty()) return reject(why);
  // Before any extraction: a field this type does not declare was never type-checked.
  for (const auto& [key, value] : reading.items())
    if (!common_fields().count(key) && !allowed.count(key))
      return reject("unknown field \"" + key + "\" for a " + out.type + " reading");
  if (out.type == "blood_pressure" && reading["systolic"].get<double>() <= reading["diastolic"].get<double>())
    return reject("systolic pressure must exceed diastolic pressure");
  if (out.type == "proximity" && !is_valid_name(reading["peer"].get_ref<const std::string&>()))
    return reject("\"peer\" must be a device name");
  if (auto file = reading.find("payload_file"); file != reading.end()) out.payload_file = file->get<std::string>();
  if (auto asset = reading.find("asset"); asset != reading.end()) out.asset = asset->get<std::string>();
  if (auto lat = reading.find("lat"), lon = reading.find("lon"); lat != reading.end() && lon != reading.end()) {
    out.lat = lat->get<double>();
    out.lon = lon->get<double>();
  }
  if (out.type == "proximity") {
    out.peer = reading["peer"].get<std::string>();
    out.distance_m = reading["distance_m"].get<double>();
  }

  return {std::move(out), ""};
}

}  // namespace medtrail
