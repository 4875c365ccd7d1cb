// Policies and alerts as ledger records. A `policy` record carries a policy's canonical JSON
// and is signed by an authority; a `policy_retirement` record ends it; the policies added and
// not retired by the records before a block's end are the block's active rule set, and
// SHA-256(JCS([policy, ...])) in record order is the block's `policy_root` (with none, the
// empty set's SHA-256("[]")). An `alert` record is an audit finding signed by an auditor or
// authority, so an alert cannot later be denied or deleted unnoticed.
//
// The active set is derived from the leaves themselves (an index on policy leaves keeps that
// O(policies)), never kept in a table of its own that could disagree with the log.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "policy.hpp"

namespace medtrail {

struct PolicyRecord {
  std::uint64_t index = 0;
  Hash id{};
  std::string name;
  std::string signer;  // authority key id
  std::int64_t received_ms = 0;
  nlohmann::json policy;  // the canonical policy object as recorded
  std::optional<std::uint64_t> retired_index;
  std::string retired_reason;
  nlohmann::json to_json() const;  // {"id","index","name","signer","received","status",...}
};

// The policy state the log defines, replayed record by record in index order.
class PolicyLog {
 public:
  // Applies a policy or policy_retirement record (others are ignored). Returns what is wrong
  // with it (empty when nothing): a recorded policy that does not validate, a retirement of
  // something that is not an active policy.
  std::string apply(const LeafRow& row);
  std::vector<const PolicyRecord*> active() const;
  const std::map<std::uint64_t, PolicyRecord>& all() const { return records_; }
  // SHA-256(JCS(array of the active policy objects, in record order)).
  Hash root() const;

 private:
  std::map<std::uint64_t, PolicyRecord> records_;
  std::map<std::string, std::uint64_t> by_id_;  // hex id -> index
};

// The policy records among leaves [0, upto), replayed; O(policy records) reads.
PolicyLog load_policy_log(Ledger& ledger, std::uint64_t upto);
// The policy root a block sealing leaves [0, tree_size) commits to.
Hash active_policy_root(Ledger& ledger, std::uint64_t tree_size);

// Authority-signed `policy` record, inside its own write transaction.
LeafRow add_policy(Ledger& ledger, const SigningKey& authority, const policy::Policy& policy);
// Authority-signed `policy_retirement` of the policy record at `index`.
LeafRow retire_policy(Ledger& ledger, const SigningKey& authority, std::uint64_t index, const std::string& reason);
// Signed `alert` records, one per finding object, in one write transaction. The signer must
// be an active auditor or authority. A finding already recorded by an alert at leaf index
// `recorded_since` or later is skipped: an audit that appended its alerts and died before
// saving its state repeats its findings on the next run, and they must be recorded once.
// Returns the alerts appended.
std::vector<LeafRow> append_alerts(Ledger& ledger, const SigningKey& signer, const std::vector<nlohmann::json>& findings,
                                   std::uint64_t recorded_since);

}  // namespace medtrail
