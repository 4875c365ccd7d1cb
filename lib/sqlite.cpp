#include "sqlite.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "error.hpp"

namespace medtrail::sql {

namespace {
// Which file makes a writer fail. A reader of a read-only ledger leaves NAME-wal and NAME-shm
// behind with the ledger's mode, so restoring the ledger's own mode is not enough.
std::string read_only_cause(const std::string& path) {
  for (const std::string& file : {path, path + "-wal", path + "-shm"})
    if (::access(file.c_str(), F_OK) == 0 && ::access(file.c_str(), W_OK) != 0)
      return file + " is read-only (chmod u+w " + file + ")";
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::access(dir.c_str(), W_OK) != 0) return "its directory " + dir + " is read-only";
  return "the ledger is read-only";
}

// ", ulimit -f is N KiB" when the process has a file-size limit, else "".
std::string file_size_limit_note() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return {};
  return "; ulimit -f is " + std::to_string(limit.rlim_cur / 1024) + " KiB";
}
}  // namespace

Database::Database(const std::string& path, Mode mode, int busy_timeout_ms)
    : path_(path), busy_timeout_ms_(busy_timeout_ms) {
  struct stat st{};
  if (mode != Mode::create && ::stat(path.c_str(), &st) != 0 && errno == ENOENT)
    throw Error(ExitCode::not_found, "no ledger at " + path + " (create one with medtrail init)");
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= mode == Mode::read_only ? SQLITE_OPEN_READONLY
           : mode == Mode::create  ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                   : SQLITE_OPEN_READWRITE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) fail(rc, "cannot open");
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::fail(int rc, std::string_view what) {
  std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  int os_error = db_ ? sqlite3_system_errno(db_) : 0;
  if (os_error != 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN))
    detail += std::string(": ") + std::strerror(os_error);
  // Faults of the file itself, whatever statement met them first.
  if (rc == SQLITE_READONLY_DIRECTORY)
    throw Error(ExitCode::environment, "cannot open " + path_ + ": its directory is read-only, and SQLite must create " +
                                           path_ + "-wal and " + path_ + "-shm beside it, even to read");
  if ((rc & 0xff) == SQLITE_NOTADB)
    throw Error(ExitCode::environment, "cannot open " + path_ + ": not a medtrail ledger (" + detail + ")");
  // SQLite reports a write refused for want of space as SQLITE_FULL only for ENOSPC, and keeps
  // no errno for it; past a file-size limit (EFBIG) it is a plain write error.
  if (rc == SQLITE_IOERR_WRITE || os_error == ENOSPC || os_error == EFBIG) rc = SQLITE_FULL;
  std::string msg = std::string(what) + " " + path_ + ": ";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw Error(ExitCode::environment, msg + "the ledger is locked by another writer (waited " +
                                             std::to_string(busy_timeout_ms_) + " ms; see --busy-timeout)");
    case SQLITE_READONLY:
      throw Error(ExitCode::environment, msg + read_only_cause(path_) + " (" + detail + ")");
    case SQLITE_FULL:
      throw Error(ExitCode::environment, msg + "the disk is full or a file-size limit was reached" +
                                             file_size_limit_note() + " (" + detail + ")");
    case SQLITE_CORRUPT:
      throw Error(ExitCode::environment, msg + "not a medtrail ledger, or the file is corrupt (" + detail + ")");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      throw Error(ExitCode::environment, msg + "cannot open the file (" + detail + ")");
    case SQLITE_IOERR:
      throw Error(ExitCode::environment, msg + "I/O error (" + detail + ")");
    default:
      throw Error(ExitCode::environment, msg + detail);
  }
}

void Database::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, "cannot update");
}

Statement Database::prepare(const char* sql) { return Statement(*this, sql); }

Statement::Statement(Database& db, const char* sql) : db_(&db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "cannot read");
}

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> blob) {
  sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_real(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  db_->fail(rc, (rc & 0xff) == SQLITE_CONSTRAINT ? "constraint violated in" : "cannot access");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
bool Statement::is_integer(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_INTEGER; }
std::int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
std::string_view Statement::text_view(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string_view(reinterpret_cast<const char*>(p),
                              static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}
std::span<const std::uint8_t> Statement::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

WriteTransaction::WriteTransaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
WriteTransaction::~WriteTransaction() {
  if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}
void WriteTransaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

// Nested use joins the snapshot already open.
ReadTransaction::ReadTransaction(Database& db) : db_(db), owner_(sqlite3_get_autocommit(db.handle()) != 0) {
  if (owner_) db_.exec("BEGIN");
}
ReadTransaction::~ReadTransaction() {
  if (owner_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace medtrail::sql
