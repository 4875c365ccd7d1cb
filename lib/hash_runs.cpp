#include "hash_runs.hpp"

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

HashRuns::HashRuns(sql::Database& db, const char* table, const char* key_column)
    : db_(db),
      table_(table),
      key_column_(key_column),
      insert_(db.prepare(with_names("INSERT INTO TABLE(gen, KEY, idx) VALUES "
                                    "((SELECT max(gen) FROM hash_runs WHERE tbl = 'TABLE'), ?, ?)",
                                    table_, key_column_)
                             .c_str())),
      // CROSS JOIN keeps hash_runs the outer loop: one (gen, key) seek per run.
      find_(db.prepare(with_names("SELECT t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                                  "WHERE r.tbl = 'TABLE' AND t.KEY = ? LIMIT 1",
                                  table_, key_column_)
                           .c_str())) {}

void HashRuns::insert(std::span<const std::uint8_t> key, std::uint64_t index) {
  insert_.bind_blob(1, key).bind(2, index).run();
  if (++inserts_since_check_ >= kOpenRunRows / 8) maintain();
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
  auto stmt = db_.prepare(with_names("SELECT t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                                     "WHERE r.tbl = 'TABLE' AND t.KEY BETWEEN ? AND ? LIMIT ?",
                                     table_, key_column_)
                              .c_str());
  stmt.bind_blob(1, low).bind_blob(2, high).bind(3, limit);
  std::vector<std::uint64_t> out;
  while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  return out;
}

sql::Statement HashRuns::entries() {
  return db_.prepare(with_names("SELECT t.KEY, t.idx FROM hash_runs r CROSS JOIN TABLE t ON t.gen = r.gen "
                                "WHERE r.tbl = 'TABLE'",
                                table_, key_column_)
                         .c_str());
}

void HashRuns::erase(std::span<const std::uint8_t> key) {
  auto stmt = db_.prepare(with_names("DELETE FROM TABLE WHERE gen IN (SELECT gen FROM hash_runs WHERE tbl = 'TABLE') "
                                     "AND KEY = ?",
                                     table_, key_column_)
                              .c_str());
  stmt.bind_blob(1, key).run();
}

void HashRuns::maintain() {
  inserts_since_check_ = 0;
  struct Run {
    std::int64_t gen;
    std::int64_t rows;
  };
  std::vector<Run> runs;  // newest first; runs[0] is the open run
  {
    auto list = db_.prepare(
        with_names("SELECT gen, rows FROM hash_runs WHERE tbl = 'TABLE' ORDER BY gen DESC", table_, key_column_).c_str());
    while (list.step()) runs.push_back({list.integer(0), list.integer(1)});
  }
  if (runs.empty()) return;  // not yet migrated: nothing to maintain
  auto count = db_.prepare(with_names("SELECT count(*) FROM TABLE WHERE gen = ?", table_, key_column_).c_str());
  count.bind(1, runs[0].gen);
  count.step();
  std::int64_t open_rows = count.integer(0);
  count.reset();
  if (open_rows < kOpenRunRows) return;

  // The binary-counter rule: the open run takes in each next older run no larger than what
  // it has gathered so far, so run sizes roughly double from newest to oldest.
  std::int64_t gathered = open_rows;
  std::size_t taken = 1;
  while (taken < runs.size() && runs[taken].rows <= gathered) gathered += runs[taken++].rows;
  std::int64_t newest = runs[0].gen;
  std::int64_t next = newest + 1;
  auto add_run = db_.prepare(with_names("INSERT INTO hash_runs(tbl, gen, rows) VALUES ('TABLE', ?, ?)", table_,
                                        key_column_)
                                 .c_str());
  if (taken == 1) {
    // Only the open run is full: seal it where it is.
    auto seal = db_.prepare(
        with_names("UPDATE hash_runs SET rows = ? WHERE tbl = 'TABLE' AND gen = ?", table_, key_column_).c_str());
    seal.bind(1, open_rows).bind(2, newest).run();
  } else {
    // Runs taken are the newest ones, so their gens are [oldest, newest]. The merged run gets
    // a gen above all of them and is written in key order: appends, not random inserts.
    std::int64_t oldest = runs[taken - 1].gen;
    auto copy = db_.prepare(with_names("INSERT INTO TABLE(gen, KEY, idx) SELECT ?, KEY, idx FROM TABLE "
                                       "WHERE gen BETWEEN ? AND ? ORDER BY KEY",
                                       table_, key_column_)
                                .c_str());
    copy.bind(1, next).bind(2, oldest).bind(3, newest).run();
    auto drop_rows =
        db_.prepare(with_names("DELETE FROM TABLE WHERE gen BETWEEN ? AND ?", table_, key_column_).c_str());
    drop_rows.bind(1, oldest).bind(2, newest).run();
    auto drop_runs = db_.prepare(
        with_names("DELETE FROM hash_runs WHERE tbl = 'TABLE' AND gen BETWEEN ? AND ?", table_, key_column_).c_str());
    drop_runs.bind(1, oldest).bind(2, newest).run();
    add_run.bind(1, next).bind(2, gathered).run();
    ++next;
  }
  add_run.bind(1, next).bind(2, 0).run();  // the new open run
}

}  // namespace medtrail
