// The five uses of PRODUCT.md as simulated worlds (simulate --scenario origin|quarantine|
// hospital|provenance|telemedicine). Each world has realistic background devices whose readings
// stay clear of its policy's rules (examples/policies/<scenario>.yaml) by construction, and a
// few planted events, each recorded in the truth with the rule that must find it, the device,
// and the time of the reading that starts the finding — exactly what `audit` reports as
// `start` — so a test can compare the two lists line by line.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "error.hpp"
#include "jcs.hpp"
#include "scenarios.hpp"
#include "simulate_rng.hpp"
#include "timefmt.hpp"

namespace medtrail::simulate::detail {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMinutesNeeded = 120;  // every planted event falls in the first two hours
constexpr double kCentreLat = 22.1987;
constexpr double kCentreLon = 113.5439;
constexpr double kMetresPerDegreeLat = 111320.0;
constexpr double kCosCentreLat = 0.925869;  // cos(22.1987 deg), fixed so no libm call differs

struct Dev {
  DeviceInfo info;
  Rng rng{0};
  std::uint64_t seq = 0;
  std::int64_t jitter_ms = 0;
  std::int64_t now = 0;       // this minute's reading time
  std::int64_t offset = 0;    // readings already made this minute (each 1 ms later)
  std::int64_t last_ms = -1;  // time of its latest reading that arrived
  json last_reading;          // that reading (the provenance scenario replays it)
  double x = 0, y = 0;        // metres from the centre
  double base = 0, level = 0;
  std::uint64_t phase = 0;
  std::string unit;
};

struct Pending {
  std::int64_t time_ms;
  std::uint64_t order;
  json reading;
};

class World {
 public:
  World(const Options& o, const char* name) : o_(o), name_(name) {}
  virtual ~World() = default;
  virtual void minute(std::uint64_t m) = 0;

  std::vector<Dev> fleet;
  std::vector<Pending> pending;
  json findings = json::array(), near_misses = json::array(), extra = json::object();

  json truth() const {
    json sorted = findings;
    std::sort(sorted.begin(), sorted.end(), [](const json& a, const json& b) {
      return std::tie(a["start"].get_ref<const std::string&>(), a["rule"].get_ref<const std::string&>(),
                      a["device"].get_ref<const std::string&>()) <
             std::tie(b["start"].get_ref<const std::string&>(), b["rule"].get_ref<const std::string&>(),
                      b["device"].get_ref<const std::string&>());
    });
    json t = {{"scenario", name_},
              {"seed", o_.seed},
              {"devices", o_.devices},
              {"minutes", o_.minutes},
              {"policy", std::string("examples/policies/") + name_ + ".yaml"},
              {"window", {{"since", format_rfc3339_ms(at(0))}, {"until", format_rfc3339_ms(at(o_.minutes))}}},
              {"findings", sorted},
              {"near_misses", near_misses}};
    for (const auto& [k, v] : extra.items()) t[k] = v;
    return t;
  }

 protected:
  void need(std::uint64_t devices) const {
    if (o_.devices < devices || o_.minutes < kMinutesNeeded)
      throw Error(ExitCode::usage, std::string("the ") + name_ + " scenario needs --devices " + std::to_string(devices) +
                                       " or more and --minutes " + std::to_string(kMinutesNeeded) + " or more");
  }
  Dev& make(std::string name, std::string kind, std::string subject = "") {
    Dev d;
    d.info = {std::move(name), std::move(kind), std::move(subject)};
    d.rng = Rng(device_seed(o_.seed, fleet.size()) ^ 0x5c3a4e1d2b6f7089ULL);
    d.jitter_ms = static_cast<std::int64_t>(d.rng.below(900));
    fleet.push_back(std::move(d));
    return fleet.back();
  }
  std::int64_t at(std::uint64_t m) const { return o_.start_unix_ms + static_cast<std::int64_t>(m) * 60000; }
  // Start of a device's minute: the minute, its fixed jitter and a little noise. Readings made
  // in the minute follow 1 ms apart, so a device's own readings never share a time.
  void tick(Dev& d, std::uint64_t m) {
    d.now = at(m) + d.jitter_ms + static_cast<std::int64_t>(d.rng.below(40));
    d.offset = 0;
  }
  // A reading that arrives; returns its time.
  std::int64_t add(Dev& d, json reading, std::int64_t delay_ms = 0) {
    std::int64_t t = d.now + d.offset++ + delay_ms;
    reading["device"] = d.info.name;
    reading["time"] = format_rfc3339_ms(t);
    reading["seq"] = ++d.seq;
    if (!d.info.subject.empty() && !reading.contains("subject")) reading["subject"] = d.info.subject;
    d.last_ms = t;
    d.last_reading = reading;
    pending.push_back({t, pending.size(), std::move(reading)});
    return t;
  }
  // A reading the device sent that never reached the gateway: its sequence number is used up.
  void lose(Dev& d) {
    ++d.offset;
    ++d.seq;
  }
  // The device's latest reading sent again with a new time stamp (a retransmission, stamped
  // when sent): same seq, same value. A byte-identical copy would be refused by ingest as a
  // duplicate; this one is accepted, and only the sequence counter shows it.
  void replay(Dev& d) {
    json again = d.last_reading;
    std::int64_t t = d.now + d.offset++;
    again["time"] = format_rfc3339_ms(t);
    d.last_ms = t;
    pending.push_back({t, pending.size(), std::move(again)});
  }
  void plant(const char* rule, const char* kind, const Dev& d, std::int64_t start_ms, const std::string& what, json more = json::object()) {
    json f = {{"rule", rule}, {"kind", kind}, {"device", d.info.name}, {"start", format_rfc3339_ms(start_ms)}, {"what", what}};
    if (!d.info.subject.empty()) f["subject"] = d.info.subject;
    for (const auto& [k, v] : more.items()) f[k] = v;
    findings.push_back(std::move(f));
  }
  json position(double x_m, double y_m) const {
    return {{"lat", round_to(kCentreLat + y_m / kMetresPerDegreeLat, 1e6)},
            {"lon", round_to(kCentreLon + x_m / (kMetresPerDegreeLat * kCosCentreLat), 1e6)}};
  }
  json location(Dev& d, double x_m, double y_m) {
    json r = position(x_m, y_m);
    r["type"] = "location";
    r["accuracy_m"] = 3 + static_cast<int>(d.rng.below(6));
    return r;
  }

  const Options& o_;
  const char* name_;
};

// A: fever screening and PCR tests; a cluster whose first case the tracer must find.
class Origin : public World {
 public:
  explicit Origin(const Options& o) : World(o, "origin") {
    need(20);
    std::uint64_t cams = 0, labs = 0, bands = 0;
    for (std::uint64_t i = 0; i < o.devices; ++i) {
      if (i % 10 == 9) make(numbered("cam", ++cams, 2), "thermal_camera");
      else if (i % 20 == 18) make(numbered("lab", ++labs, 2), "lab_analyzer");
      else {
        ++bands;
        Dev& d = make(numbered("wb", bands, 4), "wristband", numbered("patient", bands, 4));
        d.x = d.rng.normal() * 60;
        d.y = d.rng.normal() * 60;
        d.base = 36.2 + d.rng.uniform() * 0.8;
        d.phase = d.rng.below(5);
        bands_.push_back(fleet.size() - 1);
      }
    }
    json chain = json::array();
    for (int ordinal : {4, 3, 0, 2}) chain.push_back({{"subject", subject(ordinal)}});
    json cluster = json::array();
    for (const auto& c : kCases) cluster.push_back(subject(c.ordinal));
    extra = {{"first_case", subject(2)}, {"cluster", cluster}, {"origin", chain}};
  }

  void minute(std::uint64_t m) override {
    // Everyone moves; then the planted contacts follow whom they met; then readings.
    for (auto i : bands_) {
      Dev& d = fleet[i];
      tick(d, m);
      d.x = std::clamp(d.x + d.rng.normal() * 6, -300.0, 300.0);
      d.y = std::clamp(d.y + d.rng.normal() * 6, -300.0, 300.0);
      const Case* c = case_of(i);
      d.level = c && m >= c->fever ? 38.3 + d.rng.normal() * 0.05 : d.base + d.rng.normal() * 0.08;
    }
    for (const auto& c : kCases)
      if (c.leader >= 0 && m >= c.from && m < c.to) {
        Dev& follower = band(c.ordinal);
        follower.x = band(c.leader).x + c.dx;
        follower.y = band(c.leader).y + c.dy;
      }
    for (auto i : bands_) {
      Dev& d = fleet[i];
      add(d, location(d, d.x, d.y));
      if (m % 5 == d.phase) {
        auto t = add(d, {{"type", "body_temperature"}, {"value", round_to(d.level, 10)}, {"unit", "Cel"}});
        if (d.level >= 37.5 && reported_.insert(d.info.name + "|" + d.info.subject).second)
          plant("fever", "threshold", d, t, "wristband temperature of a cluster case");
      }
    }
    for (auto& d : fleet) {
      if (d.info.kind == "thermal_camera") {
        tick(d, m);
        if (!d.rng.chance(0.6)) continue;
        const Dev& person = fleet[bands_[d.rng.below(bands_.size())]];
        double value = round_to(person.level + d.rng.normal() * 0.05, 10);
        auto t = add(d, {{"type", "body_temperature"}, {"value", value}, {"unit", "Cel"}, {"subject", person.info.subject}});
        if (value >= 37.5 && reported_.insert(d.info.name + "|" + person.info.subject).second) {
          plant("fever", "threshold", d, t, "thermal camera screened a cluster case", {{"subject", person.info.subject}});
        }
      } else if (d.info.kind == "lab_analyzer") {
        tick(d, m);
        if (d.info.name == "lab-01")
          for (const auto& c : kCases)
            if (m == c.positive) {
              auto t = add(d, {{"type", "pcr_test"}, {"result", "positive"}, {"subject", subject(c.ordinal)}}, 30000);
              for (auto& step : extra["origin"])
                if (step["subject"] == subject(c.ordinal)) step["positive_test"] = format_rfc3339_ms(t);
            }
        if (d.rng.chance(0.04)) {
          std::uint64_t k = d.rng.below(bands_.size());
          if (!case_of(bands_[k]))
            add(d, {{"type", "pcr_test"}, {"result", "negative"}, {"subject", fleet[bands_[k]].info.subject}}, 20000);
        }
      }
    }
  }

 private:
  // The cluster: wristband ordinal, fever onset and positive test minutes, and the contact
  // (leader, minutes [from, to), offset in metres) through which the case was infected.
  struct Case {
    std::size_t ordinal;
    std::uint64_t fever, positive;
    int leader;
    std::uint64_t from, to;
    double dx, dy;
  };
  static constexpr Case kCases[] = {
      {2, 5, 25, -1, 0, 0, 0, 0},          // the first case
      {0, 45, 50, 2, 10, 30, 0.8, 0.6},    // met the first case for 20 minutes at 1.0 m
      {1, 50, 55, 2, 12, 32, -1.0, 0.4},   // and so did this one
      {3, 80, 85, 0, 30, 50, 0.5, -0.9},   // a contact of a contact
      {4, 100, 110, 3, 60, 80, 1.1, 0.3},  // and one more hop
  };
  const Case* case_of(std::size_t fleet_index) const {
    for (const auto& c : kCases)
      if (bands_[c.ordinal] == fleet_index) return &c;
    return nullptr;
  }
  Dev& band(std::size_t ordinal) { return fleet[bands_[ordinal]]; }
  std::string subject(std::size_t ordinal) const { return fleet[bands_[ordinal]].info.subject; }

  std::vector<std::size_t> bands_;
  std::set<std::string> reported_;  // device|subject with a fever finding already
};

// B: wristbands of people quarantined in one building; a breach, a contact, a band taken off.
class Quarantine : public World {
 public:
  explicit Quarantine(const Options& o) : World(o, "quarantine") {
    need(10);
    for (std::uint64_t i = 0; i < o.devices; ++i) {
      Dev& d = make(numbered("wb", i + 1, 4), "wristband", numbered("patient", i + 1, 4));
      d.x = (d.rng.uniform() * 2 - 1) * 20;
      d.y = (d.rng.uniform() * 2 - 1) * 20;
    }
    json fenced = json::array();
    for (int i = 0; i < 10; ++i) fenced.push_back(fleet[i].info.name);
    extra = {{"geofence", {{"center", position(0, 0)}, {"radius_m", 60}, {"devices", fenced}}}};
    for (const auto& p : kPairs)
      if (p.near_miss)
        near_misses.push_back({{"rule", "close-contact"},
                               {"device", fleet[p.follower].info.name},
                               {"peer", fleet[p.leader].info.name},
                               {"from", format_rfc3339_ms(at(p.from))},
                               {"until", format_rfc3339_ms(at(p.to))},
                               {"distance_m", distance(p)},
                               {"reason", p.near_miss}});
  }

  void minute(std::uint64_t m) override {
    for (std::size_t i = 0; i < fleet.size(); ++i) {
      Dev& d = fleet[i];
      tick(d, m);
      if (i == kSilent && m >= kSilentFrom && m < kSilentTo) {
        if (m == kSilentFrom)
          plant("band-off", "silence", d, d.last_ms, "wristband taken off for " + std::to_string(kSilentTo - kSilentFrom) + " minutes");
        continue;
      }
      d.x = std::clamp(d.x + d.rng.normal() * 1.0, -25.0, 25.0);
      d.y = std::clamp(d.y + d.rng.normal() * 1.0, -25.0, 25.0);
      const Pair* pair = nullptr;
      for (const auto& p : kPairs)
        if (p.follower == i && m >= p.from && m < p.to) pair = &p;
      if (pair) {
        d.x = fleet[pair->leader].x + pair->dx;
        d.y = fleet[pair->leader].y + pair->dy;
      }
      bool outside = i == kBreach && m >= kBreachFrom && m < kBreachTo;
      double x = outside ? 150.0 + 3.0 * static_cast<double>(m - kBreachFrom) : d.x, y = outside ? 40.0 : d.y;
      auto t = add(d, location(d, x, y));
      if (outside && m == kBreachFrom) plant("left-quarantine", "geofence", d, t, "walked out of the quarantine building for 30 minutes");
      if (pair) {
        auto tp = add(d, {{"type", "proximity"}, {"peer", fleet[pair->leader].info.name}, {"distance_m", distance(*pair)}});
        if (!pair->near_miss && m == pair->from)
          plant("close-contact", "proximity", d, tp, "22 minutes within 1.03 m", {{"peer", fleet[pair->leader].info.name}});
      } else if (!outside && d.rng.chance(0.08)) {
        // Neighbours through a wall: reported, never closer than 2 m.
        std::size_t peer = d.rng.below(fleet.size());
        if (peer != i) add(d, {{"type", "proximity"}, {"peer", fleet[peer].info.name}, {"distance_m", round_to(2.0 + d.rng.uniform() * 6, 100)}});
      }
    }
  }

 private:
  struct Pair {
    std::size_t leader, follower;
    std::uint64_t from, to;
    double dx, dy;
    const char* near_miss;  // nullptr: a contact the audit must report
  };
  static constexpr Pair kPairs[] = {
      {4, 5, 30, 52, 0.9, 0.5, nullptr},      // 22 minutes at 1.03 m
      {6, 7, 60, 66, 1.2, 0.0, "too short"},  // 6 readings over 5 minutes
      {8, 9, 60, 100, 2.4, 0.0, "too far"},   // 2.4 m
  };
  static double distance(const Pair& p) { return round_to(std::hypot(p.dx, p.dy), 100); }
  static constexpr std::size_t kBreach = 2, kSilent = 3;
  static constexpr std::uint64_t kBreachFrom = 40, kBreachTo = 70, kSilentFrom = 80, kSilentTo = 100;
};

// C: RFID-tracked respirators, beds and ambulances; sterilizers; ventilator monitors.
class Hospital : public World {
 public:
  explicit Hospital(const Options& o) : World(o, "hospital") {
    need(10);
    std::uint64_t vents = 0;
    for (std::uint64_t i = 0; i < o.devices; ++i) {
      std::uint64_t block = i / 10 + 1;
      if (i % 10 == 0) {
        readers_.push_back(fleet.size());
        make(numbered("rfid", block, 2), "rfid_reader");
        assets_.push_back({numbered("amb", block, 2), fleet.size() - 1, 0, false});
      } else if (i % 10 == 1) {
        make(numbered("ster", block, 2), "sterilizer");
      } else {
        ++vents;
        make(numbered("vent", vents, 4), "ventilator_monitor", numbered("patient", vents, 4));
        if (i / 10 * 10 + 1 < o.devices) {  // its block has a sterilizer
          std::size_t reader = readers_.back();
          assets_.push_back({numbered("resp", vents, 4), reader, reader + 1, true});
          assets_.push_back({numbered("bed", vents, 4), reader, 0, false});
        }
      }
    }
    for (auto& a : assets_) {
      a.next = 1 + fleet[a.reader].rng.below(30);
      if (a.name == "resp-0002") a.next = 20;  // planted: goes into use never sterilized
      if (a.name == "resp-0003") a.next = 25;  // planted: its only cycle failed
    }
    extra = {{"assets", assets_.size()}};
  }

  void minute(std::uint64_t m) override {
    for (auto& d : fleet) tick(d, m);
    for (auto& a : assets_) {
      Dev& reader = fleet[a.reader];
      if (m == 0) {
        if (a.sterilized) {
          bool skipped = a.name == "resp-0002", failed = a.name == "resp-0003";
          if (!skipped) sterilize(a, failed ? "fail" : "pass");
        }
        add(reader, status(a, "available"));
        continue;
      }
      if (a.name == "resp-0004" && m == kFaultMinute) {
        auto t = add(reader, status(a, "fault"));
        plant("faults", "malfunction", reader, t, "respirator resp-0004 reported status fault", {{"asset", a.name}});
        Dev& monitor = device("vent-0004");  // the monitor on resp-0004
        auto tm = add(monitor, {{"type", "malfunction"}, {"code", "E-FLOW-02"}, {"asset", a.name}, {"message", "expiratory flow sensor out of range"}});
        plant("faults", "malfunction", monitor, tm, "ventilator monitor reported fault E-FLOW-02", {{"asset", a.name}});
        a.state = "fault";
        a.next = ~std::uint64_t(0);
        continue;
      }
      if (m != a.next) continue;
      Rng& rng = reader.rng;
      if (a.state == "available") {
        a.state = "in_use";
        a.next = m + 30 + rng.below(60);
        auto t = add(reader, status(a, "in_use"));
        if (a.name == "resp-0002" && m == 20)
          plant("unsterile-use", "sterilization", reader, t, "respirator put into use with no sterilization on record", {{"asset", a.name}});
        if (a.name == "resp-0003" && m == 25)
          plant("unsterile-use", "sterilization", reader, t, "respirator put into use after a failed sterilization cycle", {{"asset", a.name}});
      } else if (a.state == "in_use") {
        a.state = a.name.rfind("amb-", 0) == 0 ? "available" : "cleaning";
        a.next = m + (a.state == "cleaning" ? 10 : 5 + rng.below(15));
        add(reader, status(a, a.state.c_str()));
      } else if (a.state == "cleaning") {
        if (a.sterilized) sterilize(a, "pass");
        a.state = "available";
        a.next = m + 5 + rng.below(15);
        add(reader, status(a, "available"));
      }
    }
    // Ventilator monitors: the patient's breathing, every minute.
    for (auto& d : fleet)
      if (d.info.kind == "ventilator_monitor") {
        add(d, {{"type", "respiratory_rate"}, {"value", 14 + d.rng.below(8)}, {"unit", "/min"}});
        add(d, {{"type", "spo2"}, {"value", 95 + d.rng.below(5)}, {"unit", "%"}});
      }
  }

 private:
  struct Asset {
    std::string name;
    std::size_t reader, sterilizer;
    bool sterilized;  // respirators: a sterilization cycle after every use
    std::string state = "available";
    std::uint64_t next = 0;  // minute of the next change
  };
  json status(const Asset& a, const char* s) const { return {{"type", "asset_status"}, {"asset", a.name}, {"status", s}}; }
  void sterilize(const Asset& a, const char* result) {
    Dev& ster = fleet[a.sterilizer];
    add(ster, {{"type", "sterilization"}, {"asset", a.name}, {"cycle", "A-" + std::to_string(5000 + ster.rng.below(5000))}, {"result", result}});
  }
  Dev& device(const std::string& name) {
    for (auto& d : fleet)
      if (d.info.name == name) return d;
    throw Error(ExitCode::usage, "no device " + name);
  }
  static constexpr std::uint64_t kFaultMinute = 70;
  std::vector<std::size_t> readers_;
  std::vector<Asset> assets_;
};

// D: bedside monitors whose readings a clinical report is derived from; lost and replayed readings.
class Provenance : public World {
 public:
  explicit Provenance(const Options& o) : World(o, "provenance") {
    need(4);
    for (std::uint64_t i = 0; i + 1 < o.devices; ++i) {
      Dev& d = make(numbered("mon", i + 1, 4), "bedside_monitor", numbered("patient", i + 1, 4));
      d.base = 36.3 + d.rng.uniform() * 0.6;
      d.level = 65 + d.rng.uniform() * 20;
      d.phase = d.rng.below(5);
    }
    make("ecg-01", "analytics_node");
    extra = {{"report", {{"device", "ecg-01"}, {"subject", "patient-0001"}, {"title", "ECG and oxygenation summary, 08:30-08:35"}, {"sources", json::array()}}}};
  }

  void minute(std::uint64_t m) override {
    for (std::size_t i = 0; i + 1 < fleet.size(); ++i) {
      Dev& d = fleet[i];
      tick(d, m);
      bool lost = i == 1 && m >= 40 && m < 43;  // mon-0002's radio drops three minutes of readings
      if (i == 1 && m == 43) plant("missing-or-replayed", "gap", d, d.last_ms, "three minutes of readings never arrived");
      d.level = std::clamp(d.level + d.rng.normal() * 1.5, 55.0, 110.0);
      json readings[] = {
          {{"type", "heart_rate"}, {"value", std::lround(d.level)}, {"unit", "/min"}},
          {{"type", "spo2"}, {"value", 95 + d.rng.below(5)}, {"unit", "%"}},
          {{"type", "respiratory_rate"}, {"value", 12 + d.rng.below(8)}, {"unit", "/min"}},
      };
      for (auto& r : readings) {
        if (lost) {
          lose(d);
          continue;
        }
        std::string type = r["type"];
        add(d, std::move(r));
        if (i == 0 && m >= 30 && m < 35 && type != "respiratory_rate")
          extra["report"]["sources"].push_back({{"device", d.info.name}, {"seq", d.seq}, {"type", type}, {"time", format_rfc3339_ms(d.last_ms)}});
      }
      if (m % 5 == d.phase && lost) lose(d);
      else if (m % 5 == d.phase) add(d, {{"type", "body_temperature"}, {"value", round_to(d.base + d.rng.normal() * 0.08, 10)}, {"unit", "Cel"}});
      if (i == 2 && m == 60) {
        plant("missing-or-replayed", "gap", d, d.last_ms, "the latest reading was sent again with a new time");
        replay(d);
      }
    }
  }
};

// E: patients at home with a wearable, a blood-pressure cuff, a glucose meter and a
// thermometer each; some devices report in [degF] or mmol/L, which the rules must convert.
class Telemedicine : public World {
 public:
  explicit Telemedicine(const Options& o) : World(o, "telemedicine") {
    need(20);
    for (std::uint64_t i = 0; i + 3 < o.devices; i += 4) {
      std::uint64_t p = i / 4 + 1;
      std::string subject = numbered("patient", p, 4);
      Dev& wear = make(numbered("wear", p, 4), "wearable", subject);
      wear.level = 60 + wear.rng.uniform() * 25;
      wear.base = 96 + wear.rng.uniform() * 3;
      Dev& cuff = make(numbered("bp", p, 4), "bp_cuff", subject);
      cuff.phase = cuff.rng.below(30);
      Dev& glu = make(numbered("glu", p, 4), "glucose_meter", subject);
      glu.phase = glu.rng.below(60);
      glu.unit = p % 3 == 2 ? "mmol/L" : "mg/dL";
      Dev& therm = make(numbered("therm", p, 4), "thermometer", subject);
      therm.phase = therm.rng.below(60);
      therm.unit = p % 2 == 0 ? "[degF]" : "Cel";
      therm.base = 36.3 + therm.rng.uniform() * 0.6;
    }
    near_misses.push_back({{"rule", "low-spo2"}, {"device", "wear-0002"}, {"from", format_rfc3339_ms(at(70))},
                           {"until", format_rfc3339_ms(at(73))}, {"reason", "SpO2 91 % for 2 minutes, not 5"}});
  }

  void minute(std::uint64_t m) override {
    for (auto& d : fleet) {
      tick(d, m);
      const std::string& kind = d.info.kind;
      if (kind == "wearable") {
        d.level = std::clamp(d.level + d.rng.normal() * 2.0, 55.0, 110.0);
        d.base = std::clamp(d.base + d.rng.normal() * 0.3, 94.0, 100.0);
        double spo2 = std::round(d.base);
        if (d.info.name == "wear-0001" && m >= 50 && m < 62) spo2 = 88 + static_cast<double>(d.rng.below(3));
        if (d.info.name == "wear-0002" && m >= 70 && m < 73) spo2 = 91;
        add(d, {{"type", "heart_rate"}, {"value", std::lround(d.level)}, {"unit", "/min"}});
        auto t = add(d, {{"type", "spo2"}, {"value", spo2}, {"unit", "%"}});
        if (d.info.name == "wear-0001" && m == 50) plant("low-spo2", "threshold", d, t, "SpO2 88-90 % for 12 minutes");
      } else if (kind == "bp_cuff" && m % 30 == d.phase) {
        double systolic = std::round(118 + d.rng.normal() * 10);
        double diastolic = std::round(std::min(systolic - 25, 76 + d.rng.normal() * 6));
        bool crisis = d.info.name == "bp-0003" && m >= 60 && !planted_crisis_;
        if (crisis) {
          systolic = 186;
          diastolic = 104;
        }
        if (d.info.name == "bp-0001" && m >= 30 && m < 60) {
          lose(d);  // one measurement lost in transit: the next one proves it by its seq
          lost_from_ = d.last_ms;
          continue;
        }
        auto t = add(d, {{"type", "blood_pressure"}, {"systolic", systolic}, {"diastolic", diastolic}, {"unit", "mm[Hg]"}});
        if (crisis) {
          planted_crisis_ = true;
          plant("hypertension", "threshold", d, t, "systolic 186 mm[Hg]");
        }
        if (d.info.name == "bp-0001" && m >= 60 && lost_from_ >= 0) {
          plant("missing-reading", "gap", d, lost_from_, "one blood-pressure measurement never arrived");
          lost_from_ = -1;
        }
      } else if (kind == "glucose_meter" && m % 60 == d.phase) {
        double mg_dl = std::round(std::clamp(115 + d.rng.normal() * 15, 80.0, 160.0));
        bool low = d.info.name == "glu-0005" && m >= 60 && !planted_low_;
        if (low) mg_dl = 55.9;
        double value = d.unit == "mmol/L" ? round_to(mg_dl / 18.0156, 10) : mg_dl;
        auto t = add(d, {{"type", "glucose"}, {"value", value}, {"unit", d.unit}});
        if (low) {
          planted_low_ = true;
          plant("hypoglycaemia", "threshold", d, t, "glucose " + jcs::format_number(value) + " " + d.unit + " (below 70 mg/dL)");
        }
      } else if (kind == "thermometer" && m % 60 == d.phase) {
        bool fever = d.info.name == "therm-0004" && m >= 60;
        double celsius = fever ? 38.8 + d.rng.normal() * 0.05 : d.base + d.rng.normal() * 0.1;
        double value = d.unit == "[degF]" ? round_to(celsius * 9 / 5 + 32, 10) : round_to(celsius, 10);
        auto t = add(d, {{"type", "body_temperature"}, {"value", value}, {"unit", d.unit}});
        if (fever && !planted_fever_) {
          planted_fever_ = true;
          plant("fever", "threshold", d, t, "temperature " + jcs::format_number(value) + " " + d.unit + " (at least 38 Cel)");
        }
      }
    }
  }

 private:
  bool planted_crisis_ = false, planted_low_ = false, planted_fever_ = false;
  std::int64_t lost_from_ = -1;
};

std::unique_ptr<World> make_world(const Options& o) {
  if (o.scenario == "origin") return std::make_unique<Origin>(o);
  if (o.scenario == "quarantine") return std::make_unique<Quarantine>(o);
  if (o.scenario == "hospital") return std::make_unique<Hospital>(o);
  if (o.scenario == "provenance") return std::make_unique<Provenance>(o);
  if (o.scenario == "telemedicine") return std::make_unique<Telemedicine>(o);
  throw Error(ExitCode::usage, "unknown scenario \"" + o.scenario + "\"");
}

}  // namespace

const std::vector<std::string>& use_scenarios() {
  static const std::vector<std::string> kNames = {"origin", "quarantine", "hospital", "provenance", "telemedicine"};
  return kNames;
}

bool is_use_scenario(const std::string& name) {
  const auto& names = use_scenarios();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<DeviceInfo> use_devices(const Options& options) {
  auto world = make_world(options);
  std::vector<DeviceInfo> out;
  for (const auto& d : world->fleet) out.push_back(d.info);
  return out;
}

std::uint64_t use_generate(const Options& options, const std::function<void(const std::string&)>& emit, nlohmann::json* truth) {
  auto world = make_world(options);
  std::uint64_t written = 0;
  for (std::uint64_t m = 0; m < options.minutes; ++m) {
    world->pending.clear();
    world->minute(m);
    std::sort(world->pending.begin(), world->pending.end(), [](const Pending& a, const Pending& b) {
      return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.order < b.order;
    });
    for (const auto& p : world->pending) {
      emit(jcs::canonicalize(p.reading));
      ++written;
    }
  }
  if (truth) *truth = world->truth();
  return written;
}

}  // namespace medtrail::simulate::detail
