// bench_audit: audit throughput over the five use scenarios, against a same-run baseline.
//
// For each scenario (origin, quarantine, hospital, provenance, telemedicine) builds a ledger
// (Ledger::create, schema and indexes as the CLI has them) holding N/5 readings of
// `simulate --scenario NAME` (devices fixed per scenario, minutes grown to reach the count).
// The rows audit reads (leaves: id, kind, device, time, type, subject pseudonym; payloads:
// the reading) are inserted directly with SQL: ingest's signing and Merkle nodes are not what
// this measures (bench_core does), and ingest would take most of an hour for 10M readings.
// Such a ledger does not verify, so the integrity rule is left out of the rule sets.
//
// Then, per scenario, warm cache, best of --repeat:
//   baseline  the audit's own query (leaves JOIN payloads, the same columns, the same order,
//             each reading put back whole as every query gets it) stepped to the end,
//             reading each column: what any audit must at least do
//   parse     the baseline plus parsing each reading's JSON (nlohmann, as audit does)
//   audit     audit::run with examples/policies/NAME.yaml (integrity rule removed)
// and the audit's findings compared with the scenario's truth where the ledger holds all of
// it (the planted events fall in its first two hours, so they always do).
// Results: a JSON object on stdout, a table and progress on stderr.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "audit.hpp"
#include "crypto.hpp"
#include "keys.hpp"
#include "ledger.hpp"
#include "policy.hpp"
#include "simulate.hpp"
#include "stored_reading.hpp"
#include "timefmt.hpp"

#ifndef MEDTRAIL_POLICY_DIR
#define MEDTRAIL_POLICY_DIR "examples/policies"
#endif

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Args {
  std::uint64_t readings = 10'000'000;
  std::uint64_t repeat = 2;
  std::string dir;
  std::string policies = MEDTRAIL_POLICY_DIR;
  bool keep = false;
};

// Devices per scenario: a realistic site for each use.
// Smaller runs use fewer devices (down to the scenario's minimum), so that the ledger always
// holds the first two hours, where the planted events are.
struct Scenario {
  const char* name;
  std::uint64_t devices, min_devices;
};
constexpr Scenario kScenarios[] = {{"origin", 500, 20},
                                   {"quarantine", 300, 10},
                                   {"hospital", 200, 10},
                                   {"provenance", 100, 4},
                                   {"telemedicine", 400, 20}};

[[noreturn]] void usage(const char* argv0, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--readings N] [--repeat R] [--policies DIR] [--dir DIR] [--keep]\n"
               "  --readings N   readings in all, N/5 per scenario (default 10000000)\n"
               "  --repeat R     timed runs of each phase; the best is reported (default 2)\n"
               "  --policies DIR the scenario policies (default %s)\n"
               "  --dir DIR      directory for the ledgers (default: a fresh mkdtemp, removed at the end)\n"
               "  --keep         keep the ledgers\n",
               argv0, MEDTRAIL_POLICY_DIR);
  std::exit(status);
}

std::uint64_t parse_count(const char* argv0, const char* text) {
  char* end = nullptr;
  auto v = std::strtoull(text, &end, 10);
  if (!end || *end != '\0' || text[0] == '-' || text[0] == '\0' || v == 0) usage(argv0, 2);
  return v;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The statement audit::run steps through (lib/audit.cpp), over the whole ledger.
const std::string kAuditScan =
    std::string("SELECT l.idx, l.id, ") + medtrail::kDeviceOfLeaf + ", l.time_ms, " + medtrail::kTypeOfLeaf + ", " +
    medtrail::kSubjectOfLeaf + ", " + medtrail::kReadingOfPayload +
    " FROM leaves l LEFT JOIN payloads p ON p.idx = l.idx WHERE l." + medtrail::kIsReading + " ORDER BY l.idx";

// The simulation that gives about `target` readings: devices scaled to the target, minutes
// grown to reach it.
medtrail::simulate::Options sized(const Scenario& s, std::uint64_t target) {
  medtrail::simulate::Options o;
  o.scenario = s.name;
  o.devices = s.devices;
  o.seed = 11;
  o.minutes = 120;
  auto count = [&] { return medtrail::simulate::generate(o, [](const std::string&) {}); };
  std::uint64_t per_two_hours = count();
  if (per_two_hours > target) {
    o.devices = std::max(s.min_devices, o.devices * target / per_two_hours);
    per_two_hours = count();
  }
  o.minutes = std::max<std::uint64_t>(120, (target * 120 + per_two_hours - 1) / per_two_hours + 1);
  return o;
}

// Builds the ledger; returns the number of readings in it.
std::uint64_t build(medtrail::Ledger& ledger, const medtrail::DataKey& data_key, const Scenario& s,
                    const medtrail::simulate::Options& o, std::uint64_t target) {
  auto& db = ledger.db();
  // Subjects, the gateway key id, devices and types are stored once and referred to by ref,
  // as ingest does.
  db.exec("INSERT OR IGNORE INTO signer_keys(key_id) VALUES ('bench')");
  auto insert_subject = db.prepare("INSERT OR IGNORE INTO subjects(pseudonym) VALUES (?)");
  auto insert_label = db.prepare("INSERT OR IGNORE INTO labels(text) VALUES (?)");
  auto insert_leaf = db.prepare(
      "INSERT INTO leaves(idx, id, kind_code, device_ref, signer_ref, time_ms, received_ms, type_ref, commitment, "
      "subject_ref) VALUES (?, ?, 1, (SELECT ref FROM labels WHERE text = ?3), "
      "(SELECT ref FROM signer_keys WHERE key_id = 'bench'), ?4, ?5, (SELECT ref FROM labels WHERE text = ?6), ?7, "
      "(SELECT ref FROM subjects WHERE pseudonym = ?8))");
  auto insert_payload =
      db.prepare("INSERT INTO payloads(idx, salt, reading, replay_tag, elided) VALUES (?, ?, ?, ?, ?)");
  std::uint64_t index = ledger.size(), count = 0;
  db.exec("BEGIN IMMEDIATE");
  medtrail::simulate::generate(o, [&](const std::string& line) {
    if (count == target) return;
    auto r = json::parse(line);
    std::uint8_t seed[8];
    for (int b = 0; b < 8; ++b) seed[b] = static_cast<std::uint8_t>(index >> (8 * b));
    auto id = medtrail::crypto::sha256(std::span<const std::uint8_t>(seed, 8));
    auto time = *medtrail::parse_rfc3339_ms(r["time"].get<std::string>());
    insert_label.bind(1, r["device"].get<std::string>()).run();
    insert_label.bind(1, r["type"].get<std::string>()).run();
    insert_leaf.bind(1, index).bind_blob(2, id).bind(3, r["device"].get<std::string>()).bind(4, time).bind(5, time + 1000);
    insert_leaf.bind(6, r["type"].get<std::string>()).bind_blob(7, id);
    if (r.contains("subject")) {
      auto pseudonym = data_key.pseudonym(r["subject"].get<std::string>());
      insert_subject.bind_blob(1, pseudonym).run();
      insert_leaf.bind_blob(8, pseudonym);
      r.erase("subject");  // as ingest keeps it: the pseudonym on the leaf, no name in the payload
    } else {
      insert_leaf.bind_null(8);
    }
    insert_leaf.run();
    // Stored as ingest stores it: without the device, type and time the leaf holds.
    auto device = r["device"].get<std::string>(), type = r["type"].get<std::string>();
    auto stored = medtrail::elide_envelope_members(r.dump(), {device, type, time});
    insert_payload.bind(1, index).bind_blob(2, std::span<const std::uint8_t>(id.data(), 16)).bind(3, stored.text);
    insert_payload.bind_blob(4, std::span<const std::uint8_t>(id.data() + 16, medtrail::kReplayTagBytes))
        .bind(5, stored.elided)
        .run();
    ++index;
    if (++count % 500000 == 0) {
      db.exec("COMMIT");
      db.exec("BEGIN IMMEDIATE");
      std::fprintf(stderr, "  %s: %llu readings\n", s.name, static_cast<unsigned long long>(count));
    }
  });
  db.exec("COMMIT");
  db.exec("ANALYZE");
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    if (arg == "--readings") a.readings = parse_count(argv[0], value());
    else if (arg == "--repeat") a.repeat = parse_count(argv[0], value());
    else if (arg == "--policies") a.policies = value();
    else if (arg == "--dir") a.dir = value();
    else if (arg == "--keep") a.keep = true;
    else if (arg == "-h" || arg == "--help") usage(argv[0], 0);
    else usage(argv[0], 2);
  }
  bool own_dir = a.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/medtrail-bench-audit.XXXXXX";
    if (!::mkdtemp(tmpl)) return 5;
    a.dir = tmpl;
  }
  fs::create_directories(a.dir);

  json results = json::array();
  double total_audit_s = 0, total_baseline_s = 0;
  std::uint64_t total_readings = 0;
  int status = 0;
  try {
    // Clear payloads: the baseline scans read the readings straight from the payloads table.
    auto authority = medtrail::SigningKey::generate("hospital", "authority", false);
    auto data_key = medtrail::DataKey::generate();
    for (const auto& s : kScenarios) {
      std::string path = a.dir + "/" + s.name + ".db";
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
      auto ledger = medtrail::Ledger::create(path, authority, std::string("bench.example/") + s.name, data_key, {});
      auto build_start = Clock::now();
      const auto sim = sized(s, a.readings / 5);
      std::uint64_t readings = build(ledger, data_key, s, sim, a.readings / 5);
      double build_s = seconds_since(build_start);

      auto policy = medtrail::policy::load_yaml_file(a.policies + "/" + s.name + ".yaml");
      policy.rules.erase(std::remove_if(policy.rules.begin(), policy.rules.end(), [](const auto& r) { return r.kind == "integrity"; }),
                         policy.rules.end());

      double baseline_s = 1e30, parse_s = 1e30, audit_s = 1e30;
      std::uint64_t findings = 0, checksum = 0;
      std::set<std::string> found;
      for (std::uint64_t run = 0; run < a.repeat; ++run) {
        {
          auto start = Clock::now();
          auto stmt = ledger.db().prepare(kAuditScan.c_str());
          std::uint64_t sum = 0;
          while (stmt.step())
            sum += static_cast<std::uint64_t>(stmt.integer(0)) + stmt.blob(1).size() + stmt.text(2).size() +
                   static_cast<std::uint64_t>(stmt.integer(3)) + stmt.text(4).size() + stmt.blob(5).size() + stmt.text(6).size();
          baseline_s = std::min(baseline_s, seconds_since(start));
          checksum = sum;
        }
        {
          auto start = Clock::now();
          auto stmt = ledger.db().prepare(kAuditScan.c_str());
          std::uint64_t objects = 0;
          while (stmt.step()) {
            (void)stmt.blob(1);
            (void)stmt.text(2);
            (void)stmt.blob(5);
            auto reading = json::parse(stmt.text(6), nullptr, false);
            objects += reading.is_object();
          }
          parse_s = std::min(parse_s, seconds_since(start));
          if (objects != readings) throw std::runtime_error("parse baseline read " + std::to_string(objects) + " objects");
        }
        {
          auto start = Clock::now();
          findings = 0;
          found.clear();
          medtrail::audit::run(ledger, std::vector<medtrail::policy::Policy>{policy}, {}, [&](const medtrail::audit::Finding& f) {
            ++findings;
            found.insert(f.rule + " " + f.device + " " + medtrail::format_rfc3339_ms(*f.start_ms));
          });
          audit_s = std::min(audit_s, seconds_since(start));
        }
      }
      // Every planted event must be among the findings (later two-hour periods repeat no plant,
      // but long runs of background data must not invent findings either).
      auto o = sim;
      o.minutes = 120;
      json truth;
      medtrail::simulate::generate(o, [](const std::string&) {}, &truth);
      std::uint64_t missing = 0;
      for (const auto& f : truth["findings"])
        missing += found.count(f["rule"].get<std::string>() + " " + f["device"].get<std::string>() + " " + f["start"].get<std::string>()) == 0;

      const double n = static_cast<double>(readings);
      json r = {{"scenario", s.name},
                {"devices", sim.devices},
                {"minutes", sim.minutes},
                {"readings", readings},
                {"rules", policy.rules.size()},
                {"build_s", build_s},
                {"baseline_s", baseline_s},
                {"parse_s", parse_s},
                {"audit_s", audit_s},
                {"baseline_per_s", n / baseline_s},
                {"parse_per_s", n / parse_s},
                {"audit_per_s", n / audit_s},
                {"audit_vs_baseline", baseline_s / audit_s},
                {"audit_vs_parse", parse_s / audit_s},
                {"findings", findings},
                {"planted", truth["findings"].size()},
                {"planted_missing", missing},
                {"checksum", checksum}};
      if (missing > 0) status = 1;
      results.push_back(r);
      total_audit_s += audit_s;
      total_baseline_s += baseline_s;
      total_readings += readings;
      std::fprintf(stderr, "%-13s %9llu readings  baseline %9.0f/s  parse %9.0f/s  audit %9.0f/s  (%.3fx baseline, %.3fx parse)  findings %llu, planted %zu, missing %llu\n",
                   s.name, static_cast<unsigned long long>(readings), n / baseline_s, n / parse_s, n / audit_s,
                   baseline_s / audit_s, parse_s / audit_s, static_cast<unsigned long long>(findings), truth["findings"].size(),
                   static_cast<unsigned long long>(missing));
      if (!a.keep)
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_audit: %s\n", e.what());
    status = 5;
  }
  json out = {{"bench", "audit"},
              {"readings", total_readings},
              {"audit_s", total_audit_s},
              {"baseline_s", total_baseline_s},
              {"audit_per_s", total_audit_s > 0 ? static_cast<double>(total_readings) / total_audit_s : 0.0},
              {"audit_vs_baseline", total_audit_s > 0 ? total_baseline_s / total_audit_s : 0.0},
              {"scenarios", results}};
  std::printf("%s\n", out.dump(2).c_str());
  if (own_dir && !a.keep) fs::remove_all(a.dir);
  return status;
}
