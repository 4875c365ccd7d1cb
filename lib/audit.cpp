#include "audit.hpp"

#include "privacy.hpp"
#include "json_members.hpp"

#include <unistd.h>

#include <cmath>
#include <deque>
#include <map>
#include <memory>

#include "error.hpp"
#include "jcs.hpp"
#include "keys.hpp"
#include "policy_log.hpp"
#include "timefmt.hpp"
#include "units.hpp"

namespace medtrail::audit {
namespace {

using nlohmann::json;
using policy::Rule;

// One reading record in the window, with its decoded payload.
struct Event {
  const std::string& device;
  const std::string& type;
  const json& reading;
  const std::string& id;       // hex record id
  const std::string& subject;  // hex pseudonym or empty
  std::int64_t time_ms;
};

// A run of records that together make (or may make) one finding.
struct Episode {
  std::int64_t start = 0, end = 0;
  std::vector<std::string> evidence;
  std::uint64_t records = 0;
  std::string subject;
  bool reported = false;

  void add(const std::string& id, std::int64_t time) {
    if (records == 0) start = time;
    end = std::max(end, time);
    if (records == 0) end = time;
    if (evidence.size() < kMaxEvidence) evidence.push_back(id);
    ++records;
  }
  json to_json() const {
    return {{"start", start}, {"end", end}, {"evidence", evidence}, {"records", records}, {"subject", subject}, {"reported", reported}};
  }
  static Episode from_json(const json& j) {
    Episode e;
    e.start = integer_member(j, "start");
    e.end = integer_member(j, "end");
    e.evidence = j.at("evidence").get<std::vector<std::string>>();
    e.records = unsigned_member(j, "records");
    e.subject = j.at("subject").get<std::string>();
    e.reported = j.at("reported").get<bool>();
    return e;
  }
};

json save_map(const std::map<std::string, Episode>& m) {
  json j = json::object();
  for (const auto& [k, e] : m) j[k] = e.to_json();
  return j;
}
std::map<std::string, Episode> load_map(const json& j) {
  std::map<std::string, Episode> m;
  if (j.is_object())
    for (const auto& [k, v] : j.items()) m[k] = Episode::from_json(v);
  return m;
}

bool has_prefix(const std::vector<std::string>& prefixes, const std::string& name) {
  if (prefixes.empty()) return true;
  for (const auto& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

bool listed(const std::vector<std::string>& devices, const std::string& device) {
  return devices.empty() || std::find(devices.begin(), devices.end(), device) != devices.end();
}

// Great-circle distance in metres (haversine, mean Earth radius).
double distance_m(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRadius = 6'371'008.8;
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kRadius * std::asin(std::min(1.0, std::sqrt(a)));
}

std::optional<double> number_of(const json& reading, const std::string& field) {
  auto it = reading.find(field);
  if (it == reading.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string string_of(const json& reading, const char* field) {
  auto it = reading.find(field);
  return it != reading.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class Evaluator {
 public:
  Evaluator(std::string policy_name, Rule rule) : policy_(std::move(policy_name)), rule_(std::move(rule)) {}
  virtual ~Evaluator() = default;
  virtual bool wants(const std::string& type) const = 0;
  virtual void reading(const Event& e) = 0;
  // End of the audited range; `horizon_ms` is the latest reading time seen (or --until).
  virtual void finish(std::int64_t /*horizon_ms*/) {}
  virtual json save() const = 0;
  virtual void load(const json& state) = 0;
  std::string key() const { return key_prefix_ + "/" + rule_.name; }
  void set_sink(const FindingSink* sink) { sink_ = sink; }
  void set_schedule(const ScheduledPolicy* schedule) {
    schedule_ = schedule;
    // Recorded policies are told apart by record (a name may be retired and added again).
    key_prefix_ = schedule && !schedule->record.empty() ? policy_ + "@" + schedule->record.substr(0, 16) : policy_;
  }
  bool in_force(std::uint64_t block_end) const { return !schedule_ || schedule_->in_force(block_end); }

 protected:
  Finding finding(const std::string& message) const {
    Finding f;
    f.policy = policy_;
    f.rule = rule_.name;
    f.kind = rule_.kind;
    f.severity = rule_.severity;
    f.message = message;
    return f;
  }
  void report(Finding f, const Episode& e) const {
    f.start_ms = e.start;
    f.end_ms = e.end;
    f.evidence = e.evidence;
    f.records = e.records;
    if (f.subject.empty()) f.subject = e.subject;
    (*sink_)(f);
  }
  std::string policy_;
  Rule rule_;
  const FindingSink* sink_ = nullptr;
  const ScheduledPolicy* schedule_ = nullptr;
  std::string key_prefix_ = policy_;
};

class ThresholdEvaluator : public Evaluator {
 public:
  using Evaluator::Evaluator;
  bool wants(const std::string& type) const override { return type == rule_.type; }
  void reading(const Event& e) override {
    auto value = number_of(e.reading, rule_.field);
    if (!value) return;
    std::string as_read;  // "101.8 [degF] = " when the reading came in another unit
    if (!rule_.unit.empty() && rule_.unit != "m") {
      std::string unit = string_of(e.reading, "unit");
      if (unit != rule_.unit) {
        auto converted = units::convert(*value, unit, rule_.unit, rule_.type);
        if (!converted) return;  // no conversion between them: not comparable
        as_read = jcs_number(*value) + " " + unit + " = ";
        value = std::round(*converted * 100) / 100;  // two decimals: below any reading's precision
      }
    }
    // One run per device and subject: a thermal camera screens many people.
    std::string device_subject = e.subject.empty() ? e.device : e.device + "|" + e.subject;
    if (!rule_.compare(*value)) {
      open_.erase(device_subject);
      return;
    }
    const std::string& device = e.device;
    Episode& ep = open_[device_subject];
    ep.add(e.id, e.time_ms);
    ep.subject = e.subject;
    if (!ep.reported && ep.end - ep.start >= rule_.for_ms) {
      ep.reported = true;
      Finding f = finding(rule_.type + " " + rule_.field + " " + rule_.op + " " + jcs_number(rule_.value) +
                          (rule_.unit.empty() ? "" : " " + rule_.unit) +
                          (rule_.for_ms > 0 ? " for " + policy::format_duration(rule_.for_ms) : "") + " (last " + as_read +
                          jcs_number(*value) + (as_read.empty() ? "" : " " + rule_.unit) + ")");
      f.device = device;
      report(f, ep);
    }
  }
  json save() const override { return save_map(open_); }
  void load(const json& s) override { open_ = load_map(s); }

 private:
  static std::string jcs_number(double v) { return jcs::format_number(v); }
  std::map<std::string, Episode> open_;  // "device|subject" (or device) -> matching run
};

class GeofenceEvaluator : public Evaluator {
 public:
  using Evaluator::Evaluator;
  bool wants(const std::string& type) const override { return type == "location"; }
  void reading(const Event& e) override {
    const std::string& device = e.device;
    if (!listed(rule_.devices, device)) return;
    if ((rule_.from_ms && e.time_ms < *rule_.from_ms) || (rule_.until_ms && e.time_ms >= *rule_.until_ms)) return;
    auto lat = number_of(e.reading, "lat"), lon = number_of(e.reading, "lon");
    if (!lat || !lon) return;
    double d = distance_m(rule_.lat, rule_.lon, *lat, *lon);
    if (d <= rule_.radius_m) {
      open_.erase(device);
      return;
    }
    Episode& ep = open_[device];
    ep.add(e.id, e.time_ms);
    ep.subject = e.subject;
    if (!ep.reported) {
      ep.reported = true;
      Finding f = finding(device + " is " + std::to_string(std::lround(d)) + " m from the centre, outside the " +
                          jcs::format_number(rule_.radius_m) + " m geofence");
      f.device = device;
      report(f, ep);
    }
  }
  json save() const override { return save_map(open_); }
  void load(const json& s) override { open_ = load_map(s); }

 private:
  std::map<std::string, Episode> open_;  // device -> run of readings outside
};

class ProximityEvaluator : public Evaluator {
 public:
  ProximityEvaluator(std::string policy_name, Rule rule, const std::map<std::string, std::string>& subjects)
      : Evaluator(std::move(policy_name), std::move(rule)), subjects_(subjects) {}
  bool wants(const std::string& type) const override { return type == "proximity"; }
  void reading(const Event& e) override {
    auto distance = number_of(e.reading, "distance_m");
    std::string peer = string_of(e.reading, "peer");
    const std::string& device = e.device;
    if (!distance || peer.empty() || *distance >= rule_.distance_m || peer == device) return;
    auto peer_subject = subjects_.find(peer);
    if (!e.subject.empty() && peer_subject != subjects_.end() && peer_subject->second == e.subject) return;  // one person
    std::string pair = std::min(device, peer) + "|" + std::max(device, peer);
    auto it = open_.find(pair);
    if (it != open_.end() && e.time_ms - it->second.end > kContactMergeMs) open_.erase(it);
    Episode& ep = open_[pair];
    ep.add(e.id, e.time_ms);
    if (ep.subject.empty()) ep.subject = e.subject;
    if (!ep.reported && ep.end - ep.start >= rule_.for_ms) {
      ep.reported = true;
      Finding f = finding(device + " and " + peer + " were within " + jcs::format_number(rule_.distance_m) + " m (" +
                          jcs::format_number(*distance) + " m)" +
                          (rule_.for_ms > 0 ? " for " + policy::format_duration(rule_.for_ms) : ""));
      f.device = device;
      f.peer = peer;
      report(f, ep);
    }
  }
  void finish(std::int64_t horizon_ms) override {
    // Contacts that can no longer continue are dropped, so state stays bounded.
    for (auto it = open_.begin(); it != open_.end();)
      it = horizon_ms - it->second.end > kContactMergeMs ? open_.erase(it) : std::next(it);
  }
  json save() const override { return save_map(open_); }
  void load(const json& s) override { open_ = load_map(s); }

 private:
  const std::map<std::string, std::string>& subjects_;  // device -> last subject pseudonym
  std::map<std::string, Episode> open_;                 // "a|b" -> contact
};

// Rules over every reading of the listed devices (all devices when none are listed).
class DeviceEvaluator : public Evaluator {
 public:
  using Evaluator::Evaluator;
  bool wants(const std::string&) const override { return true; }
  void reading(const Event& e) override {
    if (listed(rule_.devices, e.device)) device_reading(e, e.device);
  }

 protected:
  virtual void device_reading(const Event& e, const std::string& device) = 0;
};

class SilenceEvaluator : public DeviceEvaluator {
 public:
  using DeviceEvaluator::DeviceEvaluator;

 protected:
  void device_reading(const Event& e, const std::string& device) override {
    auto it = last_.find(device);
    if (it == last_.end()) {
      Episode ep;
      ep.add(e.id, e.time_ms);
      ep.subject = e.subject;
      last_[device] = ep;
      return;
    }
    Episode& last = it->second;
    if (e.time_ms <= last.end) return;  // late or out-of-order: no silence before it
    if (!last.reported && e.time_ms - last.end > rule_.after_ms) {
      Episode gap;
      gap.add(last.evidence.front(), last.end);
      gap.add(e.id, e.time_ms);
      gap.subject = e.subject;
      report(silent(device, gap.end - gap.start), gap);
    }
    last = Episode();
    last.add(e.id, e.time_ms);
    last.subject = e.subject;
  }
 public:
  void finish(std::int64_t horizon_ms) override {
    for (auto& [device, last] : last_) {
      if (last.reported || horizon_ms - last.end <= rule_.after_ms) continue;
      last.reported = true;  // the reading that ends this silence will not report it again
      Episode gap = last;
      gap.end = horizon_ms;
      report(silent(device, horizon_ms - last.end) , gap);
    }
  }
  json save() const override { return save_map(last_); }
  void load(const json& s) override { last_ = load_map(s); }

 private:
  Finding silent(const std::string& device, std::int64_t ms) const {
    Finding f = finding(device + " sent nothing for " + policy::format_duration(ms / 1000 * 1000) + " (more than " +
                        policy::format_duration(rule_.after_ms) + ")");
    f.device = device;
    return f;
  }
  std::map<std::string, Episode> last_;  // device -> its latest reading
};

class GapEvaluator : public DeviceEvaluator {
 public:
  using DeviceEvaluator::DeviceEvaluator;

 protected:
  void device_reading(const Event& e, const std::string& device) override {
    auto seq_it = e.reading.find("seq");
    if (seq_it == e.reading.end() || !seq_it->is_number_integer()) return;
    auto seq = seq_it->get<std::int64_t>();
    auto it = last_.find(device);
    if (it != last_.end()) {
      std::int64_t last = integer_member(it->second, "seq");
      Episode ep;
      ep.add(it->second.at("id").get<std::string>(), integer_member(it->second, "time"));
      ep.add(e.id, e.time_ms);
      ep.subject = e.subject;
      if (seq > last + 1 || seq <= last) {
        std::string what = seq > last + 1 ? "skipped " + std::to_string(seq - last - 1) + " (seq " + std::to_string(last) +
                                                " then " + std::to_string(seq) + "): readings are missing"
                                          : "repeated or went back (seq " + std::to_string(last) + " then " +
                                                std::to_string(seq) + "): a reading was replayed or the device reset";
        Finding f = finding(device + "'s sequence counter " + what);
        f.device = device;
        report(f, ep);
      }
    }
    // The next reading is compared with this one, even after a jump back: a device that
    // reset is reported once, not at every reading until it passes its old count.
    last_[device] = {{"seq", seq}, {"id", e.id}, {"time", e.time_ms}};
  }
 public:
  json save() const override {
    json j = json::object();
    for (const auto& [k, v] : last_) j[k] = v;
    return j;
  }
  void load(const json& s) override {
    if (s.is_object())
      for (const auto& [k, v] : s.items()) last_[k] = v;
  }

 private:
  std::map<std::string, json> last_;  // device -> {"seq", "id", "time"}
};

class SterilizationEvaluator : public Evaluator {
 public:
  using Evaluator::Evaluator;
  bool wants(const std::string& type) const override { return type == "sterilization" || type == "asset_status"; }
  void reading(const Event& e) override {
    std::string asset = string_of(e.reading, "asset");
    if (asset.empty() || !has_prefix(rule_.assets, asset)) return;
    std::string type = e.type;
    if (type == "sterilization") {
      if (string_of(e.reading, "result") == "pass") {
        Episode pass;
        pass.add(e.id, e.time_ms);
        passes_[asset] = pass;
      }
      return;
    }
    std::string status = string_of(e.reading, "status");
    bool was_in_use = in_use_.count(asset) > 0;
    if (status != "in_use") {
      in_use_.erase(asset);
      return;
    }
    if (was_in_use) return;
    in_use_[asset] = true;
    auto pass = passes_.find(asset);
    bool ok = pass != passes_.end() && pass->second.end <= e.time_ms && e.time_ms - pass->second.end <= rule_.within_ms;
    if (ok) return;
    Episode ep;
    if (pass != passes_.end()) ep.add(pass->second.evidence.front(), pass->second.end);
    ep.add(e.id, e.time_ms);
    ep.start = ep.end = e.time_ms;
    Finding f = finding(asset + " went into use without a passing sterilization in the " +
                        policy::format_duration(rule_.within_ms) + " before" +
                        (pass != passes_.end() ? " (last pass " + format_rfc3339_ms(pass->second.end) + ")" : ""));
    f.asset = asset;
    f.device = e.device;
    report(f, ep);
  }
  json save() const override {
    json in_use = json::array();
    for (const auto& [a, _] : in_use_) in_use.push_back(a);
    return {{"passes", save_map(passes_)}, {"in_use", in_use}};
  }
  void load(const json& s) override {
    if (!s.is_object()) return;
    passes_ = load_map(s.value("passes", json()));
    for (const auto& a : s.value("in_use", json::array())) in_use_[a.get<std::string>()] = true;
  }

 private:
  std::map<std::string, Episode> passes_;  // asset -> latest passing cycle
  std::map<std::string, bool> in_use_;
};

class MalfunctionEvaluator : public Evaluator {
 public:
  using Evaluator::Evaluator;
  bool wants(const std::string& type) const override { return type == "malfunction" || type == "asset_status"; }
  void reading(const Event& e) override {
    std::string asset = string_of(e.reading, "asset");
    if (!rule_.assets.empty() && !has_prefix(rule_.assets, asset)) return;
    Episode ep;
    ep.add(e.id, e.time_ms);
    ep.subject = e.subject;
    if (e.type == "malfunction") {
      std::string message = string_of(e.reading, "message");
      Finding f = finding(e.device + " reported fault " + string_of(e.reading, "code") +
                          (asset.empty() ? "" : " on " + asset) + (message.empty() ? "" : ": " + message));
      f.device = e.device;
      f.asset = asset;
      return report(f, ep);
    }
    bool fault = string_of(e.reading, "status") == "fault";
    bool known = faulty_.count(asset) > 0;
    if (!fault) {
      faulty_.erase(asset);
      return;
    }
    if (known) return;
    faulty_[asset] = true;
    Finding f = finding(asset + " reported status fault");
    f.device = e.device;
    f.asset = asset;
    report(f, ep);
  }
  json save() const override {
    json j = json::array();
    for (const auto& [a, _] : faulty_) j.push_back(a);
    return j;
  }
  void load(const json& s) override {
    if (s.is_array())
      for (const auto& a : s) faulty_[a.get<std::string>()] = true;
  }

 private:
  std::map<std::string, bool> faulty_;  // assets whose latest status is fault
};

std::unique_ptr<Evaluator> make_evaluator(const std::string& policy_name, const Rule& rule,
                                          const std::map<std::string, std::string>& subjects) {
  if (rule.kind == "threshold") return std::make_unique<ThresholdEvaluator>(policy_name, rule);
  if (rule.kind == "geofence") return std::make_unique<GeofenceEvaluator>(policy_name, rule);
  if (rule.kind == "proximity") return std::make_unique<ProximityEvaluator>(policy_name, rule, subjects);
  if (rule.kind == "silence") return std::make_unique<SilenceEvaluator>(policy_name, rule);
  if (rule.kind == "gap") return std::make_unique<GapEvaluator>(policy_name, rule);
  if (rule.kind == "sterilization") return std::make_unique<SterilizationEvaluator>(policy_name, rule);
  if (rule.kind == "malfunction") return std::make_unique<MalfunctionEvaluator>(policy_name, rule);
  return nullptr;  // integrity: evaluated by verify, not per reading
}

std::optional<std::string> opt_text(const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); }

}  // namespace

json Finding::to_json() const {
  json j = {{"kind", "finding"}, {"policy", policy}, {"rule", rule}, {"rule_kind", kind},
            {"severity", policy::severity_name(severity)}};
  if (auto s = opt_text(subject)) j["subject"] = *s;
  if (auto s = opt_text(device)) j["device"] = *s;
  if (auto s = opt_text(peer)) j["peer"] = *s;
  if (auto s = opt_text(asset)) j["asset"] = *s;
  if (auto s = opt_text(check)) j["check"] = *s;
  j["start"] = start_ms ? json(format_rfc3339_ms(*start_ms)) : json();
  j["end"] = end_ms ? json(format_rfc3339_ms(*end_ms)) : json();
  j["message"] = message;
  j["evidence"] = evidence;
  j["records"] = records;
  return j;
}

json Finding::to_fhir(const std::string& origin, std::int64_t recorded_ms) const {
  // AuditEvent.outcome: 4 minor failure, 8 serious failure, 12 major failure.
  const char* outcome = severity == policy::Severity::critical ? "8" : severity == policy::Severity::warning ? "4" : "0";
  auto identifier = [&](const std::string& what, const std::string& value) {
    return json{{"identifier", {{"system", "urn:medtrail:" + origin + ":" + what}, {"value", value}}}};
  };
  json entities = json::array();
  auto entity = [&](json what, const char* type_code, const char* type_display, const char* role_code, const char* role_display) {
    entities.push_back({{"what", std::move(what)},
                        {"type", {{"system", "http://terminology.hl7.org/CodeSystem/audit-entity-type"}, {"code", type_code}, {"display", type_display}}},
                        {"role", {{"system", "http://terminology.hl7.org/CodeSystem/object-role"}, {"code", role_code}, {"display", role_display}}}});
  };
  for (const auto& id : evidence) entity(identifier("record", id), "2", "System Object", "4", "Domain Resource");
  if (!device.empty()) entity(identifier("device", device), "2", "System Object", "3", "Report");
  if (!asset.empty()) entity(identifier("asset", asset), "2", "System Object", "3", "Report");
  if (!subject.empty()) entity(identifier("subject", subject), "1", "Person", "1", "Patient");
  json detail = json::array();
  auto add_detail = [&](const char* key, const std::string& value) {
    if (!value.empty()) detail.push_back({{"type", key}, {"valueString", value}});
  };
  add_detail("policy", policy);
  add_detail("severity", policy::severity_name(severity));
  add_detail("peer", peer);
  add_detail("check", check);
  add_detail("records", std::to_string(records));
  // The finding as medtrail prints it rides along, so nothing is lost in translation.
  entities.push_back({{"what", {{"display", "medtrail finding"}}},
                      {"type", {{"system", "http://terminology.hl7.org/CodeSystem/audit-entity-type"}, {"code", "4"}, {"display", "Other"}}},
                      {"description", message},
                      {"detail", detail}});
  entities.back()["detail"].push_back({{"type", "finding"}, {"valueString", to_json().dump()}});
  json event = {
      {"resourceType", "AuditEvent"},
      {"type", {{"system", "http://dicom.nema.org/resources/ontology/DCM"}, {"code", "110113"}, {"display", "Security Alert"}}},
      {"subtype", json::array({{{"system", "urn:medtrail:rule-kind"}, {"code", kind}, {"display", rule}}})},
      {"action", "E"},
      {"recorded", format_rfc3339_ms(recorded_ms)},
      {"outcome", outcome},
      {"outcomeDesc", message},
      {"agent", json::array({{{"type", {{"coding", json::array({{{"system", "http://dicom.nema.org/resources/ontology/DCM"},
                                                                 {"code", "110150"}, {"display", "Application"}}})}}},
                              {"who", {{"display", "medtrail audit"}}},
                              {"requestor", false}}})},
      {"source", {{"site", origin},
                  {"observer", {{"display", "medtrail audit of " + origin}}},
                  {"type", json::array({{{"system", "http://terminology.hl7.org/CodeSystem/security-source-type"},
                                         {"code", "4"}, {"display", "Application Server"}}})}}},
      {"entity", entities},
  };
  if (start_ms) {
    event["period"] = {{"start", format_rfc3339_ms(*start_ms)}};
    if (end_ms) event["period"]["end"] = format_rfc3339_ms(*end_ms);
  }
  return event;
}

std::vector<policy::Policy> active_policies(Ledger& ledger) {
  std::vector<policy::Policy> out;
  auto log = load_policy_log(ledger, ledger.size());  // kept alive: active() points into it
  for (const auto* r : log.active()) out.push_back(policy::from_json(r->policy));
  return out;
}

bool ScheduledPolicy::in_force(std::uint64_t block_end) const {
  return (!added_index || *added_index < block_end) && !(retired_index && *retired_index < block_end);
}

std::vector<ScheduledPolicy> recorded_policies(Ledger& ledger, std::uint64_t upto) {
  std::vector<ScheduledPolicy> out;
  auto log = load_policy_log(ledger, upto);
  for (const auto& entry : log.all()) {
    const PolicyRecord& r = entry.second;
    out.push_back({policy::from_json(r.policy), to_hex(r.id), r.index, r.retired_index});
  }
  return out;
}

Result run(Ledger& ledger, const std::vector<policy::Policy>& policies, const Options& options, const FindingSink& sink) {
  std::vector<ScheduledPolicy> always;
  for (const auto& p : policies) always.push_back({p, {}, std::nullopt, std::nullopt});
  return run(ledger, always, options, sink);
}

namespace {
// The access rule: reads the ledger's own access records (lib/privacy.hpp), which readers sign,
// so what they report about themselves is what they did through medtrail.
void check_access(Ledger& ledger, const std::string& policy_name, const Rule& rule, const Options& options,
                  std::uint64_t end, const FindingSink& sink) {
  auto grants = privacy::grants(ledger);
  std::map<std::string, const privacy::Grant*> grant_by_id;
  for (const auto& g : grants) grant_by_id[to_hex(g.id)] = &g;
  auto finding = [&](const LeafRow& row, std::string check, std::string message) {
    Finding f;
    f.policy = policy_name;
    f.rule = rule.name;
    f.kind = "access";
    f.severity = rule.severity;
    f.check = std::move(check);
    f.message = std::move(message);
    f.device = row.device.value_or("");
    f.start_ms = f.end_ms = row.received_ms;
    f.evidence.push_back(to_hex(row.id));
    f.records = 1;
    return f;
  };
  // Per reader: reads inside the sliding window, oldest first.
  std::map<std::string, std::deque<std::pair<std::int64_t, std::uint64_t>>> recent;
  std::map<std::string, std::uint64_t> in_window;
  std::string sql = std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE " + kPrivacyKindsCondition + " AND " +
                    kIsAccess + " AND idx >= ? AND idx < ? ORDER BY idx";
  auto stmt = ledger.db().prepare(sql.c_str());
  stmt.bind(1, options.from_index).bind(2, end);
  while (stmt.step()) {
    LeafRow row = read_leaf_row(stmt, 0);
    if (options.since_ms && row.received_ms < *options.since_ms) continue;
    if (options.until_ms && row.received_ms >= *options.until_ms) continue;
    const json& x = row.extra.is_object() ? row.extra : json::object();
    std::string reader = row.device.value_or("?");
    std::uint64_t refused = x.contains("refused") && x["refused"].is_object() ? x["refused"].value("count", std::uint64_t(0)) : 0;
    std::uint64_t read = x.contains("read") && x["read"].is_object() ? x["read"].value("count", std::uint64_t(0)) : 0;
    if (refused > 0) {
      std::string reasons;
      bool lapsed = false;
      if (x.contains("reasons") && x["reasons"].is_array())
        for (const auto& r : x["reasons"]) {
          std::string text = r.is_string() ? r.get<std::string>() : r.dump();
          lapsed |= text.find("revoked") != std::string::npos || text.find("expired") != std::string::npos;
          reasons += (reasons.empty() ? "" : "; ") + text;
        }
      sink(finding(row, lapsed ? "read_after_revocation" : "read_outside_grant",
                   reader + " tried to read " + std::to_string(refused) + " record(s) " +
                       (lapsed ? "after its grant ended" : "no grant covers") + " (" + reasons + ")"));
    }
    // A read that names a grant already revoked or expired: the reader went around the check.
    if (x.contains("grants") && x["grants"].is_array())
      for (const auto& id : x["grants"]) {
        auto it = grant_by_id.find(id.is_string() ? id.get<std::string>() : "");
        if (it == grant_by_id.end()) {
          sink(finding(row, "read_outside_grant", reader + " cites grant " + id.dump() + ", which is not on the ledger"));
        } else if ((it->second->revoked_index && *it->second->revoked_index < row.index) ||
                   (it->second->until_ms && *it->second->until_ms < row.received_ms)) {
          sink(finding(row, "read_after_revocation", reader + " read under grant " + it->first.substr(0, 16) +
                                                         " after it was revoked or expired"));
        }
      }
    if (rule.max_reads > 0 && read > 0) {
      auto& window = recent[reader];
      auto& total = in_window[reader];
      window.emplace_back(row.received_ms, read);
      total += read;
      while (!window.empty() && window.front().first < row.received_ms - rule.within_ms) {
        total -= window.front().second;
        window.pop_front();
      }
      if (total > rule.max_reads) {
        sink(finding(row, "read_volume", reader + " read " + std::to_string(total) + " records within " +
                                             policy::format_duration(rule.within_ms) + " (more than " +
                                             std::to_string(rule.max_reads) + ")"));
        window.clear();  // one finding per burst
        total = 0;
      }
    }
  }
}
}  // namespace

Result run(Ledger& ledger, const std::vector<ScheduledPolicy>& schedule, const Options& options, const FindingSink& sink) {
  Result result;
  FindingSink counting = [&](const Finding& f) {
    ++result.findings;
    if (!result.worst || f.severity > *result.worst) result.worst = f.severity;
    sink(f);
  };
  sql::ReadTransaction snapshot(ledger.db());
  std::map<std::string, std::string> subjects;  // device -> subject pseudonym, for proximity
  std::vector<std::unique_ptr<Evaluator>> evaluators;
  std::vector<std::pair<std::string, Rule>> integrity, access_rules;
  const json& saved = options.evaluator_state;
  std::uint64_t end = options.to_index ? std::min(*options.to_index, ledger.size()) : ledger.size();
  for (const auto& scheduled : schedule)
    for (const auto& rule : scheduled.policy.rules) {
      const auto& p = scheduled.policy;
      if (rule.kind == "integrity") {
        if (scheduled.in_force(ledger.size())) integrity.emplace_back(p.name, rule);
        continue;
      }
      if (rule.kind == "access") {
        if (scheduled.in_force(ledger.size())) access_rules.emplace_back(p.name, rule);
        continue;
      }
      auto ev = make_evaluator(p.name, rule, subjects);
      ev->set_sink(&counting);
      ev->set_schedule(&scheduled);
      if (saved.is_object() && saved.contains("rules") && saved["rules"].contains(ev->key()))
        ev->load(saved["rules"][ev->key()]);
      evaluators.push_back(std::move(ev));
    }
  std::int64_t horizon = saved.is_object() ? saved.value("horizon", std::int64_t(0)) : 0;
  if (saved.is_object() && saved.contains("subjects") && saved["subjects"].is_object())
    for (const auto& [d, s] : saved["subjects"].items()) subjects[d] = s.get<std::string>();

  // Integrity first: a tampered ledger's readings are not to be trusted by the rules below.
  for (const auto& entry : integrity) {
    // Named copies, not structured bindings: clang 14 cannot capture bindings in a lambda.
    const auto& policy_name = entry.first;
    const auto& rule = entry.second;
    VerifyOptions vo{options.trusted, {}, {}, {}};
    verify_ledger(ledger, vo, [&](const medtrail::Finding& v) {
      Finding f;
      f.policy = policy_name;
      f.rule = rule.name;
      f.kind = "integrity";
      f.severity = rule.severity;
      f.check = v.check;
      f.message = v.message;
      if (!v.record.empty()) f.evidence.push_back(v.record);
      f.records = f.evidence.size();
      counting(f);
    });
  }

  for (const auto& entry : access_rules) check_access(ledger, entry.first, entry.second, options, end, counting);

  result.next_index = std::max(end, options.from_index);
  // Where each block ends: a reading is judged by the policies in force at the end of the
  // block that seals it (what that block's policy_root commits to), or, not sealed yet, at
  // the end of the log.
  std::vector<std::uint64_t> block_ends;
  {
    auto blocks = ledger.db().prepare("SELECT json_extract(header, '$.tree_size') FROM blocks ORDER BY height");
    while (blocks.step()) block_ends.push_back(static_cast<std::uint64_t>(blocks.integer(0)));
  }
  std::size_t next_block = 0;
  std::uint64_t block_end = 0;  // of the block that seals the current reading
  std::vector<Evaluator*> in_force;
  auto enter_block = [&](std::uint64_t index) {
    while (next_block < block_ends.size() && block_ends[next_block] <= index) ++next_block;
    block_end = next_block < block_ends.size() ? block_ends[next_block] : ledger.size();
    in_force.clear();
    for (auto& ev : evaluators)
      if (ev->in_force(block_end)) in_force.push_back(ev.get());
  };
  enter_block(options.from_index);
  // Readings only, in index order, each with its payload; the window is filtered in SQL.
  // Only the columns the rules read: this loop is the audit's cost per record.
  auto stmt = ledger.db().prepare((std::string("SELECT l.idx, l.id, ") + kDeviceOfLeaf + ", l.time_ms, " + kTypeOfLeaf +
                                   ", " + kSubjectOfLeaf + ", " + kReadingOfPayload +
                                   " FROM leaves l LEFT JOIN payloads p ON p.idx = l.idx "
                                   "WHERE l.idx >= ? AND l.idx < ? AND l." +
                                   kIsReading + " AND l.time_ms >= ? AND l.time_ms < ? ORDER BY l.idx")
                                      .c_str());
  stmt.bind(1, options.from_index).bind(2, end);
  stmt.bind(3, options.since_ms.value_or(std::numeric_limits<std::int64_t>::min()));
  stmt.bind(4, options.until_ms.value_or(std::numeric_limits<std::int64_t>::max()));
  bool track_subjects = false;  // only proximity asks who a peer device belongs to
  for (const auto& scheduled : schedule)
    for (const auto& rule : scheduled.policy.rules) track_subjects |= rule.kind == "proximity";
  std::vector<Evaluator*> interested;
  std::string id, subject, device, type;
  while (stmt.step()) {
    auto index = static_cast<std::uint64_t>(stmt.integer(0));
    ++result.records;
    if (options.progress && (index & 0x3fff) == 0) options.progress(index - options.from_index, end - options.from_index);
    // Malformed rows are integrity's business (verify reports them); the rules skip them.
    if (stmt.is_null(2) || stmt.is_null(3) || stmt.is_null(4) || stmt.is_null(6) || stmt.blob(1).size() != 32) continue;
    device = stmt.text(2);
    type = stmt.text(4);
    std::int64_t time = stmt.integer(3);
    horizon = std::max(horizon, time);
    if (index >= block_end) enter_block(index);
    interested.clear();
    for (auto* ev : in_force)
      if (ev->wants(type)) interested.push_back(ev);
    bool has_subject = !stmt.is_null(5) && stmt.blob(5).size() == 32;
    if (track_subjects && has_subject) {
      auto& known = subjects[device];
      subject = to_hex(stmt.blob(5));
      if (known != subject) known = subject;
    }
    if (interested.empty()) continue;
    subject = has_subject ? to_hex(stmt.blob(5)) : std::string();
    json reading = json::parse(stmt.text(6), nullptr, false);
    if (!reading.is_object()) continue;
    ++result.readings;
    id = to_hex(stmt.blob(1));
    Event e{device, type, reading, id, subject, time};
    for (auto* ev : interested) ev->reading(e);
  }
  if (options.until_ms) horizon = std::max(horizon, *options.until_ms);
  // Rules retired by the end of the range judge nothing more: no silence "until now" for them.
  for (auto& ev : evaluators)
    if (ev->in_force(end)) ev->finish(horizon);

  json rules = json::object();
  for (auto& ev : evaluators) rules[ev->key()] = ev->save();
  json subjects_json = json::object();
  for (const auto& [d, s] : subjects) subjects_json[d] = s;
  result.evaluator_state = {{"horizon", horizon}, {"rules", rules}, {"subjects", subjects_json}};
  return result;
}

json State::to_json() const {
  return {{"format", "medtrail-audit-state-v1"},
          {"origin", origin},
          {"next_index", next_index},
          {"checkpoint", checkpoint},
          {"evaluators", evaluators}};
}

State State::from_json(const json& j, const std::string& path) {
  try {
    if (j.at("format").get<std::string>() != "medtrail-audit-state-v1") throw std::runtime_error("unknown format");
    State s;
    s.origin = j.at("origin").get<std::string>();
    s.next_index = unsigned_member(j, "next_index");
    s.checkpoint = j.at("checkpoint").get<std::string>();
    s.evaluators = j.at("evaluators");
    return s;
  } catch (const std::exception& e) {
    throw Error(ExitCode::usage, path + " is not a medtrail audit state file: " + e.what());
  }
}

std::optional<State> load_state(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
  auto text = read_file(path);
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw Error(ExitCode::usage, path + " is not a medtrail audit state file (not JSON)");
  return State::from_json(j, path);
}

void save_state(const std::string& path, const State& state) { write_file_atomic(path, state.to_json().dump() + "\n", 0600); }

}  // namespace medtrail::audit
