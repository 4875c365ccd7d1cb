// The indexes `trace` answers from: derivation links (child -> parent, so descendants are one
// range read), asset sightings, proximity reports by peer, and positions with a space-time
// grid index. All are derived from the log and payloads: ingest maintains them, a schema
// migration rebuilds them, and verify checks them row by row, so editing an index can hide a
// record from `trace` only until the next verify.
//
// Position coordinates are integers, stored exactly: seconds since 2000-01-01 (readings before
// 2000 are rejected at ingest), latitude and longitude in microdegrees (about 0.1 m).
//
// The grid (index positions_grid) orders positions by minute, then by a latitude band of
// kGridBandShift bits of microdegrees, then by longitude. Points near one place at one time are
// therefore neighbours on disk, and "who was within r metres of p around time t" is one short
// range read per (minute, band) the circle touches: a handful of page reads per point, however
// many weeks the ledger holds. (An R*Tree groups points into time slices across the whole site
// and needed about ten times more page reads for a week-long query; bench/README.md.)
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "reading.hpp"
#include "sqlite.hpp"

namespace medtrail::trace {

inline constexpr std::int64_t kEpoch2000Ms = 946684800000;

std::int32_t index_seconds(std::int64_t time_ms);
std::int32_t microdegrees(double degrees);

// 2^7 microdegrees of latitude: bands about 14 m tall. The SQL expressions of the grid index
// (lib/ledger.cpp, migration 4) must use the same shift and minute length.
inline constexpr int kGridBandShift = 7;
inline constexpr std::int32_t kGridSecondsPerSlot = 60;
inline constexpr std::int64_t grid_slot(std::int64_t index_s) { return index_s / kGridSecondsPerSlot; }
inline constexpr std::int64_t grid_band(std::int64_t lat_microdegrees) { return lat_microdegrees >> kGridBandShift; }

// Rows one reading contributes to the indexes.
struct IndexFacts {
  std::vector<std::uint64_t> parents;
  std::optional<std::string> asset;
  std::optional<std::pair<std::int32_t, std::int32_t>> position;  // microdegrees; only with a subject
  std::optional<std::string> peer;
  double distance_m = 0;
  std::optional<std::string> source_ref;
};
IndexFacts facts_of(const LeafRow& row, const ValidReading& reading, std::vector<std::uint64_t> parents);

class IndexWriter {
 public:
  explicit IndexWriter(sql::Database& db);
  void add(const LeafRow& row, const IndexFacts& facts);

 private:
  sql::Statement link_, asset_, proximity_, position_, source_ref_;
};

// The newest reading record with this source_ref (FHIR "Observation/<id>"), if any.
std::optional<std::uint64_t> find_source_ref(sql::Database& db, const std::string& ref);

// Rebuilds every index from the log (used by the migration that introduced them).
void rebuild_index(Ledger& ledger);

// Streams expected rows against the stored indexes: verify calls expect() for each reading
// record in log order, then finish() for the row counts (an index row with no record).
class IndexChecker {
 public:
  explicit IndexChecker(sql::Database& db);
  // Returns a description of the first missing or wrong index row, or "".
  std::string expect(const LeafRow& row, const IndexFacts& facts);
  // A reading whose values cannot be read (encrypted without a key, or erased): only its
  // derivation links are checked, and the value-derived tables are no longer counted.
  std::string expect_without_values(const LeafRow& row, const std::vector<std::uint64_t>& parents);
  std::vector<std::string> finish();

 private:
  sql::Database& db_;
  sql::Statement link_, asset_, proximity_, position_, source_ref_;
  std::uint64_t links_ = 0, assets_ = 0, proximity_rows_ = 0, positions_ = 0, source_refs_ = 0;
  std::uint64_t without_values_ = 0;
};

// The readings' facts re-derived from a stored payload (reading JSON text).
std::optional<ValidReading> reparse_reading(const std::string& reading_text);
// The members trace indexes (asset, source_ref, lat and lon, a proximity reading's peer and
// distance_m) read straight from a reading's canonical text, as validate_reading takes them
// from a valid reading: verify reads them for every location, proximity and asset reading of
// the log, where parsing and validating each again was 10% of its CPU. Nothing when the text
// is not canonical or a member is not as validation leaves it (a string with an escape, a
// number that is not one); then reparse_reading decides.
std::optional<ValidReading> indexed_members(std::string_view canonical, std::string_view type);
// Leaf indexes of the records a row's derived_from ids name, in order; ids not in the log (or
// not ids) are skipped, and appended to `missing` when given.
std::vector<std::uint64_t> linked_parents(sql::Statement& id_lookup, const LeafRow& row,
                                          std::vector<std::string>* missing = nullptr);
// A stored reading record's index facts; id_lookup is kRecordIdLookup (lib/ledger.hpp).
IndexFacts stored_facts(sql::Statement& id_lookup, const LeafRow& row, const std::string* reading_text);
// The same in two steps: the values, which need only the row and its payload text (no
// database, so another thread may compute them), then the facts with the derivation links.
ValidReading indexed_values(const LeafRow& row, const std::string* reading_text);
IndexFacts stored_facts(sql::Statement& id_lookup, const LeafRow& row, const ValidReading& values);

}  // namespace medtrail::trace
