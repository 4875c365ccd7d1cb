#include "hash_runs.hpp"

#include <algorithm>
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

}  // namespace

HashRuns::HashRuns(sql::Database& db, const char* table, const char* key_column, Tuning tuning)
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
                           .c_str())) {}

void HashRuns::insert(std::span<const std::uint8_t> key, std::uint64_t index) {
  insert_.bind_blob(1, key).bind(2, index).run();
  if (++inserts_since_check_ >= tuning_.open_run_rows / 8) maintain();
}

std::optional<std::uint64_t> HashRuns::find(std::span<const std::uint8_t> key) {
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
    for (const auto& [key, idx] : batch) append.bind(1, merge.target).bind_blob(2, key).bind(3, idx).run();
    if (!batch.empty())
      for (auto& source : sources) drop_moved.bind(1, source.gen).bind_blob(2, batch.back().first).run();
    moved += static_cast<std::int64_t>(batch.size());
  }
  if (!exhausted) return false;
  auto drop_runs =
      db_.prepare(named("DELETE FROM hash_runs WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ? AND gen <> ?").c_str());
  drop_runs.bind(1, merge.low).bind(2, merge.high).bind(3, merge.target).run();
  auto done = db_.prepare(named("DELETE FROM hash_run_merges WHERE tbl = 'TABLE' AND target = ?").c_str());
  done.bind(1, merge.target).run();
  return true;
}

void HashRuns::maintain() {
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
    auto seal = db_.prepare(named("UPDATE hash_runs SET rows = ? WHERE tbl = 'TABLE' AND gen = ?").c_str());
    seal.bind(1, open_rows).bind(2, newest).run();
  } else {
    // Runs taken are the newest ones, so their gens are [oldest, newest]. The merged run gets
    // a gen above all of them and is written in key order: appends, not random inserts.
    const Merge started{next, runs[taken - 1].gen, newest, gathered};
    add_run.bind(1, started.target).bind(2, started.rows).run();
    ++next;
    if (started.rows < tuning_.sliced_merge_rows) {
      merge_step(started, std::numeric_limits<std::int64_t>::max());
    } else {
      auto record = db_.prepare(
          named("INSERT OR REPLACE INTO hash_run_merges(tbl, target, low, high) VALUES ('TABLE', ?, ?, ?)").c_str());
      record.bind(1, started.target).bind(2, started.low).bind(3, started.high).run();
      merge_step(started, slice_rows(started));
    }
  }
  add_run.bind(1, next).bind(2, 0).run();  // the new open run
}

}  // namespace medtrail
