// bench_contacts: contact tracing over the space-time grid index at scale, against a same-run baseline.
//
// Builds a ledger (Ledger::create, schema and indexes as the CLI has them) holding W wristbands
// that report a location every minute for D days (default 1,000 x 7 days = 10,080,000 points),
// walking at random in a 600 m x 600 m hospital site, with planted daily meetings. The rows the contact search reads
// (leaves: device, time, type, subject pseudonym; positions and their grid index) are inserted directly
// with SQL: ingest's signing, payloads and Merkle nodes are not what this measures, and at
// ~13k records/s ingest would take 13 minutes for 10M points. Such a ledger does not verify.
//
// Then, for Q index subjects:
//   baseline  one sequential pass over every location record in the window (the least any
//             method without an index must read; the pairwise scan reads far more)
//   query     trace::contacts (radius 2 m, 15 min, 1 hop) over the whole window and over one
//             day, and with 2 hops over one day
// Results: a JSON object on stdout, a table and progress on stderr.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto.hpp"
#include "keys.hpp"
#include "ledger.hpp"
#include "simulate_rng.hpp"
#include "trace.hpp"
#include "trace_index.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr double kTargetQuerySeconds = 1.0;  // "well under a second" for one query
constexpr std::int64_t kStartMs = 1772352000000;  // 2026-03-01T08:00:00Z
constexpr double kLat0 = 22.1987, kLon0 = 113.5439;

struct Args {
  std::uint64_t wristbands = 1000;
  std::uint64_t days = 7;
  std::uint64_t queries = 5;
  std::string dir;
  bool keep = false;
  bool reuse = false;
};

[[noreturn]] void usage(const char* argv0, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--wristbands N] [--days D] [--queries Q] [--dir DIR] [--keep]\n"
               "  --wristbands N  wristbands reporting a location each minute (default 1000)\n"
               "  --days D        days of reports (default 7: 10,080,000 points with 1000 wristbands)\n"
               "  --queries Q     index subjects to trace (default 5)\n"
               "  --dir DIR       directory for the ledger (default: a fresh mkdtemp, removed at the end)\n"
               "  --keep          keep the ledger\n"
               "  --reuse         query the ledger a --keep run left in --dir instead of building it\n",
               argv0);
  std::exit(status);
}

std::uint64_t parse_count(const char* argv0, const char* text) {
  char* end = nullptr;
  auto v = std::strtoull(text, &end, 10);
  if (!end || *end != '\0' || text[0] == '-' || text[0] == '\0' || v == 0) usage(argv0, 2);
  return v;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
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
    if (arg == "--wristbands") a.wristbands = parse_count(argv[0], value());
    else if (arg == "--days") a.days = parse_count(argv[0], value());
    else if (arg == "--queries") a.queries = parse_count(argv[0], value());
    else if (arg == "--dir") a.dir = value();
    else if (arg == "--keep") a.keep = true;
    else if (arg == "--reuse") a.reuse = true;
    else if (arg == "-h" || arg == "--help") usage(argv[0], 0);
    else usage(argv[0], 2);
  }
  bool own_dir = a.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/medtrail-bench-contacts.XXXXXX";
    if (!::mkdtemp(tmpl)) return 5;
    a.dir = tmpl;
  }
  fs::create_directories(a.dir);
  std::string path = a.dir + "/contacts.db";
  if (a.reuse && !fs::exists(path)) {
    std::fprintf(stderr, "bench_contacts: --reuse: %s does not exist\n", path.c_str());
    return 4;
  }
  if (!a.reuse) {
    fs::remove(path);
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
  }

  try {
    // Clear payloads: the baseline scans read the readings straight from the payloads table.
    auto authority = medtrail::SigningKey::generate("hospital", "authority", false);
    auto data_key = medtrail::DataKey::generate();
    auto open_start = Clock::now();
    auto ledger = a.reuse ? medtrail::Ledger::open(path, true, {})
                          : medtrail::Ledger::create(path, authority, "bench.example/contacts", data_key, {});

    // With --reuse this includes migrating a ledger built by an older schema.
    const double open_s = seconds_since(open_start);
    auto& db = ledger.db();
    const std::uint64_t minutes = a.days * 24 * 60;
    const std::uint64_t points = minutes * a.wristbands;
    std::fprintf(stderr, "building %llu points (%llu wristbands x %llu minutes) in %s\n",
                 static_cast<unsigned long long>(points), static_cast<unsigned long long>(a.wristbands),
                 static_cast<unsigned long long>(minutes), path.c_str());

    std::vector<medtrail::Hash> pseudonyms;
    std::vector<std::string> devices;
    std::vector<double> x(a.wristbands), y(a.wristbands);
    medtrail::simulate::detail::Rng rng(42);  // the simulator's PRNG: deterministic walks
    for (std::uint64_t w = 0; w < a.wristbands; ++w) {
      char name[32];
      std::snprintf(name, sizeof name, "%04llu", static_cast<unsigned long long>(w + 1));
      devices.push_back(std::string("wb-") + name);
      pseudonyms.push_back(data_key.pseudonym(std::string("patient-") + name));
      x[w] = (rng.uniform() - 0.5) * 600;
      y[w] = (rng.uniform() - 0.5) * 600;
    }
    auto build_start = Clock::now();
    std::uint64_t index = ledger.size();
    // Subjects and the gateway key id are stored once and referred to by ref, as ingest does.
    db.exec("INSERT OR IGNORE INTO signer_keys(key_id) VALUES ('bench')");
    auto insert_subject = db.prepare("INSERT OR IGNORE INTO subjects(pseudonym) VALUES (?)");
    for (const auto& p : pseudonyms) insert_subject.bind_blob(1, p).run();
    // Devices and the type are labels (schema 15), as ingest keeps them.
    auto insert_label = db.prepare("INSERT OR IGNORE INTO labels(text) VALUES (?)");
    insert_label.bind(1, "location").run();
    for (const auto& d : devices) insert_label.bind(1, d).run();
    auto insert_leaf = db.prepare(
        "INSERT INTO leaves(idx, id, kind_code, device_ref, signer_ref, time_ms, received_ms, type_ref, commitment, "
        "subject_ref) VALUES (?, ?, 1, (SELECT ref FROM labels WHERE text = ?3), "
        "(SELECT ref FROM signer_keys WHERE key_id = 'bench'), ?4, ?5, (SELECT ref FROM labels WHERE text = "
        "'location'), "
        "?6, (SELECT ref FROM subjects WHERE pseudonym = ?7))");
    medtrail::trace::IndexWriter index_writer(db);  // the positions rows exactly as ingest writes them
    const double metres_per_degree = 111195.0;
    const double cos_lat = std::cos(kLat0 * 3.14159265358979323846 / 180.0);
    for (std::uint64_t m = 0; m < (a.reuse ? 0 : minutes); ++m) {
      if (m % 1440 == 0) db.exec("BEGIN IMMEDIATE");
      std::int64_t base = kStartMs + static_cast<std::int64_t>(m) * 60000;
      for (std::uint64_t w = 0; w < a.wristbands; ++w) {
        x[w] = std::clamp(x[w] + rng.normal() * 6, -300.0, 300.0);
        y[w] = std::clamp(y[w] + rng.normal() * 6, -300.0, 300.0);
      }
      // Planted meetings, so queries have answers to find: every day wristband w spends 20
      // minutes 1 m from wristband w+1, starting at half-hour slot w mod 48. Each subject then
      // has two contacts at hop 1 (w-1, w+1) and two more at hop 2; random walks alone almost
      // never stay within 2 m for 15 minutes.
      const auto minute_of_day = m % 1440;
      for (std::uint64_t w = 0; w < a.wristbands; ++w) {
        const auto slot_start = (w % 48) * 30;
        if (minute_of_day < slot_start || minute_of_day >= slot_start + 20) continue;
        const auto partner = (w + 1) % a.wristbands;
        x[partner] = std::min(x[w] + 1.0, 300.0);
        y[partner] = y[w];
      }
      for (std::uint64_t w = 0; w < a.wristbands; ++w) {
        std::int64_t t = base + static_cast<std::int64_t>(rng.next() % 900);
        std::uint8_t seed[8];
        for (int b = 0; b < 8; ++b) seed[b] = static_cast<std::uint8_t>(index >> (8 * b));
        auto id = medtrail::crypto::sha256(std::span<const std::uint8_t>(seed, 8));
        insert_leaf.bind(1, index).bind_blob(2, id).bind(3, devices[w]).bind(4, t).bind(5, t + 1000);
        insert_leaf.bind_blob(6, id).bind_blob(7, pseudonyms[w]).run();
        medtrail::LeafRow row;
        row.index = index;
        row.time_ms = t;
        medtrail::trace::IndexFacts facts;
        facts.position = std::pair(medtrail::trace::microdegrees(kLat0 + y[w] / metres_per_degree),
                                   medtrail::trace::microdegrees(kLon0 + x[w] / (metres_per_degree * cos_lat)));
        index_writer.add(row, facts);
        ++index;
      }
      if (m % 1440 == 1439 || m + 1 == minutes) {
        db.exec("COMMIT");
        std::fprintf(stderr, "  day %llu: %llu points, %.0f s\n", static_cast<unsigned long long>(m / 1440 + 1),
                     static_cast<unsigned long long>(index), seconds_since(build_start));
      }
    }
    double build_s = seconds_since(build_start);
    if (!a.reuse) db.exec("ANALYZE");

    medtrail::trace::ContactOptions week;
    week.window = {kStartMs, kStartMs + static_cast<std::int64_t>(minutes) * 60000};
    medtrail::trace::ContactOptions day = week;
    day.window.until_ms = kStartMs + 24 * 3600 * 1000;
    medtrail::trace::ContactOptions day_two_hops = day;
    day_two_hops.hops = 2;

    // Baseline: one pass over every location record in the window, as any index-free method
    // must make at least once. Run twice; the second (warm cache) is reported, as the queries.
    double baseline_s = 0;
    std::int64_t baseline_rows = 0;
    for (int pass = 0; pass < 2; ++pass) {
      auto start = Clock::now();
      auto stmt = db.prepare(
          "SELECT count(*), sum(time_ms % 1000) FROM leaves WHERE type_ref = (SELECT ref FROM labels WHERE text = "
          "'location') "
          "AND time_ms BETWEEN ? AND ?");
      stmt.bind(1, week.window.since_ms).bind(2, week.window.until_ms);
      stmt.step();
      baseline_rows = stmt.integer(0);
      baseline_s = seconds_since(start);
    }

    std::vector<double> week_s, day_s, hops_s;
    std::uint64_t week_contacts = 0, day_contacts = 0, hop_contacts = 0;
    for (std::uint64_t q = 0; q < a.queries; ++q) {
      // The subject as the ledger holds it (a reused ledger was built under another data key).
      auto lookup = db.prepare((std::string("SELECT ") + medtrail::kSubjectOfLeaf + " FROM leaves WHERE device_ref = " +
                                medtrail::kLabelRefOfParam + " AND subject_ref IS NOT NULL LIMIT 1")
                                   .c_str());
      lookup.bind(1, devices[(q * 7919) % a.wristbands]);
      if (!lookup.step()) throw std::runtime_error("no readings of " + devices[(q * 7919) % a.wristbands]);
      medtrail::Hash subject;
      std::copy(lookup.blob(0).begin(), lookup.blob(0).end(), subject.begin());
      auto start = Clock::now();
      week_contacts += medtrail::trace::contacts(ledger, subject, week).size();
      week_s.push_back(seconds_since(start));
      start = Clock::now();
      day_contacts += medtrail::trace::contacts(ledger, subject, day).size();
      day_s.push_back(seconds_since(start));
      start = Clock::now();
      hop_contacts += medtrail::trace::contacts(ledger, subject, day_two_hops).size();
      hops_s.push_back(seconds_since(start));
      std::fprintf(stderr, "  query %llu: week %.3f s, day %.3f s, day 2 hops %.3f s\n",
                   static_cast<unsigned long long>(q + 1), week_s.back(), day_s.back(), hops_s.back());
    }
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);
    auto file_bytes = fs::file_size(path) + (fs::exists(path + "-wal") ? fs::file_size(path + "-wal") : 0);

    json out = {
        {"points", points},
        {"wristbands", a.wristbands},
        {"days", a.days},
        {"reused", a.reuse},
        {"build_s", build_s},
        {"build_points_per_s", a.reuse ? json(nullptr) : json(static_cast<double>(points) / build_s)},
        {"open_s", open_s},
        {"file_bytes", file_bytes},
        {"baseline_full_pass_s", baseline_s},
        {"baseline_rows", baseline_rows},
        {"query_week_median_s", median(week_s)},
        {"query_day_median_s", median(day_s)},
        {"query_day_2hops_median_s", median(hops_s)},
        {"query_week_vs_full_pass", median(week_s) / baseline_s},
        {"contacts_found", {{"week", week_contacts}, {"day", day_contacts}, {"day_2hops", hop_contacts}}},
        {"target_query_s", kTargetQuerySeconds},
        {"target_met", median(week_s) < kTargetQuerySeconds},
        {"peak_rss_mib", static_cast<double>(usage.ru_maxrss) / 1024.0},
    };
    if (a.reuse)
      std::fprintf(stderr, "\npoints %llu  reused (opened in %.1f s, including any schema migration)\n",
                   static_cast<unsigned long long>(points), open_s);
    else
      std::fprintf(stderr, "\npoints %llu  build %.0f s (%.0f points/s)\n", static_cast<unsigned long long>(points), build_s,
                   static_cast<double>(points) / build_s);
    std::fprintf(stderr,
                 "file %.0f MiB\n"
                 "baseline: one pass over the window's %lld location records  %.3f s\n"
                 "contacts of one subject, 7-day window (%llu of its points)  median %.3f s = %.3fx one pass\n"
                 "contacts, 1-day window  median %.3f s;  with 2 hops  median %.3f s\n",
                 static_cast<double>(file_bytes) / 1048576.0, static_cast<long long>(baseline_rows), baseline_s,
                 static_cast<unsigned long long>(minutes), median(week_s), median(week_s) / baseline_s,
                 median(day_s), median(hops_s));
    std::printf("%s\n", out.dump(2).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_contacts: %s\n", e.what());
    return 5;
  }
  if (own_dir && !a.keep) fs::remove_all(a.dir);
  return 0;
}
