#include "trace.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "encoding.hpp"
#include "error.hpp"
#include "trace_index.hpp"

namespace medtrail::trace {
namespace {

using nlohmann::json;

constexpr double kEarthRadiusM = 6371008.8;
constexpr double kPi = 3.14159265358979323846;
constexpr double kMetresPerDegree = kEarthRadiusM * kPi / 180.0;

std::optional<Hash> hash_of_blob(std::span<const std::uint8_t> blob) {
  if (blob.size() != 32) return std::nullopt;
  Hash h;
  std::copy(blob.begin(), blob.end(), h.begin());
  return h;
}

}  // namespace

double distance_m(double lat1, double lon1, double lat2, double lon2) {
  auto rad = [](double deg) { return deg * kPi / 180.0; };
  double dlat = rad(lat2 - lat1), dlon = rad(lon2 - lon1);
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(rad(lat1)) * std::cos(rad(lat2)) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(a)));
}

BlockMap::BlockMap(Ledger& ledger) {
  auto stmt = ledger.db().prepare("SELECT json_extract(header, '$.tree_size') FROM blocks ORDER BY height");
  while (stmt.step()) tree_sizes_.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
}

std::optional<std::uint64_t> BlockMap::height_of(std::uint64_t index) const {
  auto it = std::upper_bound(tree_sizes_.begin(), tree_sizes_.end(), index);
  if (it == tree_sizes_.end()) return std::nullopt;
  return static_cast<std::uint64_t>(it - tree_sizes_.begin());
}

// ---- Lineage -------------------------------------------------------------------------------

Lineage lineage(Ledger& ledger, std::uint64_t root, const LineageOptions& options) {
  Lineage out;
  out.root = root;
  BlockMap blocks(ledger);
  std::map<std::string, std::string> gateway_names;
  for (const auto& id : ledger.identities())
    if (auto key_id = id.key_id()) gateway_names[*key_id] = id.name;
  auto id_lookup = ledger.db().prepare(kRecordIdLookup);
  auto children = ledger.db().prepare("SELECT child FROM links WHERE parent = ? ORDER BY child");
  std::set<LineageEdge> edges;

  auto add_node = [&](std::uint64_t index, int distance) -> bool {
    if (out.nodes.count(index)) return false;
    LineageNode node;
    node.row = ledger.leaf(index);
    node.block = blocks.height_of(index);
    node.included = index < blocks.checkpoint_size();
    node.gateway_name = gateway_names[node.row.gateway.value_or("")];
    node.distance = distance;
    out.nodes.emplace(index, std::move(node));
    return true;
  };
  auto parents_of = [&](std::uint64_t index) {
    std::vector<std::string> missing;
    auto parents = linked_parents(id_lookup, out.nodes.at(index).row, &missing);
    for (const auto& link : missing)
      out.problems.push_back({"dangling", index, "derived_from names " + link + ", which is not in the ledger"});
    return parents;
  };
  auto children_of = [&](std::uint64_t index) {
    std::vector<std::uint64_t> found;
    children.bind(1, index);
    while (children.step()) found.push_back(static_cast<std::uint64_t>(children.integer(0)));
    children.reset();
    return found;
  };

  add_node(root, 0);
  // Breadth-first each way; a node already seen is linked but never expanded again, so a cycle
  // in tampered data terminates (and is reported below).
  auto walk = [&](bool up) {
    std::deque<std::pair<std::uint64_t, int>> queue{{root, 0}};
    std::set<std::uint64_t> expanded;
    while (!queue.empty()) {
      auto [index, depth] = queue.front();
      queue.pop_front();
      if (!expanded.insert(index).second) continue;
      auto next = up ? parents_of(index) : children_of(index);
      if (options.depth >= 0 && depth >= options.depth) {
        if (!next.empty()) out.truncated = true;
        continue;
      }
      for (auto other : next) {
        edges.insert(up ? LineageEdge{index, other} : LineageEdge{other, index});
        add_node(other, up ? -(depth + 1) : depth + 1);
        queue.emplace_back(other, depth + 1);
      }
    }
  };
  if (options.up) walk(true);
  if (options.down) walk(false);
  out.edges.assign(edges.begin(), edges.end());

  // Cycle check over the collected edges (child -> parent): a back edge in a depth-first search.
  std::map<std::uint64_t, std::vector<std::uint64_t>> graph;
  for (const auto& e : out.edges) graph[e.child].push_back(e.parent);
  std::map<std::uint64_t, int> colour;  // 0 new, 1 on the stack, 2 done
  for (const auto& [start, node] : out.nodes) {
    if (colour[start]) continue;
    std::vector<std::pair<std::uint64_t, std::size_t>> stack{{start, 0}};
    colour[start] = 1;
    while (!stack.empty()) {
      auto& [index, next_edge] = stack.back();
      auto& targets = graph[index];
      if (next_edge == targets.size()) {
        colour[index] = 2;
        stack.pop_back();
        continue;
      }
      auto target = targets[next_edge++];
      if (colour[target] == 1) {
        std::string path;
        for (auto it = std::find_if(stack.begin(), stack.end(), [&](const auto& s) { return s.first == target; });
             it != stack.end(); ++it)
          path += to_hex(out.nodes.at(it->first).row.id).substr(0, 12) + " -> ";
        out.problems.push_back({"cycle", index, "derivation cycle: " + path + to_hex(out.nodes.at(target).row.id).substr(0, 12)});
      } else if (colour[target] == 0) {
        colour[target] = 1;
        stack.emplace_back(target, 0);
      }
    }
  }
  return out;
}

// ---- Timelines -----------------------------------------------------------------------------

std::uint64_t timeline(Ledger& ledger, const TimelineQuery& q, const std::function<void(const TimelineEntry&)>& emit) {
  auto& db = ledger.db();
  std::string type_filter = q.type ? std::string(" AND type_ref = ") + kLabelRefOfParam : "";
  std::string exists_sql, select;
  switch (q.by) {
    case TimelineQuery::By::device:
      exists_sql = std::string("SELECT 1 FROM leaves WHERE device_ref = ") + kLabelRefOfParam + " AND " + kIsReading +
                   " LIMIT 1";
      select =
          std::string("WHERE device_ref = ") + kLabelRefOfParam + " AND " + kIsReading + " AND time_ms BETWEEN ? AND ?";
      break;
    case TimelineQuery::By::subject:
      exists_sql = std::string("SELECT 1 FROM leaves WHERE subject_ref = ") + kSubjectRefOfParam + " LIMIT 1";
      select = std::string("WHERE subject_ref = ") + kSubjectRefOfParam + " AND time_ms BETWEEN ? AND ?";
      break;
    case TimelineQuery::By::asset:
      exists_sql = "SELECT 1 FROM assets WHERE asset = ? LIMIT 1";
      select = "WHERE idx IN (SELECT idx FROM assets WHERE asset = ? AND time_ms BETWEEN ? AND ?)";
      break;
  }
  auto bind_key = [&](sql::Statement& stmt) {
    if (q.by == TimelineQuery::By::subject) stmt.bind_blob(1, q.subject);
    else stmt.bind(1, q.name);
  };
  auto exists = db.prepare(exists_sql.c_str());
  bind_key(exists);
  if (!exists.step()) {
    const char* what = q.by == TimelineQuery::By::device ? "device " : "asset ";
    throw Error(ExitCode::not_found, q.by == TimelineQuery::By::subject
                                         ? std::string("no record of that subject in this ledger")
                                         : std::string("no reading of ") + what + q.name + " in this ledger");
  }
  auto stmt = db.prepare((std::string("SELECT ") + kLeafColumns + " FROM leaves " + select + type_filter +
                          " ORDER BY time_ms, idx").c_str());
  bind_key(stmt);
  stmt.bind(2, q.window.since_ms).bind(3, q.window.until_ms);
  if (q.type) stmt.bind(4, *q.type);
  auto payload = db.prepare(kReadingAtIndex);
  BlockMap blocks(ledger);
  std::uint64_t count = 0;
  while (stmt.step()) {
    TimelineEntry entry;
    entry.row = read_leaf_row(stmt, 0);
    payload.bind(1, entry.row.index);
    if (payload.step()) {
      json reading = json::parse(payload.text(0), nullptr, false);
      if (!reading.is_discarded()) entry.reading = std::move(reading);
    }
    payload.reset();
    entry.block = blocks.height_of(entry.row.index);
    emit(entry);
    ++count;
  }
  return count;
}

// ---- Contacts ------------------------------------------------------------------------------

namespace {

// One moment at which the subject and another were within the radius, with its evidence.
struct Sample {
  Hash other{};
  std::int64_t time_ms = 0;
  double distance_m = 0;
  std::vector<std::uint64_t> evidence;
};

struct Point {
  std::uint64_t index;
  std::int64_t time_ms;
  Hash subject;
  std::int32_t lat, lon;  // microdegrees
};

double point_distance(const Point& a, const Point& b) {
  return distance_m(a.lat / 1e6, a.lon / 1e6, b.lat / 1e6, b.lon / 1e6);
}

class ContactFinder {
 public:
  ContactFinder(Ledger& ledger, const ContactOptions& options)
      : ledger_(ledger),
        options_(options),
        // Index-only (leaves_subject_time covers these columns): one pass over the subject.
        subject_rows_(ledger.db().prepare(
            (std::string("SELECT idx, time_ms, type_ref, device_ref FROM leaves WHERE subject_ref = ") +
             kSubjectRefOfParam + " AND time_ms BETWEEN ? AND ? ORDER BY time_ms, idx")
                .c_str())),
        label_of_(ledger.db().prepare("SELECT text FROM labels WHERE ref = ?")),
        position_of_(ledger.db().prepare("SELECT lat, lon FROM positions WHERE idx = ?")),
        payload_of_(ledger.db().prepare(kReadingAtIndex)),
        // One grid cell (minute, latitude band) and a longitude range: a range read of the
        // covering index positions_grid; the expressions must be the index's own.
        near_(ledger.db().prepare(
            "SELECT idx, t_s, lat, lon FROM positions WHERE t_s / 60 = ? AND lat >> 7 = ? AND lon BETWEEN ? AND ?")),
        leaf_(ledger.db().prepare(
            (std::string("SELECT time_ms, ") + kSubjectOfLeaf + " FROM leaves WHERE idx = ?").c_str())),
        reports_naming_(ledger.db().prepare((std::string("SELECT x.idx, x.time_ms, x.distance_m, ") + kSubjectOfLeaf +
                                             ", " + kDeviceOfLeaf +
                                             " FROM proximity x CROSS JOIN leaves l ON l.idx = x.idx "
                                             "WHERE x.peer = ? AND x.time_ms BETWEEN ? AND ?")
                                                .c_str())),
        wearer_before_(ledger.db().prepare((std::string("SELECT ") + kSubjectOfLeaf +
                                            ", idx FROM leaves WHERE device_ref = " + kLabelRefOfParam +
                                            " AND time_ms <= ? AND subject_ref IS NOT NULL "
                                            "ORDER BY time_ms DESC LIMIT 1")
                                               .c_str())),
        wearer_after_(ledger.db().prepare((std::string("SELECT ") + kSubjectOfLeaf +
                                           ", idx FROM leaves WHERE device_ref = " + kLabelRefOfParam +
                                           " AND time_ms > ? AND subject_ref IS NOT NULL "
                                           "ORDER BY time_ms LIMIT 1")
                                              .c_str())) {}

  // Contacts of `subject` within the window, before the minimum-duration filter is applied.
  std::map<Hash, Contact> contacts_of(const Hash& subject, const TimeWindow& window) {
    std::vector<Sample> samples;
    auto records = subject_records(subject, window);
    if (options_.scan) scan_positions(subject, window, samples);
    else indexed_positions(subject, records.positions, window, samples);
    proximity_reports(subject, records, window, samples);
    return aggregate(samples);
  }

 private:
  // What contact search needs of the subject's own records in the window.
  struct SubjectRecords {
    std::vector<Point> positions;
    std::vector<std::pair<std::uint64_t, std::int64_t>> proximity_reports;  // index, time
    std::set<std::string> devices;
  };

  // The text of the labels ref in `column` of `row` ("" for NULL or a ref that names no label);
  // a subject's readings name few devices and types, each looked up once.
  const std::string& label(sql::Statement& row, int column) {
    static const std::string none;
    if (!row.is_integer(column)) return none;
    auto ref = row.integer(column);
    auto it = labels_.find(ref);
    if (it == labels_.end()) {
      label_of_.bind(1, ref);
      it = labels_.emplace(ref, label_of_.step() ? label_of_.text(0) : std::string()).first;
      label_of_.reset();
    }
    return it->second;
  }

  SubjectRecords subject_records(const Hash& subject, const TimeWindow& window) {
    SubjectRecords out;
    subject_rows_.bind_blob(1, subject).bind(2, window.since_ms).bind(3, window.until_ms);
    while (subject_rows_.step()) {
      auto index = static_cast<std::uint64_t>(subject_rows_.integer(0));
      auto time_ms = subject_rows_.integer(1);
      const std::string& type = label(subject_rows_, 2);
      out.devices.insert(label(subject_rows_, 3));
      if (type == "proximity") out.proximity_reports.emplace_back(index, time_ms);
      if (type != "location" || options_.scan) continue;
      position_of_.bind(1, index);
      if (position_of_.step())
        out.positions.push_back({index, time_ms, subject, static_cast<std::int32_t>(position_of_.integer(0)),
                                 static_cast<std::int32_t>(position_of_.integer(1))});
      position_of_.reset();
    }
    subject_rows_.reset();
    return out;
  }

  void indexed_positions(const Hash& subject, const std::vector<Point>& mine, const TimeWindow& window,
                         std::vector<Sample>& out) {
    // Each of the subject's points touches the grid cells (minute x latitude band) that its time
    // tolerance and radius reach. Points sharing a cell share one range read of the index over
    // the longitudes they need: about one short read per minute of the subject's history.
    // Hits are filtered on the index's own columns; only real contacts cost a leaf lookup.
    const auto lat_margin = static_cast<std::int64_t>(std::ceil(options_.radius_m / kMetresPerDegree * 1e6)) + 1;
    const auto tolerance_s = options_.time_tolerance_ms / 1000 + 1;
    struct Cell {
      std::int64_t lon_lo = std::numeric_limits<std::int64_t>::max(), lon_hi = std::numeric_limits<std::int64_t>::min();
      std::vector<std::size_t> points;  // into `mine`
    };
    std::map<std::pair<std::int64_t, std::int64_t>, Cell> cells;  // (slot, band), in index order
    std::unordered_set<std::uint64_t> own;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const auto& p = mine[i];
      own.insert(p.index);
      double cos_lat = std::max(std::cos(std::abs(p.lat / 1e6) * kPi / 180.0), 1e-6);
      auto lon_margin = std::min<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(lat_margin) / cos_lat) + 1, 360000000);
      const std::int64_t t = index_seconds(p.time_ms);
      for (auto slot = grid_slot(t - tolerance_s); slot <= grid_slot(t + tolerance_s); ++slot)
        for (auto band = grid_band(p.lat - lat_margin); band <= grid_band(p.lat + lat_margin); ++band) {
          auto& cell = cells[{slot, band}];
          cell.lon_lo = std::min(cell.lon_lo, p.lon - lon_margin);
          cell.lon_hi = std::max(cell.lon_hi, p.lon + lon_margin);
          cell.points.push_back(i);
        }
    }
    for (const auto& [key, cell] : cells) {
      near_.bind(1, key.first).bind(2, key.second).bind(3, cell.lon_lo).bind(4, cell.lon_hi);
      while (near_.step()) {
        auto hit_index = static_cast<std::uint64_t>(near_.integer(0));
        if (own.count(hit_index)) continue;
        const std::int64_t hit_s = near_.integer(1);
        Point q{hit_index, 0, {}, static_cast<std::int32_t>(near_.integer(2)), static_cast<std::int32_t>(near_.integer(3))};
        std::optional<Hash> other_subject;
        for (auto i : cell.points) {
          const auto& p = mine[i];
          if (std::llabs(hit_s - index_seconds(p.time_ms)) > tolerance_s || point_distance(p, q) > options_.radius_m) continue;
          if (!other_subject) {
            leaf_.bind(1, hit_index);
            if (leaf_.step()) {
              q.time_ms = leaf_.integer(0);
              other_subject = hash_of_blob(leaf_.blob(1));
            }
            leaf_.reset();
            if (!other_subject || *other_subject == subject) break;
            q.subject = *other_subject;
          }
          consider(p, q, window, out);
        }
      }
      near_.reset();
    }
  }

  // The baseline: every position in the window from the payloads, compared pairwise.
  void scan_positions(const Hash& subject, const TimeWindow& window, std::vector<Sample>& out) {
    if (!all_points_) {
      all_points_.emplace();
      auto stmt = ledger_.db().prepare(
          (std::string("SELECT l.idx, l.time_ms, ") + kSubjectOfLeaf + ", " + kReadingOfPayload +
           " FROM leaves l JOIN payloads p ON p.idx = l.idx "
           "WHERE l.type_ref = (SELECT ref FROM labels WHERE text = 'location') AND l.subject_ref IS NOT NULL "
           "AND l.time_ms BETWEEN ? AND ?")
              .c_str());
      stmt.bind(1, options_.window.since_ms).bind(2, options_.window.until_ms);
      while (stmt.step()) {
        auto who = hash_of_blob(stmt.blob(2));
        json reading = json::parse(stmt.text(3), nullptr, false);
        if (!who || !reading.is_object() || !reading.contains("lat") || !reading.contains("lon")) continue;
        all_points_->push_back({static_cast<std::uint64_t>(stmt.integer(0)), stmt.integer(1), *who,
                                microdegrees(reading["lat"].get<double>()), microdegrees(reading["lon"].get<double>())});
      }
    }
    for (const auto& p : *all_points_) {
      if (p.subject != subject || p.time_ms < window.since_ms || p.time_ms > window.until_ms) continue;
      for (const auto& q : *all_points_)
        if (q.subject != subject) consider(p, q, window, out);
    }
  }

  void consider(const Point& mine, const Point& other, const TimeWindow& window, std::vector<Sample>& out) {
    if (other.time_ms < window.since_ms || other.time_ms > window.until_ms) return;
    if (std::llabs(other.time_ms - mine.time_ms) > options_.time_tolerance_ms) return;
    double d = point_distance(mine, other);
    if (d > options_.radius_m) return;
    out.push_back({other.subject, std::min(mine.time_ms, other.time_ms), d, {mine.index, other.index}});
  }

  // Who wore `device` at `time_ms`: the subject of its nearest reading, preferring earlier ones.
  std::optional<std::pair<Hash, std::uint64_t>> wearer(const std::string& device, std::int64_t time_ms) {
    for (auto* stmt : {&wearer_before_, &wearer_after_}) {
      stmt->bind(1, device).bind(2, time_ms);
      std::optional<std::pair<Hash, std::uint64_t>> found;
      if (stmt->step())
        if (auto h = hash_of_blob(stmt->blob(0))) found = std::pair(*h, static_cast<std::uint64_t>(stmt->integer(1)));
      stmt->reset();
      if (found) return found;
    }
    return std::nullopt;
  }

  void proximity_reports(const Hash& subject, const SubjectRecords& records, const TimeWindow& window,
                         std::vector<Sample>& out) {
    // Reports by the subject's own wristband, naming a peer device.
    for (auto [index, t] : records.proximity_reports) {
      payload_of_.bind(1, index);
      json reading = payload_of_.step() ? json::parse(payload_of_.text(0), nullptr, false) : json();
      payload_of_.reset();
      if (!reading.is_object() || !reading.contains("peer") || !reading.contains("distance_m")) continue;
      double d = reading["distance_m"].get<double>();
      if (d > options_.radius_m) continue;
      auto other = wearer(reading["peer"].get<std::string>(), t);
      if (!other || other->first == subject) continue;
      out.push_back({other->first, t, d, {index, other->second}});
    }
    // Reports by other wristbands naming one of the subject's devices while the subject wore it.
    for (const auto& device : records.devices) {
      reports_naming_.bind(1, device).bind(2, window.since_ms).bind(3, window.until_ms);
      while (reports_naming_.step()) {
        double d = reports_naming_.real(2);
        if (d > options_.radius_m) continue;
        auto index = static_cast<std::uint64_t>(reports_naming_.integer(0));
        auto t = reports_naming_.integer(1);
        std::optional<std::pair<Hash, std::uint64_t>> reporter;
        if (auto h = hash_of_blob(reports_naming_.blob(3))) reporter = std::pair(*h, index);
        else reporter = wearer(reports_naming_.text(4), t);
        auto me = wearer(device, t);
        if (!reporter || !me || me->first != subject || reporter->first == subject) continue;
        out.push_back({reporter->first, t, d, {index, me->second, reporter->second}});
      }
      reports_naming_.reset();
    }
  }

  std::map<Hash, Contact> aggregate(std::vector<Sample>& samples) {
    std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
      return a.other != b.other ? a.other < b.other : a.time_ms < b.time_ms;
    });
    std::map<Hash, Contact> out;
    std::int64_t covered_until = std::numeric_limits<std::int64_t>::min();
    for (const auto& s : samples) {
      auto [it, fresh] = out.try_emplace(s.other);
      Contact& c = it->second;
      if (fresh) {
        c.subject = s.other;
        c.first_ms = s.time_ms;
        c.closest_m = s.distance_m;
        covered_until = std::numeric_limits<std::int64_t>::min();
      }
      c.last_ms = s.time_ms;
      c.closest_m = std::min(c.closest_m, s.distance_m);
      // Union of [t, t + span): only the part not yet covered adds exposure.
      std::int64_t end = s.time_ms + options_.sample_span_ms;
      c.exposure_ms += end - std::max(s.time_ms, std::min(covered_until, end));
      covered_until = std::max(covered_until, end);
      c.evidence.insert(c.evidence.end(), s.evidence.begin(), s.evidence.end());
    }
    for (auto& [who, c] : out) {
      std::sort(c.evidence.begin(), c.evidence.end());
      c.evidence.erase(std::unique(c.evidence.begin(), c.evidence.end()), c.evidence.end());
    }
    return out;
  }

  Ledger& ledger_;
  const ContactOptions& options_;
  sql::Statement subject_rows_, label_of_, position_of_, payload_of_, near_, leaf_, reports_naming_, wearer_before_,
      wearer_after_;
  std::unordered_map<std::int64_t, std::string> labels_;
  std::optional<std::vector<Point>> all_points_;
};

void require_known_subject(Ledger& ledger, const Hash& subject) {
  auto stmt = ledger.db().prepare(
      (std::string("SELECT 1 FROM leaves WHERE subject_ref = ") + kSubjectRefOfParam + " LIMIT 1").c_str());
  stmt.bind_blob(1, subject);
  if (!stmt.step()) throw Error(ExitCode::not_found, "no record of that subject in this ledger");
}

std::vector<Contact> qualifying(std::map<Hash, Contact> found, const ContactOptions& options) {
  std::vector<Contact> out;
  for (auto& [who, c] : found)
    if (c.exposure_ms >= options.min_duration_ms) out.push_back(std::move(c));
  return out;
}

// A subject's positive pcr_test records in a window, oldest first.
std::vector<std::pair<std::uint64_t, std::int64_t>> positive_tests(Ledger& ledger, const Hash& subject,
                                                                   const TimeWindow& window) {
  auto stmt = ledger.db().prepare(
      (std::string("SELECT l.idx, l.time_ms, ") + kReadingOfPayload +
       " FROM leaves l JOIN payloads p ON p.idx = l.idx WHERE l.subject_ref = " + kSubjectRefOfParam +
       " AND l.time_ms BETWEEN ? AND ? AND l.type_ref = (SELECT ref FROM labels WHERE text = 'pcr_test') "
       "ORDER BY l.time_ms, l.idx")
          .c_str());
  stmt.bind_blob(1, subject).bind(2, window.since_ms).bind(3, window.until_ms);
  std::vector<std::pair<std::uint64_t, std::int64_t>> out;
  while (stmt.step()) {
    json reading = json::parse(stmt.text(2), nullptr, false);
    if (reading.is_object() && reading.value("result", "") == "positive")
      out.emplace_back(static_cast<std::uint64_t>(stmt.integer(0)), stmt.integer(1));
  }
  return out;
}

}  // namespace

std::vector<Contact> contacts(Ledger& ledger, const Hash& subject, const ContactOptions& options) {
  require_known_subject(ledger, subject);
  ContactFinder finder(ledger, options);
  std::vector<Contact> out;
  std::set<Hash> seen{subject};
  std::vector<Hash> frontier{subject};
  for (int hop = 1; hop <= options.hops && !frontier.empty(); ++hop) {
    std::vector<Hash> next;
    for (const auto& from : frontier) {
      for (auto& c : qualifying(finder.contacts_of(from, options.window), options)) {
        if (!seen.insert(c.subject).second) continue;
        c.hop = hop;
        c.via = from;
        next.push_back(c.subject);
        out.push_back(std::move(c));
      }
    }
    std::sort(next.begin(), next.end());
    frontier = std::move(next);
  }
  std::stable_sort(out.begin(), out.end(), [](const Contact& a, const Contact& b) {
    return a.hop != b.hop ? a.hop < b.hop : a.first_ms != b.first_ms ? a.first_ms < b.first_ms : a.subject < b.subject;
  });
  return out;
}

std::vector<OriginStep> origin(Ledger& ledger, const Hash& subject, const ContactOptions& options) {
  require_known_subject(ledger, subject);
  auto tests = positive_tests(ledger, subject, options.window);
  if (tests.empty()) throw Error(ExitCode::not_found, "that subject has no positive pcr_test in the window");
  std::vector<OriginStep> chain{{subject, tests.front().first, tests.front().second, std::nullopt}};
  std::set<Hash> in_chain{subject};
  ContactFinder finder(ledger, options);
  for (;;) {
    const OriginStep& current = chain.back();
    // Exposure that could have infected the current case happened before its test.
    TimeWindow before{options.window.since_ms, current.test_ms};
    std::optional<OriginStep> earliest;
    for (auto& c : qualifying(finder.contacts_of(current.subject, before), options)) {
      if (in_chain.count(c.subject)) continue;
      auto their_tests = positive_tests(ledger, c.subject, {options.window.since_ms, current.test_ms - 1});
      if (their_tests.empty()) continue;
      auto [test_index, test_ms] = their_tests.front();
      if (!earliest || test_ms < earliest->test_ms) {
        c.hop = static_cast<int>(chain.size());
        c.via = current.subject;
        earliest = OriginStep{c.subject, test_index, test_ms, std::move(c)};
      }
    }
    if (!earliest) break;
    in_chain.insert(earliest->subject);
    chain.push_back(std::move(*earliest));
  }
  return chain;
}

std::optional<std::string> reveal_subject(Ledger& ledger, const DataKey& data_key, const Hash& pseudonym) {
  auto stmt = ledger.db().prepare(
      (std::string("SELECT ") + kReadingOfPayload +
       " FROM leaves l JOIN payloads p ON p.idx = l.idx WHERE l.subject_ref = " + kSubjectRefOfParam + " LIMIT 16")
          .c_str());
  stmt.bind_blob(1, pseudonym);
  while (stmt.step()) {
    json reading = json::parse(stmt.text(0), nullptr, false);
    if (!reading.is_object() || !reading.contains("subject") || !reading["subject"].is_string()) continue;
    auto clear = reading["subject"].get<std::string>();
    if (data_key.pseudonym(clear) == pseudonym) return clear;
  }
  return std::nullopt;
}

}  // namespace medtrail::trace
