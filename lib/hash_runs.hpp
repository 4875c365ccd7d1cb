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

  // `table` and `key_column` are schema names (record_ids/id, replay_tags/tag), never input.
  HashRuns(sql::Database& db, const char* table, const char* key_column);

  // Inside a write transaction. Seals and merges runs when the open run is full.
  void insert(std::span<const std::uint8_t> key, std::uint64_t index);
  std::optional<std::uint64_t> find(std::span<const std::uint8_t> key);
  // Leaf indexes of keys in [low, high], at most `limit` of them (in no particular order).
  std::vector<std::uint64_t> range(std::span<const std::uint8_t> low, std::span<const std::uint8_t> high,
                                   int limit);
  // Every (key, idx) row of the live runs, in no particular order: what lookups can see.
  sql::Statement entries();
  // Removes the key from every run (erasure); inside a write transaction.
  void erase(std::span<const std::uint8_t> key);
  // Seals the open run if it is full and merges runs by the logarithmic rule. insert() calls
  // it every kOpenRunRows / 8 of its own inserts; Ledger::Appender calls it when it starts.
  void maintain();

 private:
  sql::Database& db_;
  std::string table_;
  std::string key_column_;
  sql::Statement insert_;
  sql::Statement find_;
  std::int64_t inserts_since_check_ = 0;
};

}  // namespace medtrail
