#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "error.hpp"
#include "ingest.hpp"
#include "jcs.hpp"
#include "ledger.hpp"
#include "privacy.hpp"
#include "simulate.hpp"
#include "timefmt.hpp"
#include "trace.hpp"
#include "trace_index.hpp"
#include "verify.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {

constexpr double kLat = 22.2, kLon = 113.5;
constexpr double kMetresPerDegree = 6371008.8 * 3.14159265358979323846 / 180.0;

// A ledger with wristbands wb-1..wb-4 (patients p-1..p-4) and hand-placed readings.
struct TraceFixture {
  std::filesystem::path dir;
  SigningKey authority = SigningKey::generate("hospital", "authority");
  SigningKey gateway = SigningKey::generate("gw-1", "gateway");
  DataKey data_key = DataKey::generate();
  std::optional<Ledger> ledger;
  std::vector<std::string> lines;
  std::vector<std::string> ids;
  double origin_lat = kLat, origin_lon = kLon;

  TraceFixture() {
    char tmpl[] = "/tmp/medtrail-trace.XXXXXX";
    dir = ::mkdtemp(tmpl);
    ledger.emplace(Ledger::create((dir / "l.db").string(), authority, "test.example/trace", data_key, {}));
    std::vector<Ledger::EnrollRequest> requests{{"gw-1", "gateway", gateway.identity().key, "", std::nullopt}};
    for (int i = 1; i <= 4; ++i) requests.push_back({"wb-" + std::to_string(i), "device", std::nullopt, "wristband", std::nullopt});
    ledger->enroll(authority, requests);
  }
  ~TraceFixture() { std::filesystem::remove_all(dir); }

  static std::string at(int minute, int second = 0) {
    return format_rfc3339_ms(1772352000000 + minute * 60000LL + second * 1000LL);
  }
  // Wristband `band` at (east, north) metres from the origin at the given minute.
  void position(int band, int minute, double east_m, double north_m, int second = 0) {
    json r = {{"device", "wb-" + std::to_string(band)}, {"time", at(minute, second)}, {"type", "location"},
              {"lat", origin_lat + north_m / kMetresPerDegree},
              {"lon", origin_lon + east_m / (kMetresPerDegree * std::cos(origin_lat * 3.14159265358979323846 / 180.0))},
              {"subject", "p-" + std::to_string(band)}};
    lines.push_back(r.dump());
  }
  void add(json reading) { lines.push_back(reading.dump()); }
  void ingest() {
    IngestEvents events;
    events.receipt = [&](const std::string& line) { ids.push_back(json::parse(line)["id"].get<std::string>()); };
    Ingestor ingestor(*ledger, gateway, data_key, {}, events);
    for (std::size_t i = 0; i < lines.size(); ++i) ingestor.add_line("test", i + 1, lines[i]);
    REQUIRE(ingestor.finish().rejected == 0);
    lines.clear();
  }
  Hash subject(int band) { return data_key.pseudonym("p-" + std::to_string(band)); }
};

}  // namespace

TEST_CASE("haversine distance", "[trace]") {
  CHECK(trace::distance_m(0, 0, 0, 0) == 0);
  // One degree of latitude on the mean sphere.
  CHECK(trace::distance_m(0, 0, 1, 0) == Approx(kMetresPerDegree).epsilon(1e-9));
  CHECK(trace::distance_m(kLat, kLon, kLat + 1.5 / kMetresPerDegree, kLon) == Approx(1.5).margin(1e-6));
}

TEST_CASE("contacts: exposure is the union of sample spans: radius, duration, window and hops hold", "[trace]") {
  TraceFixture f;
  for (int m = 0; m < 20; ++m) {
    f.position(1, m, 0, 0);
    f.position(2, m, 1.5, 0, 10);          // 1.5 m away, 10 s later: a contact for 20 minutes
    f.position(3, m, -2.6, 0);             // 2.6 m west: outside a 2 m radius, inside 3 m
    f.position(4, m, 1.5 + (m < 16 ? 1.0 : 50.0), 0);  // 1.0 m from wb-2 for 16 minutes
  }
  // A proximity report of the same minute adds evidence but no exposure.
  f.add({{"device", "wb-2"}, {"time", TraceFixture::at(5, 20)}, {"type", "proximity"}, {"peer", "wb-1"},
         {"distance_m", 1.4}, {"subject", "p-2"}});
  f.ingest();
  auto& ledger = *f.ledger;
  trace::ContactOptions o;
  o.window = {1772352000000, 1772352000000 + 3600000};
  o.radius_m = 2;
  o.min_duration_ms = 15 * 60000;

  auto found = trace::contacts(ledger, f.subject(1), o);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == f.subject(2));
  CHECK(found[0].hop == 1);
  CHECK(found[0].via == f.subject(1));
  // Samples at m:00 for m = 0..19 each cover one minute, and the proximity at 5:20 overlaps:
  // exactly 20 minutes, not 21.
  CHECK(found[0].exposure_ms == 20 * 60000);
  CHECK(found[0].closest_m == Approx(1.4));
  CHECK(found[0].first_ms == 1772352000000);
  // 40 positions and the proximity report; the record naming wb-1's wearer is a position already.
  CHECK(found[0].evidence.size() == 20 * 2 + 1);

  o.hops = 2;
  auto two = trace::contacts(ledger, f.subject(1), o);
  REQUIRE(two.size() == 2);
  CHECK(two[1].subject == f.subject(4));
  CHECK(two[1].hop == 2);
  CHECK(two[1].via == f.subject(2));
  CHECK(two[1].exposure_ms == 16 * 60000);

  o.radius_m = 3;
  o.hops = 1;
  auto wider = trace::contacts(ledger, f.subject(1), o);
  CHECK(wider.size() == 3);  // wb-2, wb-3 at 2.6 m, and wb-4 at 2.5 m for 16 minutes
  o.min_duration_ms = 21 * 60000;
  CHECK(trace::contacts(ledger, f.subject(1), o).empty());
  o.min_duration_ms = 15 * 60000;
  o.radius_m = 2;
  o.window.until_ms = 1772352000000 + 10 * 60000;  // only the first ten minutes
  CHECK(trace::contacts(ledger, f.subject(1), o).empty());

  // The index and the pairwise scan agree on everything.
  o.window.until_ms = 1772352000000 + 3600000;
  o.hops = 3;
  o.radius_m = 3;
  o.min_duration_ms = 60000;
  auto indexed = trace::contacts(ledger, f.subject(3), o);
  // The scan reads positions from the encrypted payloads: the data owner decrypts them.
  privacy::PayloadReader reader(ledger, &f.authority);
  ledger.set_reading_source([&reader](std::uint64_t i) { return reader.reading_text(i); });
  o.scan = true;
  auto scanned = trace::contacts(ledger, f.subject(3), o);
  REQUIRE(indexed.size() == 3);
  REQUIRE(indexed.size() == scanned.size());
  for (std::size_t i = 0; i < indexed.size(); ++i) {
    CHECK(indexed[i].subject == scanned[i].subject);
    CHECK(indexed[i].exposure_ms == scanned[i].exposure_ms);
    CHECK(indexed[i].evidence == scanned[i].evidence);
  }

  CHECK_THROWS_AS(trace::contacts(ledger, f.data_key.pseudonym("nobody"), o), Error);
  CHECK(trace::reveal_subject(ledger, f.data_key, f.subject(2)) == std::optional<std::string>("p-2"));
  CHECK_FALSE(trace::reveal_subject(ledger, DataKey::generate(), f.subject(2)));
}

TEST_CASE("contacts: the grid index finds what the pairwise scan finds, across cell edges and hemispheres", "[trace]") {
  // Origins in each hemisphere and on the equator and meridian, where latitude bands and
  // longitudes are negative and neighbouring cells have opposite signs.
  const std::pair<double, double> origins[] = {{22.2, 113.5}, {-33.8688, 151.2093}, {40.7128, -74.0060}, {0.0, 0.0}};
  for (auto [lat, lon] : origins) {
    INFO("origin " << lat << ", " << lon);
    TraceFixture f;
    f.origin_lat = lat;
    f.origin_lon = lon;
    std::uint64_t state = 42;
    auto uniform = [&state](double lo, double hi) {  // xorshift: deterministic, no libc rand
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return lo + (hi - lo) * static_cast<double>(state % 1000000) / 1e6;
    };
    for (int m = 0; m < 30; ++m)
      for (int band = 1; band <= 4; ++band)
        // Everyone within a few metres of the origin, at seconds near the minute's edges: pairs
        // straddle latitude bands, longitude signs and minute slots.
        f.position(band, m, uniform(-3, 3), uniform(-3, 3), band % 2 ? 55 + static_cast<int>(uniform(0, 4)) : static_cast<int>(uniform(0, 20)));
    f.ingest();
    // The scan reads positions from the encrypted payloads: the data owner decrypts them.
    privacy::PayloadReader reader(*f.ledger, &f.authority);
    f.ledger->set_reading_source([&reader](std::uint64_t i) { return reader.reading_text(i); });
    trace::ContactOptions o;
    o.window = {1772352000000, 1772352000000 + 3600000};
    o.radius_m = 2;
    o.min_duration_ms = 60000;
    std::size_t total = 0;
    for (int band = 1; band <= 4; ++band) {
      o.scan = false;
      auto indexed = trace::contacts(*f.ledger, f.subject(band), o);
      o.scan = true;
      auto scanned = trace::contacts(*f.ledger, f.subject(band), o);
      REQUIRE(indexed.size() == scanned.size());
      for (std::size_t i = 0; i < indexed.size(); ++i) {
        CHECK(indexed[i].subject == scanned[i].subject);
        CHECK(indexed[i].exposure_ms == scanned[i].exposure_ms);
        CHECK(indexed[i].closest_m == scanned[i].closest_m);
        CHECK(indexed[i].evidence == scanned[i].evidence);
      }
      total += indexed.size();
    }
    CHECK(total >= 8);  // the walks do meet: the comparison is not between two empty answers
  }
}

TEST_CASE("lineage walks a diamond once and stops at the depth limit", "[trace]") {
  TraceFixture f;
  f.add({{"device", "wb-1"}, {"time", TraceFixture::at(0)}, {"type", "heart_rate"}, {"value", 70}, {"unit", "/min"}});
  f.ingest();
  std::string a = f.ids[0];
  f.add({{"device", "wb-1"}, {"time", TraceFixture::at(1)}, {"type", "heart_rate"}, {"value", 71}, {"unit", "/min"},
         {"derived_from", {a}}});
  f.add({{"device", "wb-2"}, {"time", TraceFixture::at(1)}, {"type", "heart_rate"}, {"value", 72}, {"unit", "/min"},
         {"derived_from", {a.substr(0, 10)}}});
  f.ingest();
  f.add({{"device", "wb-3"}, {"time", TraceFixture::at(2)}, {"type", "report"}, {"derived_from", {f.ids[1], f.ids[2]}}});
  f.ingest();
  auto& ledger = *f.ledger;
  auto d = ledger.resolve(f.ids[3]);
  auto graph = trace::lineage(ledger, d, {});
  CHECK(graph.nodes.size() == 4);
  CHECK(graph.edges.size() == 4);
  CHECK(graph.problems.empty());
  CHECK(graph.nodes.at(ledger.resolve(a)).distance == -2);
  CHECK_FALSE(graph.nodes.at(d).included);  // nothing anchored yet
  auto shallow = trace::lineage(ledger, d, {true, false, 1});
  CHECK(shallow.nodes.size() == 3);
  CHECK(shallow.truncated);
  auto down = trace::lineage(ledger, ledger.resolve(a), {false, true, -1});
  CHECK(down.nodes.size() == 4);
  CHECK(down.nodes.at(d).distance == 2);

  // The indexes agree with the log, and verify says so; a deleted link is a finding.
  std::vector<Finding> findings;
  verify_ledger(ledger, {}, [&](const Finding& x) { findings.push_back(x); });
  for (const auto& x : findings) CHECK(x.check != "trace_index");
  ledger.db().exec("DELETE FROM links WHERE child = (SELECT max(child) FROM links)");
  findings.clear();
  verify_ledger(ledger, {}, [&](const Finding& x) { findings.push_back(x); });
  CHECK(std::any_of(findings.begin(), findings.end(), [](const Finding& x) { return x.check == "trace_index"; }));
}

namespace {
// What the trace index takes from a reading, for comparing the two ways of reading it.
std::string indexed_fields(const ValidReading& r) {
  auto text = [](const std::optional<std::string>& v) { return v ? "\"" + *v + "\"" : std::string("-"); };
  auto number = [](const std::optional<double>& v) { return v ? jcs::format_number(*v) : std::string("-"); };
  return "asset " + text(r.asset) + " source_ref " + text(r.source_ref) + " lat " + number(r.lat) + " lon " +
         number(r.lon) + " peer " + text(r.peer) + " distance_m " + number(r.distance_m);
}
}  // namespace

TEST_CASE("indexed members read from canonical text are what validation takes", "[trace]") {
  // Verify reads the indexed members straight from the stored text (trace::indexed_members);
  // the trace index was written from validate_reading's result at ingest. Every simulated
  // reading of every scenario, plus hand-made edge cases, must give the same values both ways.
  std::vector<std::string> lines;
  auto keep = [&](const std::string& line) { lines.push_back(line); };
  auto scenarios = simulate::scenarios();
  scenarios.push_back("");  // the plain ward
  for (const auto& scenario : scenarios) {
    simulate::Options options;
    options.devices = 50;  // the least every scenario takes
    options.minutes = 120;
    options.seed = 3;
    options.scenario = scenario;
    simulate::generate(options, keep);
  }
  lines.push_back(R"({"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"location","lat":22,"lon":-113.5e0})");
  lines.push_back(R"({"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"location","lat":1e-7,"lon":0.000001})");
  lines.push_back(
      R"({"device":"rf-1","time":"2026-03-01T08:00:00Z","type":"asset_status","asset":"pump \"7\"","status":"in_use"})");
  lines.push_back(
      R"({"device":"rf-1","time":"2026-03-01T08:00:00Z","type":"asset_status","asset":"pompe-\u00e9","status":"fault","lat":22.1,"lon":113.2})");
  lines.push_back(R"({"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"proximity","peer":"wb-2","distance_m":0})");
  lines.push_back(
      R"({"device":"wb-1","time":"2026-03-01T08:00:00Z","type":"heart_rate","unit":"/min","value":70,"source_ref":"Observation/a\\b"})");
  std::size_t compared = 0, indexed = 0;
  for (const auto& line : lines) {
    auto reading = json::parse(line);
    auto canonical = jcs::canonicalize(reading);
    auto type = reading.value("type", "");
    auto parsed = trace::reparse_reading(canonical);
    REQUIRE(parsed);
    INFO(canonical);
    auto direct = trace::indexed_members(canonical, type);
    // Only an escape sends a reading to the full parse.
    CHECK((direct.has_value() || canonical.find('\\') != std::string::npos));
    if (direct) {
      CHECK(indexed_fields(*direct) == indexed_fields(*parsed));
      ++compared;
    }
    LeafRow row;
    row.kind = "reading";
    row.type = type;
    auto values = trace::indexed_values(row, &canonical);
    if (values.lat || values.asset || values.peer || values.source_ref) ++indexed;
  }
  CHECK(compared + 2 >= lines.size());
  CHECK(indexed > 100);  // the scenarios do plant positions, assets and contacts

  // Not canonical, or a member validation would refuse: nothing, and the full parse decides.
  CHECK_FALSE(trace::indexed_members(R"({"lat":"22.1","lon":1})", "location"));
  CHECK_FALSE(trace::indexed_members(R"({"lat":22.1,"lon":1)", "location"));
  CHECK_FALSE(trace::indexed_members(R"({"distance_m":Infinity,"peer":"wb-2"})", "proximity"));
  CHECK_FALSE(trace::indexed_members(R"({"distance_m":1.5x,"peer":"wb-2"})", "proximity"));
  CHECK_FALSE(trace::indexed_members(R"({"distance_m":1})", "proximity"));
  CHECK_FALSE(trace::indexed_members(R"({"asset":7})", "asset_status"));
  // A member nested deeper is not the reading's own.
  auto nested = trace::indexed_members(R"({"note":{"asset":"x","lat":1,"lon":2},"type":"location"})", "location");
  REQUIRE(nested);
  CHECK_FALSE(nested->asset);
  CHECK_FALSE(nested->lat);
  // A position only whole; a peer only from a proximity reading.
  CHECK_FALSE(trace::indexed_members(R"({"lat":1})", "location")->lat);
  CHECK_FALSE(trace::indexed_members(R"({"distance_m":1,"peer":"wb-2"})", "location")->peer);
}
