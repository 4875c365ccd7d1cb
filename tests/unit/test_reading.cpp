#include <catch2/catch.hpp>

#include "reading.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {
ReadingCheck check(const char* text) {
  return validate_reading(json::parse(text), {1772360100120 + 3600 * 1000, 5 * 60 * 1000});
}
}  // namespace

TEST_CASE("the PRODUCT.md example readings are valid", "[reading]") {
  const char* valid[] = {
      R"({"device":"wb-0042","time":"2026-03-01T10:15:00.120Z","type":"body_temperature","value":37.9,"unit":"Cel","subject":"patient-123"})",
      R"({"device":"wb-0042","time":"2026-03-01T10:15:00.120Z","type":"location","lat":22.1987,"lon":113.5439,"accuracy_m":4})",
      R"({"device":"wb-0042","time":"2026-03-01T10:15:03Z","type":"proximity","peer":"wb-0077","distance_m":1.2})",
      R"({"device":"lab-7","time":"2026-03-01T11:00:00Z","type":"pcr_test","result":"positive","subject":"patient-123"})",
      R"({"device":"rfid-gw-2","time":"2026-03-01T10:00:00Z","type":"sterilization","asset":"resp-0193","cycle":"A-5512","result":"pass"})",
      R"({"device":"ecg-3","time":"2026-03-01T10:05:00Z","type":"report","derived_from":["3f9a01c2aa","b21c00ff11"],"payload_file":"reports/ecg-0042.pdf"})",
      R"({"device":"bp-1","time":"2026-03-01T10:05:00Z","type":"blood_pressure","systolic":120,"diastolic":80,"unit":"mm[Hg]","seq":4})",
      R"({"device":"t-1","time":"2026-03-01T10:05:00Z","type":"body_temperature","value":98.6,"unit":"[degF]"})",
  };
  for (const char* text : valid) {
    INFO(text);
    auto r = check(text);
    CHECK(r.reason == "");
    CHECK(r.reading.has_value());
  }
  auto r = check(valid[0]);
  CHECK(r.reading->subject == "patient-123");
  CHECK(r.reading->time_ms == 1772360100120);
}

TEST_CASE("bad readings are rejected with a reason", "[reading]") {
  const std::pair<const char*, const char*> invalid[] = {
      {R"([1])", "JSON object"},
      {R"({"time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min"})", "device"},
      {R"({"device":"a b","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min"})", "device"},
      {R"({"device":"d","time":"yesterday","type":"heart_rate","value":70,"unit":"/min"})", "RFC 3339"},
      {R"({"device":"d","time":"2027-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min"})", "future"},
      {R"({"device":"d","time":"1999-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min"})", "before 2000"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"mood","value":70})", "unknown reading type"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"bpm"})", "UCUM"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":700,"unit":"/min"})", "plausible"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":"70","unit":"/min"})", "number"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","unit":"/min"})", "value"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min","x":1})", "unknown field"},
      // Fields another type declares, with the wrong JSON type: rejected, never read (found by fuzz_reading).
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min","lat":"n","lon":[]})", "unknown field"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"spo2","value":97,"unit":"%","payload_file":7})", "unknown field"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"glucose","value":90,"unit":"mg/dL","asset":{}})", "unknown field"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"pcr_test","result":"maybe","subject":"p"})", "one of"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"pcr_test","result":"positive"})", "subject"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"report","derived_from":[]})", "derived_from"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"report","derived_from":["XYZ"]})", "record id"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"report"})", "derived_from"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"location","lat":91,"lon":0})", "lat"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"blood_pressure","systolic":80,"diastolic":120,"unit":"mm[Hg]"})", "systolic"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min","seq":-1})", "seq"},
      {R"({"device":"d","time":"2026-03-01T10:15:00Z","type":"heart_rate","value":70,"unit":"/min","subject":""})", "subject"},
  };
  for (auto [text, reason] : invalid) {
    INFO(text);
    auto r = check(text);
    CHECK_FALSE(r.reading.has_value());
    CHECK_THAT(r.reason, Catch::Contains(reason));
  }
}
