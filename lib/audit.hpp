// Audit: the rules of the active policies (or of a policy file, as a dry run) evaluated over
// the reading records of a time window, streaming over the leaves in index order with state
// bounded by the number of devices, assets and open contacts, never by the number of records.
//
// Each finding is reported once, as soon as the records establish it (a sustained threshold
// when it has lasted `for`, a geofence breach at the first reading outside, ...), so an
// incremental audit split over several runs reports the same findings as one audit over the
// whole ledger. The evaluators' open episodes are part of the saved state for that reason.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "policy.hpp"
#include "verify.hpp"

namespace medtrail::audit {

struct Finding {
  std::string policy;  // policy name
  std::string rule;
  std::string kind;    // the rule kind, or "integrity"
  policy::Severity severity = policy::Severity::warning;
  std::string subject;  // pseudonym (hex), when the records carry one
  std::string device, peer, asset;
  std::optional<std::int64_t> start_ms, end_ms;
  std::string message;
  std::string check;  // integrity findings: verify's check name
  std::vector<std::string> evidence;  // record ids (at most kMaxEvidence, the first ones)
  std::uint64_t records = 0;          // how many records the finding rests on
  nlohmann::json to_json() const;
};

inline constexpr std::size_t kMaxEvidence = 16;
// Close readings of a pair that follow each other within this belong to one contact.
inline constexpr std::int64_t kContactMergeMs = 5 * 60 * 1000;

struct Options {
  std::optional<std::int64_t> since_ms, until_ms;  // reading time window [since, until)
  std::uint64_t from_index = 0;                    // first leaf to audit
  std::optional<std::uint64_t> to_index;           // one past the last (default: all leaves)
  nlohmann::json evaluator_state;                  // from a previous run (audit --state), or null
  std::optional<PublicIdentity> trusted;           // for the integrity rule
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct Result {
  std::uint64_t records = 0;   // leaves read
  std::uint64_t readings = 0;  // readings in the window that some rule looked at
  std::uint64_t findings = 0;
  std::uint64_t next_index = 0;
  std::optional<policy::Severity> worst;
  nlohmann::json evaluator_state;  // to save for the next run
};

using FindingSink = std::function<void(const Finding&)>;

// A policy with the part of the log it judges. A reading is judged by the rules in force when
// it was sealed: those of the policies active at the end of the block that seals it, which is
// exactly the set that block's policy_root commits to (a reading not sealed yet: the policies
// active at the end of the log). So a policy added at record a and retired at record r judges
// the readings of the blocks whose tree size T has a < T <= r.
struct ScheduledPolicy {
  policy::Policy policy;
  std::string record;                          // hex id of the policy record; empty: a file (always in force)
  std::optional<std::uint64_t> added_index;    // leaf index of the policy record
  std::optional<std::uint64_t> retired_index;  // leaf index of its retirement
  bool in_force(std::uint64_t block_end) const;  // active in the set of leaves [0, block_end)
};

// Evaluates the policies over the leaves [from_index, to_index) inside one read snapshot, each
// reading by the policies in force for its block. Integrity rules are those of the policies in
// force at the end of the range (a tamper check is about the ledger as it is now).
Result run(Ledger& ledger, const std::vector<ScheduledPolicy>& policies, const Options& options, const FindingSink& sink);
// The same, with every policy in force over the whole range (audit --policy FILE).
Result run(Ledger& ledger, const std::vector<policy::Policy>& policies, const Options& options, const FindingSink& sink);

// The policies active at the end of the log, as recorded on the ledger.
std::vector<policy::Policy> active_policies(Ledger& ledger);
// Every policy recorded among leaves [0, upto), active or retired, with when, in record order.
std::vector<ScheduledPolicy> recorded_policies(Ledger& ledger, std::uint64_t upto);

// Incremental audits (--state FILE): the position and open episodes of the last run, and the
// checkpoint it saw, so the next run can prove the history it audited was not rewritten.
struct State {
  std::string origin;
  std::uint64_t next_index = 0;
  std::string checkpoint;  // signed note of the newest block the last run audited up to
  nlohmann::json evaluators;
  nlohmann::json to_json() const;
  static State from_json(const nlohmann::json& j, const std::string& path);  // Error(usage) if malformed
};
std::optional<State> load_state(const std::string& path);  // nullopt when the file does not exist
void save_state(const std::string& path, const State& state);  // write temp + rename

}  // namespace medtrail::audit
