#include "hash_runs.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

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
      insert_(db.prepare(named("INSERT INTO TABLE(gen, KEY, idx) VALUES "
                               "((SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'), ?, ?)")
                             .c_str())),
      // CROSS JOIN keeps hash_runs the outer loop: one (gen, key) seek per run.
      find_(db.prepare(named("SELECT t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                             "WHERE r.tbl = 'TABLE' AND t.KEY = ? LIMIT 1")
                           .c_str())),
      filters_(keeps_filters(table) ? filters : nullptr) {
  if (filters_) {
    find_in_run_.emplace(db.prepare(named("SELECT idx FROM TABLE WHERE gen = ? AND KEY = ?").c_str()));
    find_in_open_run_.emplace(db.prepare(named("SELECT (SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'), "
                                               "(SELECT idx FROM TABLE WHERE gen = ?1 AND KEY = ?2)")
                                             .c_str()));
  }
}

void HashRuns::insert(std::span<const std::uint8_t> key, std::uint64_t index) {
  insert_.bind_blob(1, key).bind(2, index).run();
  if (++inserts_since_check_ >= tuning_.open_run_rows / 8) maintain();
}

std::optional<std::uint64_t> HashRuns::find(std::span<const std::uint8_t> key) {
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
      auto& seek = *find_in_run_;
      seek.bind(1, runs[i].gen).bind_blob(2, key);
      std::optional<std::uint64_t> found;
      if (seek.step()) found = static_cast<std::uint64_t>(seek.integer(0));
      seek.reset();
      if (found) return found;
    }
    return std::nullopt;
  }
  find_.bind_blob(1, key);
  std::optional<std::uint64_t> found;
  if (find_.step()) found = static_cast<std::uint64_t>(find_.integer(0));
  find_.reset();
  return found;
}

std::vector<std::uint64_t> HashRuns::range(std::span<const std::uint8_t> low, std::span<const std::uint8_t> high,
                                           int limit) {
  auto stmt = db_.prepare(named("SELECT t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                                "WHERE r.tbl = 'TABLE' AND t.KEY BETWEEN ? AND ? LIMIT ?")
                              .c_str());
  stmt.bind_blob(1, low).bind_blob(2, high).bind(3, limit);
  std::vector<std::uint64_t> out;
  while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  return out;
}

sql::Statement HashRuns::entries() {
  return db_.prepare(named("SELECT t.KEY, t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                           "WHERE r.tbl = 'TABLE'")
                         .c_str());
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

void HashRuns::scan(
    const std::function<void(std::span<const std::uint8_t>, std::uint64_t, std::int64_t, bool)>& visit) {
  // The CROSS JOIN yields each run's rows together and in key order, so the filter is read
  // one segment at a time, in order: memory stays at one segment however large the run.
  auto rows = db_.prepare(named("SELECT r.gen, r.rows, r.filtered, t.KEY, t.idx FROM hash_runs r "
                                "CROSS JOIN TABLE t ON t.gen = r.gen WHERE r.tbl = 'TABLE'")
                              .c_str());
  auto load = db_.prepare(kLoadSegment);
  std::array<std::uint8_t, RunFilter::kSegmentBytes> segment_bits{};
  std::int64_t gen = -1, segments = 0, segment = -1;
  bool filtered = false;
  while (rows.step()) {
    if (rows.integer(0) != gen) {
      gen = rows.integer(0);
      filtered = keeps_filters(table_) && rows.integer(2) == 1;
      segments = RunFilter::segments_for(rows.integer(1));
      segment = -1;
    }
    auto key = rows.blob(3);
    bool holds = true;
    if (filtered) {
      if (auto wanted = RunFilter::segment_of(key, segments); wanted != segment) {
        read_segment(load, table_, gen, wanted, segment_bits);
        segment = wanted;
      }
      holds = RunFilter::test(segment_bits, key);
    }
    visit(key, static_cast<std::uint64_t>(rows.integer(4)), gen, holds);
  }
}

void HashRuns::erase(std::span<const std::uint8_t> key) {
  auto stmt = db_.prepare(named("DELETE FROM TABLE WHERE gen IN (SELECT gen FROM hash_runs WHERE tbl = 'TABLE') "
                                "AND KEY = ?")
                              .c_str());
  stmt.bind_blob(1, key).run();
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
    sql::Statement rows;
    std::int64_t gen;
    bool has_row = false;
  };
  std::vector<Source> sources;
  {
    auto list = db_.prepare(
        named("SELECT gen FROM hash_runs WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ? AND gen <> ?").c_str());
    list.bind(1, merge.low).bind(2, merge.high).bind(3, merge.target);
    while (list.step())
      sources.push_back(
          {db_.prepare(named("SELECT KEY, idx FROM TABLE WHERE gen = ? ORDER BY KEY").c_str()), list.integer(0)});
  }
  auto append = db_.prepare(named("INSERT INTO TABLE(gen, KEY, idx) VALUES (?, ?, ?)").c_str());
  auto drop_moved = db_.prepare(named("DELETE FROM TABLE WHERE gen = ? AND KEY <= ?").c_str());
  std::optional<FilterWriter> filter;
  if (keeps_filters(table_)) filter.emplace(db_, table_, merge.target, merge.rows);

  // Keys are read into memory a batch at a time and the readers reset before writing: a write
  // to the table would make every open reader on it seek again for its next row.
  constexpr std::int64_t kBatchRows = 65536;
  std::vector<std::pair<std::vector<std::uint8_t>, std::int64_t>> batch;
  bool exhausted = false;
  for (std::int64_t moved = 0; moved < rows && !exhausted;) {
    const auto batch_rows = std::min(kBatchRows, rows - moved);
    batch.clear();
    for (auto& source : sources) source.has_row = source.rows.bind(1, source.gen).step();
    for (;;) {
      // The smallest head by (key, idx); there are at most a few dozen sources.
      Source* smallest = nullptr;
      for (auto& source : sources) {
        if (!source.has_row) continue;
        if (smallest == nullptr) {
          smallest = &source;
          continue;
        }
        auto key = source.rows.blob(0), best = smallest->rows.blob(0);
        auto order = std::lexicographical_compare_three_way(key.begin(), key.end(), best.begin(), best.end());
        if (order < 0 || (order == 0 && source.rows.integer(1) < smallest->rows.integer(1))) smallest = &source;
      }
      if (smallest == nullptr) {
        exhausted = true;
        break;
      }
      auto key = smallest->rows.blob(0);
      // Stop only between groups of equal keys, so that deleting "KEY <= last" moves whole groups.
      if (static_cast<std::int64_t>(batch.size()) >= batch_rows && !std::ranges::equal(key, batch.back().first)) break;
      batch.emplace_back(std::vector<std::uint8_t>(key.begin(), key.end()), smallest->rows.integer(1));
      smallest->has_row = smallest->rows.step();
    }
    for (auto& source : sources) source.rows.reset();
    for (const auto& [key, idx] : batch) {
      append.bind(1, merge.target).bind_blob(2, key).bind(3, idx).run();
      if (filter) filter->add(key);
    }
    if (!batch.empty())
      for (auto& source : sources) drop_moved.bind(1, source.gen).bind_blob(2, batch.back().first).run();
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
  auto keys = db_.prepare(named("SELECT KEY FROM TABLE WHERE gen = ? ORDER BY KEY").c_str());
  keys.bind(1, gen);
  while (keys.step()) filter.add(keys.blob(0));
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

void HashRuns::maintain_runs() {
  inserts_since_check_ = 0;
  auto merge = merge_in_progress();
  if (merge && merge_step(*merge, slice_rows(*merge))) merge.reset();

  struct Run {
    std::int64_t gen;
    std::int64_t rows;
  };
  std::vector<Run> runs;  // newest first; runs[0] is the open run
  {
    auto list = db_.prepare(named("SELECT gen, rows FROM hash_runs WHERE tbl = 'TABLE' ORDER BY gen DESC").c_str());
    while (list.step()) runs.push_back({list.integer(0), list.integer(1)});
  }
  if (runs.empty()) return;  // not yet migrated: nothing to maintain
  auto count = db_.prepare(named("SELECT count(*) FROM TABLE WHERE gen = ?").c_str());
  count.bind(1, runs[0].gen);
  count.step();
  std::int64_t open_rows = count.integer(0);
  count.reset();
  if (open_rows < tuning_.open_run_rows) return;

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
}

}  // namespace medtrail
