// Encryption at rest: ingest throughput with encrypted payloads against the same ingest into a
// ledger that stores them in clear, in the same run, on the same simulated readings. The two
// modes alternate over several rounds (fresh ledgers each time) and each is reported by its
// median, so machine noise hits both alike. Target (issue 5): encryption costs at most 25% of
// ingest throughput, i.e. encrypted/clear >= 0.75.
//
//   bench_privacy [--records N] [--rounds R] [--dir DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest.hpp"
#include "keys.hpp"
#include "ledger.hpp"
#include "simulate.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::uint64_t records = 200000;
  int rounds = 3;
  std::string dir = "/tmp";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_privacy: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--records") a.records = std::stoull(value());
    else if (arg == "--rounds") a.rounds = std::stoi(value());
    else if (arg == "--dir") a.dir = value();
    else {
      std::fprintf(stderr, "usage: bench_privacy [--records N] [--rounds R] [--dir DIR]\n");
      std::exit(arg == "--help" ? 0 : 2);
    }
  }
  if (a.rounds < 1 || a.records == 0) {
    std::fprintf(stderr, "bench_privacy: --records and --rounds must be positive\n");
    std::exit(2);
  }
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One fresh ledger, fleet enrolled, then every line ingested; returns records per second.
double ingest_rate(const Args& args, const std::vector<std::string>& lines, const medtrail::simulate::Options& sim,
                   bool encrypted, std::uint64_t& file_bytes) {
  std::string path = args.dir + "/bench_privacy-" + (encrypted ? "encrypted" : "clear") + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  auto authority = medtrail::SigningKey::generate("hospital", "authority", encrypted);
  auto gateway = medtrail::SigningKey::generate("gw-1", "gateway");
  auto data_key = medtrail::DataKey::generate();
  std::uint64_t accepted = 0;
  double seconds = 0;
  {
    auto ledger = medtrail::Ledger::create(path, authority, "bench.example/privacy", data_key, {});
    std::vector<medtrail::Ledger::EnrollRequest> requests{{"gw-1", "gateway", gateway.identity().key, "", std::nullopt}};
    for (const auto& d : medtrail::simulate::devices(sim)) requests.push_back({d.name, "device", std::nullopt, d.kind, std::nullopt});
    ledger.enroll(authority, requests);
    auto start = Clock::now();
    medtrail::Ingestor ingestor(ledger, gateway, data_key, {}, {});
    std::uint64_t n = 0;
    for (const auto& line : lines) ingestor.add_line("bench", ++n, line);
    accepted = ingestor.finish().accepted;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  file_bytes = std::filesystem::file_size(path);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  if (accepted != lines.size()) {
    std::fprintf(stderr, "bench_privacy: only %llu of %zu readings were accepted\n",
                 static_cast<unsigned long long>(accepted), lines.size());
    std::exit(1);
  }
  return static_cast<double>(accepted) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  medtrail::simulate::Options sim;
  sim.devices = 50;
  sim.seed = 7;
  sim.minutes = 1;
  std::vector<std::string> lines;
  // Enough minutes of the 50-device ward for the requested number of readings.
  while (lines.size() < args.records) {
    lines.clear();
    sim.minutes *= 2;
    medtrail::simulate::generate(sim, [&](const std::string& line) {
      if (lines.size() < args.records) lines.push_back(line);
    });
  }
  std::vector<double> clear, encrypted;
  std::uint64_t clear_bytes = 0, encrypted_bytes = 0;
  for (int round = 0; round < args.rounds; ++round) {
    clear.push_back(ingest_rate(args, lines, sim, false, clear_bytes));
    encrypted.push_back(ingest_rate(args, lines, sim, true, encrypted_bytes));
    std::fprintf(stderr, "round %d: clear %.0f rec/s, encrypted %.0f rec/s\n", round + 1, clear.back(), encrypted.back());
  }
  double ratio = median(encrypted) / median(clear);
  nlohmann::json out = {{"records", lines.size()},
                        {"rounds", args.rounds},
                        {"clear_records_per_s", clear},
                        {"encrypted_records_per_s", encrypted},
                        {"clear_median", std::round(median(clear))},
                        {"encrypted_median", std::round(median(encrypted))},
                        {"ratio_encrypted_to_clear", std::round(ratio * 1000) / 1000},
                        {"clear_file_bytes_per_record", clear_bytes / lines.size()},
                        {"encrypted_file_bytes_per_record", encrypted_bytes / lines.size()},
                        {"target_ratio", 0.75},
                        {"met", ratio >= 0.75}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
