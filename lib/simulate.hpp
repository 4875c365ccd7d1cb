// Deterministic, realistic device readings for demos, tests and benchmarks. The same options
// give byte-identical output on any platform: the generator uses its own PRNG and transforms
// (std:: distributions differ between standard libraries). Output streams through a callback.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace medtrail::simulate {

struct Options {
  std::uint64_t devices = 10;
  std::uint64_t minutes = 60;
  std::uint64_t seed = 1;
  std::int64_t start_unix_ms = 1772352000000;  // 2026-03-01T08:00:00Z
  // "" for the plain ward; "contacts": planted contacts and positive tests for contact
  // tracing (see contact_truth), with random lab tests and proximity reports switched off;
  // or one of the five uses of PRODUCT.md (scenarios()): origin, quarantine, hospital,
  // provenance, telemedicine, each with its own fleet and planted events (see generate).
  std::string scenario;
};

struct DeviceInfo {
  std::string name;
  std::string kind;
  std::string subject;  // empty for lab and RFID devices
};

std::vector<DeviceInfo> devices(const Options& options);
// Every scenario name --scenario accepts.
std::vector<std::string> scenarios();
// Readings in non-decreasing time order; returns how many were written. For the five use
// scenarios, `truth` (when given) receives what was planted: {"scenario", "window",
// "findings": [{"rule", "kind", "device", "start", optional "subject", "peer", "asset",
// "what"}], "near_misses", ...}, each finding as the scenario's policy must report it.
std::uint64_t generate(const Options& options, const std::function<void(const std::string& line)>& emit,
                       nlohmann::json* truth = nullptr);
// What the "contacts" scenario plants, as JSON: the index subject, the contacts a tracer must
// find (with hop and via), the near misses it must not report, and the origin chain. Throws
// Error(usage) when the options cannot hold the scenario.
std::string contact_truth(const Options& options);
// One enrollment line per device: {"kind":"wristband","name":"wb-0001","role":"device"}
std::uint64_t list_devices(const Options& options, const std::function<void(const std::string& line)>& emit);

}  // namespace medtrail::simulate
