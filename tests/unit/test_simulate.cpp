// The reading simulator (lib/simulate.hpp): deterministic, valid, time-ordered output from a
// fleet that list_devices() enrols exactly.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "error.hpp"
#include "jcs.hpp"
#include "reading.hpp"
#include "simulate.hpp"
#include "timefmt.hpp"

using namespace medtrail;
using nlohmann::json;
namespace sim = medtrail::simulate;

namespace {

sim::Options options(std::uint64_t devices, std::uint64_t minutes, std::uint64_t seed = 1) {
  sim::Options o;
  o.devices = devices;
  o.minutes = minutes;
  o.seed = seed;
  return o;
}

std::vector<std::string> readings(const sim::Options& o) {
  std::vector<std::string> lines;
  std::uint64_t returned = sim::generate(o, [&](const std::string& line) { lines.push_back(line); });
  CHECK(returned == lines.size());  // the return value counts what was emitted
  return lines;
}

std::vector<std::string> enrolment(const sim::Options& o) {
  std::vector<std::string> lines;
  std::uint64_t returned = sim::list_devices(o, [&](const std::string& line) { lines.push_back(line); });
  CHECK(returned == lines.size());
  return lines;
}

// "Now" for validation: an hour after the simulated period ends, so nothing is in the future.
ValidationLimits limits_for(const sim::Options& o) {
  return {o.start_unix_ms + static_cast<std::int64_t>(o.minutes) * 60000 + 3600 * 1000, 5 * 60 * 1000};
}

}  // namespace

TEST_CASE("the same options give byte-identical output", "[simulate]") {
  for (auto o : {options(1, 5), options(12, 30, 7), options(100, 3, 42)}) {
    INFO(o.devices << " devices, " << o.minutes << " minutes, seed " << o.seed);
    const auto first = readings(o);
    CHECK_FALSE(first.empty());
    CHECK(readings(o) == first);
    CHECK(enrolment(o) == enrolment(o));
  }
}

TEST_CASE("different seeds give different readings from the same fleet", "[simulate]") {
  const auto a = readings(options(10, 20, 1));
  const auto b = readings(options(10, 20, 2));
  const auto c = readings(options(10, 20, 3));
  CHECK(a != b);
  CHECK(b != c);
  CHECK(a != c);
  // The fleet itself depends only on the device count.
  CHECK(enrolment(options(10, 20, 1)) == enrolment(options(10, 20, 2)));
  // A different start time shifts the times too.
  auto later = options(10, 20, 1);
  later.start_unix_ms += 86400000;
  CHECK(readings(later) != a);
}

TEST_CASE("every simulated line is canonical JSON that the reading validator accepts", "[simulate]") {
  // 100 devices: every device kind (wristbands, cuffs, glucose meters, lab analysers, RFID
  // readers) is present; 45 minutes: periodic cuffs and meters report at least once.
  const auto o = options(100, 45, 5);
  const auto lines = readings(o);
  REQUIRE(lines.size() > 1000);
  std::set<std::string> types;
  std::size_t rejected = 0;
  for (const auto& line : lines) {
    json reading;
    REQUIRE_NOTHROW(reading = json::parse(line));
    // Emitted in canonical form, so it is exactly what the ledger hashes.
    CHECK(jcs::canonicalize(reading) == line);
    auto check = validate_reading(reading, limits_for(o));
    if (!check.reading) {
      ++rejected;
      INFO(line);
      CHECK(check.reason == "");
      continue;
    }
    types.insert(check.reading->type);
  }
  CHECK(rejected == 0);
  for (const char* type : {"body_temperature", "heart_rate", "spo2", "location", "proximity", "blood_pressure",
                           "glucose", "pcr_test", "asset_status", "sterilization"})
    CHECK(types.count(type) == 1);
}

TEST_CASE("reading times never go backwards and stay inside the simulated period", "[simulate]") {
  for (auto o : {options(3, 30, 9), options(60, 20, 11)}) {
    INFO(o.devices << " devices");
    std::int64_t previous = o.start_unix_ms;
    const std::int64_t end = o.start_unix_ms + static_cast<std::int64_t>(o.minutes) * 60000;
    for (const auto& line : readings(o)) {
      auto t = parse_rfc3339_ms(json::parse(line).at("time").get<std::string>());
      REQUIRE(t);
      INFO(line);
      CHECK(*t >= previous);
      CHECK(*t < end);
      previous = *t;
    }
  }
}

TEST_CASE("list_devices enrols exactly the devices() fleet, and readings come only from it", "[simulate]") {
  for (std::uint64_t count : {1, 9, 10, 49, 50, 120}) {
    INFO(count << " devices");
    const auto o = options(count, 15, 3);
    const auto fleet = sim::devices(o);
    const auto lines = enrolment(o);
    REQUIRE(fleet.size() == count);
    REQUIRE(lines.size() == count);
    std::set<std::string> names;
    for (std::size_t i = 0; i < count; ++i) {
      json line = json::parse(lines[i]);
      CHECK(line == json{{"name", fleet[i].name}, {"role", "device"}, {"kind", fleet[i].kind}});
      CHECK(names.insert(fleet[i].name).second);  // names are unique
      // Lab analysers and RFID readers serve many patients; bedside devices have one.
      bool shared = fleet[i].kind == "lab_analyzer" || fleet[i].kind == "rfid_reader";
      CHECK(fleet[i].subject.empty() == shared);
    }
    for (const auto& reading : readings(o)) {
      INFO(reading);
      CHECK(names.count(json::parse(reading).at("device").get<std::string>()) == 1);
    }
  }
  // The documented enrolment line format.
  CHECK(enrolment(options(1, 1)) == std::vector<std::string>{R"({"kind":"wristband","name":"wb-0001","role":"device"})"});
}

TEST_CASE("each device numbers its readings 1, 2, 3, ... in output order", "[simulate]") {
  std::map<std::string, std::uint64_t> last;
  for (const auto& line : readings(options(60, 20, 8))) {
    json r = json::parse(line);
    INFO(line);
    auto& seq = last[r.at("device").get<std::string>()];
    CHECK(r.at("seq").get<std::uint64_t>() == seq + 1);
    seq = r.at("seq").get<std::uint64_t>();
  }
}

TEST_CASE("subjects in readings are patients wearing a wristband", "[simulate]") {
  const auto o = options(100, 30, 4);
  std::set<std::string> patients;
  for (const auto& d : sim::devices(o))
    if (d.kind == "wristband") patients.insert(d.subject);
  for (const auto& line : readings(o)) {
    json r = json::parse(line);
    if (!r.contains("subject")) continue;
    INFO(line);
    CHECK(patients.count(r.at("subject").get<std::string>()) == 1);
  }
}

TEST_CASE("reading counts scale with devices times minutes", "[simulate]") {
  // One wristband has no peer: exactly four readings a minute (temperature, heart rate, SpO2,
  // location).
  CHECK(readings(options(1, 1)).size() == 4);
  CHECK(readings(options(1, 37)).size() == 4 * 37);
  CHECK(readings(options(0, 10)).empty());
  CHECK(readings(options(10, 0)).empty());

  // Small fleets are all wristbands: 4 readings each a minute plus occasional proximity.
  for (std::uint64_t d : {2, 5, 9}) {
    const auto n = readings(options(d, 20)).size();
    INFO(d << " wristbands, " << n << " readings");
    CHECK(n >= 4 * d * 20);
    CHECK(n <= 5 * d * 20);
  }

  // Doubling either factor roughly doubles the output.
  const double base = static_cast<double>(readings(options(50, 30)).size());
  const double twice_devices = static_cast<double>(readings(options(100, 30)).size());
  const double twice_minutes = static_cast<double>(readings(options(50, 60)).size());
  const double both = static_cast<double>(readings(options(100, 60)).size());
  CHECK(twice_devices / base == Approx(2.0).epsilon(0.15));
  CHECK(twice_minutes / base == Approx(2.0).epsilon(0.15));
  CHECK(both / base == Approx(4.0).epsilon(0.15));
}

TEST_CASE("the five use scenarios: valid, time-ordered, deterministic, from their own fleet", "[simulate][scenarios]") {
  const std::map<std::string, std::uint64_t> sizes = {
      {"origin", 20}, {"quarantine", 12}, {"hospital", 20}, {"provenance", 5}, {"telemedicine", 24}};
  for (const auto& [name, devices] : sizes) {
    INFO(name);
    auto o = options(devices, 130, 3);
    o.scenario = name;
    std::vector<std::string> lines;
    json truth;
    sim::generate(o, [&](const std::string& line) { lines.push_back(line); }, &truth);
    REQUIRE(lines.size() > 500);
    std::vector<std::string> again;
    json truth_again;
    sim::generate(o, [&](const std::string& line) { again.push_back(line); }, &truth_again);
    CHECK(again == lines);
    CHECK(truth_again == truth);

    std::set<std::string> fleet;
    for (const auto& d : sim::devices(o)) fleet.insert(d.name);
    CHECK(fleet.size() == sim::devices(o).size());
    std::int64_t previous = o.start_unix_ms;
    std::map<std::string, std::int64_t> last_seq;
    std::set<std::string> replay_tags;  // ingest refuses byte-identical lines as duplicates
    for (const auto& line : lines) {
      INFO(line);
      json reading = json::parse(line);
      CHECK(jcs::canonicalize(reading) == line);
      auto check = validate_reading(reading, limits_for(o));
      CHECK(check.reason == "");
      CHECK(fleet.count(reading.at("device").get<std::string>()) == 1);
      auto t = *parse_rfc3339_ms(reading.at("time").get<std::string>());
      CHECK(t >= previous);
      previous = t;
      CHECK(replay_tags.insert(line).second);
    }
    // Every planted finding names a device of the fleet, a rule and a start inside the window.
    REQUIRE(truth.at("findings").size() > 0);
    for (const auto& f : truth.at("findings")) {
      INFO(f.dump());
      CHECK(fleet.count(f.at("device").get<std::string>()) == 1);
      CHECK_FALSE(f.at("rule").get<std::string>().empty());
      auto start = parse_rfc3339_ms(f.at("start").get<std::string>());
      REQUIRE(start);
      CHECK(*start >= o.start_unix_ms);
      CHECK(*start < o.start_unix_ms + 120 * 60000);
    }
    CHECK(truth.at("scenario") == name);
  }
}

TEST_CASE("a use scenario refuses a fleet or a period too small for its planted events", "[simulate][scenarios]") {
  auto o = options(9, 120);
  o.scenario = "quarantine";
  CHECK_THROWS_AS(sim::generate(o, [](const std::string&) {}), Error);
  o.devices = 10;
  o.minutes = 119;
  CHECK_THROWS_AS(sim::generate(o, [](const std::string&) {}), Error);
  o.minutes = 120;
  CHECK_NOTHROW(sim::generate(o, [](const std::string&) {}));
  o.scenario = "telemedicine";
  CHECK_THROWS_AS(sim::devices(o), Error);
}
