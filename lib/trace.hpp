// Questions `trace` answers over the ledger, each backed by record indexes that `prove` can
// prove: the derivation graph around a record (lineage), the time-ordered records of a device,
// subject or asset (timelines), who was near a subject (contacts), and the chain of earlier
// positive cases behind a positive test (origin). Reads only; see trace_index.hpp for the
// indexes these use.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "keys.hpp"
#include "ledger.hpp"

namespace medtrail::trace {

// Block heights by leaf index, read once (blocks are few next to records).
class BlockMap {
 public:
  explicit BlockMap(Ledger& ledger);
  std::optional<std::uint64_t> height_of(std::uint64_t index) const;
  // Tree size of the latest signed checkpoint: records below it are included under it.
  std::uint64_t checkpoint_size() const { return tree_sizes_.empty() ? 0 : tree_sizes_.back(); }

 private:
  std::vector<std::uint64_t> tree_sizes_;  // by height
};

// ---- Lineage -------------------------------------------------------------------------------

struct LineageNode {
  LeafRow row;
  std::optional<std::uint64_t> block;
  bool included = false;       // under the latest signed checkpoint
  std::string gateway_name;    // enrolled name of the attesting gateway key, "" if unknown
  int distance = 0;            // derivation steps from the root: < 0 ancestors, > 0 descendants
};
struct LineageEdge {
  std::uint64_t child = 0;
  std::uint64_t parent = 0;
  bool operator<(const LineageEdge& o) const { return child != o.child ? child < o.child : parent < o.parent; }
};
struct LineageProblem {
  std::string kind;  // "dangling" (a link to no record) or "cycle"
  std::uint64_t index = 0;
  std::string detail;
};
struct LineageOptions {
  bool up = true;
  bool down = true;
  int depth = -1;  // < 0: unlimited
};
struct Lineage {
  std::uint64_t root = 0;
  std::map<std::uint64_t, LineageNode> nodes;
  std::vector<LineageEdge> edges;
  std::vector<LineageProblem> problems;
  bool truncated = false;  // the depth limit left links unexplored
};
Lineage lineage(Ledger& ledger, std::uint64_t root, const LineageOptions& options);

// ---- Timelines -----------------------------------------------------------------------------

struct TimeWindow {
  std::int64_t since_ms = std::numeric_limits<std::int64_t>::min();
  std::int64_t until_ms = std::numeric_limits<std::int64_t>::max();
};
struct TimelineQuery {
  enum class By { device, subject, asset } by = By::device;
  std::string name;  // device or asset
  Hash subject{};    // pseudonym
  TimeWindow window;
  std::optional<std::string> type;
};
struct TimelineEntry {
  LeafRow row;
  std::optional<nlohmann::json> reading;  // the clear reading, where this ledger holds it
  std::optional<std::uint64_t> block;
};
// Streams entries in time order; throws Error(not_found) when the device, subject or asset has
// no record at all.
std::uint64_t timeline(Ledger& ledger, const TimelineQuery& query, const std::function<void(const TimelineEntry&)>& emit);

// ---- Contacts ------------------------------------------------------------------------------

struct ContactOptions {
  TimeWindow window;
  double radius_m = 2.0;
  std::int64_t min_duration_ms = 15 * 60 * 1000;
  int hops = 1;
  // Two positions pair up when their times differ by at most this much.
  std::int64_t time_tolerance_ms = 30 * 1000;
  // Each contact sample counts for this long after it (one reporting interval); overlapping
  // samples count once, so a location and a proximity report of the same minute are not doubled.
  std::int64_t sample_span_ms = 60 * 1000;
  // Pairwise scan of every position in the window instead of the grid index: a cross-check and
  // the benchmark baseline, O(n^2).
  bool scan = false;
};
struct Contact {
  Hash subject{};
  int hop = 0;
  Hash via{};  // the subject this one was exposed to (the index subject at hop 1)
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::int64_t exposure_ms = 0;
  double closest_m = 0;
  std::vector<std::uint64_t> evidence;  // record indexes, ascending
};
// Throws Error(not_found) when the subject has no record in the ledger.
std::vector<Contact> contacts(Ledger& ledger, const Hash& subject, const ContactOptions& options);

struct OriginStep {
  Hash subject{};
  std::uint64_t test_index = 0;  // the positive pcr_test record
  std::int64_t test_ms = 0;
  std::optional<Contact> contact;  // exposure to the previous step's subject (none at step 0)
};
// From the subject's first positive test in the window back through contacts with earlier
// positive tests to the earliest case. Throws Error(not_found) without a positive test.
std::vector<OriginStep> origin(Ledger& ledger, const Hash& subject, const ContactOptions& options);

// The clear identifier behind a pseudonym, read from one of its readings and accepted only if
// the data key maps it back to the same pseudonym.
std::optional<std::string> reveal_subject(Ledger& ledger, const DataKey& data_key, const Hash& pseudonym);

// Haversine distance in metres (mean Earth radius).
double distance_m(double lat1, double lon1, double lat2, double lon2);

}  // namespace medtrail::trace
