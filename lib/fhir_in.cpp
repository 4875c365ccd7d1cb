#include "fhir_in.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "keys.hpp"
#include "timefmt.hpp"

namespace medtrail::fhir {
namespace {

using nlohmann::json;

constexpr const char* kLoinc = "http://loinc.org";
constexpr const char* kMdc = "urn:iso:std:iso:11073:10101";
constexpr const char* kUcum = "http://unitsofmeasure.org";
constexpr const char* kSnomed = "http://snomed.info/sct";

struct CodeMapping {
  const char* system;
  const char* code;
  const char* type;
};

// LOINC and MDC codes of the reading types (docs/FORMATS.md, /work/shared/ECOSYSTEM.md).
const std::vector<CodeMapping>& code_mappings() {
  static const std::vector<CodeMapping> kMappings = {
      {kLoinc, "8310-5", "body_temperature"}, {kMdc, "150364", "body_temperature"},
      {kLoinc, "8867-4", "heart_rate"},       {kMdc, "149530", "heart_rate"},
      {kMdc, "147842", "heart_rate"},         {kLoinc, "59408-5", "spo2"},
      {kLoinc, "2708-6", "spo2"},             {kMdc, "150456", "spo2"},
      {kLoinc, "9279-1", "respiratory_rate"}, {kMdc, "151562", "respiratory_rate"},
      {kLoinc, "85354-9", "blood_pressure"},  {kMdc, "150020", "blood_pressure"},
      {kLoinc, "2339-0", "glucose"},          {kLoinc, "15074-8", "glucose"},
      {kLoinc, "41653-7", "glucose"},         {kLoinc, "14743-9", "glucose"},
      {kLoinc, "99504-3", "glucose"},         {kMdc, "160368", "glucose"},
      {kLoinc, "94500-6", "pcr_test"},        {kLoinc, "94309-2", "pcr_test"},
      {kLoinc, "94845-5", "pcr_test"},        {kLoinc, "95608-6", "pcr_test"},
  };
  return kMappings;
}

bool has_coding(const json& codeable, const char* system, std::initializer_list<const char*> codes) {
  if (!codeable.is_object() || !codeable.contains("coding") || !codeable["coding"].is_array()) return false;
  for (const auto& c : codeable["coding"]) {
    if (!c.is_object() || c.value("system", json()) != system || !c.contains("code") || !c["code"].is_string()) continue;
    for (const char* code : codes)
      if (c["code"].get_ref<const std::string&>() == code) return true;
  }
  return false;
}

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string text_of(const json* v) { return v && v->is_string() ? v->get<std::string>() : std::string(); }

bool is_fhir_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return true;
}

// fullUrl -> resource, for references inside one Bundle (urn:uuid:, urn:oid:, absolute URLs).
using BundleIndex = std::map<std::string, const json*>;

const json* resolve_in_bundle(const BundleIndex* bundle, const std::string& reference) {
  if (!bundle) return nullptr;
  auto it = bundle->find(reference);
  return it == bundle->end() ? nullptr : it->second;
}

// "Type/id" for a reference, resolving bundle-local urns to the resource they name.
std::string reference_key(const json& reference, const BundleIndex* bundle) {
  auto text = text_of(member(reference, "reference"));
  if (text.empty()) return "";
  if (auto normal = normalize_reference(text); !normal.empty()) return normal;
  if (const json* target = resolve_in_bundle(bundle, text)) {
    auto type = text_of(member(*target, "resourceType"));
    auto id = text_of(member(*target, "id"));
    if (!type.empty() && is_fhir_id(id)) return type + "/" + id;
  }
  return "";
}

std::string identifier_key(const json* identifier) {
  if (!identifier || !identifier->is_object()) return "";
  auto value = text_of(member(*identifier, "value"));
  if (value.empty()) return "";
  auto system = text_of(member(*identifier, "system"));
  return system.empty() ? value : system + "|" + value;
}

// medtrail device name: the id of a Device/DeviceMetric reference, else a usable identifier.
std::string device_name(const json& obs, const BundleIndex* bundle) {
  const json* device = member(obs, "device");
  if (!device || !device->is_object()) return "";
  auto key = reference_key(*device, bundle);
  for (const char* prefix : {"Device/", "DeviceMetric/"}) {
    std::string p = prefix;
    if (key.rfind(p, 0) == 0 && is_valid_name(key.substr(p.size()))) return key.substr(p.size());
  }
  // A bundle-local device without an id: its first identifier that is a valid name.
  std::vector<const json*> identifiers;
  if (const json* target = resolve_in_bundle(bundle, text_of(member(*device, "reference"))))
    if (const json* ids = member(*target, "identifier"); ids && ids->is_array())
      for (const auto& id : *ids) identifiers.push_back(&id);
  if (const json* id = member(*device, "identifier")) identifiers.insert(identifiers.begin(), id);
  for (const json* id : identifiers) {
    auto value = text_of(member(*id, "value"));
    if (is_valid_name(value)) return value;
  }
  return "";
}

// The subject when it is a patient: "Patient/<id>", or "system|value" of its identifier.
std::string subject_of(const json& obs, const BundleIndex* bundle) {
  const json* subject = member(obs, "subject");
  if (!subject || !subject->is_object()) return "";
  auto key = reference_key(*subject, bundle);
  if (!key.empty()) return key.rfind("Patient/", 0) == 0 ? key : "";
  auto reference = text_of(member(*subject, "reference"));
  if (const json* target = resolve_in_bundle(bundle, reference)) {
    if (text_of(member(*target, "resourceType")) != "Patient") return "";
    if (const json* ids = member(*target, "identifier"); ids && ids->is_array() && !ids->empty())
      return identifier_key(&(*ids)[0]);
    return reference;  // a bundle-local patient with neither id nor identifier
  }
  auto type = text_of(member(*subject, "type"));
  if (!type.empty() && type != "Patient") return "";
  if (auto id = identifier_key(member(*subject, "identifier")); !id.empty()) return id;
  return reference.rfind("urn:", 0) == 0 ? reference : "";
}

// A FHIR dateTime/instant as a reading time: full date-times as given, a bare date as
// midnight UTC; years and months alone are not precise enough to record.
std::string time_of(const std::string& text, std::string& why) {
  if (parse_rfc3339_ms(text)) return text;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-' && parse_rfc3339_ms(text + "T00:00:00Z"))
    return text + "T00:00:00Z";
  why = "effective time \"" + text.substr(0, 64) + "\" is not a date-time or a date precise to the day";
  return "";
}

json codings_of(const json& codeable) {
  json out = json::array();
  if (const json* coding = member(codeable, "coding"); coding && coding->is_array())
    for (const auto& c : *coding) {
      auto system = text_of(member(c, "system"));
      auto code = text_of(member(c, "code"));
      if (system.empty() || code.empty()) continue;
      json item = {{"system", system}, {"code", code}};
      if (auto display = text_of(member(c, "display")); !display.empty()) item["display"] = display;
      out.push_back(std::move(item));
      if (out.size() == 16) break;
    }
  return out;
}

// The value[x] member of an Observation or component, if any.
std::string value_member(const json& object) {
  if (!object.is_object()) return "";
  for (const auto& [key, value] : object.items())
    if (key.size() > 5 && key.rfind("value", 0) == 0 && std::isupper(static_cast<unsigned char>(key[5]))) return key;
  return "";
}

// A valueQuantity as (value, UCUM code); `why` says what is wrong with it.
bool ucum_quantity(const json& quantity, double& value, std::string& unit, std::string& why) {
  const json* v = member(quantity, "value");
  if (!v || !v->is_number() || !std::isfinite(v->get<double>())) {
    why = "valueQuantity has no numeric value";
    return false;
  }
  if (text_of(member(quantity, "system")) != kUcum) {
    why = "valueQuantity.system must be http://unitsofmeasure.org (UCUM)";
    return false;
  }
  unit = text_of(member(quantity, "code"));
  if (unit.empty()) {
    why = "valueQuantity has no UCUM code";
    return false;
  }
  value = v->get<double>();
  return true;
}

// Value members of a generic observation (or component) from value[x] or dataAbsentReason.
bool generic_value(const json& object, json& out, std::string& why) {
  auto key = value_member(object);
  if (key.empty()) {
    if (const json* absent = member(object, "dataAbsentReason")) {
      auto codes = codings_of(*absent);
      auto reason = codes.empty() ? text_of(member(*absent, "text")) : codes[0]["code"].get<std::string>();
      if (!reason.empty()) out["data_absent"] = reason;
    }
    return true;
  }
  const json& v = object[key];
  if (key == "valueQuantity") {
    double value = 0;
    std::string unit;
    const json* code = member(v, "code");
    if (!code && !member(v, "system")) {  // a bare number with a display unit only
      const json* number = member(v, "value");
      if (!number || !number->is_number() || !std::isfinite(number->get<double>())) {
        why = "valueQuantity has no numeric value";
        return false;
      }
      out["value"] = *number;
      return true;
    }
    if (!ucum_quantity(v, value, unit, why)) return false;
    out["value"] = v["value"];
    out["unit"] = unit;
  } else if (key == "valueCodeableConcept") {
    auto codes = codings_of(v);
    if (!codes.empty()) out["value_code"] = codes;
    else if (auto text = text_of(member(v, "text")); !text.empty()) out["value_text"] = text;
  } else if (key == "valueString") {
    if (!v.is_string()) return why = "valueString must be a string", false;
    out["value_text"] = v;
  } else if (key == "valueBoolean") {
    if (!v.is_boolean()) return why = "valueBoolean must be true or false", false;
    out["value_bool"] = v;
  } else if (key == "valueInteger") {
    if (!v.is_number_integer()) return why = "valueInteger must be an integer", false;
    out["value"] = v;
  } else if (key == "valueDateTime" || key == "valueTime") {
    if (!v.is_string()) return why = key + " must be a string", false;
    out["value_time"] = v;
  } else {
    why = key + " is not supported (medtrail records quantities, codes, text, booleans, integers and times)";
    return false;
  }
  return true;
}

struct Components {
  const json* systolic = nullptr;
  const json* diastolic = nullptr;
  const json* mean = nullptr;
};

Components blood_pressure_components(const json& obs) {
  Components c;
  if (const json* list = member(obs, "component"); list && list->is_array())
    for (const auto& component : *list) {
      const json* code = member(component, "code");
      if (!code) continue;
      if (has_coding(*code, kLoinc, {"8480-6"}) || has_coding(*code, kMdc, {"150021"})) c.systolic = &component;
      else if (has_coding(*code, kLoinc, {"8462-4"}) || has_coding(*code, kMdc, {"150022"})) c.diastolic = &component;
      else if (has_coding(*code, kLoinc, {"8478-0"}) || has_coding(*code, kMdc, {"150023"})) c.mean = &component;
    }
  return c;
}

Converted reject(std::string why) {
  Converted c;
  c.rejection = std::move(why);
  return c;
}

Converted convert_observation(const json& obs, const BundleIndex* bundle, const ConvertOptions& options) {
  static const std::set<std::string> kStatuses = {"registered", "preliminary", "final", "amended", "corrected", "unknown"};
  const json* status = member(obs, "status");
  if (!status) return reject("Observation has no status");
  if (!status->is_string()) return reject("Observation.status must be a code");
  if (*status == "cancelled" || *status == "entered-in-error")
    return reject("Observation.status " + status->get<std::string>() + " carries no measurement to record");
  if (!kStatuses.count(status->get<std::string>()))
    return reject("Observation.status \"" + status->get<std::string>().substr(0, 64) + "\" is not a FHIR R4 status");
  const json* code = member(obs, "code");
  if (!code) return reject("Observation has no code");
  json codes = codings_of(*code);
  if (codes.empty()) return reject("Observation.code has no coding with a system and a code");

  std::string time_text, why;
  if (const json* date_time = member(obs, "effectiveDateTime")) time_text = text_of(date_time);
  else if (const json* instant = member(obs, "effectiveInstant")) time_text = text_of(instant);
  else if (const json* period = member(obs, "effectivePeriod")) time_text = text_of(member(*period, "start"));
  else if (member(obs, "effectiveTiming")) return reject("effectiveTiming is not supported; give effectiveDateTime");
  if (time_text.empty()) return reject("Observation has no effectiveDateTime, effectiveInstant or effectivePeriod.start");
  auto time = time_of(time_text, why);
  if (time.empty()) return reject(why);

  auto device = device_name(obs, bundle);
  if (device.empty()) device = options.default_device;
  if (device.empty())
    return reject("Observation.device names no device medtrail can use (a Device reference with an id, or an "
                  "identifier); give --device for such resources");

  Converted out;
  json reading = {{"device", device}, {"time", time}};
  if (auto subject = subject_of(obs, bundle); !subject.empty()) reading["subject"] = subject;
  if (auto id = text_of(member(obs, "id")); !id.empty()) {
    if (!is_fhir_id(id)) return reject("Observation.id \"" + id.substr(0, 64) + "\" is not a FHIR id");
    reading["source_ref"] = "Observation/" + id;
  }
  for (const char* name : {"derivedFrom", "hasMember"})
    if (const json* refs = member(obs, name); refs && refs->is_array())
      for (const auto& ref : *refs)
        if (auto key = reference_key(ref, bundle); !key.empty()) out.links.push_back(key);

  auto type = reading_type_for(*code);
  auto value_key = value_member(obs);
  // A known type without a value but with the reason it is absent is still a record of a
  // measurement attempt: kept as a generic observation rather than dropped.
  if (!type.empty() && type != "blood_pressure" && value_key.empty() && member(obs, "dataAbsentReason")) type.clear();
  if (type.empty()) {
    reading["type"] = "observation";
    reading["code"] = codes;
    if (!generic_value(obs, reading, why)) return reject(why);
    if (const json* list = member(obs, "component"); list && list->is_array() && !list->empty()) {
      json components = json::array();
      for (const auto& component : *list) {
        const json* component_code = member(component, "code");
        json c = {{"code", component_code ? codings_of(*component_code) : json::array()}};
        if (c["code"].empty()) return reject("component " + std::to_string(components.size()) + " has no coding with a system and a code");
        if (!generic_value(component, c, why)) return reject("component " + std::to_string(components.size()) + ": " + why);
        components.push_back(std::move(c));
        if (components.size() == 32) break;
      }
      reading["components"] = components;
    }
  } else if (type == "blood_pressure") {
    reading["type"] = type;
    auto c = blood_pressure_components(obs);
    if (!c.systolic || !c.diastolic)
      return reject("blood pressure panel needs a systolic (8480-6) and a diastolic (8462-4) component");
    std::string unit;
    const std::pair<const char*, const json*> parts[] = {{"systolic", c.systolic}, {"diastolic", c.diastolic}, {"mean", c.mean}};
    for (const auto& [name, component] : parts) {
      if (!component) continue;
      const json* q = member(*component, "valueQuantity");
      if (!q) return reject(std::string(name) + " component has no valueQuantity");
      double value = 0;
      std::string u;
      if (!ucum_quantity(*q, value, u, why)) return reject(std::string(name) + " component: " + why);
      if (!unit.empty() && u != unit) return reject("blood pressure components use different units");
      unit = u;
      reading[name] = (*q)["value"];
    }
    reading["unit"] = unit;
  } else if (type == "pcr_test") {
    reading["type"] = type;
    const json* value = member(obs, "valueCodeableConcept");
    if (!value) return reject("a SARS-CoV-2 PCR result needs valueCodeableConcept (SNOMED 260373001 / 260415000)");
    if (has_coding(*value, kSnomed, {"260373001", "10828004"})) reading["result"] = "positive";
    else if (has_coding(*value, kSnomed, {"260415000", "260385009"})) reading["result"] = "negative";
    else if (has_coding(*value, kSnomed, {"419984006", "82334004"})) reading["result"] = "inconclusive";
    else return reject("PCR result is not SNOMED Detected (260373001), Not detected (260415000) or Inconclusive (419984006)");
  } else {
    reading["type"] = type;
    if (value_key.empty()) return reject(type + " needs a valueQuantity");
    if (value_key != "valueQuantity") return reject(value_key + " is not a quantity; " + type + " needs a valueQuantity");
    double value = 0;
    std::string unit;
    if (!ucum_quantity(obs[value_key], value, unit, why)) return reject(why);
    reading["value"] = obs[value_key]["value"];
    reading["unit"] = unit;
  }
  out.reading = std::move(reading);
  return out;
}

// Entries in ingest order: an Observation another entry links to (by "Observation/<id>")
// before the one that links to it, otherwise in Bundle order.
void order_by_links(std::vector<Converted>& items) {
  std::map<std::string, std::size_t> by_ref;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (items[i].reading.is_object() && items[i].reading.contains("source_ref"))
      by_ref.emplace(items[i].reading["source_ref"].get<std::string>(), i);
  std::vector<int> state(items.size(), 0);  // 0 new, 1 on the path, 2 placed
  std::vector<Converted> ordered;
  ordered.reserve(items.size());
  // Depth-first, with an explicit stack: a hostile Bundle may chain thousands of entries.
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (item, next link to visit)
  for (std::size_t root = 0; root < items.size(); ++root) {
    if (state[root] != 0) continue;
    state[root] = 1;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      if (next < items[i].links.size()) {
        auto it = by_ref.find(items[i].links[next++]);
        // A target on the path is a cycle: that link stays unresolved.
        if (it != by_ref.end() && state[it->second] == 0) {
          state[it->second] = 1;
          stack.emplace_back(it->second, 0);
        }
        continue;
      }
      state[i] = 2;
      ordered.push_back(std::move(items[i]));
      stack.pop_back();
    }
  }
  items = std::move(ordered);
}

}  // namespace

std::string normalize_reference(std::string_view reference) {
  std::string text(reference);
  if (auto h = text.find("/_history/"); h != std::string::npos) text.resize(h);
  auto slash = text.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  auto id = text.substr(slash + 1);
  auto head = text.substr(0, slash);
  auto type = head.substr(head.rfind('/') == std::string::npos ? 0 : head.rfind('/') + 1);
  if (type.empty() || !std::isupper(static_cast<unsigned char>(type[0])) || !is_fhir_id(id)) return "";
  for (char c : type)
    if (!std::isalpha(static_cast<unsigned char>(c))) return "";
  // Only a relative reference or an absolute URL: a "urn:" has no Type/id shape.
  if (head.size() != type.size() && head.find("://") == std::string::npos) return "";
  return type + "/" + id;
}

std::string reading_type_for(const json& codeable) {
  if (const json* coding = member(codeable, "coding"); coding && coding->is_array())
    for (const auto& c : *coding) {
      auto system = text_of(member(c, "system"));
      auto code = text_of(member(c, "code"));
      for (const auto& m : code_mappings())
        if (system == m.system && code == m.code) return m.type;
    }
  return "";
}

Conversion convert(const json& resource, const ConvertOptions& options) {
  Conversion out;
  auto type = text_of(member(resource, "resourceType"));
  if (type.empty()) {
    out.error = "not a FHIR resource (no resourceType)";
    return out;
  }
  if (type == "Observation") {
    out.items.push_back(convert_observation(resource, nullptr, options));
    return out;
  }
  if (type != "Bundle") {
    out.skipped = 1;
    return out;
  }
  static const std::set<std::string> kBundleTypes = {"collection", "transaction", "batch", "searchset"};
  auto bundle_type = text_of(member(resource, "type"));
  if (!kBundleTypes.count(bundle_type)) {
    out.error = "Bundle.type \"" + bundle_type.substr(0, 64) + "\" is not collection, transaction, batch or searchset";
    return out;
  }
  const json* entries = member(resource, "entry");
  if (!entries) return out;
  if (!entries->is_array()) {
    out.error = "Bundle.entry must be an array";
    return out;
  }
  BundleIndex index;
  for (const auto& entry : *entries)
    if (auto url = text_of(member(entry, "fullUrl")); !url.empty())
      if (const json* r = member(entry, "resource"); r && r->is_object()) index.emplace(url, r);
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const json& entry = (*entries)[i];
    if (!entry.is_object()) {
      auto c = reject("Bundle entry is not an object");
      c.entry = i;
      out.items.push_back(std::move(c));
      continue;
    }
    const json* r = member(entry, "resource");
    auto method = text_of(member(member(entry, "request") ? entry["request"] : json(), "method"));
    auto mode = text_of(member(member(entry, "search") ? entry["search"] : json(), "mode"));
    bool written = method.empty() || method == "POST" || method == "PUT";  // DELETE, GET, HEAD, PATCH: no new data
    if (!r || !r->is_object() || text_of(member(*r, "resourceType")) != "Observation" || !written ||
        (!mode.empty() && mode != "match")) {
      ++out.skipped;
      continue;
    }
    auto c = convert_observation(*r, &index, options);
    c.entry = i;
    out.items.push_back(std::move(c));
  }
  order_by_links(out.items);
  return out;
}

}  // namespace medtrail::fhir
