#include "trace_index.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "canonical_text.hpp"
#include "encoding.hpp"
#include "error.hpp"

namespace medtrail::trace {
namespace {

using nlohmann::json;

constexpr const char* kInsertLink = "INSERT OR IGNORE INTO links(parent, child) VALUES (?, ?)";
constexpr const char* kInsertAsset = "INSERT OR IGNORE INTO assets(asset, time_ms, idx) VALUES (?, ?, ?)";
constexpr const char* kInsertProximity = "INSERT OR IGNORE INTO proximity(peer, time_ms, idx, distance_m) VALUES (?, ?, ?, ?)";
constexpr const char* kInsertSourceRef = "INSERT OR IGNORE INTO source_refs(ref, idx) VALUES (?, ?)";
constexpr const char* kInsertPosition = "INSERT INTO positions(idx, t_s, lat, lon) VALUES (?, ?, ?, ?)";

// Payloads that add index rows beyond derivation links. Only these are parsed again by verify;
// the substring test is a cheap filter before the parse that decides.
bool payload_is_indexed(const std::optional<std::string>& type, const std::string& reading_text) {
  if (!type) return false;
  if (reading_text.find("\"source_ref\"") != std::string::npos) return true;
  return *type == "location" || *type == "proximity" || *type == "asset_status" || *type == "sterilization" ||
         *type == "malfunction";
}

std::int64_t count_rows(sql::Database& db, const char* table) {
  auto stmt = db.prepare((std::string("SELECT count(*) FROM ") + table).c_str());
  stmt.step();
  return stmt.integer(0);
}

}  // namespace

std::int32_t index_seconds(std::int64_t time_ms) {
  auto s = (time_ms - kEpoch2000Ms) / 1000;
  if (s < 0 || s > std::numeric_limits<std::int32_t>::max())
    throw Error(ExitCode::usage, "reading time is outside the indexable range 2000-01-01 .. 2068-01-19");
  return static_cast<std::int32_t>(s);
}

std::int32_t microdegrees(double degrees) { return static_cast<std::int32_t>(std::llround(degrees * 1e6)); }

IndexFacts facts_of(const LeafRow& row, const ValidReading& reading, std::vector<std::uint64_t> parents) {
  IndexFacts facts;
  facts.parents = std::move(parents);
  facts.asset = reading.asset;
  if (reading.lat && reading.lon && row.subject && reading.type == "location")
    facts.position = std::pair(microdegrees(*reading.lat), microdegrees(*reading.lon));
  if (reading.peer) {
    facts.peer = reading.peer;
    facts.distance_m = reading.distance_m.value_or(0);
  }
  facts.source_ref = reading.source_ref;
  return facts;
}

IndexWriter::IndexWriter(sql::Database& db)
    : link_(db.prepare(kInsertLink)),
      asset_(db.prepare(kInsertAsset)),
      proximity_(db.prepare(kInsertProximity)),
      position_(db.prepare(kInsertPosition)),
      source_ref_(db.prepare(kInsertSourceRef)) {}

void IndexWriter::add(const LeafRow& row, const IndexFacts& facts) {
  for (auto parent : facts.parents) link_.bind(1, parent).bind(2, row.index).run();
  std::int64_t time_ms = row.time_ms.value_or(0);
  if (facts.asset) asset_.bind(1, *facts.asset).bind(2, time_ms).bind(3, row.index).run();
  if (facts.peer) proximity_.bind(1, *facts.peer).bind(2, time_ms).bind(3, row.index).bind_real(4, facts.distance_m).run();
  if (facts.source_ref) source_ref_.bind(1, *facts.source_ref).bind(2, row.index).run();
  if (facts.position) {
    auto t = index_seconds(time_ms);
    auto [lat, lon] = *facts.position;
    position_.bind(1, row.index).bind(2, t).bind(3, lat).bind(4, lon).run();
  }
}

std::optional<ValidReading> reparse_reading(const std::string& reading_text) {
  json reading = json::parse(reading_text, nullptr, false);
  if (reading.is_discarded()) return std::nullopt;
  ValidationLimits limits;
  limits.now_ms = std::numeric_limits<std::int64_t>::max() / 2;  // stored readings were checked at ingest
  auto check = validate_reading(reading, limits);
  return check.reading;
}

namespace {
// Calls `visit` with each reading's index facts, in log order.
template <typename Visit>
void for_each_reading_facts(Ledger& ledger, Visit&& visit) {
  auto& db = ledger.db();
  auto id_lookup = db.prepare(kRecordIdLookup);
  auto rows = db.prepare((std::string("SELECT ") + kLeafColumns +
                          ", p.reading, p.elided FROM leaves LEFT JOIN payloads p USING (idx) WHERE " + kIsReading +
                          " ORDER BY idx")
                             .c_str());
  while (rows.step()) {
    LeafRow row = read_leaf_row(rows, 0);
    std::optional<std::string> text;
    if (!rows.is_null(11)) text = clear_reading_of(row, rows.text(11), rows.integer(12));
    visit(row, stored_facts(id_lookup, row, text ? &*text : nullptr));
  }
}
}  // namespace

std::vector<std::uint64_t> linked_parents(sql::Statement& id_lookup, const LeafRow& row, std::vector<std::string>* missing) {
  std::vector<std::uint64_t> parents;
  if (!row.extra.is_object() || !row.extra.contains("derived_from")) return parents;
  for (const auto& link : row.extra["derived_from"]) {
    auto text = link.is_string() ? link.get<std::string>() : link.dump();
    auto h = hash_from_hex(text);
    bool found = false;
    if (h) {
      id_lookup.bind_blob(1, *h);
      if (id_lookup.step()) {
        parents.push_back(static_cast<std::uint64_t>(id_lookup.integer(0)));
        found = true;
      }
      id_lookup.reset();
    }
    if (!found && missing) missing->push_back(text);
  }
  return parents;
}

std::optional<ValidReading> indexed_members(std::string_view canonical, std::string_view type) {
  ValidReading out;
  std::optional<std::string> peer;
  std::optional<double> lat, lon, distance_m;
  auto walked = canonical_text::for_each_member(canonical, [&](const canonical_text::Member& m) {
    auto text = [&](std::optional<std::string>& to) {
      const auto& v = m.value;
      // An escape would need decoding: left to the full parse, as is anything not a string.
      if (v.size() < 2 || v.front() != '"' || v.back() != '"' || v.find('\\') != std::string_view::npos) return false;
      to.emplace(v.substr(1, v.size() - 2));
      return true;
    };
    auto number = [&](std::optional<double>& to) {
      double value = 0;
      auto [end, error] = std::from_chars(m.value.data(), m.value.data() + m.value.size(), value);
      if (error != std::errc() || end != m.value.data() + m.value.size() || !std::isfinite(value)) return false;
      to = value;
      return true;
    };
    if (m.key == "asset") return text(out.asset);
    if (m.key == "source_ref") return text(out.source_ref);
    if (m.key == "peer") return text(peer);
    if (m.key == "lat") return number(lat);
    if (m.key == "lon") return number(lon);
    if (m.key == "distance_m") return number(distance_m);
    return true;
  });
  if (!walked) return std::nullopt;
  // As validate_reading takes them: a position only whole, a peer only from a proximity
  // reading, which must name both (else validation, not this, says what is wrong).
  if (lat && lon) {
    out.lat = lat;
    out.lon = lon;
  }
  if (type == "proximity") {
    if (!peer || !distance_m) return std::nullopt;
    out.peer = std::move(peer);
    out.distance_m = distance_m;
  }
  out.type = type;
  return out;
}

ValidReading indexed_values(const LeafRow& row, const std::string* reading_text) {
  ValidReading reading;
  if (reading_text && payload_is_indexed(row.type, *reading_text)) {
    if (auto members = indexed_members(*reading_text, row.type.value_or("")))
      reading = std::move(*members);
    else if (auto parsed = reparse_reading(*reading_text))
      reading = std::move(*parsed);
  }
  reading.type = row.type.value_or("");
  return reading;
}

IndexFacts stored_facts(sql::Statement& id_lookup, const LeafRow& row, const ValidReading& values) {
  return facts_of(row, values, linked_parents(id_lookup, row));
}

IndexFacts stored_facts(sql::Statement& id_lookup, const LeafRow& row, const std::string* reading_text) {
  return stored_facts(id_lookup, row, indexed_values(row, reading_text));
}

std::optional<std::uint64_t> find_source_ref(sql::Database& db, const std::string& ref) {
  auto stmt = db.prepare("SELECT max(idx) FROM source_refs WHERE ref = ?");
  stmt.bind(1, ref);
  if (!stmt.step() || stmt.is_null(0)) return std::nullopt;
  return static_cast<std::uint64_t>(stmt.integer(0));
}

void rebuild_index(Ledger& ledger) {
  auto& db = ledger.db();
  db.exec("DELETE FROM links; DELETE FROM assets; DELETE FROM proximity; DELETE FROM positions; DELETE FROM source_refs;");
  IndexWriter writer(db);
  for_each_reading_facts(ledger, [&](const LeafRow& row, const IndexFacts& facts) { writer.add(row, facts); });
}

IndexChecker::IndexChecker(sql::Database& db)
    : db_(db),
      link_(db.prepare("SELECT 1 FROM links WHERE parent = ? AND child = ?")),
      asset_(db.prepare("SELECT 1 FROM assets WHERE asset = ? AND time_ms = ? AND idx = ?")),
      proximity_(db.prepare("SELECT distance_m FROM proximity WHERE peer = ? AND time_ms = ? AND idx = ?")),
      position_(db.prepare("SELECT t_s, lat, lon FROM positions WHERE idx = ?")),
      source_ref_(db.prepare("SELECT 1 FROM source_refs WHERE ref = ? AND idx = ?")) {}

std::string IndexChecker::expect(const LeafRow& row, const IndexFacts& facts) {
  auto present = [](sql::Statement& stmt) {
    bool found = stmt.step();
    stmt.reset();
    return found;
  };
  std::int64_t time_ms = row.time_ms.value_or(0);
  for (auto parent : facts.parents) {
    ++links_;
    if (!present(link_.bind(1, parent).bind(2, row.index)))
      return "the derivation link to record " + std::to_string(parent) + " is missing from the trace index";
  }
  if (facts.asset) {
    ++assets_;
    if (!present(asset_.bind(1, *facts.asset).bind(2, time_ms).bind(3, row.index)))
      return "asset " + *facts.asset + " is missing from the trace index";
  }
  if (facts.peer) {
    ++proximity_rows_;
    proximity_.bind(1, *facts.peer).bind(2, time_ms).bind(3, row.index);
    bool ok = proximity_.step() && proximity_.real(0) == facts.distance_m;
    proximity_.reset();
    if (!ok) return "the proximity report is missing or altered in the trace index";
  }
  if (facts.position) {
    ++positions_;
    position_.bind(1, row.index);
    bool ok = false;
    if (position_.step()) {
      auto t = index_seconds(time_ms);
      auto [lat, lon] = *facts.position;
      ok = position_.integer(0) == t && position_.integer(1) == lat && position_.integer(2) == lon;
    }
    position_.reset();
    if (!ok) return "the position is missing or altered in the trace index";
  }
  if (facts.source_ref) {
    ++source_refs_;
    if (!present(source_ref_.bind(1, *facts.source_ref).bind(2, row.index)))
      return "source_ref " + *facts.source_ref + " is missing from the trace index";
  }
  return "";
}

std::string IndexChecker::expect_without_values(const LeafRow& row, const std::vector<std::uint64_t>& parents) {
  ++without_values_;
  IndexFacts facts;
  facts.parents = parents;
  return expect(row, facts);
}

std::vector<std::string> IndexChecker::finish() {
  std::vector<std::string> problems;
  auto compare = [&](const char* table, std::uint64_t expected) {
    auto stored = static_cast<std::uint64_t>(count_rows(db_, table));
    if (stored != expected)
      problems.push_back(std::string("trace index table ") + table + " holds " + std::to_string(stored) +
                         " rows, but the log implies " + std::to_string(expected));
  };
  compare("links", links_);
  if (without_values_ > 0) return problems;  // unknown how many value rows those readings own
  compare("assets", assets_);
  compare("proximity", proximity_rows_);
  compare("positions", positions_);
  compare("source_refs", source_refs_);
  return problems;
}

}  // namespace medtrail::trace
