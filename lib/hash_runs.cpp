#include "hash_runs.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "error.hpp"

namespace medtrail {
namespace {

// A statement text with TABLE and KEY replaced by the schema names.
std::string with_names(std::string sql, const std::string& table, const std::string& key) {
  for (auto [from, to] : {std::pair<std::string, const std::string&>{"TABLE", table}, {"KEY", key}})
    for (auto at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size()))
      sql.replace(at, from.size(), to);
  return sql;
}

// A key's first 12 bytes, zero-padded: 4 choose the segment, the next 8 give the probes.
std::array<std::uint8_t, 12> padded(std::span<const std::uint8_t> key) {
  std::array<std::uint8_t, 12> out{};
  std::memcpy(out.data(), key.data(), std::min(key.size(), out.size()));
  return out;
}

std::uint64_t big_endian(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

// Six bit positions in a 32,768-bit segment by double hashing (Kirsch and Mitzenmacher) from
// key bytes 4..11, as 12-byte replay tags have no more (schema 16): a + i * b, b odd so that
// the six differ.
std::array<std::uint32_t, 6> probes_of(std::span<const std::uint8_t> key) {
  auto k = padded(key);
  const auto a = static_cast<std::uint32_t>(big_endian(k.data() + 4, 4));
  const auto b = static_cast<std::uint32_t>(big_endian(k.data() + 8, 4)) | 1u;
  std::array<std::uint32_t, 6> out{};
  for (std::uint32_t i = 0; i < out.size(); ++i) out[i] = (a + i * b) & 0x7fff;
  return out;
}

// Packed blocks (schema 17). A merged run is stored as blocks of up to kBlockEntries keys: a
// row holds the block's first key and index in KEY and idx, as the open run's rows do, and the
// block's further entries in `more`, each the key (as long as the head's) followed by its leaf
// index as an unsigned LEB128. Up to 47 entries of 12-byte tags (~16 bytes each) keep a row
// under the ~1,000 bytes SQLite stores in the page of a WITHOUT ROWID table (no overflow page).
// Keys that occur more than once in a run (record-id prefixes two ids share) are always row
// heads, so SQL finds every one of them by KEY and `more` never holds a duplicate.
constexpr std::size_t kBlockEntries = 48;

// The entries of a block's `more`, in order; a malformed tail ends them (malformed() says so).
class PackedEntries {
 public:
  PackedEntries(std::span<const std::uint8_t> bytes, std::size_t key_size) : bytes_(bytes), key_size_(key_size) {}
  bool next(std::span<const std::uint8_t>& key, std::int64_t& idx) {
    if (at_ == bytes_.size() || malformed_) return false;
    if (key_size_ == 0 || bytes_.size() - at_ <= key_size_) return fail();
    std::size_t p = at_ + key_size_;
    std::uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      if (p == bytes_.size() || shift > 56) return fail();  // cut short, or past 63 bits
      const auto byte = bytes_[p++];
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    key = bytes_.subspan(at_, key_size_);
    idx = static_cast<std::int64_t>(value);
    at_ = p;
    return true;
  }
  bool malformed() const { return malformed_; }
  // Bytes after the entry next() gave last.
  std::span<const std::uint8_t> rest() const { return bytes_.subspan(at_); }

 private:
  bool fail() {
    malformed_ = true;
    return false;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t key_size_;
  std::size_t at_ = 0;
  bool malformed_ = false;
};

// Every (key, idx) of one run in key order, block heads and packed entries alike.
class RunReader {
 public:
  RunReader(sql::Database& db, const std::string& select_run) : rows_(db.prepare(select_run.c_str())) {}
  void start(std::int64_t gen) {
    rows_.bind(1, gen);
    read_row();
  }
  bool has_entry() const { return has_entry_; }
  std::span<const std::uint8_t> key() const { return key_; }
  std::int64_t idx() const { return idx_; }
  bool at_row_head() const { return at_head_; }
  // The current row's bytes after the current entry: what is left of a block moved in part.
  std::span<const std::uint8_t> rest_of_row() const { return packed_->rest(); }
  void next() {
    if (packed_->next(key_, idx_)) {
      at_head_ = false;
      return;
    }
    if (packed_->malformed()) ++malformed_blocks_;
    read_row();
  }
  void reset() {
    rows_.reset();
    has_entry_ = false;
  }
  std::uint64_t malformed_blocks() const { return malformed_blocks_; }

 private:
  void read_row() {
    has_entry_ = rows_.step();
    if (!has_entry_) return;
    key_ = rows_.blob(0);
    idx_ = rows_.integer(1);
    packed_.emplace(rows_.blob(2), key_.size());
    at_head_ = true;
  }
  sql::Statement rows_;
  bool has_entry_ = false;
  bool at_head_ = true;
  std::span<const std::uint8_t> key_;
  std::int64_t idx_ = 0;
  std::optional<PackedEntries> packed_;
  std::uint64_t malformed_blocks_ = 0;
};

constexpr const char* kSelectRun = "SELECT KEY, idx, more FROM TABLE WHERE gen = ? ORDER BY KEY";
// The row whose block would hold a key: the last one whose head is not above it.
constexpr const char* kSeekBlock =
    "SELECT KEY, idx, more FROM TABLE WHERE gen = ? AND KEY <= ? ORDER BY KEY DESC LIMIT 1";

// The index of `key` in a row read by kSeekBlock (columns KEY, idx, more), if the row holds it.
std::optional<std::int64_t> find_in_block(const sql::Statement& row, std::span<const std::uint8_t> key) {
  if (std::ranges::equal(row.blob(0), key)) return row.integer(1);
  return run_blocks::find(row.blob(2), key);
}

constexpr const char* kInsertBlock = "INSERT INTO TABLE(gen, KEY, idx, more) VALUES (?, ?, ?, ?)";

// Binds a block's packed entries: NULL for a block of one entry, as the open run's rows have.
sql::Statement& bind_more(sql::Statement& stmt, int at, std::span<const std::uint8_t> more) {
  return more.empty() ? stmt.bind_null(at) : stmt.bind_blob(at, more);
}

// One row of a run through a kInsertBlock statement.
void insert_block(sql::Statement& insert, std::int64_t gen, std::span<const std::uint8_t> head, std::int64_t idx,
                  std::span<const std::uint8_t> more) {
  bind_more(insert.bind(1, gen).bind_blob(2, head).bind(3, idx), 4, more).run();
}

// Writes a merged run's blocks in key order.
class BlockWriter {
 public:
  BlockWriter(sql::Database& db, const std::string& insert_row, std::int64_t gen)
      : insert_(db.prepare(insert_row.c_str())), gen_(gen) {}
  // `alone`: the key occurs more than once, so it gets a row of its own.
  void add(std::span<const std::uint8_t> key, std::int64_t idx, bool alone) {
    if (alone || (entries_ > 0 && key.size() != head_.size())) flush();
    if (entries_ == 0) {
      head_.assign(key.begin(), key.end());
      head_idx_ = idx;
    } else {
      run_blocks::append(more_, key, idx);
    }
    if (++entries_ == kBlockEntries || alone) flush();
  }
  void flush() {
    if (entries_ == 0) return;
    insert_block(insert_, gen_, head_, head_idx_, more_);
    entries_ = 0;
    more_.clear();
  }

 private:
  sql::Statement insert_;
  std::int64_t gen_;
  std::size_t entries_ = 0;
  std::vector<std::uint8_t> head_;
  std::int64_t head_idx_ = 0;
  std::vector<std::uint8_t> more_;
};

constexpr const char* kLoadSegment = "SELECT bits FROM hash_run_filters WHERE tbl = ? AND gen = ? AND segment = ?";

// Reads one stored filter segment into `bits` with a kLoadSegment statement; an absent or
// malformed one holds nothing.
void read_segment(sql::Statement& load, const std::string& table, std::int64_t gen, std::int64_t segment,
                  std::span<std::uint8_t, RunFilter::kSegmentBytes> bits) {
  load.bind(1, table).bind(2, gen).bind(3, segment);
  if (load.step() && load.blob(0).size() == bits.size())
    std::ranges::copy(load.blob(0), bits.begin());
  else
    std::ranges::fill(bits, std::uint8_t{0});
  load.reset();
}

// Writes a run's filter segment by segment as keys arrive (in key order, so each segment is
// loaded and stored once per call site; a sliced merge continues a segment a previous slice
// began, so an existing segment is read back first).
class FilterWriter {
 public:
  FilterWriter(sql::Database& db, const std::string& table, std::int64_t gen, std::int64_t rows)
      : table_(table),
        gen_(gen),
        segments_(RunFilter::segments_for(rows)),
        load_(db.prepare(kLoadSegment)),
        store_(db.prepare("INSERT OR REPLACE INTO hash_run_filters(tbl, gen, segment, bits) VALUES (?, ?, ?, ?)")) {}

  void add(std::span<const std::uint8_t> key) {
    auto segment = RunFilter::segment_of(key, segments_);
    if (segment != current_) {
      flush();
      read_segment(load_, table_, gen_, segment, bits_);
      current_ = segment;
    }
    RunFilter::set(bits_, key);
  }
  void flush() {
    if (current_ < 0) return;
    store_.bind(1, table_).bind(2, gen_).bind(3, current_).bind_blob(4, bits_).run();
    current_ = -1;
  }

 private:
  const std::string& table_;
  std::int64_t gen_;
  std::int64_t segments_;
  sql::Statement load_;
  sql::Statement store_;
  std::int64_t current_ = -1;
  std::array<std::uint8_t, RunFilter::kSegmentBytes> bits_{};
};

// A run's complete filter read back from hash_run_filters; missing segments hold no key.
std::shared_ptr<RunFilter> load_filter(sql::Database& db, const std::string& table, std::int64_t gen,
                                       std::int64_t rows) {
  auto filter = std::make_shared<RunFilter>(rows);
  auto stmt = db.prepare("SELECT segment, bits FROM hash_run_filters WHERE tbl = ? AND gen = ?");
  stmt.bind(1, table).bind(2, gen);
  while (stmt.step()) {
    auto segment = stmt.integer(0);
    auto bits = stmt.blob(1);
    // A segment out of place or of the wrong size is left empty: verify reports the keys it misses.
    if (segment < 0 || segment >= filter->segments() || bits.size() != RunFilter::kSegmentBytes) continue;
    std::ranges::copy(bits, filter->segment(segment).begin());
  }
  return filter;
}

}  // namespace

std::int64_t RunFilter::segments_for(std::int64_t rows) {
  constexpr std::int64_t kSegmentBits = static_cast<std::int64_t>(kSegmentBytes) * 8;
  // Clamped, since `rows` is read from the file: 2^40 keys are far past any ledger, and a
  // filter that large is over RunFilterCache's budget and never allocated.
  rows = std::clamp<std::int64_t>(rows, 0, std::int64_t{1} << 40);
  return std::max<std::int64_t>(1, (rows * kBitsPerKey + kSegmentBits - 1) / kSegmentBits);
}

std::int64_t RunFilter::segment_of(std::span<const std::uint8_t> key, std::int64_t segments) {
  auto k = padded(key);
  return static_cast<std::int64_t>((big_endian(k.data(), 4) * static_cast<std::uint64_t>(segments)) >> 32);
}

void RunFilter::set(std::span<std::uint8_t, kSegmentBytes> segment, std::span<const std::uint8_t> key) {
  for (auto bit : probes_of(key)) segment[bit >> 3] |= static_cast<std::uint8_t>(1u << (bit & 7));
}

bool RunFilter::test(std::span<const std::uint8_t, kSegmentBytes> segment, std::span<const std::uint8_t> key) {
  for (auto bit : probes_of(key))
    if (!(segment[bit >> 3] & (1u << (bit & 7)))) return false;
  return true;
}

bool RunFilter::may_hold(std::span<const std::uint8_t> key) const {
  return test(segment(segment_of(key, segments_)), key);
}

void RunFilterCache::refresh(sql::Database& db, const std::string& table) {
  auto list = db.prepare(
      "SELECT r.gen, r.rows, r.filtered, m.low, m.high FROM hash_runs r "
      "LEFT JOIN hash_run_merges m ON m.tbl = r.tbl AND m.target = r.gen WHERE r.tbl = ? ORDER BY r.gen DESC");
  list.bind(1, table);
  std::vector<Run> fresh;
  std::vector<std::size_t> to_load;  // runs with a complete filter not yet cached
  struct Merging {
    std::size_t target;
    std::int64_t low, high;
  };
  std::vector<Merging> merging;
  while (list.step()) {
    Run run{list.integer(0), list.integer(1), nullptr, std::nullopt};
    if (!list.is_null(3)) merging.push_back({fresh.size(), list.integer(3), list.integer(4)});
    bool complete = list.integer(2) == 1;
    auto cached = std::ranges::find(runs_, run.gen, &Run::gen);
    if (complete && cached != runs_.end() && cached->filter)
      run.filter = cached->filter;
    else if (complete)
      to_load.push_back(fresh.size());
    fresh.push_back(std::move(run));
  }
  std::size_t used = 0;
  for (const auto& run : fresh)
    if (run.filter) used += run.filter->bytes();
  // Largest runs first: their pages are the ones least likely to be cached.
  std::ranges::sort(to_load, std::greater<>{}, [&](std::size_t i) { return fresh[i].rows; });
  for (auto i : to_load) {
    auto bytes = static_cast<std::size_t>(RunFilter::segments_for(fresh[i].rows)) * RunFilter::kSegmentBytes;
    if (used + bytes > budget_bytes_) continue;
    fresh[i].filter = load_filter(db, table, fresh[i].gen, fresh[i].rows);
    used += bytes;
  }
  // A merge's sources are older than its target, and never targets themselves (the binary
  // rule does not take a run that is being filled).
  for (const auto& m : merging) {
    auto& sources = fresh[m.target].sources.emplace();
    for (std::size_t i = m.target + 1; i < fresh.size(); ++i)
      if (fresh[i].gen >= m.low && fresh[i].gen <= m.high) sources.push_back(i);
  }
  runs_ = std::move(fresh);
}

const std::vector<std::size_t>& RunFilterCache::runs_to_seek(std::span<const std::uint8_t> key) {
  may_hold_.assign(runs_.size(), 0);
  for (std::size_t i = 1; i < runs_.size(); ++i)
    if (!runs_[i].sources) may_hold_[i] = !runs_[i].filter || runs_[i].filter->may_hold(key);
  // Every key of a merge target came from one of its sources, which stay listed until the
  // commit that ends the merge (and a list read before that still holds their filters);
  // sources are never targets, so their answers above are final.
  to_seek_.clear();
  for (std::size_t i = 1; i < runs_.size(); ++i) {
    if (runs_[i].sources)
      may_hold_[i] = std::ranges::any_of(*runs_[i].sources, [&](std::size_t s) { return may_hold_[s] != 0; });
    if (may_hold_[i]) to_seek_.push_back(i);
  }
  return to_seek_;
}

HashRuns::HashRuns(sql::Database& db, const char* table, const char* key_column, Tuning tuning, RunFilterCache* filters)
    : db_(db),
      table_(table),
      key_column_(key_column),
      tuning_(tuning),
      filters_(keeps_filters(table) ? filters : nullptr) {
  // The open run is never packed (only merges write blocks), so it is sought for the key itself.
  if (filters_)
    find_in_open_run_.emplace(db.prepare(named("SELECT (SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'), "
                                               "(SELECT idx FROM TABLE WHERE gen = ?1 AND KEY = ?2)")
                                             .c_str()));
}

sql::Statement& HashRuns::prepared(std::optional<sql::Statement>& slot, const char* sql) {
  if (!slot) slot.emplace(db_.prepare(named(sql).c_str()));
  return *slot;
}

std::vector<std::int64_t> HashRuns::live_gens() {
  auto& list = prepared(list_gens_, "SELECT gen FROM hash_runs WHERE tbl = 'TABLE' ORDER BY gen DESC");
  std::vector<std::int64_t> gens;
  while (list.step()) gens.push_back(list.integer(0));
  list.reset();
  return gens;
}

namespace {
// Staged keys are kept as strings (8 or 12 bytes: no allocation of their own).
std::string text_of(std::span<const std::uint8_t> key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}
std::span<const std::uint8_t> bytes_of(const std::string& key) {
  return {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()};
}
}  // namespace

std::uint64_t StagedKeys::hash_of(std::string_view key) {
  if (key.size() < sizeof(std::uint64_t)) return std::hash<std::string_view>{}(key);  // tests' short keys
  std::uint64_t h;
  std::memcpy(&h, key.data(), sizeof h);
  return h;
}

std::size_t StagedKeys::slot_of(std::string_view key) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash_of(key) & mask;; i = (i + 1) & mask)
    if (slots_[i] == 0 || entries_[slots_[i] - 1].key == key) return i;
}

void StagedKeys::grow() {
  std::vector<std::uint32_t> old(std::max<std::size_t>(1024, slots_.size() * 2), 0);
  old.swap(slots_);
  for (auto position : old)
    if (position != 0) slots_[slot_of(entries_[position - 1].key)] = position;
}

void StagedKeys::add(std::span<const std::uint8_t> key, std::uint64_t index) {
  if ((distinct_ + 1) * 2 > slots_.size()) grow();  // at most half full: short probes
  if (entries_.size() >= std::numeric_limits<std::uint32_t>::max())
    throw Error(ExitCode::environment, "internal: too many staged keys");
  entries_.push_back({text_of(key), index});
  auto& slot = slots_[slot_of(entries_.back().key)];
  if (slot == 0) {
    slot = static_cast<std::uint32_t>(entries_.size());
    ++distinct_;
  }
}

std::optional<std::uint64_t> StagedKeys::first_index_of(std::span<const std::uint8_t> key) const {
  if (slots_.empty()) return std::nullopt;
  auto slot = slots_[slot_of(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()))];
  if (slot == 0) return std::nullopt;
  return entries_[slot - 1].index;
}

std::vector<StagedKeys::Entry> StagedKeys::take() {
  auto taken = std::move(entries_);
  entries_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
  distinct_ = 0;
  return taken;
}

void HashRuns::insert(std::span<const std::uint8_t> key, std::uint64_t index) {
  if (staging_) {
    staged_.add(key, index);
    return;
  }
  insert_row(key, index);
}

void HashRuns::require_nothing_staged(const char* what) const {
  if (!staged_.empty())
    throw Error(ExitCode::environment, std::string("internal: HashRuns::") + what + " on " + table_ + " with " +
                                           std::to_string(staged_.size()) + " keys staged and not flushed");
}

void HashRuns::flush_staged() {
  if (staged_.empty()) return;
  if (static_cast<std::int64_t>(staged_.size()) >= tuning_.staged_run_rows) {
    write_staged_run();
  } else {
    // Few keys (a small batch, or the ones before a reading that links to them): the open run
    // takes them, as it takes other writers'.
    for (const auto& s : staged_.take()) insert_row(bytes_of(s.key), s.index);
  }
}

std::optional<HashRuns::Merge> HashRuns::advance_merge(std::int64_t slices) {
  auto merge = merge_in_progress();
  for (; merge && slices > 0; --slices)
    if (merge_step(*merge, slice_rows(*merge))) merge.reset();
  return merge;
}

void HashRuns::write_staged_run() {
  auto staged = staged_.take();
  // A merge under way advances as insert() would have advanced it over as many keys.
  auto merge =
      advance_merge(static_cast<std::int64_t>(staged.size()) / std::max<std::int64_t>(1, tuning_.open_run_rows / 8));
  inserts_since_check_ = 0;
  auto runs = list_runs();
  if (runs.empty()) throw Error(ExitCode::environment, "internal: " + table_ + " has no runs (not migrated)");
  const auto open = runs.front().gen;
  // A run's rows are either one per key (the open run) or blocks (written in key order), never
  // both: lookups of blocks would miss keys between them. So the open run's own keys, if other
  // writers left some, join the batch.
  {
    auto keys = db_.prepare(named("SELECT KEY, idx FROM TABLE WHERE gen = ?").c_str());
    keys.bind(1, open);
    while (keys.step()) {
      staged.push_back({text_of(keys.blob(0)), static_cast<std::uint64_t>(keys.integer(1))});
    }
  }
  db_.prepare(named("DELETE FROM TABLE WHERE gen = ?").c_str()).bind(1, open).run();
  std::ranges::sort(
      staged, [](const Staged& a, const Staged& b) { return a.key != b.key ? a.key < b.key : a.index < b.index; });
  BlockWriter writer(db_, named(kInsertBlock), open);
  for (std::size_t i = 0; i < staged.size(); ++i) {
    const bool repeated =
        (i > 0 && staged[i].key == staged[i - 1].key) || (i + 1 < staged.size() && staged[i].key == staged[i + 1].key);
    writer.add(bytes_of(staged[i].key), static_cast<std::int64_t>(staged[i].index), repeated);
  }
  writer.flush();
  close_open_run(runs, static_cast<std::int64_t>(staged.size()), merge);
  if (filters_) filters_->refresh(db_, table_);
}

void HashRuns::insert_row(std::span<const std::uint8_t> key, std::uint64_t index) {
  if (pinned_) {
    if (!open_gen_) {
      auto& newest = prepared(newest_gen_, "SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'");
      // NULL (no runs: not migrated) is bound as is and fails the insert, as the subquery's does.
      if (newest.step() && !newest.is_null(0)) open_gen_ = newest.integer(0);
      newest.reset();
    }
    auto& insert_at = prepared(insert_at_, "INSERT INTO TABLE(gen, KEY, idx) VALUES (?, ?, ?)");
    insert_at.bind(1, open_gen_).bind_blob(2, key).bind(3, index).run();
    if (open_rows_) ++*open_rows_;
  } else {
    prepared(insert_,
             "INSERT INTO TABLE(gen, KEY, idx) VALUES ((SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'), ?, ?)")
        .bind_blob(1, key)
        .bind(2, index)
        .run();
  }
  if (++inserts_since_check_ >= tuning_.open_run_rows / 8) maintain();
}

std::optional<std::uint64_t> HashRuns::find_in_gen(std::int64_t gen, std::span<const std::uint8_t> key) {
  auto& seek = prepared(seek_block_, kSeekBlock);
  seek.bind(1, gen).bind_blob(2, key);
  std::optional<std::uint64_t> found;
  if (seek.step())
    if (auto idx = find_in_block(seek, key)) found = static_cast<std::uint64_t>(*idx);
  seek.reset();
  return found;
}

std::optional<std::uint64_t> HashRuns::find(std::span<const std::uint8_t> key) {
  if (!staged_.empty())
    if (auto index = staged_.first_index_of(key)) return index;
  if (filters_ && pinned_ && open_rows_ == 0) {
    // The open run is empty (a staging writer's usual case) and the cached list is this
    // object's own, refreshed by its last maintain or flush: only the filters are consulted.
    const auto& runs = filters_->runs();
    for (auto i : filters_->runs_to_seek(key)) {
      ++runs_sought_;
      if (auto found = find_in_gen(runs[i].gen, key)) return found;
    }
    return std::nullopt;
  }
  if (filters_) {
    auto in_open_run = find_in_cached_open_run(key);
    if (!in_open_run) {
      filters_->refresh(db_, table_);
      in_open_run = find_in_cached_open_run(key);
      if (!in_open_run) return std::nullopt;  // no runs at all (a ledger not yet migrated)
    }
    ++runs_sought_;
    if (*in_open_run) return *in_open_run;
    const auto& runs = filters_->runs();
    for (auto i : filters_->runs_to_seek(key)) {
      ++runs_sought_;
      if (auto found = find_in_gen(runs[i].gen, key)) return found;
    }
    return std::nullopt;
  }
  // The run list and the runs from one snapshot: another process may merge between two statements.
  sql::ReadTransaction snapshot(db_);
  const auto gens = live_gens();
  for (auto gen : gens)
    if (auto found = find_in_gen(gen, key)) return found;
  return std::nullopt;
}

std::vector<std::uint64_t> HashRuns::range(std::span<const std::uint8_t> low, std::span<const std::uint8_t> high,
                                           int limit) {
  require_nothing_staged("range");
  sql::ReadTransaction snapshot(db_);
  const auto gens = live_gens();
  // Per run: the block before `low`, whose packed entries may reach into the range, then the
  // blocks whose heads are in it.
  auto& before =
      prepared(seek_before_, "SELECT KEY, idx, more FROM TABLE WHERE gen = ? AND KEY < ? ORDER BY KEY DESC LIMIT 1");
  auto& within = prepared(seek_within_, "SELECT KEY, idx, more FROM TABLE WHERE gen = ? AND KEY BETWEEN ? AND ?");
  std::vector<std::uint64_t> out;
  auto in_range = [&](std::span<const std::uint8_t> key) {
    return !std::ranges::lexicographical_compare(key, low) && !std::ranges::lexicographical_compare(high, key);
  };
  auto take_packed = [&](const sql::Statement& row) {
    PackedEntries entries(row.blob(2), row.blob(0).size());
    std::span<const std::uint8_t> key;
    std::int64_t idx = 0;
    while (static_cast<int>(out.size()) < limit && entries.next(key, idx))
      if (in_range(key)) out.push_back(static_cast<std::uint64_t>(idx));
  };
  for (auto gen : gens) {
    before.bind(1, gen).bind_blob(2, low);
    if (before.step()) take_packed(before);
    before.reset();
    within.bind(1, gen).bind_blob(2, low).bind_blob(3, high);
    while (static_cast<int>(out.size()) < limit && within.step()) {
      out.push_back(static_cast<std::uint64_t>(within.integer(1)));
      take_packed(within);
    }
    within.reset();
    if (static_cast<int>(out.size()) >= limit) break;
  }
  if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(std::max(limit, 0)));
  return out;
}

std::optional<std::optional<std::uint64_t>> HashRuns::find_in_cached_open_run(std::span<const std::uint8_t> key) {
  // A seal or merge by any other object on this connection, or by another process, creates a
  // gen larger than every cached one, so comparing the newest gen is enough.
  const auto& runs = filters_->runs();
  const std::int64_t open_gen = runs.empty() ? -1 : runs.front().gen;
  auto& open = *find_in_open_run_;
  open.bind(1, open_gen).bind_blob(2, key);
  open.step();
  std::optional<std::optional<std::uint64_t>> out;
  if (!open.is_null(0) && open.integer(0) == open_gen)
    out = open.is_null(1) ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(open.integer(1)));
  open.reset();
  return out;
}

std::uint64_t HashRuns::scan(
    const std::function<void(std::span<const std::uint8_t>, std::uint64_t, std::int64_t, bool)>& visit) {
  struct Run {
    std::int64_t gen, rows;
    bool filtered;
  };
  require_nothing_staged("scan");
  sql::ReadTransaction snapshot(db_);
  std::vector<Run> runs;  // newest first: runs[0] is the open run
  {
    auto list =
        db_.prepare(named("SELECT gen, rows, filtered FROM hash_runs WHERE tbl = 'TABLE' ORDER BY gen DESC").c_str());
    while (list.step()) runs.push_back({list.integer(0), list.integer(1), list.integer(2) == 1});
  }
  // A run is read in key order, so its filter is read one segment at a time, in order: memory
  // stays at one segment however large the run.
  auto load = db_.prepare(kLoadSegment);
  std::array<std::uint8_t, RunFilter::kSegmentBytes> segment_bits{};
  RunReader reader(db_, named(kSelectRun));
  std::uint64_t damaged = 0;
  std::vector<std::uint8_t> previous;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& run = runs[r];
    const bool filtered = keeps_filters(table_) && run.filtered;
    const auto segments = RunFilter::segments_for(run.rows);
    std::int64_t segment = -1;
    bool previous_at_head = true, first = true;
    for (reader.start(run.gen); reader.has_entry(); reader.next()) {
      auto key = reader.key();
      const bool at_head = reader.at_row_head();
      // Lookups seek the block whose head is the last not above the key, and find repeated keys
      // only at row heads: entries out of order, a repeated key packed in a block, or a block
      // in the open run (which lookups seek by its heads only) would hide keys from them.
      if (!first) {
        auto order = std::lexicographical_compare_three_way(key.begin(), key.end(), previous.begin(), previous.end());
        if (order < 0 || (order == 0 && !(at_head && previous_at_head))) ++damaged;
      }
      if (r == 0 && !at_head) ++damaged;
      previous.assign(key.begin(), key.end());
      previous_at_head = at_head;
      first = false;
      bool holds = true;
      if (filtered) {
        if (auto wanted = RunFilter::segment_of(key, segments); wanted != segment) {
          read_segment(load, table_, run.gen, wanted, segment_bits);
          segment = wanted;
        }
        holds = RunFilter::test(segment_bits, key);
      }
      visit(key, static_cast<std::uint64_t>(reader.idx()), run.gen, holds);
    }
    reader.reset();
  }
  return damaged + reader.malformed_blocks();
}

void HashRuns::erase(std::span<const std::uint8_t> key) {
  require_nothing_staged("erase");
  const auto gens = live_gens();
  auto drop_row = db_.prepare(named("DELETE FROM TABLE WHERE gen = ? AND KEY = ? AND idx = ?").c_str());
  auto insert_row = db_.prepare(named(kInsertBlock).c_str());
  auto set_more = db_.prepare(named("UPDATE TABLE SET more = ? WHERE gen = ? AND KEY = ? AND idx = ?").c_str());
  auto& seek_block = prepared(seek_block_, kSeekBlock);
  for (auto gen : gens) {
    // Each pass removes one occurrence; a key occurs at most a few times in a run.
    for (;;) {
      seek_block.bind(1, gen).bind_blob(2, key);
      if (!seek_block.step()) {
        seek_block.reset();
        break;
      }
      const std::vector<std::uint8_t> head(seek_block.blob(0).begin(), seek_block.blob(0).end());
      const std::int64_t head_idx = seek_block.integer(1);
      const std::vector<std::uint8_t> more(seek_block.blob(2).begin(), seek_block.blob(2).end());
      seek_block.reset();
      if (std::ranges::equal(head, key)) {
        // The block's next entry, if any, becomes its head.
        drop_row.bind(1, gen).bind_blob(2, head).bind(3, head_idx).run();
        PackedEntries entries(more, head.size());
        std::span<const std::uint8_t> next_key;
        std::int64_t next_idx = 0;
        if (entries.next(next_key, next_idx)) {
          insert_block(insert_row, gen, next_key, next_idx, entries.rest());
        }
        continue;
      }
      // Packed: the block is written again without the entry.
      PackedEntries entries(more, head.size());
      std::vector<std::uint8_t> kept;
      std::span<const std::uint8_t> k;
      std::int64_t idx = 0;
      bool removed = false;
      while (entries.next(k, idx)) {
        if (std::ranges::equal(k, key)) {
          removed = true;
          continue;
        }
        run_blocks::append(kept, k, idx);
      }
      if (!removed) break;
      bind_more(set_more, 1, kept).bind(2, gen).bind_blob(3, head).bind(4, head_idx).run();
    }
  }
}

std::string HashRuns::named(const char* sql) const { return with_names(sql, table_, key_column_); }

std::optional<HashRuns::Merge> HashRuns::merge_in_progress() {
  auto stmt = db_.prepare(named("SELECT m.target, m.low, m.high, r.rows FROM hash_run_merges m "
                                "JOIN hash_runs r ON r.tbl = m.tbl AND r.gen = m.target WHERE m.tbl = 'TABLE'")
                              .c_str());
  if (!stmt.step()) return std::nullopt;
  return Merge{stmt.integer(0), stmt.integer(1), stmt.integer(2), stmt.integer(3)};
}

std::int64_t HashRuns::slice_rows(const Merge& merge) const {
  return std::max(tuning_.open_run_rows / 2, merge.rows / tuning_.merge_slices);
}

bool HashRuns::merge_step(const Merge& merge, std::int64_t rows) {
  struct Source {
    RunReader reader;
    std::int64_t gen;
  };
  std::vector<Source> sources;
  {
    auto list = db_.prepare(
        named("SELECT gen FROM hash_runs WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ? AND gen <> ?").c_str());
    list.bind(1, merge.low).bind(2, merge.high).bind(3, merge.target);
    while (list.step()) sources.push_back({RunReader(db_, named(kSelectRun)), list.integer(0)});
  }
  BlockWriter target(db_, named(kInsertBlock), merge.target);
  auto drop_moved = db_.prepare(named("DELETE FROM TABLE WHERE gen = ? AND KEY <= ?").c_str());
  auto insert_rest = db_.prepare(named(kInsertBlock).c_str());
  std::optional<FilterWriter> filter;
  if (keeps_filters(table_)) filter.emplace(db_, table_, merge.target, merge.rows);

  // Keys are read into memory a batch at a time and the readers reset before writing: a write
  // to the table would make every open reader on it seek again for its next row. One buffer
  // holds the batch's key bytes back to back (no allocation per key).
  constexpr std::int64_t kBatchRows = 65536;
  struct Moved {
    std::size_t offset;
    std::size_t size;
    std::int64_t idx;
  };
  // A source block moved in part: the entries left, written back as a block of their own.
  struct Rest {
    std::vector<std::uint8_t> head;
    std::int64_t idx;
    std::vector<std::uint8_t> more;
  };
  std::vector<std::uint8_t> key_bytes;
  std::vector<Moved> batch;
  std::vector<std::optional<Rest>> rests(sources.size());
  auto key_of = [&](const Moved& m) { return std::span<const std::uint8_t>(key_bytes.data() + m.offset, m.size); };
  bool exhausted = false;
  for (std::int64_t moved = 0; moved < rows && !exhausted;) {
    const auto batch_rows = std::min(kBatchRows, rows - moved);
    batch.clear();
    key_bytes.clear();
    for (auto& source : sources) source.reader.start(source.gen);
    for (;;) {
      // The smallest head by (key, idx); there are at most a few dozen sources.
      Source* smallest = nullptr;
      for (auto& source : sources) {
        if (!source.reader.has_entry()) continue;
        if (smallest == nullptr) {
          smallest = &source;
          continue;
        }
        auto key = source.reader.key(), best = smallest->reader.key();
        auto order = std::lexicographical_compare_three_way(key.begin(), key.end(), best.begin(), best.end());
        if (order < 0 || (order == 0 && source.reader.idx() < smallest->reader.idx())) smallest = &source;
      }
      if (smallest == nullptr) {
        exhausted = true;
        break;
      }
      auto key = smallest->reader.key();
      // Stop only between groups of equal keys, so that deleting "KEY <= last" moves whole groups.
      if (static_cast<std::int64_t>(batch.size()) >= batch_rows && !std::ranges::equal(key, key_of(batch.back())))
        break;
      batch.push_back({key_bytes.size(), key.size(), smallest->reader.idx()});
      key_bytes.insert(key_bytes.end(), key.begin(), key.end());
      smallest->reader.next();
    }
    for (std::size_t i = 0; i < sources.size(); ++i) {
      auto& reader = sources[i].reader;
      rests[i].reset();
      if (reader.has_entry() && !reader.at_row_head()) {
        auto key = reader.key();
        auto more = reader.rest_of_row();
        rests[i] = Rest{{key.begin(), key.end()}, reader.idx(), {more.begin(), more.end()}};
      }
      reader.reset();
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto key = key_of(batch[i]);
      const bool repeated = (i > 0 && std::ranges::equal(key, key_of(batch[i - 1]))) ||
                            (i + 1 < batch.size() && std::ranges::equal(key, key_of(batch[i + 1])));
      target.add(key, batch[i].idx, repeated);
      if (filter) filter->add(key);
    }
    target.flush();
    if (!batch.empty()) {
      for (std::size_t i = 0; i < sources.size(); ++i) {
        drop_moved.bind(1, sources[i].gen).bind_blob(2, key_of(batch.back())).run();
        if (const auto& rest = rests[i]) {
          insert_block(insert_rest, sources[i].gen, rest->head, rest->idx, rest->more);
        }
      }
    }
    moved += static_cast<std::int64_t>(batch.size());
  }
  if (filter) filter->flush();
  if (!exhausted) return false;
  if (filter) {
    mark_filter_complete(merge.target);
    auto drop_filters = db_.prepare(
        named("DELETE FROM hash_run_filters WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ? AND gen <> ?").c_str());
    drop_filters.bind(1, merge.low).bind(2, merge.high).bind(3, merge.target).run();
  }
  auto drop_runs =
      db_.prepare(named("DELETE FROM hash_runs WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ? AND gen <> ?").c_str());
  drop_runs.bind(1, merge.low).bind(2, merge.high).bind(3, merge.target).run();
  auto done = db_.prepare(named("DELETE FROM hash_run_merges WHERE tbl = 'TABLE' AND target = ?").c_str());
  done.bind(1, merge.target).run();
  return true;
}

void HashRuns::maintain() {
  maintain_runs();
  if (filters_) filters_->refresh(db_, table_);
}

void HashRuns::seal_run(std::int64_t gen, std::int64_t rows) {
  auto seal = db_.prepare(named("UPDATE hash_runs SET rows = ? WHERE tbl = 'TABLE' AND gen = ?").c_str());
  seal.bind(1, rows).bind(2, gen).run();
  if (keeps_filters(table_)) write_filter_of(gen, rows);
}

void HashRuns::write_filter_of(std::int64_t gen, std::int64_t rows, bool complete) {
  FilterWriter filter(db_, table_, gen, rows);
  RunReader keys(db_, named(kSelectRun));
  for (keys.start(gen); keys.has_entry(); keys.next()) filter.add(keys.key());
  keys.reset();
  filter.flush();
  if (complete) mark_filter_complete(gen);
}

void HashRuns::rewrite_filters() {
  if (!keeps_filters(table_)) return;
  db_.prepare(named("DELETE FROM hash_run_filters WHERE tbl = 'TABLE'").c_str()).run();
  std::vector<std::pair<std::int64_t, std::int64_t>> complete;  // gen, rows
  {
    auto list = db_.prepare(named("SELECT gen, rows FROM hash_runs WHERE tbl = 'TABLE' AND filtered = 1").c_str());
    while (list.step()) complete.emplace_back(list.integer(0), list.integer(1));
  }
  for (auto [gen, rows] : complete) write_filter_of(gen, rows);
  // A merge target's filter is written as keys arrive, sized for all it will hold, and is
  // complete only when the merge ends.
  if (auto merge = merge_in_progress()) write_filter_of(merge->target, merge->rows, false);
}

void HashRuns::mark_filter_complete(std::int64_t gen) {
  auto complete = db_.prepare(named("UPDATE hash_runs SET filtered = 1 WHERE tbl = 'TABLE' AND gen = ?").c_str());
  complete.bind(1, gen).run();
}

std::vector<HashRuns::RunSize> HashRuns::list_runs() {
  std::vector<RunSize> runs;
  auto list = db_.prepare(named("SELECT gen, rows FROM hash_runs WHERE tbl = 'TABLE' ORDER BY gen DESC").c_str());
  while (list.step()) runs.push_back({list.integer(0), list.integer(1)});
  return runs;
}

void HashRuns::maintain_runs() {
  inserts_since_check_ = 0;
  open_gen_.reset();  // read again at the next insert, whatever this call changes
  auto merge = advance_merge(1);

  const auto runs = list_runs();  // newest first; runs[0] is the open run
  if (runs.empty()) return;       // not yet migrated: nothing to maintain
  auto count = db_.prepare(named("SELECT count(*) FROM TABLE WHERE gen = ?").c_str());
  count.bind(1, runs[0].gen);
  count.step();
  std::int64_t open_rows = count.integer(0);
  count.reset();
  if (pinned_) open_rows_ = open_rows;
  if (open_rows < tuning_.open_run_rows) return;
  close_open_run(runs, open_rows, merge);
}

void HashRuns::close_open_run(const std::vector<RunSize>& runs, std::int64_t open_rows, std::optional<Merge> merge) {
  open_gen_.reset();
  // The binary-counter rule: the open run takes in each next older run no larger than what
  // it has gathered so far, so run sizes roughly double from newest to oldest. A run being
  // filled by a sliced merge, and its sources, are not taken until that merge ends.
  std::int64_t gathered = open_rows;
  std::size_t taken = 1;
  while (taken < runs.size() && !(merge && runs[taken].gen == merge->target) && runs[taken].rows <= gathered)
    gathered += runs[taken++].rows;
  // A second large merge waits for the first; the runs it would have taken merge later.
  if (merge && gathered >= tuning_.sliced_merge_rows) taken = 1;
  std::int64_t newest = runs[0].gen;
  std::int64_t next = newest + 1;
  auto add_run = db_.prepare(named("INSERT INTO hash_runs(tbl, gen, rows) VALUES ('TABLE', ?, ?)").c_str());
  if (taken == 1) {
    // Only the open run is full: seal it where it is.
    seal_run(newest, open_rows);
  } else {
    // Runs taken are the newest ones, so their gens are [oldest, newest]. The merged run gets
    // a gen above all of them and is written in key order: appends, not random inserts.
    const Merge started{next, runs[taken - 1].gen, newest, gathered};
    add_run.bind(1, started.target).bind(2, started.rows).run();
    ++next;
    if (started.rows < tuning_.sliced_merge_rows) {
      merge_step(started, std::numeric_limits<std::int64_t>::max());
    } else {
      // The open run becomes a source that outlives this commit: seal it with its filter, so
      // that lookups need seek the target only for keys a source's filter may hold.
      seal_run(newest, open_rows);
      auto record = db_.prepare(
          named("INSERT OR REPLACE INTO hash_run_merges(tbl, target, low, high) VALUES ('TABLE', ?, ?, ?)").c_str());
      record.bind(1, started.target).bind(2, started.low).bind(3, started.high).run();
      merge_step(started, slice_rows(started));
    }
  }
  add_run.bind(1, next).bind(2, 0).run();  // the new open run
  if (pinned_) open_rows_ = 0;
}

namespace run_blocks {

void append(std::vector<std::uint8_t>& more, std::span<const std::uint8_t> key, std::int64_t idx) {
  more.insert(more.end(), key.begin(), key.end());
  auto value = static_cast<std::uint64_t>(idx);
  for (; value >= 0x80; value >>= 7) more.push_back(static_cast<std::uint8_t>(value | 0x80));
  more.push_back(static_cast<std::uint8_t>(value));
}

bool visit(std::span<const std::uint8_t> more, std::size_t key_size,
           const std::function<void(std::span<const std::uint8_t> key, std::int64_t idx)>& entry) {
  PackedEntries entries(more, key_size);
  std::span<const std::uint8_t> key;
  std::int64_t idx = 0;
  while (entries.next(key, idx)) entry(key, idx);
  return !entries.malformed();
}

std::optional<std::int64_t> find(std::span<const std::uint8_t> more, std::span<const std::uint8_t> key) {
  PackedEntries entries(more, key.size());
  std::span<const std::uint8_t> k;
  std::int64_t idx = 0;
  while (entries.next(k, idx)) {
    auto order = std::lexicographical_compare_three_way(k.begin(), k.end(), key.begin(), key.end());
    if (order == 0) return idx;
    if (order > 0) break;
  }
  return std::nullopt;
}

}  // namespace run_blocks

void register_run_functions(sql::Database& db) {
  auto call = [](sqlite3_context* ctx, int, sqlite3_value** args) {
    auto blob_of = [](sqlite3_value* v) {
      return std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(sqlite3_value_blob(v)),
                                           static_cast<std::size_t>(sqlite3_value_bytes(v)));
    };
    if (sqlite3_value_type(args[0]) == SQLITE_NULL || sqlite3_value_type(args[1]) == SQLITE_NULL)
      return sqlite3_result_null(ctx);
    auto more = blob_of(args[0]);
    auto key = blob_of(args[1]);
    if (auto idx = run_blocks::find(more, key))
      sqlite3_result_int64(ctx, *idx);
    else
      sqlite3_result_null(ctx);
  };
  if (sqlite3_create_function_v2(db.handle(), "run_block_find", 2,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr, call, nullptr, nullptr,
                                 nullptr) != SQLITE_OK)
    throw Error(ExitCode::environment, "cannot register the run_block_find SQL function");
}

}  // namespace medtrail
