// An index from hash keys (record ids, replay tags) to leaf indexes, kept as a few sorted runs
// instead of one B-tree: the logarithmic method (Bentley and Saxe).
//
// Why: the keys are hashes, so in one B-tree every insert lands on a random page. Once the
// index is many times larger than a commit (16,384 records), each commit rewrites about one
// index page per record into the WAL, and ingest slows as the ledger grows (bench/README.md,
// "Ingest throughput as the ledger grows"). Here inserts go to a small open run whose pages
// stay few; when it holds kOpenRunRows keys it is sealed, and sealed runs of similar size are
// merged into one, written in key order at the right edge of the table. Each key is copied
// O(log n) times in sequential writes instead of dirtying a page per commit; a lookup costs
// one B-tree seek per run, and there are at most log2(n / kOpenRunRows) + 2 runs.
//
// Storage: a WITHOUT ROWID table TABLE(gen, KEY, idx) with PRIMARY KEY(gen, KEY), and one row
// per run in hash_runs(tbl, gen, rows); the open run is the one with the largest gen. Every
// lookup reads the run list in the same statement, so any number of HashRuns objects on one
// connection, and other processes, always see the current runs.
//
// Large merges run in slices, so that no commit holds the write lock for a whole merge (in
// one go, a 2M-key merge took up to 2.5 s; an 8M-key one would take about 10 s, past other
// writers' 5 s busy timeout).
// The merged run is live from the start; each slice moves the smallest keys of its sources
// into it and deletes them there, so every key is in exactly one live run at every commit and
// lookups need not know a merge is under way. hash_run_merges(tbl, target, low, high) names
// the merge in progress: its target run and the gens [low, high] of its sources.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sqlite.hpp"

namespace medtrail {

class HashRuns {
 public:
  // Keys the open run takes before it is sealed. Its pages (~500 of them) are then few
  // enough that a commit of 4,096 records or more dirties about 0.1 page per record or less.
  static constexpr std::int64_t kOpenRunRows = 32768;

  struct Tuning {
    std::int64_t open_run_rows = kOpenRunRows;
    // Merges of fewer keys than this finish at once; larger ones are spread over the next
    // maintain() calls (slice_rows), so they end within merge_slices calls (merge_slices *
    // open_run_rows / 8 inserts): too few for the newer runs to need a second large merge.
    std::int64_t sliced_merge_rows = 16 * kOpenRunRows;
    std::int64_t merge_slices = 64;
  };

  // `table` and `key_column` are schema names (record_ids/id, replay_tags/tag), never input.
  // Tests pass a small Tuning to exercise merges; every writer of a ledger uses the default.
  HashRuns(sql::Database& db, const char* table, const char* key_column, Tuning tuning);
  HashRuns(sql::Database& db, const char* table, const char* key_column) : HashRuns(db, table, key_column, Tuning{}) {}

  // Inside a write transaction. Seals and merges runs when the open run is full.
  void insert(std::span<const std::uint8_t> key, std::uint64_t index);
  std::optional<std::uint64_t> find(std::span<const std::uint8_t> key);
  // Leaf indexes of keys in [low, high], at most `limit` of them (in no particular order).
  std::vector<std::uint64_t> range(std::span<const std::uint8_t> low, std::span<const std::uint8_t> high, int limit);
  // Every (key, idx) row of the live runs, in no particular order: what lookups can see.
  sql::Statement entries();
  // Removes the key from every run (erasure); inside a write transaction.
  void erase(std::span<const std::uint8_t> key);
  // Advances a sliced merge, seals the open run if it is full and merges runs by the
  // logarithmic rule. insert() calls it every open_run_rows / 8 of its own inserts;
  // Ledger::Appender calls it when it starts. Inside a write transaction.
  void maintain();

 private:
  struct Merge {
    std::int64_t target;
    std::int64_t low;
    std::int64_t high;
    std::int64_t rows;  // keys it started with: paces the slices
  };
  std::string named(const char* sql) const;
  std::optional<Merge> merge_in_progress();
  // Keys one maintain() call moves: 1/merge_slices of the merge, at least half an open run.
  std::int64_t slice_rows(const Merge& merge) const;
  // Moves at least `rows` keys (whole groups of equal keys) from the sources in [low, high]
  // to the target, smallest first; true when the sources are empty and have been dropped.
  bool merge_step(const Merge& merge, std::int64_t rows);

  sql::Database& db_;
  std::string table_;
  std::string key_column_;
  Tuning tuning_;
  sql::Statement insert_;
  sql::Statement find_;
  std::int64_t inserts_since_check_ = 0;
};

}  // namespace medtrail
