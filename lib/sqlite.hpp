// A thin RAII layer over SQLite that turns every failure into a medtrail::Error with the
// exit status PRODUCT.md assigns (locked, read-only, full, corrupt: environment errors).
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace medtrail::sql {

class Statement;

class Database {
 public:
  enum class Mode { read_only, read_write, create };
  Database(const std::string& path, Mode mode, int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const char* sql);
  Statement prepare(const char* sql);
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(int rc, std::string_view what);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  int busy_timeout_ms_;
};

class Statement {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::uint8_t> blob);
  Statement& bind_null(int index);
  Statement& bind_real(int index, double value);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::uint64_t value) { return bind(index, static_cast<std::int64_t>(value)); }

  // True while a row is available.
  bool step();
  // Runs a statement that returns no rows, then resets it for reuse.
  void run();
  void reset();

  bool is_null(int col) const;
  bool is_integer(int col) const;  // stored as an integer (not NULL, text, real or blob)
  std::int64_t integer(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string_view text_view(int col) const;  // valid until the next step or reset
  std::span<const std::uint8_t> blob(int col) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& db);
  ~WriteTransaction();
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

// A consistent snapshot for readers (BEGIN DEFERRED; the first read pins the snapshot).
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db);
  ~ReadTransaction();

 private:
  Database& db_;
  bool owner_;
};

}  // namespace medtrail::sql
