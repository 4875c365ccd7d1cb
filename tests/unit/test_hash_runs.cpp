#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "crypto.hpp"
#include "error.hpp"
#include "ledger.hpp"

using namespace medtrail;

namespace {

struct RunsDb {
  std::filesystem::path dir;
  std::optional<Ledger> ledger;
  RunsDb() {
    char tmpl[] = "/tmp/medtrail-runs.XXXXXX";
    dir = ::mkdtemp(tmpl);
    auto authority = SigningKey::generate("hospital", "authority");
    ledger.emplace(Ledger::create((dir / "l.db").string(), authority, "test.example/runs", DataKey::generate(), {}));
  }
  ~RunsDb() { std::filesystem::remove_all(dir); }
  sql::Database& db() { return ledger->db(); }

  std::vector<std::pair<std::int64_t, std::int64_t>> runs(const char* table) {
    auto stmt = db().prepare("SELECT gen, rows FROM hash_runs WHERE tbl = ? ORDER BY gen");
    stmt.bind(1, table);
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    while (stmt.step()) out.emplace_back(stmt.integer(0), stmt.integer(1));
    return out;
  }
  // Keys a run holds (a row of a merged run packs up to 48 of them).
  std::int64_t rows_of(std::int64_t gen) {
    std::int64_t keys = 0;
    CHECK(HashRuns(db(), "replay_tags", "tag").scan([&](auto, auto, std::int64_t g, bool) { keys += g == gen; }) == 0);
    return keys;
  }
};

Hash key_of(std::uint64_t n) { return crypto::sha256(std::to_string(n)); }
// Keys as long as the runs keep them: 12-byte replay tags, 8-byte record-id prefixes.
template <std::size_t N>
std::array<std::uint8_t, N> prefix_of(std::uint64_t n) {
  const auto whole = key_of(n);
  std::array<std::uint8_t, N> out{};
  std::copy_n(whole.begin(), N, out.begin());
  return out;
}
std::array<std::uint8_t, 12> tag_of(std::uint64_t n) { return prefix_of<12>(n); }
std::array<std::uint8_t, 8> id_key_of(std::uint64_t n) { return prefix_of<8>(n); }

}  // namespace

TEST_CASE("hash runs find every key through seals and merges, with a logarithmic number of runs", "[hash_runs]") {
  RunsDb t;
  constexpr std::uint64_t total = 5 * HashRuns::kOpenRunRows + 1000;
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag");
    for (std::uint64_t i = 0; i < total; ++i) runs.insert(key_of(i), i);
    runs.maintain();
    tx.commit();
  }
  auto list = t.runs("replay_tags");
  // 5 full runs merge like a binary counter: 4 + 1 sealed runs and the open one.
  REQUIRE(list.size() == 3);
  CHECK(list[0].second == 4 * HashRuns::kOpenRunRows);
  CHECK(list[1].second == HashRuns::kOpenRunRows);
  CHECK(list[2].second == 0);  // the open run's count is kept only when it is sealed
  std::int64_t stored = 0;
  for (auto [gen, rows] : list) {
    if (gen != list.back().first) CHECK(t.rows_of(gen) == rows);
    stored += t.rows_of(gen);
  }
  CHECK(stored == static_cast<std::int64_t>(total));
  // A merged run is written in key order at the table's right edge: its pages are nearly full.
  auto pages = t.db().prepare("SELECT count(*) FROM dbstat WHERE name = 'replay_tags' AND pagetype = 'leaf'");
  pages.step();
  CHECK(pages.integer(0) * 4096 < static_cast<std::int64_t>(total) * 40 * 10 / 7);

  HashRuns reader(t.db(), "replay_tags", "tag");
  for (std::uint64_t i = 0; i < total; i += 97) CHECK(reader.find(key_of(i)) == std::optional<std::uint64_t>(i));
  CHECK(reader.find(key_of(total + 1)) == std::nullopt);

  // A range over a prefix returns exactly the keys in it, from every run.
  Hash low{}, high{};
  low[0] = 0x3a;
  high.fill(0xff);
  high[0] = 0x3a;
  std::multiset<std::uint64_t> expected;
  for (std::uint64_t i = 0; i < total; ++i)
    if (key_of(i)[0] == 0x3a) expected.insert(i);
  auto found = reader.range(low, high, static_cast<int>(total));
  CHECK(std::multiset<std::uint64_t>(found.begin(), found.end()) == expected);
  CHECK(reader.range(low, high, 2).size() == 2);
}

TEST_CASE("hash runs stay correct when another object on the connection merges", "[hash_runs]") {
  RunsDb t;
  sql::WriteTransaction tx(t.db());
  HashRuns a(t.db(), "replay_tags", "tag");
  HashRuns b(t.db(), "replay_tags", "tag");
  // a fills the open run; b's inserts then seal and merge it; a keeps inserting afterwards.
  for (std::uint64_t i = 0; i < HashRuns::kOpenRunRows; ++i) a.insert(key_of(i), i);
  for (std::uint64_t i = HashRuns::kOpenRunRows; i < 3 * HashRuns::kOpenRunRows; ++i) b.insert(key_of(i), i);
  for (std::uint64_t i = 3 * HashRuns::kOpenRunRows; i < 3 * HashRuns::kOpenRunRows + 50; ++i) a.insert(key_of(i), i);
  for (std::uint64_t i = 0; i < 3 * HashRuns::kOpenRunRows + 50; i += 13) {
    CHECK(a.find(key_of(i)) == std::optional<std::uint64_t>(i));
    CHECK(b.find(key_of(i)) == std::optional<std::uint64_t>(i));
  }
  CHECK(a.find(key_of(3 * HashRuns::kOpenRunRows + 49)) == std::optional<std::uint64_t>(3 * HashRuns::kOpenRunRows + 49));
}

TEST_CASE("a pinned writer binds the open run's gen and follows it through its own seals and merges", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning small{64, 16 * 64, 4};  // seals, merges and sliced merges within a few thousand keys
  constexpr std::uint64_t total = 3000;
  std::int64_t before = 0;  // the genesis record's id
  CHECK(HashRuns(t.db(), "record_ids", "id").scan([&](auto, auto, auto, bool) { ++before; }) == 0);
  {
    sql::WriteTransaction tx(t.db());
    HashRuns pinned(t.db(), "record_ids", "id", small);
    pinned.pin_open_run();
    for (std::uint64_t i = 0; i < total; ++i) pinned.insert(id_key_of(i), i);
    tx.commit();
  }
  HashRuns reader(t.db(), "record_ids", "id");
  std::map<std::int64_t, std::int64_t> keys_per_gen;
  CHECK(reader.scan([&](auto, auto, std::int64_t gen, bool) { ++keys_per_gen[gen]; }) == 0);
  std::int64_t stored = 0;
  for (auto [gen, keys] : keys_per_gen) stored += keys;
  CHECK(stored == before + static_cast<std::int64_t>(total));
  auto list = t.runs("record_ids");
  REQUIRE(list.size() >= 3);
  // Every key is in a listed run; the open one (the newest gen) took the last ones in.
  for (const auto& held : keys_per_gen)  // (clang 14 cannot capture a structured binding)
    CHECK(std::any_of(list.begin(), list.end(), [&](auto run) { return run.first == held.first; }));
  CHECK(keys_per_gen.rbegin()->first == list.back().first);
  CHECK(reader.range(id_key_of(total - 1), id_key_of(total - 1), 2) == std::vector<std::uint64_t>{total - 1});
  for (std::uint64_t i = 0; i < total; i += 7) {
    auto hits = reader.range(id_key_of(i), id_key_of(i), 2);
    CHECK(std::find(hits.begin(), hits.end(), i) != hits.end());
  }
}

TEST_CASE("an erased key is gone from every run", "[hash_runs]") {
  RunsDb t;
  sql::WriteTransaction tx(t.db());
  HashRuns runs(t.db(), "replay_tags", "tag");
  for (std::uint64_t i = 0; i < 2 * HashRuns::kOpenRunRows + 10; ++i) runs.insert(key_of(i), i);
  runs.erase(key_of(5));                              // in a merged run
  runs.erase(key_of(2 * HashRuns::kOpenRunRows + 3));  // in the open run
  CHECK(runs.find(key_of(5)) == std::nullopt);
  CHECK(runs.find(key_of(2 * HashRuns::kOpenRunRows + 3)) == std::nullopt);
  CHECK(runs.find(key_of(6)) == std::optional<std::uint64_t>(6));
}

TEST_CASE("record ids are looked up with one primary-key seek per run", "[hash_runs]") {
  RunsDb t;
  auto plan = t.db().prepare((std::string("EXPLAIN QUERY PLAN ") + kRecordIdLookup).c_str());
  std::string text;
  while (plan.step()) text += plan.text(3) + "\n";
  CHECK_THAT(text, Catch::Contains("SEARCH r USING PRIMARY KEY (tbl=?)"));
  CHECK_THAT(text, Catch::Contains("SEARCH t USING PRIMARY KEY (gen=? AND id=?)"));
  // A prefix resolves through the runs, and an id the runs misname is refused, not served.
  auto genesis = to_hex(t.ledger->leaf(0).id);
  CHECK(t.ledger->resolve(genesis.substr(0, 8)) == 0);
  t.db().exec("UPDATE record_ids SET id = zeroblob(8)");
  CHECK_THROWS_AS(t.ledger->resolve(genesis), Error);
  std::optional<ExitCode> code;
  try {
    t.ledger->resolve("0000000000000000");
  } catch (const Error& e) {
    code = e.code();
  }
  CHECK(code == ExitCode::verification_failed);
}

TEST_CASE("large merges run in slices and every key stays in exactly one live run", "[hash_runs]") {
  RunsDb t;
  // Small runs so that many sliced merges start, overlap with seals and small merges, and end.
  const HashRuns::Tuning tuning{.open_run_rows = 64, .sliced_merge_rows = 512, .merge_slices = 8};
  constexpr std::uint64_t total = 20000;
  std::uint64_t inserted = 0;
  bool saw_merge_in_progress = false;
  std::size_t most_runs = 0;
  bool erased = false;
  auto in_progress = [&] {
    auto stmt = t.db().prepare("SELECT count(*) FROM hash_run_merges WHERE tbl = 'replay_tags'");
    stmt.step();
    return stmt.integer(0);
  };
  while (inserted < total) {
    // Each commit is its own writer, as separate ingest runs would be: merges resume from the table.
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", tuning);
    runs.maintain();
    for (std::uint64_t end = std::min(total, inserted + 700); inserted < end; ++inserted)
      runs.insert(key_of(inserted), inserted);
    if (inserted >= 10000 && !erased) {
      runs.erase(key_of(9000));
      erased = true;
    }
    tx.commit();
    CHECK(in_progress() <= 1);
    saw_merge_in_progress = saw_merge_in_progress || in_progress() == 1;
    most_runs = std::max(most_runs, t.runs("replay_tags").size());

    // Every key inserted so far is live exactly once (what verify's digest relies on) and found.
    HashRuns reader(t.db(), "replay_tags", "tag", tuning);
    std::map<std::uint64_t, int> seen;
    REQUIRE(reader.scan([&](auto, std::uint64_t idx, auto, bool) { ++seen[idx]; }) == 0);
    REQUIRE(seen.size() == inserted - (erased ? 1 : 0));
    for (auto [idx, times] : seen) REQUIRE(times == 1);
    for (std::uint64_t i = 0; i < inserted; i += 37)
      CHECK(reader.find(key_of(i)) == (erased && i == 9000 ? std::nullopt : std::optional<std::uint64_t>(i)));
  }
  CHECK(saw_merge_in_progress);
  // log2(20000 / 64) is about 8; a merge in progress and its target add a few.
  CHECK(most_runs <= 14);
  // No rows are left behind outside the live runs.
  auto stray = t.db().prepare("SELECT count(*) FROM replay_tags WHERE gen NOT IN (SELECT gen FROM hash_runs WHERE tbl = 'replay_tags')");
  stray.step();
  CHECK(stray.integer(0) == 0);
}

namespace {

std::int64_t filtered_runs(RunsDb& t) {
  auto stmt = t.db().prepare("SELECT count(*) FROM hash_runs WHERE tbl = 'replay_tags' AND filtered = 1");
  stmt.step();
  return stmt.integer(0);
}

std::uint64_t filter_misses(RunsDb& t) {
  std::uint64_t misses = 0;
  HashRuns(t.db(), "replay_tags", "tag").scan([&](auto, auto, auto, bool holds) { misses += holds ? 0 : 1; });
  return misses;
}

}  // namespace

TEST_CASE("replay-tag runs keep filters that hold every key, so an absent tag costs about one seek", "[hash_runs]") {
  RunsDb t;
  constexpr std::uint64_t total = 7 * HashRuns::kOpenRunRows + 500;
  RunFilterCache cache;
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", HashRuns::Tuning{}, &cache);
    runs.maintain();
    for (std::uint64_t i = 0; i < total; ++i) runs.insert(key_of(i), i);
    runs.maintain();
    tx.commit();
  }
  // 7 runs' worth merge into 4 + 2 + 1 sealed runs, each with a complete filter; the open run has none.
  REQUIRE(t.runs("replay_tags").size() == 4);
  CHECK(filtered_runs(t) == 3);
  CHECK(filter_misses(t) == 0);
  // Record ids keep no filters.
  auto id_filters = t.db().prepare("SELECT count(*) FROM hash_run_filters WHERE tbl <> 'replay_tags'");
  id_filters.step();
  CHECK(id_filters.integer(0) == 0);

  sql::WriteTransaction tx(t.db());
  HashRuns filtered(t.db(), "replay_tags", "tag", HashRuns::Tuning{}, &cache);
  filtered.maintain();
  HashRuns plain(t.db(), "replay_tags", "tag");
  for (std::uint64_t i = 0; i < total; i += 41) {
    REQUIRE(filtered.find(key_of(i)) == std::optional<std::uint64_t>(i));
    REQUIRE(plain.find(key_of(i)) == std::optional<std::uint64_t>(i));
  }
  // Absent tags: the open run is always sought; each filter lets through about 0.8% (10 bits
  // per key, six probes), so three filters pass about 2.5% more.
  auto before = filtered.runs_sought();
  constexpr std::uint64_t absent = 4000;
  for (std::uint64_t i = 0; i < absent; ++i) REQUIRE(filtered.find(key_of(total + i)) == std::nullopt);
  auto per_lookup = static_cast<double>(filtered.runs_sought() - before) / absent;
  CHECK(per_lookup >= 1.0);
  CHECK(per_lookup < 1.08);
}

TEST_CASE("filtered lookups stay exact through sliced merges, erasure and another writer's merges", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{.open_run_rows = 64, .sliced_merge_rows = 512, .merge_slices = 8};
  RunFilterCache cache;
  RunFilterCache no_room(0);
  constexpr std::uint64_t total = 12000;
  std::uint64_t inserted = 0;
  bool saw_merge_in_progress = false;
  while (inserted < total) {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", tuning, &cache);
    runs.maintain();
    // In half the commits a second object on the connection inserts the last 100 keys, and so
    // seals and merges runs behind the cached list's back.
    HashRuns other(t.db(), "replay_tags", "tag", tuning);
    for (std::uint64_t end = std::min(total, inserted + 700); inserted < end; ++inserted)
      (inserted / 700 % 2 == 1 && inserted % 700 >= 600 ? other : runs).insert(key_of(inserted), inserted);
    if (inserted == 7000) runs.erase(key_of(5000));
    // A cache with no room for filters seeks every run, merge targets included.
    HashRuns starved(t.db(), "replay_tags", "tag", tuning, &no_room);
    for (std::uint64_t i = 0; i < inserted; i += 53) {
      auto expected = i == 5000 && inserted >= 7000 ? std::nullopt : std::optional<std::uint64_t>(i);
      REQUIRE(runs.find(key_of(i)) == expected);
      REQUIRE(starved.find(key_of(i)) == expected);
    }
    runs.maintain();  // the cached list is current: what follows counts seeks, not refreshes
    auto before = runs.runs_sought();
    for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(runs.find(key_of(total + i)) == std::nullopt);
    auto merges = t.db().prepare("SELECT count(*) FROM hash_run_merges WHERE tbl = 'replay_tags'");
    merges.step();
    if (merges.integer(0) >= 1) {
      saw_merge_in_progress = true;
      // A merge target is sought only when one of its sources' filters may hold the key, and
      // these filters (64 keys in 32,768 bits) hardly ever pass an absent one: about one seek
      // (the open run) per absent tag, not two.
      CHECK(runs.runs_sought() - before < 60);
    }
    merges.reset();
    tx.commit();
    REQUIRE(filter_misses(t) == 0);
  }
  CHECK(saw_merge_in_progress);
  CHECK(filtered_runs(t) >= 3);
  // Filters of runs merged away are gone with them.
  auto stray = t.db().prepare(
      "SELECT count(*) FROM hash_run_filters WHERE gen NOT IN (SELECT gen FROM hash_runs WHERE tbl = 'replay_tags')");
  stray.step();
  CHECK(stray.integer(0) == 0);
}

TEST_CASE("a damaged filter is found by scan, and is what would let a replay through", "[hash_runs]") {
  RunsDb t;
  RunFilterCache cache;  // as ingest holds it
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", HashRuns::Tuning{}, &cache);
    for (std::uint64_t i = 0; i < HashRuns::kOpenRunRows + 10; ++i) runs.insert(key_of(i), i);
    runs.maintain();
    tx.commit();
  }
  REQUIRE(filtered_runs(t) == 1);
  // Clear one segment: the keys in it are no longer held.
  t.db().exec("UPDATE hash_run_filters SET bits = zeroblob(4096) WHERE segment = 3");
  std::vector<std::uint64_t> missed;
  HashRuns(t.db(), "replay_tags", "tag").scan([&](auto, std::uint64_t idx, auto, bool holds) {
    if (!holds) missed.push_back(idx);
  });
  REQUIRE(!missed.empty());
  // One segment's worth: 32,768 keys in 10 segments.
  CHECK(missed.size() > 2500);
  CHECK(missed.size() < 4000);
  // A writer that loads the filters now (a cache loaded earlier still holds the old bits).
  RunFilterCache fresh;
  sql::WriteTransaction tx(t.db());
  HashRuns filtered(t.db(), "replay_tags", "tag", HashRuns::Tuning{}, &fresh);
  filtered.maintain();
  CHECK(filtered.find(key_of(missed.front())) == std::nullopt);
  CHECK(HashRuns(t.db(), "replay_tags", "tag").find(key_of(missed.front())) ==
        std::optional<std::uint64_t>(missed.front()));
}

TEST_CASE("filters written again hold every key, a merge under way's too, and stay exact as it goes on",
          "[hash_runs]") {
  // What migration 16 does after cutting the tags: every filter is written anew from its keys.
  RunsDb t;
  const HashRuns::Tuning tuning{.open_run_rows = 64, .sliced_merge_rows = 512, .merge_slices = 8};
  std::uint64_t inserted = 0;
  auto insert_until = [&](std::uint64_t end) {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", tuning);
    runs.maintain();
    for (; inserted < end; ++inserted) runs.insert(key_of(inserted), inserted);
    tx.commit();
  };
  auto merge_under_way = [&] {
    auto merges = t.db().prepare("SELECT count(*) FROM hash_run_merges WHERE tbl = 'replay_tags'");
    merges.step();
    return merges.integer(0) > 0;
  };
  // Stop while a sliced merge is under way.
  while (inserted < 20000 && !(inserted > 2000 && merge_under_way())) insert_until(inserted + 100);
  REQUIRE(merge_under_way());
  const auto complete = filtered_runs(t);
  REQUIRE(complete >= 2);
  // Filters from another probe scheme (or none at all) in place of the real ones.
  t.db().exec("UPDATE hash_run_filters SET bits = zeroblob(4096)");
  REQUIRE(filter_misses(t) > 0);
  {
    sql::WriteTransaction tx(t.db());
    HashRuns(t.db(), "replay_tags", "tag", tuning).rewrite_filters();
    tx.commit();
  }
  CHECK(filtered_runs(t) == complete);
  CHECK(filter_misses(t) == 0);
  // The merge goes on from the rewritten partial filter and ends with a complete one.
  while (merge_under_way()) insert_until(inserted + 100);
  CHECK(filter_misses(t) == 0);
  RunFilterCache cache;
  sql::WriteTransaction tx(t.db());
  HashRuns filtered(t.db(), "replay_tags", "tag", tuning, &cache);
  filtered.maintain();
  for (std::uint64_t i = 0; i < inserted; i += 7) REQUIRE(filtered.find(key_of(i)) == std::optional<std::uint64_t>(i));
}

namespace {

std::int64_t count_of(RunsDb& t, const char* sql) {
  auto stmt = t.db().prepare(sql);
  stmt.step();
  return stmt.integer(0);
}

std::uint64_t damage(RunsDb& t, const char* table, const char* key_column) {
  return HashRuns(t.db(), table, key_column).scan([](auto, auto, auto, bool) {});
}

}  // namespace

TEST_CASE("merged runs are packed in blocks that lookups, ranges and erasure read whole", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{.open_run_rows = 256, .sliced_merge_rows = 4096, .merge_slices = 8};
  constexpr std::uint64_t total = 3000;
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", tuning);
    for (std::uint64_t i = 0; i < total; ++i) runs.insert(tag_of(i), i);
    tx.commit();
  }
  // Merged keys sit 48 to a row; only the open run keeps a row per key.
  const auto rows = count_of(t, "SELECT count(*) FROM replay_tags");
  CHECK(rows < static_cast<std::int64_t>(total) / 4);
  CHECK(count_of(t, "SELECT max(length(more)) FROM replay_tags") <= 47 * 16);
  CHECK(damage(t, "replay_tags", "tag") == 0);

  sql::WriteTransaction tx(t.db());
  HashRuns runs(t.db(), "replay_tags", "tag", tuning);
  for (std::uint64_t i = 0; i < total; ++i) REQUIRE(runs.find(tag_of(i)) == std::optional<std::uint64_t>(i));
  std::array<std::uint8_t, 12> low{}, high{};
  high.fill(0xff);
  CHECK(runs.range(low, high, static_cast<int>(total) + 1).size() == total);

  // Erase a block's head and an entry packed behind another head: both gone, their neighbours kept.
  auto packed_row =
      t.db().prepare("SELECT tag, idx, more FROM replay_tags WHERE more IS NOT NULL ORDER BY gen, tag LIMIT 2");
  REQUIRE(packed_row.step());
  const auto head_idx = static_cast<std::uint64_t>(packed_row.integer(1));
  REQUIRE(packed_row.step());
  std::optional<std::int64_t> inner_idx;
  run_blocks::visit(packed_row.blob(2), 12, [&](auto, std::int64_t idx) { inner_idx = inner_idx.value_or(idx); });
  packed_row.reset();
  REQUIRE(inner_idx);
  const auto inner = static_cast<std::uint64_t>(*inner_idx);
  runs.erase(tag_of(head_idx));
  runs.erase(tag_of(inner));
  CHECK(runs.find(tag_of(head_idx)) == std::nullopt);
  CHECK(runs.find(tag_of(inner)) == std::nullopt);
  std::uint64_t seen = 0;
  CHECK(runs.scan([&](auto, auto, auto, bool) { ++seen; }) == 0);
  CHECK(seen == total - 2);
  for (std::uint64_t i = 0; i < total; ++i)
    if (i != head_idx && i != inner) REQUIRE(runs.find(tag_of(i)) == std::optional<std::uint64_t>(i));
}

TEST_CASE("a key repeated in a run stays a row of its own, so SQL finds every copy", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{.open_run_rows = 64, .sliced_merge_rows = 4096, .merge_slices = 8};
  const auto shared = id_key_of(7);
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "record_ids", "id", tuning);
    for (std::uint64_t i = 0; i < 1000; ++i) {
      runs.insert(id_key_of(i + 100), i + 100);
      if (i == 10 || i == 500) runs.insert(shared, i);  // two ids sharing their first 8 bytes
    }
    tx.commit();
  }
  auto copies = t.db().prepare("SELECT count(*) FROM record_ids WHERE id = ? AND more IS NULL");
  copies.bind_blob(1, shared);
  copies.step();
  CHECK(copies.integer(0) == 2);
  copies.reset();
  CHECK(count_of(t, "SELECT count(*) FROM record_ids WHERE more IS NOT NULL") > 0);
  CHECK(damage(t, "record_ids", "id") == 0);
  auto found = HashRuns(t.db(), "record_ids", "id").range(shared, shared, 10);
  CHECK(std::multiset<std::uint64_t>(found.begin(), found.end()) == std::multiset<std::uint64_t>{10, 500});
}

TEST_CASE("scan counts blocks that would hide keys from lookups", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{.open_run_rows = 256, .sliced_merge_rows = 4096, .merge_slices = 8};
  {
    sql::WriteTransaction tx(t.db());
    HashRuns runs(t.db(), "replay_tags", "tag", tuning);
    for (std::uint64_t i = 0; i < 1200; ++i) runs.insert(tag_of(i), i);
    tx.commit();
  }
  REQUIRE(damage(t, "replay_tags", "tag") == 0);
  const auto keys_seen = [&] {
    std::uint64_t n = 0;
    HashRuns(t.db(), "replay_tags", "tag").scan([&](auto, auto, auto, bool) { ++n; });
    return n;
  };
  const auto before = keys_seen();
  // The packed entries of two blocks swapped: the same keys, out of order.
  t.db().exec(
      "SAVEPOINT s; CREATE TEMP TABLE two AS SELECT gen, tag, more FROM replay_tags WHERE more IS NOT NULL "
      "ORDER BY gen, tag LIMIT 2; UPDATE replay_tags SET more = (SELECT more FROM two WHERE two.gen = "
      "replay_tags.gen AND two.tag <> replay_tags.tag) WHERE (gen, tag) IN (SELECT gen, tag FROM two);");
  CHECK(keys_seen() == before);
  CHECK(damage(t, "replay_tags", "tag") > 0);
  t.db().exec("ROLLBACK TO s; RELEASE s;");
  // A block cut in the middle of an entry.
  t.db().exec("SAVEPOINT s; UPDATE replay_tags SET more = substr(more, 1, length(more) - 1) WHERE more IS NOT NULL;");
  CHECK(damage(t, "replay_tags", "tag") > 0);
  t.db().exec("ROLLBACK TO s; RELEASE s;");
  // Packed entries in the open run, which lookups seek by its row keys only.
  t.db().exec(
      "SAVEPOINT s; UPDATE replay_tags SET more = (SELECT more FROM replay_tags WHERE more IS NOT NULL LIMIT 1) "
      "WHERE gen = (SELECT max(gen) FROM hash_runs WHERE tbl = 'replay_tags') AND tag = "
      "(SELECT max(tag) FROM replay_tags WHERE gen = (SELECT max(gen) FROM hash_runs WHERE tbl = 'replay_tags'));");
  CHECK(damage(t, "replay_tags", "tag") > 0);
  t.db().exec("ROLLBACK TO s; RELEASE s;");
  CHECK(damage(t, "replay_tags", "tag") == 0);
}

namespace {

// Rows in the replay-tag runs' open run.
std::int64_t open_run_rows(RunsDb& t) {
  return count_of(
      t, "SELECT count(*) FROM replay_tags WHERE gen = (SELECT max(gen) FROM hash_runs WHERE tbl = 'replay_tags')");
}

// A replay-tag writer set up as ingest's Appender sets one up: pinned, filters cached, keys staged.
struct StagingWriter {
  RunFilterCache cache;
  HashRuns runs;
  StagingWriter(RunsDb& t, HashRuns::Tuning tuning) : runs(t.db(), "replay_tags", "tag", tuning, &cache) {
    runs.pin_open_run();
    runs.maintain();
    runs.stage_inserts();
  }
};

}  // namespace

TEST_CASE("staged keys find the first index of every key, through the table's growth and a take", "[hash_runs]") {
  StagedKeys staged;
  CHECK_FALSE(staged.first_index_of(tag_of(1)));  // nothing staged: no table yet
  // 5,000 distinct keys grow the table from 1,024 slots several times; every 7th is staged
  // again under another index, which must not replace the first.
  std::vector<std::uint64_t> order;
  for (std::uint64_t n = 0; n < 5000; ++n) {
    staged.add(tag_of(n), 100 + n);
    order.push_back(100 + n);
    if (n % 7 == 0) {
      staged.add(tag_of(n), 900000 + n);
      order.push_back(900000 + n);
    }
  }
  CHECK(staged.size() == order.size());
  for (std::uint64_t n = 0; n < 5000; ++n) REQUIRE(staged.first_index_of(tag_of(n)) == 100 + n);
  for (std::uint64_t n = 5000; n < 6000; ++n) REQUIRE_FALSE(staged.first_index_of(tag_of(n)));
  // Keys that share their first 8 bytes (the hash) are told apart by the rest.
  auto twin = tag_of(1);
  twin[11] ^= 1;
  CHECK_FALSE(staged.first_index_of(twin));
  staged.add(twin, 7);
  CHECK(staged.first_index_of(twin) == 7u);
  CHECK(staged.first_index_of(tag_of(1)) == 101u);
  // Keys shorter than the hash's 8 bytes still work.
  const std::array<std::uint8_t, 3> short_key{1, 2, 3};
  staged.add(short_key, 42);
  CHECK(staged.first_index_of(short_key) == 42u);

  auto taken = staged.take();
  REQUIRE(taken.size() == order.size() + 2);
  for (std::size_t i = 0; i < order.size(); ++i) REQUIRE(taken[i].index == order[i]);  // the order staged
  CHECK(staged.empty());
  CHECK_FALSE(staged.first_index_of(tag_of(3)));
  CHECK_FALSE(staged.first_index_of(short_key));
  staged.add(tag_of(3), 5);  // the emptied table takes keys again
  CHECK(staged.first_index_of(tag_of(3)) == 5u);
}

TEST_CASE("a staging writer keeps keys in memory until it flushes, and writes a large batch as a packed run",
          "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{
      .open_run_rows = 256, .sliced_merge_rows = 4096, .merge_slices = 8, .staged_run_rows = 100};
  {  // another writer's keys, left in the open run
    sql::WriteTransaction tx(t.db());
    HashRuns other(t.db(), "replay_tags", "tag", tuning);
    for (std::uint64_t i = 0; i < 10; ++i) other.insert(tag_of(i), i);
    tx.commit();
  }
  std::uint64_t next = 10;
  auto all_found = [&](HashRuns& runs) {
    for (std::uint64_t i = 0; i < next; ++i)
      if (runs.find(tag_of(i)) != std::optional<std::uint64_t>(i)) return false;
    return runs.find(tag_of(next + 1000000)) == std::nullopt;
  };
  auto stage = [&](HashRuns& runs, std::uint64_t count) {
    for (std::uint64_t end = next + count; next < end; ++next) runs.insert(tag_of(next), next);
  };

  sql::WriteTransaction tx(t.db());
  StagingWriter staging(t, tuning);
  HashRuns& writer = staging.runs;
  stage(writer, 300);
  CHECK(writer.staged() == 300);
  CHECK(writer.find(tag_of(150)) == std::optional<std::uint64_t>(150));
  // Nothing is written yet: another object on the connection does not see the keys, and
  // what would read the table itself refuses to.
  CHECK(HashRuns(t.db(), "replay_tags", "tag").find(tag_of(150)) == std::nullopt);
  std::array<std::uint8_t, 12> low{}, high{};
  high.fill(0xff);
  CHECK_THROWS_AS(writer.range(low, high, 10), Error);
  CHECK_THROWS_AS(writer.erase(tag_of(150)), Error);

  writer.flush_staged();
  CHECK(writer.staged() == 0);
  // The batch and the other writer's 10 keys became one packed run with a filter; the new open run is empty.
  CHECK(open_run_rows(t) == 0);
  CHECK(count_of(t, "SELECT count(*) FROM replay_tags") <= 310 / 48 + 2);
  CHECK(damage(t, "replay_tags", "tag") == 0);
  CHECK(filter_misses(t) == 0);
  CHECK(all_found(writer));
  {
    HashRuns fresh(t.db(), "replay_tags", "tag");
    CHECK(all_found(fresh));
  }

  // A small flush goes to the open run, a row per key, where the writer still finds it.
  stage(writer, 20);
  writer.flush_staged();
  CHECK(open_run_rows(t) == 20);
  CHECK(all_found(writer));

  // Many flushes: merged by the usual rule, so the runs stay few and every key is found.
  for (int batch = 0; batch < 30; ++batch) {
    stage(writer, 120);
    writer.flush_staged();
    REQUIRE(damage(t, "replay_tags", "tag") == 0);
  }
  CHECK(open_run_rows(t) == 0);  // the 20 joined the next batch
  CHECK(filter_misses(t) == 0);
  CHECK(t.runs("replay_tags").size() <= 8);
  CHECK(std::ranges::any_of(t.runs("replay_tags"), [](auto run) { return run.second >= 1000; }));
  CHECK(all_found(writer));
  tx.commit();

  RunFilterCache fresh_cache;
  sql::WriteTransaction again(t.db());
  HashRuns filtered(t.db(), "replay_tags", "tag", HashRuns::Tuning{}, &fresh_cache);
  filtered.maintain();
  CHECK(all_found(filtered));
}

TEST_CASE("a staged batch keeps a repeated record id in rows of its own", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{
      .open_run_rows = 256, .sliced_merge_rows = 4096, .merge_slices = 8, .staged_run_rows = 50};
  sql::WriteTransaction tx(t.db());
  HashRuns writer(t.db(), "record_ids", "id", tuning);
  writer.pin_open_run();
  writer.stage_inserts();
  for (std::uint64_t i = 100; i < 300; ++i) writer.insert(id_key_of(i), i);
  for (std::uint64_t copy = 1; copy <= 2; ++copy) writer.insert(id_key_of(200), 1000 + copy);
  writer.flush_staged();
  CHECK(damage(t, "record_ids", "id") == 0);
  auto copies = t.db().prepare("SELECT count(*) FROM record_ids WHERE id = ?");
  copies.bind_blob(1, id_key_of(200));
  copies.step();
  CHECK(copies.integer(0) == 3);
  copies.reset();
  auto hits = writer.range(id_key_of(200), id_key_of(200), 10);
  std::ranges::sort(hits);
  CHECK(hits == std::vector<std::uint64_t>{200, 1001, 1002});
  for (std::uint64_t i = 100; i < 300; i += 3) {
    auto found = writer.range(id_key_of(i), id_key_of(i), 10);
    CHECK(std::ranges::find(found, i) != found.end());
  }
}

TEST_CASE("staged flushes carry a sliced merge on at the pace of inserts", "[hash_runs]") {
  RunsDb t;
  const HashRuns::Tuning tuning{
      .open_run_rows = 64, .sliced_merge_rows = 512, .merge_slices = 8, .staged_run_rows = 32};
  sql::WriteTransaction tx(t.db());
  StagingWriter staging(t, tuning);
  HashRuns& writer = staging.runs;
  std::uint64_t next = 0;
  int merges_seen = 0, longest = 0, current = 0;
  for (int batch = 0; batch < 200; ++batch) {
    for (int k = 0; k < 64; ++k, ++next) writer.insert(tag_of(next), next);
    writer.flush_staged();
    const bool under_way = count_of(t, "SELECT count(*) FROM hash_run_merges") > 0;
    current = under_way ? current + 1 : 0;
    if (current == 1) ++merges_seen;
    longest = std::max(longest, current);
    REQUIRE(t.runs("replay_tags").size() <= 12);
  }
  CHECK(merges_seen >= 2);
  // Each flush of 64 keys moves a merge on by 64 / (64 / 8) = 8 slices: no merge outlives a few flushes.
  CHECK(longest <= 2);
  CHECK(damage(t, "replay_tags", "tag") == 0);
  CHECK(filter_misses(t) == 0);
  for (std::uint64_t i = 0; i < next; i += 5) REQUIRE(writer.find(tag_of(i)) == std::optional<std::uint64_t>(i));
}
