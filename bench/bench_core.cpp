// bench_core: end-to-end throughput of the medtrail core against a same-run baseline.
//
// One run, one machine, one input: N simulated readings (lib/simulate) written as NDJSON,
// then
//   1. baseline  a plain loop: SHA-256 (OpenSSL EVP) of each line, INSERT (hash, line) with
//                one prepared statement in one transaction (WAL, synchronous=NORMAL)
//   2. ingest    the same lines through Ingestor::add_line/finish into a fresh ledger
//   3. anchor    one Ledger::anchor over everything pending
//   4. verify    verify_ledger over the whole chain; peak RSS afterwards
//   5. prove     make_receipt + verify_receipt of 1,000 random records
//   6. size      (db + wal after a checkpoint) - raw NDJSON, per record
// plus micro-baselines of the per-record operations the phases are made of, so a missed
// target can be read against what the machine does per primitive.
//
// Results: a JSON object on stdout; a table and progress on stderr.
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto.hpp"
#include "error.hpp"
#include "ingest.hpp"
#include "jcs.hpp"
#include "keys.hpp"
#include "ledger.hpp"
#include "line_reader.hpp"
#include "merkle.hpp"
#include "reading.hpp"
#include "simulate.hpp"
#include "stored_reading.hpp"
#include "timefmt.hpp"
#include "verify.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::size_t kMaxLine = 65536;

// Targets from the brief; the JSON reports each as met or not.
constexpr double kTargetIngestRatio = 0.5;
constexpr double kTargetAnchorLeavesPerS = 1'000'000;
constexpr double kTargetVerifyRecordsPerS = 500'000;
constexpr double kTargetProveVerifyUs = 1000;
constexpr double kTargetBytesPerRecord = 200;

struct Args {
  std::uint64_t records = 1'000'000;
  std::uint64_t devices = 1000;
  std::uint64_t proofs = 1000;
  std::uint64_t seed = 1;
  std::size_t chunk = 16384;
  std::uint64_t micro = 100'000;  // lines used by the micro-baselines
  std::uint64_t cache_mib = 0;     // 0: SQLite's default page cache, as the CLI runs
  bool sql_profile = false;        // diagnostic: time per SQL statement (sqlite3_trace_v2)
  std::string dir;
  bool keep = false;
  bool scale = false;           // --scale: the growth run of issue 7 instead of the phases below
  std::string medtrail;         // --scale: the CLI whose `verify` peak RSS is measured
};

[[noreturn]] void usage(const char* argv0, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--records N] [--dir DIR] [--keep] [--devices N] [--proofs N] [--chunk N]\n"
               "          [--micro N] [--seed N]\n"
               "  --records N  simulated readings to ingest (default 1000000)\n"
               "  --dir DIR    directory for the input, baseline and ledger files (default: a fresh\n"
               "               mkdtemp under /tmp, removed at the end)\n"
               "  --keep       keep the input, baseline and ledger files (and the temp dir)\n"
               "  --devices N  simulated fleet size (default 1000)\n"
               "  --proofs N   random records to prove and verify (default 1000)\n"
               "  --chunk N    ingest records per commit/seal (default 16384, as the CLI)\n"
               "  --micro N    input lines the micro-baselines run over (default 100000)\n"
               "  --seed N     simulation seed (default 1)\n"
               "  --cache-mib N  diagnostic: PRAGMA cache_size of N MiB on the bench's ledger\n"
               "               connections (default 0: the ledger's own 64 MiB, what the CLI uses)\n"
               "  --sql-profile  diagnostic: time each SQL statement of ingest, anchor and verify\n"
               "               (SQLITE_TRACE_PROFILE; adds a little overhead to those phases)\n"
               "  --scale      growth run instead: ingest --records (default 10000000) in stages\n"
               "               (10^4, 10^5, ...), and at each stage anchor, time prove + verify of\n"
               "               --proofs random records, and run `medtrail verify` over everything\n"
               "               in a child process for its time and peak RSS\n"
               "  --medtrail PATH  the CLI for --scale (default: ../medtrail beside this binary)\n"
               "Prints a JSON object on stdout and a table on stderr (--scale: one JSON line per\n"
               "stage as it completes, then the summary object).\n",
               argv0);
  std::exit(status);
}

std::uint64_t parse_count(const char* argv0, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || !end || *end != '\0' || text[0] == '-' || text[0] == '\0') usage(argv0, 2);
  return static_cast<std::uint64_t>(v);
}

Args parse_args(int argc, char** argv) {
  Args a;
  bool records_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    if (arg == "--records") {
      a.records = parse_count(argv[0], value());
      records_given = true;
    }
    else if (arg == "--dir") a.dir = value();
    else if (arg == "--keep") a.keep = true;
    else if (arg == "--devices") a.devices = parse_count(argv[0], value());
    else if (arg == "--proofs") a.proofs = parse_count(argv[0], value());
    else if (arg == "--chunk") a.chunk = static_cast<std::size_t>(parse_count(argv[0], value()));
    else if (arg == "--micro") a.micro = parse_count(argv[0], value());
    else if (arg == "--seed") a.seed = parse_count(argv[0], value());
    else if (arg == "--cache-mib") a.cache_mib = parse_count(argv[0], value());
    else if (arg == "--sql-profile") a.sql_profile = true;
    else if (arg == "--scale") a.scale = true;
    else if (arg == "--medtrail") a.medtrail = value();
    else if (arg == "-h" || arg == "--help") usage(argv[0], 0);
    else usage(argv[0], 2);
  }
  if (a.scale && !records_given) a.records = 10'000'000;
  if (a.records == 0 || a.devices == 0 || a.chunk == 0) usage(argv[0], 2);
  return a;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

long max_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // kilobytes on Linux
}

// VmRSS / VmHWM from /proc/self/status (or another process's), in kB (0 when unavailable).
long proc_status_kb(const char* field, const std::string& process = "self") {
  std::ifstream in("/proc/" + process + "/status");
  std::string line;
  std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  return 0;
}

// Resets the kernel's RSS high-water mark so a phase's own peak can be read from VmHWM.
bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

std::uint64_t file_size(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

double per_second(double count, double seconds) { return seconds > 0 ? count / seconds : 0; }

// Progress on stderr: in place on a terminal, else one line about every 5 seconds.
class Progress {
 public:
  Progress(std::string what, std::uint64_t total)
      : what_(std::move(what)), total_(total), tty_(::isatty(STDERR_FILENO) != 0), start_(Clock::now()),
        last_(start_) {}
  void update(std::uint64_t done) {
    auto now = Clock::now();
    double since = std::chrono::duration<double>(now - last_).count();
    if (since < (tty_ ? 0.25 : 5.0)) return;
    last_ = now;
    print(done, false);
  }
  void done(std::uint64_t done) { print(done, true); }

 private:
  void print(std::uint64_t done, bool final) {
    double s = seconds_since(start_);
    double pct = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 0;
    std::fprintf(stderr, "%s  %-8s %10llu/%llu (%5.1f%%) %7.1f s %10.0f/s%s", tty_ ? "\r\033[K" : "", what_.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), pct, s,
                 per_second(static_cast<double>(done), s), (final || !tty_) ? "\n" : "");
    std::fflush(stderr);
  }
  std::string what_;
  std::uint64_t total_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_;
};

void note(const std::string& text) {
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

// Wall and CPU time of one phase. CPU well below wall means waiting (I/O, fsync, or other
// jobs on the machine); CPU above wall cannot happen here (one thread).
struct Timed {
  double wall = 0;
  double cpu = 0;
  double sys = 0;                // kernel part of cpu
  std::uint64_t read_bytes = 0;  // /proc/self/io rchar: bytes through read/pread
  std::uint64_t write_bytes = 0; // wchar: bytes through write/pwrite (WAL frames, checkpoints)
  std::uint64_t write_calls = 0; // syscw
  json io(double records) const {
    auto per = [&](std::uint64_t v) { return records > 0 ? std::round(static_cast<double>(v) / records) : 0.0; };
    return {{"sys_seconds", std::round(sys * 1000) / 1000},
            {"read_bytes", read_bytes},
            {"write_bytes", write_bytes},
            {"write_calls", write_calls},
            {"read_bytes_per_record", per(read_bytes)},
            {"write_bytes_per_record", per(write_bytes)}};
  }
};

double sys_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
}

// rchar, wchar, syscw and read_bytes (what was fetched from storage, not the page cache) from
// /proc/self/io (zeros when unavailable).
std::array<std::uint64_t, 4> io_counters() {
  std::array<std::uint64_t, 4> out{};
  std::ifstream in("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "rchar:") out[0] = value;
    else if (key == "wchar:") out[1] = value;
    else if (key == "syscw:") out[2] = value;
    else if (key == "read_bytes:")
      out[3] = value;
  }
  return out;
}

template <typename F>
Timed timed(F&& f) {
  double c0 = cpu_seconds();
  double s0 = sys_seconds();
  auto io0 = io_counters();
  auto t0 = Clock::now();
  f();
  Timed t;
  t.wall = seconds_since(t0);
  t.cpu = cpu_seconds() - c0;
  t.sys = sys_seconds() - s0;
  auto io1 = io_counters();
  t.read_bytes = io1[0] - io0[0];
  t.write_bytes = io1[1] - io0[1];
  t.write_calls = io1[2] - io0[2];
  return t;
}

// Reads the NDJSON file line by line, the way `medtrail ingest` does (LineReader), so the
// baseline and ingest pay the same input cost.
template <typename F>
std::uint64_t for_each_line(const std::string& path, F&& f) {
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (!in) throw std::runtime_error("cannot open " + path);
  medtrail::LineReader reader(in, kMaxLine);
  std::string line;
  std::uint64_t n = 0;
  for (auto s = reader.next(line); s != medtrail::LineReader::Status::eof; s = reader.next(line)) {
    if (s != medtrail::LineReader::Status::line) continue;
    f(reader.line_number(), line);
    ++n;
  }
  std::fclose(in);
  return n;
}

// ---------------------------------------------------------------------------------------
// Input

struct StopGenerating {};

struct Input {
  std::uint64_t lines = 0;
  std::uint64_t bytes = 0;
  std::uint64_t minutes = 0;
  Timed time;
};

Input generate_input(const Args& args, const std::string& path) {
  Input out;
  medtrail::simulate::Options opt;
  opt.devices = args.devices;
  opt.seed = args.seed;
  // Roughly 3.2 readings per device-minute; the loop widens the window if that was short.
  opt.minutes = args.records / std::max<std::uint64_t>(1, args.devices * 3) + 2;
  Progress progress("generate", args.records);
  out.time = timed([&] {
    for (;;) {
      std::FILE* f = std::fopen(path.c_str(), "wb");
      if (!f) throw std::runtime_error("cannot write " + path);
      std::uint64_t written = 0;
      try {
        medtrail::simulate::generate(opt, [&](const std::string& line) {
          std::fwrite(line.data(), 1, line.size(), f);
          std::fputc('\n', f);
          if (++written == args.records) throw StopGenerating{};
          if ((written & 0xffff) == 0) progress.update(written);
        });
      } catch (const StopGenerating&) {
      }
      if (std::fclose(f) != 0) throw std::runtime_error("cannot write " + path);
      if (written == args.records) break;
      opt.minutes *= 2;
    }
  });
  progress.done(args.records);
  out.lines = args.records;
  out.bytes = file_size(path);
  out.minutes = opt.minutes;
  return out;
}

// ---------------------------------------------------------------------------------------
// 1. Baseline

void sqlite_check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string("baseline sqlite: ") + what + ": " + sqlite3_errmsg(db));
}

struct Baseline {
  std::uint64_t records = 0;
  Timed time;
  std::uint64_t file_bytes = 0;
};

Baseline run_baseline(const std::string& input, const std::string& path, std::uint64_t total) {
  Baseline b;
  Progress progress("baseline", total);
  b.time = timed([&] {
    sqlite3* db = nullptr;
    sqlite_check(db, sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), "open");
    sqlite_check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), "wal");
    sqlite_check(db, sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr), "sync");
    sqlite_check(db, sqlite3_exec(db, "CREATE TABLE readings(idx INTEGER PRIMARY KEY, hash BLOB NOT NULL, line TEXT NOT NULL)",
                                  nullptr, nullptr, nullptr),
                 "create");
    sqlite_check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
    sqlite3_stmt* insert = nullptr;
    sqlite_check(db, sqlite3_prepare_v2(db, "INSERT INTO readings(hash, line) VALUES (?, ?)", -1, &insert, nullptr),
                 "prepare");
    const EVP_MD* sha256 = EVP_sha256();
    std::uint64_t done = 0;
    b.records = for_each_line(input, [&](std::uint64_t, const std::string& line) {
      unsigned char digest[32];
      unsigned int len = 0;
      if (EVP_Digest(line.data(), line.size(), digest, &len, sha256, nullptr) != 1)
        throw std::runtime_error("baseline: SHA-256 failed");
      sqlite3_bind_blob(insert, 1, digest, static_cast<int>(len), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, line.data(), static_cast<int>(line.size()), SQLITE_STATIC);
      sqlite_check(db, sqlite3_step(insert), "insert");
      sqlite3_reset(insert);
      if ((++done & 0xffff) == 0) progress.update(done);
    });
    sqlite3_finalize(insert);
    sqlite_check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
    sqlite_check(db, sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), "checkpoint");
    sqlite3_close_v2(db);
  });
  progress.done(b.records);
  b.file_bytes = file_size(path) + file_size(path + "-wal");
  return b;
}

// Diagnostic only: a larger SQLite page cache on a ledger connection (lib/ leaves the default).
void apply_cache(medtrail::Ledger& ledger, std::uint64_t mib) {
  if (mib == 0) return;
  ledger.db().exec(("PRAGMA cache_size=-" + std::to_string(mib * 1024)).c_str());
}

// Diagnostic only: where a phase's SQL time goes, per statement text. SQLite reports each
// statement's elapsed time when it is reset; for a statement stepped row by row (verify's
// leaf scan) that includes the caller's work between rows.
class SqlProfile {
 public:
  explicit SqlProfile(bool enabled) : enabled_(enabled) {}
  void attach(medtrail::Ledger& ledger) {
    if (!enabled_) return;
    db_ = ledger.db().handle();
    sqlite3_trace_v2(db_, SQLITE_TRACE_PROFILE, &SqlProfile::callback, this);
  }
  void detach() {
    if (db_) sqlite3_trace_v2(db_, 0, nullptr, nullptr);
    db_ = nullptr;
  }
  json to_json(double records) const {
    std::vector<std::pair<std::string, Entry>> rows(by_sql_.begin(), by_sql_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
    json out = json::array();
    for (std::size_t i = 0; i < rows.size() && i < 12; ++i) {
      const auto& [sql, e] = rows[i];
      double seconds = static_cast<double>(e.ns) / 1e9;
      out.push_back({{"sql", sql.substr(0, 120)},
                     {"calls", e.calls},
                     {"seconds", round3(seconds)},
                     {"us_per_call", round3(e.calls ? seconds * 1e6 / static_cast<double>(e.calls) : 0)},
                     {"us_per_record", round3(records > 0 ? seconds * 1e6 / records : 0)}});
    }
    return out;
  }
  bool enabled() const { return enabled_; }
  void clear() { by_sql_.clear(); }

 private:
  struct Entry {
    std::uint64_t calls = 0;
    std::uint64_t ns = 0;
  };
  static double round3(double v) { return std::round(v * 1000) / 1000; }
  static int callback(unsigned type, void* context, void* statement, void* elapsed) {
    if (type != SQLITE_TRACE_PROFILE) return 0;
    auto* self = static_cast<SqlProfile*>(context);
    const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(statement));
    auto& e = self->by_sql_[sql ? sql : "?"];
    ++e.calls;
    e.ns += static_cast<std::uint64_t>(*static_cast<sqlite3_int64*>(elapsed));
    return 0;
  }
  bool enabled_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, Entry> by_sql_;
};

// ---------------------------------------------------------------------------------------
// Ledger setup (as init, keygen, enroll do), not timed against a target

struct Fixture {
  medtrail::SigningKey authority;
  medtrail::SigningKey gateway;
  medtrail::DataKey data_key;
};

// Clear payloads, as the core ledger's figures (issue 2) have always been measured;
// bench_privacy measures what encryption costs on top, against this same path.
Fixture make_fixture() {
  return {medtrail::SigningKey::generate("hospital", "authority", /*with_encryption_key=*/false),
          medtrail::SigningKey::generate("gw-1", "gateway"), medtrail::DataKey::generate()};
}

// init + enroll of the gateway and the whole simulated fleet, so every reading's device is known.
medtrail::Ledger create_enrolled_ledger(const Args& args, const Fixture& fx, const std::string& path) {
  auto ledger = medtrail::Ledger::create(path, fx.authority, "bench.example/ward", fx.data_key, {});
  apply_cache(ledger, args.cache_mib);
  std::vector<medtrail::Ledger::EnrollRequest> requests;
  requests.push_back({"gw-1", "gateway", fx.gateway.identity().key, "", std::nullopt});
  medtrail::simulate::Options sim;
  sim.devices = args.devices;
  sim.seed = args.seed;
  for (const auto& d : medtrail::simulate::devices(sim)) requests.push_back({d.name, "device", std::nullopt, d.kind, std::nullopt});
  ledger.enroll(fx.authority, requests);
  return ledger;
}

// ---------------------------------------------------------------------------------------
// Micro-baselines: each primitive the phases are made of, per second, same run.

template <typename F>
double rate_of(std::uint64_t n, F&& f) {
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(n, 1000); ++i) f(i);  // warm caches and OpenSSL fetches
  auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) f(i);
  return per_second(static_cast<double>(n), seconds_since(t0));
}

volatile std::uint8_t g_sink = 0;  // keeps results observable so loops are not elided

json run_micro(const std::vector<std::string>& lines, const Fixture& fx) {
  json m = json::object();
  const std::uint64_t n = lines.size();
  if (n == 0) return m;
  const EVP_MD* sha = EVP_sha256();
  m["sha256_line_evp_digest_per_s"] = rate_of(n, [&](std::uint64_t i) {
    unsigned char d[32];
    unsigned int len = 0;
    EVP_Digest(lines[i].data(), lines[i].size(), d, &len, sha, nullptr);
    g_sink = static_cast<std::uint8_t>(g_sink ^ d[0]);
  });
  m["sha256_line_lib_Sha256_class_per_s"] = rate_of(n, [&](std::uint64_t i) {
    medtrail::crypto::Sha256 s;  // EVP_MD_CTX_new + init + free per hash, as the lib does
    s.update(lines[i]);
    g_sink = static_cast<std::uint8_t>(g_sink ^ s.finish()[0]);
  });
  medtrail::Hash a{}, b{};
  m["merkle_node_hash_per_s"] = rate_of(n, [&](std::uint64_t i) {
    a[0] = static_cast<std::uint8_t>(i);
    b = medtrail::merkle::node_hash(a, b);
  });
  g_sink = static_cast<std::uint8_t>(g_sink ^ b[0]);
  // The same 65-byte node hash with the SHA-256 implementation fetched once instead of
  // implicitly on every EVP_Digest(EVP_sha256()) call (OpenSSL 3 looks it up under a lock).
  EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::uint8_t node[65] = {0x01};
  m["node_hash_sha256_prefetched_md_per_s"] = rate_of(n, [&](std::uint64_t i) {
    node[1] = static_cast<std::uint8_t>(i);
    unsigned int len = 0;
    EVP_Digest(node, sizeof node, node + 1, &len, fetched, nullptr);
  });
  EVP_MD_CTX* reused = EVP_MD_CTX_new();
  m["node_hash_sha256_prefetched_md_reused_ctx_per_s"] = rate_of(n, [&](std::uint64_t i) {
    node[1] = static_cast<std::uint8_t>(i);
    unsigned int len = 0;
    EVP_DigestInit_ex2(reused, fetched, nullptr);
    EVP_DigestUpdate(reused, node, sizeof node);
    EVP_DigestFinal_ex(reused, node + 1, &len);
  });
  EVP_MD_CTX_free(reused);
  EVP_MD_free(fetched);
  g_sink = static_cast<std::uint8_t>(g_sink ^ node[1]);
  m["hmac_sha256_replay_tag_per_s"] = rate_of(n, [&](std::uint64_t i) {
    g_sink = static_cast<std::uint8_t>(g_sink ^ fx.data_key.replay_tag(lines[i])[0]);
  });
  m["random_bytes_32_per_s"] = rate_of(n, [&](std::uint64_t) { g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::crypto::random_bytes(32)[0]); });
  m["json_parse_line_per_s"] = rate_of(n, [&](std::uint64_t i) {
    auto j = json::parse(lines[i], nullptr, false);
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(j.size()));
  });
  std::vector<json> parsed;
  parsed.reserve(n);
  for (const auto& l : lines) parsed.push_back(json::parse(l, nullptr, false));
  std::int64_t now = medtrail::now_unix_ms();
  m["validate_reading_per_s"] = rate_of(n, [&](std::uint64_t i) {
    auto c = medtrail::validate_reading(parsed[i], {now, 5 * 60 * 1000});
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(c.reading.has_value()));
  });
  m["jcs_canonicalize_reading_per_s"] = rate_of(n, [&](std::uint64_t i) {
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(medtrail::jcs::canonicalize(parsed[i]).size()));
  });
  // How ingest stores a clear reading and every reader puts it back (lib/stored_reading.hpp).
  {
    std::vector<std::string> canonical;
    std::vector<medtrail::StoredReading> stored(n);
    std::vector<medtrail::EnvelopeMembers> envelopes;
    canonical.reserve(n);
    for (const auto& p : parsed) canonical.push_back(medtrail::jcs::canonicalize(p));
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto& p = parsed[i];
      envelopes.push_back({p["device"].get_ref<const std::string&>(), p["type"].get_ref<const std::string&>(),
                           medtrail::parse_rfc3339_ms(p["time"].get_ref<const std::string&>())});
    }
    m["elide_envelope_members_per_s"] =
        rate_of(n, [&](std::uint64_t i) { stored[i] = medtrail::elide_envelope_members(canonical[i], envelopes[i]); });
    std::string whole;  // into one buffer, as verify does
    m["restore_envelope_members_per_s"] = rate_of(n, [&](std::uint64_t i) {
      if (!medtrail::restore_envelope_members_into(whole, stored[i].text, stored[i].elided, envelopes[i]))
        throw std::runtime_error("a stored reading could not be put back");
      g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(whole.size()));
    });
  }
  // The leaf hash as ingest (Appender::append) and verify compute it for a reading.
  medtrail::LeafRow row;
  row.kind = "reading";
  row.device = "wb-0001";
  row.gateway = fx.gateway.identity().key_id();
  row.time_ms = now;
  row.received_ms = now;
  row.type = "heart_rate";
  row.commitment = medtrail::crypto::sha256(lines[0]);
  row.subject = medtrail::crypto::sha256(lines[n - 1]);
  m["envelope_of_per_s"] = rate_of(n, [&](std::uint64_t i) {
    row.time_ms = now + static_cast<std::int64_t>(i);
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(medtrail::envelope_of(row).size()));
  });
  m["leaf_hash_of_reading_per_s"] = rate_of(n, [&](std::uint64_t i) {
    row.time_ms = now + static_cast<std::int64_t>(i);
    g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::leaf_hash_of(row)[0]);
  });
  m["format_rfc3339_ms_per_s"] = rate_of(n, [&](std::uint64_t i) {
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(medtrail::format_rfc3339_ms(now + static_cast<std::int64_t>(i))[22]));
  });
  // Everything Ingestor does per reading outside SQLite, in its order, through the lib API:
  // parse, validate, canonicalise, salt, commitment, replay tag, pseudonym, leaf hash, the
  // two Merkle frontiers (log and seal), the receipt line. 1e6 / this = CPU us per record
  // that no storage change can remove.
  const std::string gateway_key_id = fx.gateway.identity().key_id();
  medtrail::merkle::Frontier log_tree, seal_tree;
  m["ingest_steps_outside_sqlite_per_s"] = rate_of(n, [&](std::uint64_t i) {
    json parsed_line = json::parse(lines[i], nullptr, false);
    auto check = medtrail::validate_reading(parsed_line, {medtrail::now_unix_ms(), 5 * 60 * 1000});
    if (!check.reading) return;
    std::string canonical = medtrail::jcs::canonicalize(parsed_line);
    auto salt = medtrail::crypto::random_bytes(32);
    medtrail::crypto::Sha256 commit;
    commit.update(salt);
    commit.update(canonical);
    medtrail::LeafRow r;
    r.kind = "reading";
    r.device = check.reading->device;
    r.gateway = gateway_key_id;
    r.time_ms = check.reading->time_ms;
    r.received_ms = medtrail::now_unix_ms();
    r.type = check.reading->type;
    r.commitment = commit.finish();
    auto tag = fx.data_key.replay_tag(canonical);
    if (check.reading->subject) r.subject = fx.data_key.pseudonym(*check.reading->subject);
    r.id = medtrail::leaf_hash_of(r);
    log_tree.push(r.id, [](int, std::uint64_t, const medtrail::Hash&) {});
    seal_tree.push(r.id);
    json receipt = {{"id", medtrail::to_hex(r.id)}, {"index", i}, {"device", check.reading->device},
                    {"type", check.reading->type}, {"time", medtrail::format_rfc3339_ms(check.reading->time_ms)},
                    {"status", "pending"}, {"line", i + 1}};
    g_sink = static_cast<std::uint8_t>(g_sink ^ tag[0] ^ static_cast<std::uint8_t>(receipt.dump().size()));
  });
  m["receipt_line_json_dump_per_s"] = rate_of(n, [&](std::uint64_t i) {
    json receipt = {{"id", medtrail::to_hex(row.commitment.value())}, {"index", i}, {"device", "wb-0001"},
                    {"type", "heart_rate"}, {"time", medtrail::format_rfc3339_ms(now)}, {"status", "pending"}, {"line", i + 1}};
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(receipt.dump().size()));
  });
  m["hmac_sha256_pseudonym_per_s"] = rate_of(n, [&](std::uint64_t i) {
    g_sink = static_cast<std::uint8_t>(g_sink ^ fx.data_key.pseudonym(lines[i].substr(0, 12))[0]);
  });
  const std::uint64_t sig_n = std::min<std::uint64_t>(n, 5000);
  std::string message = lines[0];
  medtrail::Signature sig = fx.gateway.sign(message);
  m["ed25519_sign_per_s"] = rate_of(sig_n, [&](std::uint64_t) { g_sink = static_cast<std::uint8_t>(g_sink ^ fx.gateway.sign(message)[0]); });
  m["ed25519_verify_lib_per_s"] = rate_of(sig_n, [&](std::uint64_t) {
    g_sink = static_cast<std::uint8_t>(g_sink ^ static_cast<std::uint8_t>(medtrail::verify_signature(fx.gateway.identity().key, message, sig)));
  });
  // The same check with the EVP_PKEY made once: what a per-key cache would cost.
  const auto& key = fx.gateway.identity().key;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  m["ed25519_verify_openssl_reused_pkey_per_s"] = rate_of(sig_n, [&](std::uint64_t) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
             EVP_DigestVerify(ctx, sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(message.data()),
                              message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    g_sink = static_cast<std::uint8_t>(g_sink ^ ok);
  });
  EVP_PKEY_free(pkey);
  return m;
}

// ---------------------------------------------------------------------------------------
// Output helpers

std::string machine_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown";
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double round_to(double v, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

// The least-squares slope of ys against 0, 1, 2, ..., in % of their mean: how much the rate
// changes per step. 0 for fewer than two points or a zero mean.
double trend_percent_per_step(const std::vector<double>& ys) {
  const auto n = static_cast<double>(ys.size());
  if (ys.size() < 2) return 0;
  double mean_x = (n - 1) / 2, mean_y = 0;
  for (double y : ys) mean_y += y / n;
  double covariance = 0, variance = 0;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    double dx = static_cast<double>(i) - mean_x;
    covariance += dx * (ys[i] - mean_y);
    variance += dx * dx;
  }
  return mean_y == 0 ? 0 : covariance / variance / mean_y * 100;
}

// Process CPU seconds and bytes read from storage (not the page cache) so far: what --scale
// charges to each ingest window, read once per window and around each stage.
struct ResourceUse {
  double cpu = 0;
  std::uint64_t storage_read = 0;
  static ResourceUse now() { return {cpu_seconds(), io_counters()[3]}; }
  ResourceUse operator-(const ResourceUse& o) const { return {cpu - o.cpu, storage_read - o.storage_read}; }
  ResourceUse& operator+=(const ResourceUse& o) {
    cpu += o.cpu;
    storage_read += o.storage_read;
    return *this;
  }
};

// Mean and percentiles of microsecond samples.
json latency_stats(std::vector<double> v) {
  if (v.empty()) return json::object();
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto at = [&](double q) {
    auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  return json{{"mean_us", round_to(sum / static_cast<double>(v.size()), 1)},
              {"p50_us", round_to(at(0.50), 1)},
              {"p99_us", round_to(at(0.99), 1)},
              {"max_us", round_to(v.back(), 1)}};
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}


// ---------------------------------------------------------------------------------------
// --scale (issue 7): how costs grow with the ledger. Ingest runs in stages ending at 10^4,
// 10^5, ... records; at each stage end everything pending is anchored, prove + verify of
// random records is timed (must stay O(log n)), and the real `medtrail verify` checks
// everything in a child process, whose peak RSS must stay bounded however large the ledger.

struct ChildRun {
  int status = -1;
  double seconds = 0;
  long max_rss_kb = 0;
};

// Runs argv[0] with stdout to `stdout_path`. Its peak RSS is its VmHWM, polled every 5 ms
// until it exits. Not wait4's ru_maxrss: Linux carries the pre-exec memory map's high-water
// mark into it, and posix_spawn's child execs from this process's map, so ru_maxrss reports
// the bench's own peak (the ingest writer) whenever that is larger. At 10^7 records that gave
// 187.5 MiB for a `medtrail verify` whose own peak was 93,752 KB (/usr/bin/time, started
// from a shell). The last poll can miss a peak in the final 5 ms; a verify's memory plateaus long before.
ChildRun run_child(const std::vector<std::string>& argv, const std::string& stdout_path) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto t0 = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  ChildRun out;
  const std::string process = std::to_string(pid);
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done < 0) throw std::runtime_error("waitpid failed for " + argv[0]);
    if (done == pid) break;
    out.max_rss_kb = std::max(out.max_rss_kb, proc_status_kb("VmHWM", process));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  out.seconds = seconds_since(t0);
  return out;
}

std::vector<std::uint64_t> scale_stages(std::uint64_t records) {
  std::vector<std::uint64_t> stages;
  for (std::uint64_t s = 10'000; s < records; s *= 10) stages.push_back(s);
  stages.push_back(records);
  return stages;
}

void emit_line(const json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

json scale_stage(const Args& args, const std::string& ledger_path, const std::string& trust_path,
                 const medtrail::PublicIdentity& trusted, std::uint64_t tree_size) {
  json stage = json::object();
  auto ledger = medtrail::Ledger::open(ledger_path, false, {});
  std::mt19937_64 rng(args.seed * 7919 + tree_size);
  std::uniform_int_distribution<std::uint64_t> pick(0, tree_size - 1);
  std::vector<double> prove_us, receipt_us, record_us;
  std::uint64_t findings = 0;
  auto count = [&](const medtrail::Finding&) { ++findings; };
  medtrail::VerifyOptions options{trusted, {}, {}, {}};
  for (std::uint64_t i = 0; i < args.proofs; ++i) {
    std::string id = medtrail::to_hex(ledger.leaf(pick(rng)).id);  // what a user holds
    auto t0 = Clock::now();
    std::uint64_t index = ledger.resolve(id);
    std::string text = medtrail::make_receipt(ledger, index).dump();  // = medtrail prove
    auto t1 = Clock::now();
    findings += medtrail::verify_receipt(json::parse(text), trusted, count);  // = verify --receipt
    auto t2 = Clock::now();
    medtrail::verify_record(ledger, ledger.resolve(id), options, count);  // = verify ID
    auto t3 = Clock::now();
    prove_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    receipt_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    record_us.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count());
  }
  stage["prove"] = latency_stats(prove_us);
  stage["verify_receipt"] = latency_stats(receipt_us);
  stage["verify_record"] = latency_stats(record_us);
  stage["proof_findings"] = findings;

  // The same through the CLI, process start included, for a few records.
  const std::string receipt_path = args.dir + "/receipt.json";
  std::vector<double> cli_prove_s, cli_receipt_s;
  int cli_failures = 0;
  for (int i = 0; i < 10; ++i) {
    std::string id = medtrail::to_hex(ledger.leaf(pick(rng)).id);
    auto p = run_child({args.medtrail, "prove", "--db", ledger_path, id}, receipt_path);
    auto v = run_child({args.medtrail, "verify", "--receipt", receipt_path, "--trust", trust_path}, "/dev/null");
    cli_failures += (p.status != 0) + (v.status != 0);
    cli_prove_s.push_back(p.seconds * 1e6);
    cli_receipt_s.push_back(v.seconds * 1e6);
  }
  stage["cli_prove"] = latency_stats(cli_prove_s);
  stage["cli_verify_receipt"] = latency_stats(cli_receipt_s);
  stage["cli_failures"] = cli_failures;

  note("  verify   everything with " + args.medtrail + " (child process) ...");
  auto all = run_child({args.medtrail, "verify", "--db", ledger_path, "--trust", trust_path, "--format", "json"},
                       args.dir + "/verify.out");
  stage["cli_verify_all"] = {{"exit_status", all.status},
                             {"seconds", round_to(all.seconds, 3)},
                             {"records_per_s", std::round(per_second(static_cast<double>(tree_size), all.seconds))},
                             {"peak_rss_kb", all.max_rss_kb},
                             {"peak_rss_mib", round_to(static_cast<double>(all.max_rss_kb) / 1024, 1)}};
  return stage;
}

int run_scale(const Args& args, const std::string& input_path, const std::string& baseline_path,
              const std::string& ledger_path) {
  constexpr double kTargetVerifyPeakRssMiB = 256;
  json out = {{"bench", "bench_core --scale"}, {"date", utc_now()}};
  out["machine"] = {{"nproc", ::sysconf(_SC_NPROCESSORS_ONLN)}, {"cpu", machine_cpu()}, {"sqlite", sqlite3_libversion()},
                    {"openssl", OPENSSL_VERSION_TEXT}};
  out["config"] = {{"records", args.records}, {"devices", args.devices}, {"chunk", args.chunk},
                   {"proofs", args.proofs},   {"seed", args.seed},       {"dir", args.dir}, {"medtrail", args.medtrail}};
  note("bench_core --scale: " + std::to_string(args.records) + " records, files in " + args.dir);
  Input input = generate_input(args, input_path);
  out["input"] = {{"lines", input.lines}, {"bytes", input.bytes}};

  // The same-run baseline over the whole input; its file is removed at once (disk space).
  Baseline base = run_baseline(input_path, baseline_path, input.lines);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((baseline_path + suffix).c_str());
  const double base_rate = per_second(static_cast<double>(base.records), base.time.wall);
  const double base_cpu_rate = per_second(static_cast<double>(base.records), base.time.cpu);
  out["baseline"] = {{"records", base.records}, {"seconds", round_to(base.time.wall, 3)},
                     {"records_per_s", std::round(base_rate)}, {"records_per_cpu_s", std::round(base_cpu_rate)}};
  emit_line({{"baseline", out["baseline"]}});

  Fixture fx = make_fixture();
  const std::string trust_path = args.dir + "/hospital.pub";
  fx.authority.save(args.dir + "/hospital.key", trust_path, std::nullopt);
  auto ledger = create_enrolled_ledger(args, fx, ledger_path);

  const auto stages = scale_stages(input.lines);
  const std::uint64_t window = input.lines >= 10'000'000 ? 1'000'000 : std::max<std::uint64_t>(1, input.lines / 10);
  json windows = json::array(), stage_results = json::array();
  std::size_t next_stage = 0;
  std::uint64_t lines_done = 0, accepted = 0, window_accepted = 0;
  double window_seconds = 0;
  // The longest single call into the ingestor: a commit with its run merges. Other writers
  // wait that long for the lock, so it must stay well under their busy timeout (5 s).
  double window_longest = 0;
  Progress progress("ingest", input.lines);
  std::optional<medtrail::Ingestor> ingestor;
  medtrail::IngestEvents events;
  std::uint64_t rejected_shown = 0;
  events.rejection = [&](const std::string& line) {
    if (rejected_shown++ < 5) note("  rejected: " + line);
  };
  medtrail::IngestOptions ingest_options;
  ingest_options.chunk_records = args.chunk;
  // Only ingest counts toward the window's rate. Per call only the clock is read: timed()
  // reads /proc/self/io twice, which per line cost more than a third of ingest itself. CPU is
  // taken per window instead, minus the stages' in-process work (anchor, proofs); so are reads
  // from storage, which tell whether time off the CPU is the ledger read back from disk.
  ResourceUse window_start = ResourceUse::now(), window_stages{};
  auto ingest_timed = [&](auto&& f) {
    auto t0 = Clock::now();
    f();
    double wall = seconds_since(t0);
    window_seconds += wall;
    window_longest = std::max(window_longest, wall);
  };
  for_each_line(input_path, [&](std::uint64_t number, const std::string& line) {
    ingest_timed([&] {
      if (!ingestor) ingestor.emplace(ledger, fx.gateway, fx.data_key, ingest_options, events);
      ingestor->add_line("input.ndjson", number, line);
    });
    ++lines_done;
    if ((lines_done & 0x3fff) == 0) progress.update(lines_done);
    bool stage_end = next_stage < stages.size() && lines_done == stages[next_stage];
    if (stage_end || lines_done % window == 0) {
      medtrail::IngestStats stats;
      ingest_timed([&] { stats = ingestor->finish(); });
      ingestor.reset();
      accepted += stats.accepted;
      window_accepted += stats.accepted;
    }
    if (lines_done % window == 0) {
      ResourceUse used = ResourceUse::now() - window_start - window_stages;
      double rate = per_second(static_cast<double>(window_accepted), window_seconds);
      json w = {{"up_to_records", lines_done},
                {"records", window_accepted},
                {"seconds", round_to(window_seconds, 3)},
                {"records_per_s", std::round(rate)},
                {"records_per_cpu_s", std::round(per_second(static_cast<double>(window_accepted), used.cpu))},
                {"ratio_to_baseline", round_to(base_rate > 0 ? rate / base_rate : 0, 4)},
                {"longest_call_s", round_to(window_longest, 3)},
                {"cpu_per_wall", round_to(window_seconds > 0 ? used.cpu / window_seconds : 0, 2)},
                {"storage_read_mib", round_to(static_cast<double>(used.storage_read) / (1 << 20), 1)}};
      windows.push_back(w);
      emit_line({{"ingest_window", w}});
      window_accepted = 0;
      window_seconds = window_longest = 0;
      window_start = ResourceUse::now();
      window_stages = {};
    }
    if (!stage_end) return;
    ResourceUse stage_start = ResourceUse::now();
    ++next_stage;
    progress.done(lines_done);
    std::optional<medtrail::Block> block;
    Timed anchor_time = timed([&] { block = ledger.anchor(fx.authority, std::numeric_limits<std::uint64_t>::max(), false); });
    std::uint64_t tree_size = block ? block->tree_size() : ledger.size();
    note("  stage    " + std::to_string(lines_done) + " readings, tree size " + std::to_string(tree_size) + ", anchored in " +
         fmt("%.3f s", anchor_time.wall));
    json stage = scale_stage(args, ledger_path, trust_path, fx.authority.identity(), tree_size);
    stage["readings"] = lines_done;
    stage["tree_size"] = tree_size;
    stage["anchor_seconds"] = round_to(anchor_time.wall, 3);
    stage["db_bytes"] = file_size(ledger_path) + file_size(ledger_path + "-wal");
    stage_results.push_back(stage);
    emit_line({{"stage", stage}});
    window_stages += ResourceUse::now() - stage_start;
  });
  if (ingestor) ingestor->finish();  // lines after the last stage cannot exist (it is the input's end)

  out["accepted"] = accepted;
  out["ingest_windows"] = windows;
  // Whether ingest falls as the ledger grows, as one number that a single slow window does not
  // decide: the least-squares slope of the per-window rates, in % of their mean per window.
  // From the 2nd window too: the 1st, on a ledger that starts empty, has been faster in every run.
  json trend = json::object();
  for (const char* rate : {"records_per_s", "records_per_cpu_s"}) {
    std::vector<double> rates;
    for (const auto& w : windows) rates.push_back(w[rate].get<double>());
    std::vector<double> after_first(rates.begin() + (rates.empty() ? 0 : 1), rates.end());
    trend[rate] = {{"all_windows_pct_per_window", round_to(trend_percent_per_step(rates), 2)},
                   {"from_2nd_window_pct_per_window", round_to(trend_percent_per_step(after_first), 2)}};
  }
  out["ingest_trend"] = trend;
  out["stages"] = stage_results;
  int status = accepted == input.lines ? 0 : 1;
  bool rss_met = true;
  for (const auto& s : stage_results) {
    if (s["cli_verify_all"]["exit_status"] != 0 || s["proof_findings"] != 0 || s["cli_failures"] != 0) status = 1;
    rss_met = rss_met && s["cli_verify_all"]["peak_rss_mib"].get<double>() < kTargetVerifyPeakRssMiB;
  }
  out["verify_peak_rss_lt_256_mib"] = rss_met;
  out["ok"] = status == 0;
  std::printf("%s\n", out.dump(2).c_str());

  std::fprintf(stderr, "\n%12s %10s %10s %10s %10s %10s %12s %10s\n", "records", "prove us", "receipt us", "record us",
               "cli prove", "verify s", "verify rec/s", "RSS MiB");
  for (const auto& s : stage_results)
    std::fprintf(stderr, "%12llu %10.1f %10.1f %10.1f %10.0f %10.1f %12.0f %10.1f\n",
                 static_cast<unsigned long long>(s["tree_size"].get<std::uint64_t>()), s["prove"]["mean_us"].get<double>(),
                 s["verify_receipt"]["mean_us"].get<double>(), s["verify_record"]["mean_us"].get<double>(),
                 s["cli_prove"]["mean_us"].get<double>(), s["cli_verify_all"]["seconds"].get<double>(),
                 s["cli_verify_all"]["records_per_s"].get<double>(), s["cli_verify_all"]["peak_rss_mib"].get<double>());
  std::fprintf(stderr, "ingest rec/s per window (baseline %.0f rec/s):", base_rate);
  for (const auto& w : windows) std::fprintf(stderr, " %.0f", w["records_per_s"].get<double>());
  std::fprintf(stderr, "\ningest CPU-s per wall-s per window:");
  for (const auto& w : windows) std::fprintf(stderr, " %.2f", w["cpu_per_wall"].get<double>());
  std::fprintf(stderr, "\ningest MiB read from storage per window:");
  for (const auto& w : windows) std::fprintf(stderr, " %.1f", w["storage_read_mib"].get<double>());
  std::fprintf(stderr, "\n");
  std::fprintf(stderr,
               "ingest trend, %% of the mean rate per window (wall, per CPU-s): all windows %+.2f, %+.2f; from the 2nd "
               "%+.2f, %+.2f\n",
               trend["records_per_s"]["all_windows_pct_per_window"].get<double>(),
               trend["records_per_cpu_s"]["all_windows_pct_per_window"].get<double>(),
               trend["records_per_s"]["from_2nd_window_pct_per_window"].get<double>(),
               trend["records_per_cpu_s"]["from_2nd_window_pct_per_window"].get<double>());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  bool own_dir = args.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/medtrail-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::perror("mkdtemp");
      return 5;
    }
    args.dir = tmpl;
  } else {
    fs::create_directories(args.dir);
  }
  const std::string input_path = args.dir + "/input.ndjson";
  const std::string baseline_path = args.dir + "/baseline.db";
  const std::string ledger_path = args.dir + "/ledger.db";
  auto remove_ours = [&] {
    for (const auto& p : {input_path, baseline_path, ledger_path})
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((p + suffix).c_str());
    for (const char* scale_file : {"hospital.key", "hospital.pub", "receipt.json", "verify.out"})
      ::unlink((args.dir + "/" + scale_file).c_str());
  };
  remove_ours();  // --dir may hold files from an earlier run
  if (args.scale) {
    if (args.medtrail.empty())  // build/bench/bench_core -> build/medtrail
      args.medtrail = (fs::canonical("/proc/self/exe").parent_path().parent_path() / "medtrail").string();
    int status = 5;
    try {
      status = run_scale(args, input_path, baseline_path, ledger_path);
    } catch (const std::exception& e) {
      note(std::string("bench_core --scale: ") + e.what());
    }
    if (own_dir && !args.keep) fs::remove_all(args.dir);
    else if (!args.keep) remove_ours();
    return status;
  }

  json out = json::object();
  int status = 0;
  try {
    out["bench"] = "bench_core";
    out["date"] = utc_now();
    out["machine"] = {{"nproc", ::sysconf(_SC_NPROCESSORS_ONLN)},
                      {"mem_total_gib", round_to(static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                                                     static_cast<double>(::sysconf(_SC_PAGE_SIZE)) / (1024.0 * 1024 * 1024), 1)},
                      {"cpu", machine_cpu()},
                      {"sqlite", sqlite3_libversion()},
                      {"openssl", OPENSSL_VERSION_TEXT}};
    out["config"] = {{"records", args.records}, {"devices", args.devices}, {"chunk", args.chunk},
                     {"proofs", args.proofs},   {"seed", args.seed},       {"dir", args.dir},
                     {"cache_mib", args.cache_mib}, {"sql_profile", args.sql_profile}};
    note("bench_core: " + std::to_string(args.records) + " records, " + std::to_string(args.devices) +
         " devices, files in " + args.dir);

    // Input
    Input input = generate_input(args, input_path);
    out["input"] = {{"lines", input.lines}, {"bytes", input.bytes},
                    {"bytes_per_line", round_to(static_cast<double>(input.bytes) / static_cast<double>(input.lines), 1)},
                    {"sim_minutes", input.minutes}, {"generate_s", round_to(input.time.wall, 3)}};

    // 1. Baseline
    Baseline base = run_baseline(input_path, baseline_path, input.lines);
    double base_rate = per_second(static_cast<double>(base.records), base.time.wall);
    double base_cpu_rate = per_second(static_cast<double>(base.records), base.time.cpu);
    out["baseline"] = {{"records", base.records},
                       {"seconds", round_to(base.time.wall, 3)},
                       {"cpu_seconds", round_to(base.time.cpu, 3)},
                       {"records_per_s", std::round(base_rate)},
                       {"records_per_cpu_s", std::round(base_cpu_rate)},
                       {"io", base.time.io(static_cast<double>(base.records))},
                       {"file_bytes", base.file_bytes}};

    // Ledger setup: keygen, init, enroll (gateway and the simulated fleet).
    Fixture fx = make_fixture();
    Timed setup_time;
    std::uint64_t tree_size = 0;
    {
      std::optional<medtrail::Ledger> ledger;
      setup_time = timed([&] {
        ledger.emplace(create_enrolled_ledger(args, fx, ledger_path));
      });
      out["setup"] = {{"seconds", round_to(setup_time.wall, 3)}, {"enrolled", args.devices + 1}};

      // 2. Ingest
      medtrail::IngestStats stats;
      std::uint64_t receipts = 0;
      std::vector<std::string> rejections;
      Progress progress("ingest", input.lines);
      SqlProfile profile(args.sql_profile);
      profile.attach(*ledger);
      std::vector<double> by_tenth;
      Timed ingest_time = timed([&] {
        medtrail::IngestEvents events;
        events.receipt = [&](const std::string&) { ++receipts; };
        events.rejection = [&](const std::string& line) {
          if (rejections.size() < 5) rejections.push_back(line);
        };
        medtrail::IngestOptions options;
        options.chunk_records = args.chunk;
        medtrail::Ingestor ingestor(*ledger, fx.gateway, fx.data_key, options, events);
        std::uint64_t n = 0;
        std::uint64_t tenth = std::max<std::uint64_t>(1, input.lines / 10);
        auto last = Clock::now();
        for_each_line(input_path, [&](std::uint64_t number, const std::string& line) {
          ingestor.add_line("input.ndjson", number, line);
          if ((++n & 0x3fff) == 0) progress.update(n);
          if (n % tenth == 0 && by_tenth.size() < 10) {  // throughput as the ledger grows
            by_tenth.push_back(std::round(per_second(static_cast<double>(tenth), seconds_since(last))));
            last = Clock::now();
          }
        });
        stats = ingestor.finish();
      });
      profile.detach();
      progress.done(stats.lines);
      for (const auto& r : rejections) note("  rejected: " + r);
      double ingest_rate = per_second(static_cast<double>(stats.accepted), ingest_time.wall);
      double ratio = base_rate > 0 ? ingest_rate / base_rate : 0;
      double ingest_cpu_rate = per_second(static_cast<double>(stats.accepted), ingest_time.cpu);
      out["ingest"] = {{"lines", stats.lines},
                       {"accepted", stats.accepted},
                       {"rejected", stats.rejected},
                       {"duplicates", stats.duplicates},
                       {"receipts", receipts},
                       {"seconds", round_to(ingest_time.wall, 3)},
                       {"cpu_seconds", round_to(ingest_time.cpu, 3)},
                       {"records_per_s", std::round(ingest_rate)},
                       {"records_per_cpu_s", std::round(ingest_cpu_rate)},
                       {"us_per_record", round_to(1e6 / std::max(ingest_rate, 1e-9), 3)},
                       {"cpu_us_per_record", round_to(1e6 / std::max(ingest_cpu_rate, 1e-9), 3)},
                       {"ratio_to_baseline", round_to(ratio, 4)},
                       {"cpu_ratio_to_baseline", round_to(base_cpu_rate > 0 ? ingest_cpu_rate / base_cpu_rate : 0, 4)},
                       {"records_per_s_by_tenth", by_tenth},
                       {"io", ingest_time.io(static_cast<double>(stats.accepted))},
                       {"sql_profile", profile.enabled() ? profile.to_json(static_cast<double>(stats.accepted)) : json()},
                       {"target_ratio", kTargetIngestRatio},
                       {"met", ratio >= kTargetIngestRatio}};
      if (stats.accepted != input.lines) status = 1;

      // 3. Anchor
      std::optional<medtrail::Block> block;
      auto pending_before = ledger->size() - ledger->latest_block()->tree_size();
      note("  anchor   " + std::to_string(pending_before) + " pending leaves ...");
      SqlProfile anchor_profile(args.sql_profile);
      anchor_profile.attach(*ledger);
      Timed anchor_time = timed([&] { block = ledger->anchor(fx.authority, std::numeric_limits<std::uint64_t>::max(), false); });
      anchor_profile.detach();
      std::uint64_t anchored = block ? block->header.at("count").get<std::uint64_t>() : 0;
      tree_size = block ? block->tree_size() : 0;
      double anchor_rate = per_second(static_cast<double>(anchored), anchor_time.wall);
      note("  anchor   " + std::to_string(anchored) + " leaves in " + fmt("%.3f s", anchor_time.wall));
      out["anchor"] = {{"leaves", anchored},
                       {"tree_size", tree_size},
                       {"seconds", round_to(anchor_time.wall, 3)},
                       {"cpu_seconds", round_to(anchor_time.cpu, 3)},
                       {"leaves_per_s", std::round(anchor_rate)},
                       {"leaves_per_cpu_s", std::round(per_second(static_cast<double>(anchored), anchor_time.cpu))},
                       {"io", anchor_time.io(static_cast<double>(anchored))},
                       {"sql_profile", anchor_profile.enabled() ? anchor_profile.to_json(static_cast<double>(anchored)) : json()},
                       {"target_leaves_per_s", kTargetAnchorLeavesPerS},
                       {"met", anchor_rate >= kTargetAnchorLeavesPerS}};
    }

    // 4. Verify (read-only, as `medtrail verify` opens it)
    medtrail::PublicIdentity trusted = fx.authority.identity();
    {
      long rss_before = proc_status_kb("VmRSS");
      bool reset = reset_peak_rss();
      auto ledger = medtrail::Ledger::open(ledger_path, false, {});
      apply_cache(ledger, args.cache_mib);
      medtrail::VerifySummary summary;
      std::vector<std::string> findings;
      Progress progress("verify", tree_size);
      SqlProfile profile(args.sql_profile);
      profile.attach(ledger);
      medtrail::VerifyOptions options{trusted, [&](std::uint64_t done, std::uint64_t) { progress.update(done); }, {}, {}};
      Timed verify_time = timed([&] {
        summary = medtrail::verify_ledger(ledger, options, [&](const medtrail::Finding& f) {
          if (findings.size() < 5) findings.push_back(f.to_json().dump());
        });
      });
      profile.detach();
      progress.done(summary.records);
      for (const auto& f : findings) note("  finding: " + f);
      if (summary.findings != 0) status = 1;
      double verify_rate = per_second(static_cast<double>(summary.records), verify_time.wall);
      long maxrss = max_rss_kb();
      long hwm = proc_status_kb("VmHWM");
      out["verify"] = {{"records", summary.records},
                       {"blocks", summary.blocks},
                       {"findings", summary.findings},
                       {"seconds", round_to(verify_time.wall, 3)},
                       {"cpu_seconds", round_to(verify_time.cpu, 3)},
                       {"records_per_s", std::round(verify_rate)},
                       {"records_per_cpu_s", std::round(per_second(static_cast<double>(summary.records), verify_time.cpu))},
                       {"io", verify_time.io(static_cast<double>(summary.records))},
                       {"sql_profile", profile.enabled() ? profile.to_json(static_cast<double>(summary.records)) : json()},
                       {"us_per_record", round_to(1e6 / std::max(verify_rate, 1e-9), 3)},
                       {"target_records_per_s", kTargetVerifyRecordsPerS},
                       {"met", verify_rate >= kTargetVerifyRecordsPerS},
                       {"peak_rss_kb_process", maxrss},  // getrusage ru_maxrss after verify
                       {"rss_kb_before_verify", rss_before},
                       {"peak_rss_kb_during_verify", reset ? hwm : -1}};  // VmHWM reset before verify

      // The same verify with the id and replay-tag runs scanned after the leaves, on the one
      // connection (as before 2026-11-28): what the concurrent scan gains, in this run.
      options.progress = nullptr;
      options.concurrent_runs_scan = false;
      medtrail::VerifySummary sequential;
      Timed sequential_time =
          timed([&] { sequential = medtrail::verify_ledger(ledger, options, [](const medtrail::Finding&) {}); });
      if (sequential.findings != summary.findings) status = 1;
      out["verify"]["runs_scanned_after_leaves"] = {
          {"seconds", round_to(sequential_time.wall, 3)},
          {"cpu_seconds", round_to(sequential_time.cpu, 3)},
          {"records_per_s", std::round(per_second(static_cast<double>(sequential.records), sequential_time.wall))},
          {"records_per_cpu_s", std::round(per_second(static_cast<double>(sequential.records), sequential_time.cpu))},
          {"findings", sequential.findings}};
    }

    // 5. Prove + verify receipts of random records (prove: resolve id, make_receipt, print;
    //    verify --receipt: parse, verify_receipt), each on the read-only ledger.
    {
      auto ledger = medtrail::Ledger::open(ledger_path, false, {});
      apply_cache(ledger, args.cache_mib);
      std::mt19937_64 rng(args.seed * 7919 + 17);
      std::uniform_int_distribution<std::uint64_t> pick(0, tree_size - 1);
      std::vector<double> total_us, prove_us, check_us;
      std::uint64_t receipt_findings = 0, receipt_bytes = 0;
      Progress progress("prove", args.proofs);
      double cpu0 = cpu_seconds();
      for (std::uint64_t i = 0; i < args.proofs; ++i) {
        std::uint64_t index = pick(rng);
        std::string id = medtrail::to_hex(ledger.leaf(index).id);  // what a user holds: the record id
        auto t0 = Clock::now();
        std::string text = medtrail::make_receipt(ledger, ledger.resolve(id)).dump();
        auto t1 = Clock::now();
        json receipt = json::parse(text);
        receipt_findings += medtrail::verify_receipt(receipt, trusted, [](const medtrail::Finding&) {});
        auto t2 = Clock::now();
        receipt_bytes += text.size();
        prove_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        check_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        total_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
        progress.update(i + 1);
      }
      // CPU per record over the whole loop (includes the untimed id lookup, a few us).
      double cpu_us_per_record = args.proofs ? (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(args.proofs) : 0;
      progress.done(args.proofs);
      if (receipt_findings != 0) status = 1;
      // Where a receipt's time goes: the lib calls make_receipt and verify_receipt are made
      // of, each timed alone over the same number of random records.
      json parts = json::object();
      {
        std::vector<std::uint64_t> picks;
        for (std::uint64_t i = 0; i < args.proofs; ++i) picks.push_back(pick(rng));
        auto latest = ledger.latest_block();
        std::uint64_t size = latest ? latest->tree_size() : 0;
        std::vector<std::string> ids;
        for (auto index : picks) ids.push_back(medtrail::to_hex(ledger.leaf(index).id));
        auto mean_us = [&](const char* name, const std::function<void(std::size_t)>& f) {
          auto t0 = Clock::now();
          for (std::size_t i = 0; i < picks.size(); ++i) f(i);
          double us = picks.empty() ? 0 : std::chrono::duration<double, std::micro>(Clock::now() - t0).count() /
                                              static_cast<double>(picks.size());
          parts[name] = round_to(us, 1);
        };
        medtrail::sql::ReadTransaction snapshot(ledger.db());
        mean_us("resolve_id_us", [&](std::size_t i) { g_sink = static_cast<std::uint8_t>(g_sink ^ ledger.resolve(ids[i])); });
        mean_us("latest_block_us", [&](std::size_t) { g_sink = static_cast<std::uint8_t>(g_sink ^ ledger.latest_block()->height); });
        mean_us("leaf_us", [&](std::size_t i) { g_sink = static_cast<std::uint8_t>(g_sink ^ ledger.leaf(picks[i]).id[0]); });
        mean_us("inclusion_proof_us", [&](std::size_t i) {
          g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::merkle::inclusion_proof(picks[i], size, ledger.hash_getter()).size());
        });
        mean_us("genesis_authority_us", [&](std::size_t) { g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::genesis_authority(ledger).key[0]); });
        mean_us("identities_us", [&](std::size_t) { g_sink = static_cast<std::uint8_t>(g_sink ^ ledger.identities().size()); });
        mean_us("identities_with_key_id_us", [&](std::size_t) {
          for (const auto& id : ledger.identities())  // what make_receipt does to find the signer
            if (id.key) g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::key_id_of(*id.key)[0]);
        });
        mean_us("block_height_of_us", [&](std::size_t i) { g_sink = static_cast<std::uint8_t>(g_sink ^ ledger.block_height_of(picks[i]).value_or(0)); });
        if (latest) {
          std::string canonical = medtrail::jcs::canonicalize(latest->header);
          auto sig = medtrail::base64_decode(latest->signatures[0]["sig"].get<std::string>()).value_or(medtrail::Bytes{});
          mean_us("ed25519_verify_block_sig_us", [&](std::size_t) {
            g_sink = static_cast<std::uint8_t>(g_sink ^ medtrail::verify_signature(trusted.key, canonical, sig));
          });
        }
      }
      json total = latency_stats(total_us);
      bool met = !total_us.empty() && total["mean_us"].get<double>() < kTargetProveVerifyUs &&
                 total["p99_us"].get<double>() < kTargetProveVerifyUs;
      out["prove_verify"] = {{"records", args.proofs},
                             {"findings", receipt_findings},
                             {"receipt_bytes_mean", args.proofs ? receipt_bytes / args.proofs : 0},
                             {"total", total},
                             {"prove", latency_stats(prove_us)},
                             {"verify_receipt", latency_stats(check_us)},
                             {"cpu_us_per_record", round_to(cpu_us_per_record, 1)},
                             {"parts_mean", parts},
                             {"target_us", kTargetProveVerifyUs},
                             {"met", met}};
    }

    // 6. Size: checkpoint the WAL into the main file, then (db + wal) - raw input, per record.
    {
      auto ledger = medtrail::Ledger::open(ledger_path, true, {});
      ledger.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
      std::uint64_t db_bytes = file_size(ledger_path);
      std::uint64_t wal_bytes = file_size(ledger_path + "-wal");
      std::uint64_t total = db_bytes + wal_bytes;
      double per_record = (static_cast<double>(total) - static_cast<double>(input.bytes)) / static_cast<double>(args.records);
      json tables = json::object();
      try {  // dbstat is optional in SQLite builds; it explains where the bytes go.
        auto s = ledger.db().prepare("SELECT name, sum(pgsize), sum(payload), sum(ncell) FROM dbstat GROUP BY name ORDER BY 2 DESC");
        while (s.step())
          tables[s.text(0)] = {{"bytes", s.integer(1)},
                               {"payload_bytes", s.integer(2)},
                               {"bytes_per_record", round_to(static_cast<double>(s.integer(1)) / static_cast<double>(args.records), 1)}};
      } catch (const medtrail::Error&) {
      }
      out["size"] = {{"raw_ndjson_bytes", input.bytes},
                     {"db_bytes", db_bytes},
                     {"wal_bytes", wal_bytes},
                     {"ledger_bytes", total},
                     {"overhead_bytes_per_record", round_to(per_record, 1)},
                     {"ledger_bytes_per_record", round_to(static_cast<double>(total) / static_cast<double>(args.records), 1)},
                     {"baseline_file_bytes", base.file_bytes},
                     {"baseline_overhead_bytes_per_record",
                      round_to((static_cast<double>(base.file_bytes) - static_cast<double>(input.bytes)) / static_cast<double>(args.records), 1)},
                     {"target_bytes_per_record", kTargetBytesPerRecord},
                     {"met", per_record <= kTargetBytesPerRecord},
                     {"tables", tables}};
    }

    // Micro-baselines over the first lines of the same input.
    {
      note("  micro    primitives over " + std::to_string(std::min(args.micro, input.lines)) + " lines ...");
      std::vector<std::string> lines;
      std::uint64_t limit = std::min(args.micro, input.lines);
      std::FILE* in = std::fopen(input_path.c_str(), "rb");
      if (!in) throw std::runtime_error("cannot open " + input_path);
      medtrail::LineReader reader(in, kMaxLine);
      std::string line;
      while (lines.size() < limit && reader.next(line) == medtrail::LineReader::Status::line) lines.push_back(line);
      std::fclose(in);
      out["micro"] = run_micro(lines, fx);
    }

    json targets = {{"ingest_ratio_ge_0.5", out["ingest"]["met"]},
                    {"anchor_ge_1M_leaves_per_s", out["anchor"]["met"]},
                    {"verify_ge_500k_records_per_s", out["verify"]["met"]},
                    {"prove_verify_lt_1ms", out["prove_verify"]["met"]},
                    {"size_le_200_bytes_per_record", out["size"]["met"]}};
    out["targets"] = targets;
    out["ok"] = status == 0;
  } catch (const std::exception& e) {
    note(std::string("bench_core: ") + e.what());
    out["error"] = e.what();
    status = 5;
  }

  std::printf("%s\n", out.dump(2).c_str());
  std::fflush(stdout);

  // Human table.
  if (out.contains("targets")) {
    auto yes = [](const json& j) { return j.get<bool>() ? "met" : "MISSED"; };
    const json& b = out["baseline"];
    const json& ing = out["ingest"];
    const json& anc = out["anchor"];
    const json& ver = out["verify"];
    const json& pv = out["prove_verify"];
    const json& sz = out["size"];
    double base_rate = b["records_per_s"].get<double>();
    auto rel = [&](double v) { return base_rate > 0 ? fmt("%.3fx", v / base_rate) : std::string("-"); };
    double base_cpu = b["records_per_cpu_s"].get<double>();
    auto rel_cpu = [&](double v) { return base_cpu > 0 ? fmt("%.3fx", v / base_cpu) : std::string("-"); };
    auto row = [](const char* name, const std::string& wall, const std::string& wall_rel, const std::string& cpu,
                  const std::string& cpu_rel, const char* target, const char* state) {
      std::fprintf(stderr, "%-32s %12s %9s %12s %9s %11s %7s\n", name, wall.c_str(), wall_rel.c_str(), cpu.c_str(),
                   cpu_rel.c_str(), target, state);
    };
    auto rate_row = [&](const char* name, const json& phase, const char* wall_key, const char* cpu_key,
                        const char* target, const char* state) {
      double w = phase[wall_key].get<double>(), c = phase[cpu_key].get<double>();
      row(name, fmt("%.0f", w), rel(w), fmt("%.0f", c), rel_cpu(c), target, state);
    };
    std::fprintf(stderr, "\n");
    row("phase", "wall rate", "vs base", "per CPU-s", "vs base", "target", "status");
    rate_row("1 baseline sha256+insert rec/s", b, "records_per_s", "records_per_cpu_s", "-", "");
    rate_row("2 ingest rec/s", ing, "records_per_s", "records_per_cpu_s", ">= 0.5x", yes(ing["met"]));
    rate_row("3 anchor leaves/s", anc, "leaves_per_s", "leaves_per_cpu_s", ">= 1000000", yes(anc["met"]));
    rate_row("4 verify rec/s", ver, "records_per_s", "records_per_cpu_s", ">= 500000", yes(ver["met"]));
    if (ver.contains("runs_scanned_after_leaves"))
      rate_row("  verify, runs after leaves", ver["runs_scanned_after_leaves"], "records_per_s", "records_per_cpu_s",
               "", "");
    row("  peak RSS after verify MiB", fmt("%.1f", ver["peak_rss_kb_process"].get<double>() / 1024), "", "", "", "", "");
    row("5 prove+verify mean us/rec", fmt("%.1f", pv["total"]["mean_us"].get<double>()), "", "", "", "< 1000", yes(pv["met"]));
    row("  prove+verify p99 us/rec", fmt("%.1f", pv["total"]["p99_us"].get<double>()), "", "", "", "< 1000", "");
    row("6 size overhead bytes/rec", fmt("%.1f", sz["overhead_bytes_per_record"].get<double>()), "", "", "", "<= 200", yes(sz["met"]));
    row("  raw NDJSON / ledger MiB",
        fmt("%.1f", sz["raw_ndjson_bytes"].get<double>() / 1048576) + " / " + fmt("%.1f", sz["ledger_bytes"].get<double>() / 1048576),
        "", "", "", "", "");
    if (ing.contains("records_per_s_by_tenth")) {
      std::string tenths;
      for (const auto& v : ing["records_per_s_by_tenth"]) tenths += fmt(" %.0f", v.get<double>());
      std::fprintf(stderr, "ingest rec/s per tenth of the input:%s\n", tenths.c_str());
    }
    if (out.contains("micro")) {
      std::fprintf(stderr, "\nmicro-baselines (same run, per second):\n");
      for (const auto& [k, v] : out["micro"].items()) std::fprintf(stderr, "  %-48s %12.0f\n", k.c_str(), v.get<double>());
    }
  }

  if (own_dir && !args.keep) fs::remove_all(args.dir);
  else if (!args.keep) remove_ours();
  return status;
}
