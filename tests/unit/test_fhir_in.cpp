#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "fhir_in.hpp"
#include "input_format.hpp"
#include "reading.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {

json load(const std::string& relative) {
  std::ifstream in(std::string(MEDTRAIL_SHARED_DATA) + "/" + relative);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// Every converted reading must pass medtrail's own validation (times after 2000).
void require_valid(const json& reading) {
  INFO(reading.dump());
  auto check = validate_reading(reading, {1900000000000, 5 * 60 * 1000});
  CHECK(check.reason == "");
}

json observation(const std::string& body) {
  return json::parse(R"({"resourceType":"Observation","status":"final","effectiveDateTime":"2026-03-01T10:00:00Z",
    "device":{"reference":"Device/mon-1"},"subject":{"reference":"Patient/p-1"},)" + body + "}");
}

}  // namespace

TEST_CASE("HL7 vital-sign examples map to reading types", "[fhir]") {
  auto bp = fhir::convert(load("hl7-fhir-r4-examples/observation-example-bloodpressure.json"), {"bp-dev"});
  REQUIRE(bp.items.size() == 1);
  const auto& r = bp.items[0].reading;
  CHECK(r["type"] == "blood_pressure");
  CHECK(r["systolic"] == 107);
  CHECK(r["diastolic"] == 60);
  CHECK(r["unit"] == "mm[Hg]");
  CHECK(r["device"] == "bp-dev");  // the example names no device: the default
  CHECK(r["subject"] == "Patient/example");
  CHECK(r["time"] == "2012-09-17T00:00:00Z");  // a bare date is midnight UTC
  CHECK(r["source_ref"] == "Observation/blood-pressure");
  require_valid(r);

  auto spo2 = fhir::convert(load("hl7-fhir-r4-examples/observation-example-satO2.json"), {});
  REQUIRE(spo2.items.size() == 1);
  CHECK(spo2.items[0].reading["type"] == "spo2");
  CHECK(spo2.items[0].reading["device"] == "example");  // DeviceMetric/example
  CHECK(spo2.items[0].reading["time"] == "2014-12-05T09:30:10+01:00");
  require_valid(spo2.items[0].reading);

  auto temp = fhir::convert(load("hl7-phd-ig/temperature-observation.json"), {});
  CHECK(temp.items[0].reading["type"] == "body_temperature");
  CHECK(temp.items[0].reading["unit"] == "Cel");
  CHECK(temp.items[0].reading["device"] == "phd-74E8FFFEFF051C00.001C05FFE874");
  require_valid(temp.items[0].reading);

  auto bp_phd = fhir::convert(load("hl7-phd-ig/compound-numeric-blood-pressure.json"), {});
  CHECK(bp_phd.items[0].reading["type"] == "blood_pressure");
  CHECK(bp_phd.items[0].reading.contains("mean"));
  require_valid(bp_phd.items[0].reading);
}

TEST_CASE("codes medtrail has no type for are kept as generic observations", "[fhir]") {
  auto glucose_mdc = fhir::convert(load("hl7-phd-ig/glucose-observation.json"), {});
  CHECK(glucose_mdc.items[0].reading["type"] == "glucose");  // MDC 160368 alone maps

  auto absent = fhir::convert(load("hl7-phd-ig/numeric-observation-not-a-number.json"), {});
  REQUIRE(absent.items[0].rejection == "");
  CHECK(absent.items[0].reading["type"] == "observation");
  CHECK(absent.items[0].reading["code"][0]["code"] == "150320");
  CHECK(absent.items[0].reading["data_absent"] == "not-a-number");
  require_valid(absent.items[0].reading);

  auto status = fhir::convert(load("hl7-phd-ig/bpm-status.json"), {});
  const auto& s = status.items[0].reading;
  CHECK(s["type"] == "observation");
  CHECK(s["components"].size() == 2);
  CHECK(s["components"][0].contains("value_bool"));
  CHECK(status.items[0].links == std::vector<std::string>{"Observation/compound-numeric-blood-pressure"});
  require_valid(s);

  auto coin = fhir::convert(load("hl7-phd-ig/coin-20181119174911.json"), {});
  CHECK(coin.items[0].reading["value_time"].is_string());
  CHECK_FALSE(coin.items[0].reading.contains("subject"));  // the subject is a Device, not a patient
  require_valid(coin.items[0].reading);
}

TEST_CASE("Bundles: entries in order, references inside the bundle, non-Observations skipped", "[fhir]") {
  auto phd = fhir::convert(load("hl7-phd-ig/bundle-example-1.json"), {});
  CHECK(phd.error == "");
  CHECK(phd.skipped == 3);  // Patient and two Devices
  REQUIRE(phd.items.size() == 3);
  for (const auto& item : phd.items) {
    INFO(item.rejection);
    REQUIRE(item.rejection == "");
    require_valid(item.reading);
  }
  // urn:uuid references resolve to the entries' ids.
  CHECK(phd.items[1].reading["device"] == "phd-001");
  CHECK(phd.items[1].reading["subject"] == "Patient/patient-001");
  CHECK(phd.items[1].entry == 4u);

  auto nonin = fhir::convert(load("hl7-phd-ig/bundle-continuousnonin.json"), {});
  CHECK(nonin.items.size() == 47);
  for (const auto& item : nonin.items) {
    if (!item.rejection.empty()) continue;
    require_valid(item.reading);
  }

  auto mixed = fhir::convert(load("hl7-fhir-r4-examples-package/Bundle-bundle-transaction.json"), {});
  CHECK(mixed.error == "");
  CHECK(mixed.items.empty());
  CHECK(mixed.skipped == 10);

  auto document = fhir::convert(json::parse(R"({"resourceType":"Bundle","type":"document","entry":[]})"), {});
  CHECK(document.error.find("document") != std::string::npos);
}

TEST_CASE("hasMember orders members before their panel", "[fhir]") {
  json bundle = {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", json::array()}};
  auto panel = observation(R"("id":"panel","code":{"coding":[{"system":"http://loinc.org","code":"85353-1"}]},
    "hasMember":[{"reference":"Observation/hr"}])");
  auto hr = observation(R"("id":"hr","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
    "valueQuantity":{"value":72,"system":"http://unitsofmeasure.org","code":"/min"})");
  bundle["entry"].push_back({{"resource", panel}});
  bundle["entry"].push_back({{"resource", hr}});
  auto c = fhir::convert(bundle, {});
  REQUIRE(c.items.size() == 2);
  CHECK(c.items[0].entry == 1u);
  CHECK(c.items[1].entry == 0u);
  CHECK(c.items[1].links == std::vector<std::string>{"Observation/hr"});
}

TEST_CASE("structurally invalid Observations are rejected with a reason and their entry", "[fhir]") {
  const std::pair<std::string, const char*> bad[] = {
      {R"({"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2026-03-01T10:00:00Z"})", "no status"},
      {R"({"resourceType":"Observation","status":"final","effectiveDateTime":"2026-03-01T10:00:00Z","device":{"reference":"Device/a"}})", "no code"},
      {observation(R"("code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueString":"fast")").dump(), "not a quantity"},
      {observation(R"("code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":70,"system":"http://example.org/units","code":"/min"})").dump(), "unitsofmeasure"},
      {observation(R"("code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"component":[])").dump(), "systolic"},
      {observation(R"("code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"status":"entered-in-error")").dump(), "entered-in-error"},
      {R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2026-03"})", "precise to the day"},
      {R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2026-03-01T10:00:00Z","valueQuantity":{"value":70,"system":"http://unitsofmeasure.org","code":"/min"}})", "--device"},
  };
  for (const auto& [text, why] : bad) {
    INFO(text);
    json bundle = {{"resourceType", "Bundle"}, {"type", "batch"}, {"entry", json::array()}};
    bundle["entry"].push_back({{"resource", {{"resourceType", "Patient"}}}});
    bundle["entry"].push_back({{"resource", json::parse(text)}, {"request", {{"method", "POST"}}}});
    auto c = fhir::convert(bundle, {});
    REQUIRE(c.items.size() == 1);
    CHECK(c.items[0].entry == 1u);
    CHECK_THAT(c.items[0].rejection, Catch::Contains(why));
  }
}

TEST_CASE("PCR results and references", "[fhir]") {
  auto pcr = fhir::convert(observation(R"("code":{"coding":[{"system":"http://loinc.org","code":"94500-6"}]},
    "valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"260373001"}]})"), {});
  CHECK(pcr.items[0].reading["type"] == "pcr_test");
  CHECK(pcr.items[0].reading["result"] == "positive");
  require_valid(pcr.items[0].reading);

  CHECK(fhir::normalize_reference("Observation/abc") == "Observation/abc");
  CHECK(fhir::normalize_reference("https://h.example/fhir/Observation/abc/_history/3") == "Observation/abc");
  CHECK(fhir::normalize_reference("urn:uuid:0c3a1f0e-0000-4000-8000-000000000000") == "");
  CHECK(fhir::normalize_reference("#contained") == "");
  CHECK(fhir::normalize_reference("Observation/a b") == "");
}

TEST_CASE("input formats are detected from the first line", "[fhir][csv]") {
  CHECK(detect_format(R"({"device":"a","time":"2026-03-01T10:00:00Z"})"
                      "\n") == InputFormat::ndjson);
  CHECK(detect_format(R"({"resourceType":"Observation","status":"final"})"
                      "\n{") == InputFormat::fhir_ndjson);
  CHECK(detect_format("{\n  \"resourceType\": \"Bundle\",\n") == InputFormat::fhir_json);
  CHECK(detect_format("\xEF\xBB\xBF{\r\n") == InputFormat::fhir_json);
  CHECK(detect_format("device,time,type,value,unit\n") == InputFormat::csv);
  CHECK(detect_format("\xEF\xBB\xBF\"device\",time\r\n") == InputFormat::csv);
  CHECK(detect_format("{\"device\": broken\n") == InputFormat::ndjson);
  CHECK(format_matches("fhir", InputFormat::fhir_ndjson));
  CHECK_FALSE(format_matches("ndjson", InputFormat::fhir_ndjson));
  CHECK_FALSE(format_matches("csv", InputFormat::ndjson));
}

TEST_CASE("generic observations are validated like every reading", "[fhir][reading]") {
  auto check = [](const char* text) {
    return validate_reading(json::parse(text), {1900000000000, 5 * 60 * 1000}).reason;
  };
  const char* base = R"({"device":"d-1","time":"2026-03-01T10:00:00Z","type":"observation",)";
  CHECK(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"value":3,"unit":"mg"})").c_str()) == "");
  CHECK(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"source_ref":"Observation/a"})").c_str()) == "");
  CHECK_THAT(check((std::string(base) + R"("value":3})").c_str()), Catch::Contains("code"));
  CHECK_THAT(check((std::string(base) + R"("code":[{"code":"1"}]})").c_str()), Catch::Contains("system"));
  CHECK_THAT(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"value":3,"value_text":"x"})").c_str()),
             Catch::Contains("at most one"));
  CHECK_THAT(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"unit":"mg"})").c_str()),
             Catch::Contains("needs a \"value\""));
  CHECK_THAT(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"components":[{"code":[{"system":"urn:x","code":"2"}],"colour":1}]})").c_str()),
             Catch::Contains("colour"));
  CHECK_THAT(check((std::string(base) + R"("code":[{"system":"urn:x","code":"1"}],"extra":1})").c_str()),
             Catch::Contains("unknown field"));
  CHECK_THAT(check(R"({"device":"d-1","time":"2026-03-01T10:00:00Z","type":"heart_rate","value":70,"unit":"/min","source_ref":""})"),
             Catch::Contains("source_ref"));
}

TEST_CASE("a long derivedFrom chain is ordered without deep recursion", "[fhir]") {
  json bundle = {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", json::array()}};
  const int n = 50000;
  for (int i = 0; i < n; ++i) {
    json obs = observation(R"("code":{"coding":[{"system":"urn:x","code":"c"}]})");
    obs["id"] = "o" + std::to_string(i);
    if (i + 1 < n) obs["derivedFrom"] = json::array({{{"reference", "Observation/o" + std::to_string(i + 1)}}});
    bundle["entry"].push_back({{"resource", obs}});
  }
  auto c = fhir::convert(bundle, {});
  REQUIRE(c.items.size() == static_cast<std::size_t>(n));
  CHECK(c.items.front().entry == static_cast<std::uint64_t>(n - 1));  // the end of the chain first
  CHECK(c.items.back().entry == 0u);
}
