#include "simulate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "jcs.hpp"
#include "scenarios.hpp"
#include "simulate_rng.hpp"
#include "timefmt.hpp"

namespace medtrail::simulate {
namespace {

using nlohmann::json;

using detail::numbered;
using detail::Rng;
using detail::round_to;

constexpr double kHospitalLat = 22.1987;
constexpr double kHospitalLon = 113.5439;
constexpr double kMetresPerDegreeLat = 111320.0;
constexpr double kCosHospitalLat = 0.925869;  // cos(22.1987 deg), fixed so no libm call differs

struct Device {
  DeviceInfo info;
  std::uint64_t seq = 0;
  Rng rng{0};
  std::int64_t jitter_ms = 0;
  // Wristband state
  double temperature_base = 36.6;
  bool feverish = false;
  double heart_rate = 72;
  double spo2 = 98;
  double x_m = 0, y_m = 0;  // offset from the hospital, metres
  std::uint64_t phase = 0;  // which minute of the period a periodic device reports
};

std::vector<Device> build(const Options& o) {
  std::vector<Device> out;
  std::uint64_t wristbands = 0, cuffs = 0, meters = 0, labs = 0, rfids = 0;
  for (std::uint64_t i = 0; i < o.devices; ++i) {
    Device d;
    std::uint64_t slot = i % 50;
    if (o.devices >= 50 && slot == 49) {
      d.info = {numbered("lab", ++labs, 2), "lab_analyzer", ""};
    } else if (o.devices >= 50 && slot == 48) {
      d.info = {numbered("rfid", ++rfids, 2), "rfid_reader", ""};
    } else if (o.devices >= 10 && i % 10 == 7) {
      ++cuffs;
      d.info = {numbered("bp", cuffs, 4), "bp_cuff", numbered("patient", cuffs * 3 % std::max<std::uint64_t>(wristbands, 1) + 1, 4)};
    } else if (o.devices >= 10 && i % 10 == 8) {
      ++meters;
      d.info = {numbered("glu", meters, 4), "glucose_meter", numbered("patient", meters * 5 % std::max<std::uint64_t>(wristbands, 1) + 1, 4)};
    } else {
      ++wristbands;
      d.info = {numbered("wb", wristbands, 4), "wristband", numbered("patient", wristbands, 4)};
    }
    d.rng = Rng(detail::device_seed(o.seed, i));
    d.jitter_ms = static_cast<std::int64_t>(d.rng.below(900));
    d.temperature_base = 36.2 + d.rng.uniform() * 0.8;
    d.feverish = d.rng.chance(0.06);
    d.heart_rate = 60 + d.rng.uniform() * 30;
    d.spo2 = 96 + d.rng.uniform() * 3;
    d.x_m = d.rng.normal() * 60;
    d.y_m = d.rng.normal() * 60;
    d.phase = d.rng.below(15);
    out.push_back(std::move(d));
  }
  return out;
}

// The contacts scenario: wristband `follower` stays at an offset from wristband `leader`
// (ordinals among wristbands) during minutes [from, to).
struct Plant {
  std::size_t leader, follower;
  std::uint64_t from, to;
  double dx_m, dy_m;
  int hop;                 // 0: a near miss the tracer must not report
  const char* near_miss;   // why not, for the truth file
};
constexpr Plant kPlants[] = {
    {0, 1, 10, 40, 0.8, 0.6, 1, ""},             // 30 min at 1.0 m
    {1, 2, 50, 75, 1.2, 0.0, 2, ""},             // contact of a contact
    {0, 3, 80, 85, 0.6, 0.6, 0, "too short"},    // 5 min
    {0, 4, 80, 110, 3.0, 2.0, 0, "too far"},     // 3.6 m
    {0, 5, 90, 110, 0.7, 0.0, 1, ""},            // 20 min at 0.7 m
    {5, 6, 20, 45, 0.0, 1.1, 2, ""},             // how the earliest case met the second one
};
// Positive tests: (wristband ordinal, minute). The origin chain runs 0 <- 5 <- 6.
constexpr std::pair<std::size_t, std::uint64_t> kPlantedPositives[] = {{0, 115}, {5, 60}, {6, 5}};
constexpr std::uint64_t kScenarioMinutes = 120;

void check_scenario(const Options& o) {
  if (o.scenario.empty() || detail::is_use_scenario(o.scenario)) return;
  if (o.scenario != "contacts") throw Error(ExitCode::usage, "unknown scenario \"" + o.scenario + "\"");
  if (o.devices < 50 || o.minutes < kScenarioMinutes)
    throw Error(ExitCode::usage, "the contacts scenario needs --devices 50 or more and --minutes " +
                                     std::to_string(kScenarioMinutes) + " or more");
}

struct Pending {
  std::int64_t time_ms;
  std::uint64_t order;  // keeps the output stable for equal times
  json reading;
};

}  // namespace

std::vector<std::string> scenarios() {
  std::vector<std::string> names = {"contacts"};
  for (const auto& n : detail::use_scenarios()) names.push_back(n);
  return names;
}

std::vector<DeviceInfo> devices(const Options& options) {
  if (detail::is_use_scenario(options.scenario)) return detail::use_devices(options);
  std::vector<DeviceInfo> out;
  for (auto& d : build(options)) out.push_back(d.info);
  return out;
}

std::uint64_t list_devices(const Options& options, const std::function<void(const std::string&)>& emit) {
  std::uint64_t n = 0;
  for (const auto& d : devices(options)) {
    emit(json{{"name", d.name}, {"role", "device"}, {"kind", d.kind}}.dump());
    ++n;
  }
  return n;
}

std::uint64_t generate(const Options& o, const std::function<void(const std::string&)>& emit, json* truth) {
  if (detail::is_use_scenario(o.scenario)) return detail::use_generate(o, emit, truth);
  check_scenario(o);
  const bool planted = o.scenario == "contacts";
  auto fleet = build(o);
  std::vector<std::size_t> wristband_index;
  for (std::size_t i = 0; i < fleet.size(); ++i)
    if (fleet[i].info.kind == "wristband") wristband_index.push_back(i);
  static const char* kAssetKinds[] = {"bed", "resp", "amb"};
  static const char* kStatuses[] = {"available", "in_use", "in_use", "cleaning", "available"};
  std::uint64_t written = 0;
  std::vector<Pending> minute;
  std::vector<std::string> planted_tests;  // subjects whose planted positive test is due this minute
  for (std::uint64_t m = 0; m < o.minutes; ++m) {
    minute.clear();
    planted_tests.clear();
    std::int64_t base = o.start_unix_ms + static_cast<std::int64_t>(m) * 60000;
    for (auto& d : fleet) {
      std::int64_t t = base + d.jitter_ms + static_cast<std::int64_t>(d.rng.below(40));
      auto add = [&](json reading, std::int64_t offset = 0) {
        reading["device"] = d.info.name;
        reading["time"] = format_rfc3339_ms(t + offset);
        reading["seq"] = ++d.seq;
        if (!d.info.subject.empty() && !reading.contains("subject")) reading["subject"] = d.info.subject;
        minute.push_back({t + offset, minute.size(), std::move(reading)});
      };
      const std::string& kind = d.info.kind;
      if (kind == "wristband") {
        double fever = d.feverish && m >= o.minutes / 3 ? std::min(2.2, 0.02 * static_cast<double>(m - o.minutes / 3) + 0.9) : 0;
        double temperature = d.temperature_base + fever + d.rng.normal() * 0.08;
        d.heart_rate = std::clamp(d.heart_rate + d.rng.normal() * 2.0 + fever * 1.5, 48.0, 140.0);
        d.spo2 = std::clamp(d.spo2 + d.rng.normal() * 0.4, 93.0, 100.0);
        d.x_m = std::clamp(d.x_m + d.rng.normal() * 6, -300.0, 300.0);
        d.y_m = std::clamp(d.y_m + d.rng.normal() * 6, -300.0, 300.0);
        const Plant* plant = nullptr;
        if (planted)
          for (const auto& p : kPlants)
            if (&d == &fleet[wristband_index[p.follower]] && m >= p.from && m < p.to) plant = &p;
        if (plant) {
          const auto& leader = fleet[wristband_index[plant->leader]];
          d.x_m = leader.x_m + plant->dx_m;
          d.y_m = leader.y_m + plant->dy_m;
        }
        add({{"type", "body_temperature"}, {"value", round_to(temperature, 10)}, {"unit", "Cel"}});
        add({{"type", "heart_rate"}, {"value", std::lround(d.heart_rate)}, {"unit", "/min"}}, 1);
        add({{"type", "spo2"}, {"value", std::lround(d.spo2)}, {"unit", "%"}}, 2);
        add({{"type", "location"},
             {"lat", round_to(kHospitalLat + d.y_m / kMetresPerDegreeLat, 1e6)},
             {"lon", round_to(kHospitalLon + d.x_m / (kMetresPerDegreeLat * kCosHospitalLat), 1e6)},
             {"accuracy_m", 3 + static_cast<int>(d.rng.below(8))}},
            3);
        if (plant)
          add({{"type", "proximity"},
               {"peer", fleet[wristband_index[plant->leader]].info.name},
               {"distance_m", round_to(std::hypot(plant->dx_m, plant->dy_m), 100)}},
              4);
        if (planted) {
          for (const auto& [ordinal, test_minute] : kPlantedPositives)
            if (&d == &fleet[wristband_index[ordinal]] && m == test_minute)
              planted_tests.push_back(d.info.subject);
        } else if (wristband_index.size() > 1 && d.rng.chance(0.05)) {
          const auto& peer = fleet[wristband_index[d.rng.below(wristband_index.size())]];
          if (peer.info.name != d.info.name)
            add({{"type", "proximity"}, {"peer", peer.info.name}, {"distance_m", round_to(0.3 + d.rng.uniform() * 4.7, 100)}}, 4);
        }
      } else if (kind == "bp_cuff") {
        if (m % 15 == d.phase) {
          double systolic = std::round(118 + d.rng.normal() * 12);
          double diastolic = std::round(std::min(systolic - 25, 76 + d.rng.normal() * 8));
          add({{"type", "blood_pressure"}, {"systolic", systolic}, {"diastolic", diastolic}, {"unit", "mm[Hg]"}});
        }
      } else if (kind == "glucose_meter") {
        if (m % 30 == d.phase)
          add({{"type", "glucose"}, {"value", std::round(std::clamp(110 + d.rng.normal() * 25, 70.0, 180.0))}, {"unit", "mg/dL"}});
      } else if (kind == "lab_analyzer") {
        if (planted) {
          if (d.info.name == "lab-01")
            for (const auto& subject : planted_tests) add({{"type", "pcr_test"}, {"result", "positive"}, {"subject", subject}}, 30000);
        } else if (!wristband_index.empty() && d.rng.chance(0.05)) {
          const auto& patient = fleet[wristband_index[d.rng.below(wristband_index.size())]];
          bool positive = patient.feverish ? d.rng.chance(0.7) : d.rng.chance(0.02);
          add({{"type", "pcr_test"}, {"result", positive ? "positive" : "negative"}, {"subject", patient.info.subject}});
        }
      } else if (kind == "rfid_reader") {
        std::string number = d.info.name.substr(5);
        if (d.rng.chance(0.2)) {
          std::uint64_t k = d.rng.below(3);
          std::string asset = numbered(kAssetKinds[k], d.rng.below(20) + 1, k == 2 ? 2 : 4) + "-" + number;
          const char* status = d.rng.chance(0.01) ? "fault" : kStatuses[d.rng.below(5)];
          add({{"type", "asset_status"}, {"asset", asset}, {"status", status}});
        }
        if (d.rng.chance(0.05)) {
          std::string asset = numbered("resp", d.rng.below(20) + 1, 4) + "-" + number;
          add({{"type", "sterilization"},
               {"asset", asset},
               {"cycle", "A-" + std::to_string(5000 + d.rng.below(5000))},
               {"result", d.rng.chance(0.03) ? "fail" : "pass"}},
              5);
        }
      }
    }
    std::sort(minute.begin(), minute.end(), [](const Pending& a, const Pending& b) {
      return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.order < b.order;
    });
    for (const auto& p : minute) {
      emit(jcs::canonicalize(p.reading));  // shortest round-trip numbers, sorted keys
      ++written;
    }
  }
  return written;
}

std::string contact_truth(const Options& o) {
  check_scenario(o);
  if (o.scenario != "contacts") throw Error(ExitCode::usage, "--truth needs --scenario");
  auto fleet = devices(o);
  std::vector<std::string> subjects;
  for (const auto& d : fleet)
    if (d.kind == "wristband") subjects.push_back(d.subject);
  auto at = [&](std::uint64_t minute) { return format_rfc3339_ms(o.start_unix_ms + static_cast<std::int64_t>(minute) * 60000); };
  json contacts = json::array(), near_misses = json::array(), origin = json::array();
  for (const auto& p : kPlants) {
    json entry = {{"subject", subjects[p.follower]}, {"near", subjects[p.leader]},
                  {"from", at(p.from)},              {"until", at(p.to)},
                  {"minutes", p.to - p.from},        {"distance_m", round_to(std::hypot(p.dx_m, p.dy_m), 100)}};
    if (p.hop > 0) {
      entry["hop"] = p.hop;
      contacts.push_back(entry);
    } else {
      entry["reason"] = p.near_miss;
      near_misses.push_back(entry);
    }
  }
  for (const auto& [ordinal, minute] : kPlantedPositives) origin.push_back({{"subject", subjects[ordinal]}, {"positive_test", at(minute)}});
  json truth = {{"scenario", "contacts"},
                {"index", subjects[0]},
                {"radius_m", 2},
                {"min_duration", "15m"},
                {"window", {{"since", at(0)}, {"until", at(o.minutes)}}},
                {"contacts", contacts},
                {"near_misses", near_misses},
                {"origin", origin}};
  return truth.dump(2);
}

}  // namespace medtrail::simulate
