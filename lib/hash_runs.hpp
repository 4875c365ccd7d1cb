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
// Storage: a WITHOUT ROWID table TABLE(gen, KEY, idx, more) with PRIMARY KEY(gen, KEY), and one
// row per run in hash_runs(tbl, gen, rows); the open run is the one with the largest gen. Every
// lookup reads the run list and the runs in one snapshot, so any number of HashRuns objects on
// one connection, and other processes, always see the current runs.
//
// Packed blocks (schema 17): the open run has a row per key, but a merge writes its run as
// blocks of up to 48 keys, a row each: the first key and index in KEY and idx, the others packed
// in `more` (docs/FORMATS.md). Moving a key through a merge then costs a few bytes appended to a
// buffer instead of a B-tree insert and a delete, which were most of ingest's merge time; a
// lookup seeks the last row whose KEY is not above the key and reads its block.
//
// Staged batches: ingest's Appender keeps a commit's keys in memory and writes a batch of
// staged_run_rows keys or more as a run of its own, in packed blocks, under the open run's gen
// (with the keys other writers left there), then closes that run as a full open run is
// closed; see stage_inserts().
//
// Large merges run in slices, so that no commit holds the write lock for a whole merge (in
// one go, a 2M-key merge took up to 2.5 s; an 8M-key one would take about 10 s, past other
// writers' 5 s busy timeout).
// The merged run is live from the start; each slice moves the smallest keys of its sources
// into it and deletes them there, so every key is in exactly one live run at every commit and
// lookups need not know a merge is under way. hash_run_merges(tbl, target, low, high) names
// the merge in progress: its target run and the gens [low, high] of its sources.
//
// Filters (replay tags only, schema 10): a lookup of an absent key, which is what ingest does
// for every new reading, still costs one seek per run, about 2 us even when every page is
// cached and 15-21 us at 10^7 keys (bench/README.md). So every sealed or merged run of
// replay_tags gets a Bloom filter, written when the run is sealed or as its merge appends keys,
// in hash_run_filters(tbl, gen, segment, bits): 10 bits per key in 4 KiB segments, the segment
// chosen by the key's leading 32 bits (so keys written in key order fill segments in order),
// six probes by double hashing from the next 64 bits. hash_runs.filtered = 1 once a run's filter holds all of
// its keys; the open run and runs older than schema 10 have none and are always sought.
// The target of a merge under way has none yet either, but it only holds keys taken from its
// sources, whose filters stay until the merge ends (the open run a sliced merge takes is
// sealed with a filter first): the target is sought only when a source's filter may hold the
// key. Erasing a key leaves its bits set: a filter may over-report, never miss.
// Record ids keep no filters: they are looked up a few at a time by commands that would have to
// load the filters for each lookup.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite.hpp"

namespace medtrail {

// The Bloom filter of one run (see above); keys shorter than 12 bytes are padded with zeros.
class RunFilter {
 public:
  static constexpr std::size_t kSegmentBytes = 4096;
  static constexpr std::int64_t kBitsPerKey = 10;
  static std::int64_t segments_for(std::int64_t rows);
  static std::int64_t segment_of(std::span<const std::uint8_t> key, std::int64_t segments);
  static void set(std::span<std::uint8_t, kSegmentBytes> segment, std::span<const std::uint8_t> key);
  static bool test(std::span<const std::uint8_t, kSegmentBytes> segment, std::span<const std::uint8_t> key);

  explicit RunFilter(std::int64_t rows)
      : segments_(segments_for(rows)), bits_(static_cast<std::size_t>(segments_) * kSegmentBytes) {}
  bool may_hold(std::span<const std::uint8_t> key) const;
  std::span<std::uint8_t, kSegmentBytes> segment(std::int64_t n) {
    return std::span<std::uint8_t, kSegmentBytes>(bits_.data() + static_cast<std::size_t>(n) * kSegmentBytes,
                                                  kSegmentBytes);
  }
  std::span<const std::uint8_t, kSegmentBytes> segment(std::int64_t n) const {
    return std::span<const std::uint8_t, kSegmentBytes>(bits_.data() + static_cast<std::size_t>(n) * kSegmentBytes,
                                                        kSegmentBytes);
  }
  std::int64_t segments() const { return segments_; }
  std::size_t bytes() const { return bits_.size(); }

 private:
  std::int64_t segments_;
  std::vector<std::uint8_t> bits_;
};

// The filters of one table's runs, kept in memory across transactions by a writer that looks
// up many keys (ingest: Ledger::cache_replay_filters). A run's filter never changes once it is
// complete and gens are never reused, so a cached filter stays valid for as long as its run is
// listed; refresh() re-reads the run list and loads the filters of new runs.
class RunFilterCache {
 public:
  // Filters beyond this many bytes are not loaded and their runs are always sought, so memory
  // stays bounded: 64 MiB holds the filters of about 53 million keys.
  explicit RunFilterCache(std::size_t budget_bytes = std::size_t{64} << 20) : budget_bytes_(budget_bytes) {}

  struct Run {
    std::int64_t gen;
    std::int64_t rows;
    std::shared_ptr<const RunFilter> filter;  // null: seek the run for every key
    // The target of a merge under way: the positions in runs() of its sources.
    std::optional<std::vector<std::size_t>> sources;
  };
  // The positions in runs(), after the open run (0), of the runs a lookup of `key` must seek,
  // newest first: those without a filter and those whose filter may hold the key, and a merge
  // target when one of its sources is either. Each filter is probed once.
  const std::vector<std::size_t>& runs_to_seek(std::span<const std::uint8_t> key);
  // Inside a transaction (the list is then the one every lookup of it must see).
  void refresh(sql::Database& db, const std::string& table);
  const std::vector<Run>& runs() const { return runs_; }

 private:
  std::size_t budget_bytes_;
  std::vector<Run> runs_;
  std::vector<char> may_hold_;  // scratch of runs_to_seek, one per run
  std::vector<std::size_t> to_seek_;
};

// The entries packed in a merged run's block (`more`, schema 17; docs/FORMATS.md).
namespace run_blocks {
// Appends one entry: the key, then its index as an unsigned LEB128.
void append(std::vector<std::uint8_t>& more, std::span<const std::uint8_t> key, std::int64_t idx);
// Visits the entries in order, each key `key_size` bytes long; false when the bytes end
// malformed (the entries before the fault have been visited).
bool visit(std::span<const std::uint8_t> more, std::size_t key_size,
           const std::function<void(std::span<const std::uint8_t> key, std::int64_t idx)>& entry);
// The index of `key` among entries in key order, if there.
std::optional<std::int64_t> find(std::span<const std::uint8_t> more, std::span<const std::uint8_t> key);
}  // namespace run_blocks

// Registers run_block_find(more, key) on a connection: the leaf index of `key` among the
// entries a block of a merged run packs in `more`, or NULL (kRecordIdLookup uses it).
void register_run_functions(sql::Database& db);

// A writer's staged keys (HashRuns::stage_inserts) in the order they came, with an
// open-addressing table over them for lookups. The keys are hashes, so their first 8 bytes
// serve as the table's hash, and staging a key allocates nothing of its own: the
// std::unordered_map this replaces spent about 5% of ingest's commit thread on node
// allocations and string hashing (bench/README.md).
class StagedKeys {
 public:
  struct Entry {
    std::string key;  // 8 or 12 bytes: no allocation of its own
    std::uint64_t index;
  };
  void add(std::span<const std::uint8_t> key, std::uint64_t index);
  // The index staged first under the key.
  std::optional<std::uint64_t> first_index_of(std::span<const std::uint8_t> key) const;
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry> take();  // every entry, in the order added; leaves this empty

 private:
  static std::uint64_t hash_of(std::string_view key);
  std::size_t slot_of(std::string_view key) const;  // the key's slot, or the empty one it would take
  void grow();
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;  // 0: empty; else 1 + the position in entries_ of a key's first entry
  std::size_t distinct_ = 0;
};

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
    // (Spreading every merge evenly over the inserts until the next one of its size, several
    // at once, was tried and was 19% slower at 10^7: bench/README.md.)
    std::int64_t sliced_merge_rows = 16 * kOpenRunRows;
    std::int64_t merge_slices = 64;
    // A staged flush of this many keys or more is written as a run of its own (stage_inserts).
    std::int64_t staged_run_rows = kOpenRunRows / 8;
  };

  // `table` and `key_column` are schema names (record_ids/id, replay_tags/tag), never input.
  // Tests pass a small Tuning to exercise merges; every writer of a ledger uses the default.
  // With `filters` (replay_tags only), find() consults the cached filters and seeks only the
  // runs that may hold the key; the cache is refreshed by maintain(), which the Appender calls
  // when its transaction starts.
  HashRuns(sql::Database& db, const char* table, const char* key_column, Tuning tuning,
           RunFilterCache* filters = nullptr);
  HashRuns(sql::Database& db, const char* table, const char* key_column) : HashRuns(db, table, key_column, Tuning{}) {}
  // Whether runs of this table keep filters (see above).
  static bool keeps_filters(std::string_view table) { return table == "replay_tags"; }

  // Inside a write transaction. Seals and merges runs when the open run is full.
  void insert(std::span<const std::uint8_t> key, std::uint64_t index);
  // For a writer that owns the table's run list for the rest of its transaction, as
  // Ledger::Appender does (its Interned caches make the same promise): no other object or
  // statement changes the list meanwhile. insert() then binds the open run's gen, read once
  // and followed through this object's own seals and merges, instead of reading it in a
  // subquery per key (about 0.5 us each, two keys per reading).
  void pin_open_run() { pinned_ = true; }
  // For a writer of many keys per transaction (ingest's Appender, which also pins): insert()
  // keeps keys in memory, where find() sees them, and flush_staged() writes them. A flush of
  // at least Tuning::staged_run_rows keys becomes a run of its own, written in key order in packed
  // blocks (with its filter), then merged by the usual rule; that replaces a random B-tree
  // insert per key into the open run, and ingest's lookup of each new key there. Fewer keys
  // go to the open run as without staging. The caller flushes before its transaction commits
  // and before anything else on the connection looks keys up (Ledger::resolve); range(),
  // scan() and erase() refuse to run with keys staged.
  void stage_inserts() { staging_ = true; }
  void flush_staged();
  std::size_t staged() const { return staged_.size(); }
  std::optional<std::uint64_t> find(std::span<const std::uint8_t> key);
  // Runs find() has sought so far, with filters: what the filters save (tests, benchmarks).
  std::uint64_t runs_sought() const { return runs_sought_; }
  // Leaf indexes of keys in [low, high], at most `limit` of them (in no particular order).
  std::vector<std::uint64_t> range(std::span<const std::uint8_t> low, std::span<const std::uint8_t> high, int limit);
  // Every (key, idx) of the live runs, run by run in key order, with the run's gen and whether
  // its filter holds the key (true for a run without a complete filter). A key its filter
  // lacks would be a replay that ingest reports as new; verify looks for them. Returns how
  // many blocks or entries are damaged so that lookups would miss keys the scan still
  // visits: malformed packed bytes, keys out of order, a repeated key packed inside a block,
  // packed entries in the open run.
  std::uint64_t scan(const std::function<void(std::span<const std::uint8_t> key, std::uint64_t idx, std::int64_t gen,
                                              bool filter_holds)>& visit);
  // Removes the key from every run (erasure); inside a write transaction.
  void erase(std::span<const std::uint8_t> key);
  // Advances a sliced merge, seals the open run if it is full and merges runs by the
  // logarithmic rule. insert() calls it every open_run_rows / 8 of its own inserts;
  // Ledger::Appender calls it when it starts. Inside a write transaction.
  void maintain();
  // Writes every filter again from the keys its run holds: each complete filter, and the
  // partial one of a merge under way (migration 16 cut the keys and changed the probes).
  // Inside a write transaction, before any RunFilterCache has loaded this table's filters.
  void rewrite_filters();

 private:
  void maintain_runs();
  // Records a full open run's size and writes its filter (the caller adds the next open run).
  void seal_run(std::int64_t gen, std::int64_t rows);
  // Writes the filter of a run of `rows` keys from the keys it holds, and marks it complete
  // unless told otherwise (a merge target is complete when its merge ends).
  void write_filter_of(std::int64_t gen, std::int64_t rows, bool complete = true);
  void mark_filter_complete(std::int64_t gen);
  // With filters: seeks the open run for the key, in a statement that also reads the newest
  // gen; nullopt when that is not the cached list's open run (the list is then stale).
  std::optional<std::optional<std::uint64_t>> find_in_cached_open_run(std::span<const std::uint8_t> key);
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
  // The open run, holding `open_rows` keys, is full: seals it, or merges it with the older runs
  // the binary-counter rule takes, and starts the next open run. `runs` lists (gen, rows), newest first.
  struct RunSize {
    std::int64_t gen;
    std::int64_t rows;
  };
  void close_open_run(const std::vector<RunSize>& runs, std::int64_t open_rows, std::optional<Merge> merge);
  std::vector<RunSize> list_runs();
  void insert_row(std::span<const std::uint8_t> key, std::uint64_t index);
  void write_staged_run();
  // Advances a merge under way by up to `slices` slices; the merge still under way, if any.
  std::optional<Merge> advance_merge(std::int64_t slices);
  void require_nothing_staged(const char* what) const;

  sql::Database& db_;
  std::string table_;
  std::string key_column_;
  Tuning tuning_;
  // The key's index in run `gen`: one seek for the block that would hold it.
  std::optional<std::uint64_t> find_in_gen(std::int64_t gen, std::span<const std::uint8_t> key);

  // Statements are prepared on first use: a lookup by record id (prove, show) builds a HashRuns
  // for one range() call.
  sql::Statement& prepared(std::optional<sql::Statement>& slot, const char* sql);
  std::vector<std::int64_t> live_gens();  // newest first
  std::optional<sql::Statement> insert_;
  std::optional<sql::Statement> insert_at_;  // pinned: the open run's gen bound
  std::optional<sql::Statement> newest_gen_;
  bool pinned_ = false;
  std::optional<std::int64_t> open_gen_;  // pinned: null until read, and after each maintain_runs()
  // Pinned: the keys in the open run, once maintain_runs() has counted them, followed through
  // this object's inserts and seals; while it is 0, find() need not seek the open run.
  std::optional<std::int64_t> open_rows_;
  std::optional<sql::Statement> list_gens_;
  std::optional<sql::Statement> seek_block_;
  std::optional<sql::Statement> seek_before_;  // range(): the block before the range
  std::optional<sql::Statement> seek_within_;  // ... and the blocks whose heads are in it
  RunFilterCache* filters_;
  std::optional<sql::Statement> find_in_open_run_;  // with filters: the open run's seek, with the largest gen
  std::uint64_t runs_sought_ = 0;
  std::int64_t inserts_since_check_ = 0;
  bool staging_ = false;
  using Staged = StagedKeys::Entry;
  StagedKeys staged_;
};

}  // namespace medtrail
