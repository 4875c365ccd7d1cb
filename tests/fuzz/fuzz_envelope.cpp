// The record envelope decoder over a leaves row that a hostile writer of the file chose
// column by column (any SQLite type, any length): read_leaf_row, then the envelope, its
// canonical text (checked against JCS of the envelope object), leaf hash and signed part, as
// verify computes them. Whoever can write the file can put anything there; verification must
// answer with an Error, never a crash.
//
// Input: for each of the 11 leaves columns, [type byte][length byte][length bytes], where
// type % 4 is NULL, INTEGER (up to 8 little-endian bytes), TEXT or BLOB.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "encoding.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "ledger.hpp"
#include "merkle.hpp"
#include "sqlite.hpp"

namespace {

constexpr int kLeafColumnCount = 11;

class ColumnReader {
 public:
  ColumnReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  void bind_next(medtrail::sql::Statement& stmt, int index) {
    std::uint8_t type = take_byte();
    std::size_t length = std::min<std::size_t>(take_byte(), size_ - pos_);
    std::span<const std::uint8_t> bytes(data_ + pos_, length);
    pos_ += length;
    switch (type % 4) {
      case 0:
        stmt.bind_null(index);
        break;
      case 1: {
        std::int64_t value = 0;
        std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
        stmt.bind(index, value);
        break;
      }
      case 2:
        stmt.bind(index, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        break;
      default:
        stmt.bind_blob(index, bytes);
    }
  }

 private:
  std::uint8_t take_byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Untyped columns, as a tampered file may hold any type in any column.
medtrail::sql::Database& scratch_db() {
  static medtrail::sql::Database db(":memory:", medtrail::sql::Database::Mode::create, 0);
  static const bool created = [] {
    db.exec(
        "CREATE TABLE leaves(idx, id, kind_code, device, gateway, time_ms, received_ms, type, commitment, subject, "
        "extra)");
    return true;
  }();
  (void)created;
  return db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& db = scratch_db();
  db.exec("DELETE FROM leaves");
  auto insert = db.prepare("INSERT INTO leaves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ColumnReader columns(data, size);
  for (int i = 1; i <= kLeafColumnCount; ++i) columns.bind_next(insert, i);
  insert.run();
  auto select = db.prepare(
      "SELECT idx, id, kind_code, device, gateway, time_ms, received_ms, type, commitment, subject, extra FROM leaves");
  if (!select.step()) return 0;
  try {
    medtrail::LeafRow row = medtrail::read_leaf_row(select, 0);
    // canonical_envelope writes the text directly; it must agree with JCS of the envelope
    // object, refusing exactly what that refuses.
    std::optional<std::string> direct, via_json;
    try {
      direct = medtrail::canonical_envelope(row);
    } catch (const medtrail::Error&) {
    }
    try {
      via_json = medtrail::jcs::canonicalize(medtrail::envelope_of(row));
    } catch (const medtrail::Error&) {
    }
    if (direct != via_json) __builtin_trap();
    // leaf_hash_of writes a plain reading's envelope into a reused buffer: the same text.
    try {
      auto hashed = medtrail::leaf_hash_of(row);
      if (!direct || hashed != medtrail::merkle::leaf_hash(medtrail::as_bytes(*direct))) __builtin_trap();
    } catch (const medtrail::Error&) {
      if (direct) __builtin_trap();
    }
    if (row.kind != "reading") (void)medtrail::signed_part_of(row);
  } catch (const medtrail::Error&) {
  }
  return 0;
}
