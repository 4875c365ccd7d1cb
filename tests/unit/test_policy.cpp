#include <catch2/catch.hpp>

#include "error.hpp"
#include "jcs.hpp"
#include "policy.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {

const char* kAllKinds = R"yaml(
name: ward-3
description: the five uses
rules:
  - name: fever
    kind: threshold
    severity: warning
    type: body_temperature
    op: ">="
    value: 37.5
    unit: Cel
  - name: low-spo2
    kind: threshold
    severity: critical
    type: spo2
    op: "<"
    value: 92
    unit: "%"
    for: 5m
  - name: left-quarantine
    kind: geofence
    severity: critical
    devices: [wb-0001, wb-0002]
    center: {lat: 22.1987, lon: 113.5439}
    radius_m: 150
    from: 2026-03-01T08:00:00Z
  - name: close-contact
    kind: proximity
    severity: warning
  - name: band-off
    kind: silence
    severity: warning
    after: 10m
  - name: replay
    kind: gap
    severity: critical
  - name: unsterile-use
    kind: sterilization
    severity: critical
    within: 24h
    assets: [resp-]
  - name: faults
    kind: malfunction
    severity: warning
  - name: tamper
    kind: integrity
    severity: critical
)yaml";

std::string error_of(const std::string& yaml) {
  try {
    policy::parse_yaml(yaml, "p.yaml");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::input_rejected);
    return e.what();
  }
  FAIL("no error for: " << yaml);
  return {};
}

}  // namespace

TEST_CASE("policy: every rule kind parses into typed rules") {
  auto p = policy::parse_yaml(kAllKinds, "p.yaml");
  REQUIRE(p.rules.size() == 9);
  CHECK(p.name == "ward-3");
  CHECK(p.rules[0].kind == "threshold");
  CHECK(p.rules[0].field == "value");
  CHECK(p.rules[0].value == 37.5);
  CHECK(p.rules[0].compare(37.5));
  CHECK_FALSE(p.rules[0].compare(37.4));
  CHECK(p.rules[1].for_ms == 300'000);
  CHECK(p.rules[1].severity == policy::Severity::critical);
  CHECK(p.rules[2].devices == std::vector<std::string>{"wb-0001", "wb-0002"});
  CHECK(p.rules[2].radius_m == 150);
  CHECK(p.rules[2].from_ms == 1772352000000);
  CHECK(p.rules[3].distance_m == 1.8);  // the default of issue 4
  CHECK(p.rules[4].after_ms == 600'000);
  CHECK(p.rules[6].within_ms == 86'400'000);
  CHECK(p.rules[6].assets == std::vector<std::string>{"resp-"});
}

TEST_CASE("policy: the canonical JSON round-trips and is the commitment") {
  auto p = policy::parse_yaml(kAllKinds, "p.yaml");
  auto again = policy::from_json(json::parse(p.canonical()));
  CHECK(again.canonical() == p.canonical());
  CHECK(again.sha256() == p.sha256());
  // Key order and spacing in the YAML do not matter; the canonical text does not change.
  auto reordered = policy::parse_yaml(R"(rules: [{severity: critical, kind: gap, name: replay}]
name: x)", "q.yaml");
  CHECK(reordered.canonical() == R"({"name":"x","rules":[{"kind":"gap","name":"replay","severity":"critical"}]})");
  // Durations are normalised to the largest exact unit.
  auto d = policy::parse_yaml("name: x\nrules:\n  - {name: s, kind: silence, severity: info, after: 3600s}\n", "d.yaml");
  CHECK(d.to_json()["rules"][0]["after"] == "1h");
  CHECK(policy::format_duration(90'000) == "90s");
}

TEST_CASE("policy: YAML syntax errors carry file, line and column") {
  auto msg = error_of("name: x\nrules:\n  - name: a\n    kind: gap: x\n    severity: info\n");
  CHECK(msg.rfind("p.yaml:4:", 0) == 0);
  // An unclosed flow sequence is only noticed at the end of the file: the mark says so.
  CHECK(error_of("name: x\nrules: [\n").rfind("p.yaml:3:1: ", 0) == 0);
}

TEST_CASE("policy: unknown kinds and fields are errors at their line") {
  auto unknown_kind = error_of("name: x\nrules:\n  - name: a\n    kind: teleport\n    severity: info\n");
  CHECK(unknown_kind.find("p.yaml:4:") != std::string::npos);
  CHECK(unknown_kind.find("unknown rule kind \"teleport\"") != std::string::npos);
  auto unknown_field = error_of("name: x\nrules:\n  - name: a\n    kind: gap\n    severity: info\n    colour: red\n");
  CHECK(unknown_field.find("p.yaml:6:") != std::string::npos);
  CHECK(unknown_field.find("unknown field \"colour\"") != std::string::npos);
  CHECK(error_of("name: x\ncolour: red\nrules: [{name: a, kind: gap, severity: info}]\n").find("p.yaml:2:") != std::string::npos);
}

TEST_CASE("policy: values are validated, not coerced") {
  const std::string head = "name: x\nrules:\n  - name: a\n    severity: warning\n";
  CHECK(error_of(head + "    kind: threshold\n    type: body_temperature\n    op: '>='\n    value: 37.5\n    unit: K\n")
            .find("Cel, [degF]") != std::string::npos);
  CHECK(error_of(head + "    kind: threshold\n    type: pcr_test\n    op: '>='\n    value: 1\n").find("numeric reading type") !=
        std::string::npos);
  CHECK(error_of(head + "    kind: threshold\n    type: spo2\n    op: '=>'\n    value: 90\n    unit: '%'\n").find("op must") !=
        std::string::npos);
  CHECK(error_of(head + "    kind: threshold\n    type: spo2\n    op: '<'\n    value: '90'\n    unit: '%'\n")
            .find("must be a number") != std::string::npos);
  CHECK(error_of(head + "    kind: silence\n    after: soon\n").find("duration") != std::string::npos);
  CHECK(error_of(head + "    kind: geofence\n    devices: [wb-1]\n    center: {lat: 95, lon: 0}\n    radius_m: 10\n")
            .find("-90..90") != std::string::npos);
  CHECK(error_of("name: x\nrules:\n  - {name: a, kind: gap, severity: severe}\n").find("info, warning or critical") !=
        std::string::npos);
  CHECK(error_of("name: x\nrules:\n  - {name: a, kind: gap, severity: info}\n  - {name: a, kind: gap, severity: info}\n")
            .find("two rules") != std::string::npos);
  CHECK(error_of("name: x\nrules: []\n").find("non-empty") != std::string::npos);
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("name: x\nname: y\nrules: [{name: a, kind: gap, severity: info}]\n").find("duplicate key") != std::string::npos);
}

TEST_CASE("policy: from_json names the JSON pointer of a bad member") {
  try {
    policy::from_json(json::parse(R"({"name":"x","rules":[{"name":"a","kind":"gap","severity":"info","extra":1}]})"));
    FAIL("accepted an unknown member");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("/rules/0/extra") != std::string::npos);
  }
}
