#include "policy_log.hpp"

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "timefmt.hpp"

#include <set>

namespace medtrail {
namespace {

using nlohmann::json;

// Signs `row` (JCS of its envelope without "sig") and appends it.
void sign_and_append(Ledger::Appender& appender, const SigningKey& key, LeafRow& row) {
  row.gateway = key.identity().key_id();
  if (!row.extra.is_object()) row.extra = json::object();
  row.extra["sig"] = base64_encode(key.sign(signed_part_of(row)));
  appender.append(row);
}

}  // namespace

json PolicyRecord::to_json() const {
  json j = {{"id", to_hex(id)},
            {"index", index},
            {"name", name},
            {"signer", signer},
            {"received", format_rfc3339_ms(received_ms)},
            {"status", retired_index ? "retired" : "active"},
            {"sha256", to_hex(crypto::sha256(jcs::canonicalize(policy)))}};
  if (retired_index) j["retired_index"] = *retired_index;
  if (!retired_reason.empty()) j["retired_reason"] = retired_reason;
  return j;
}

std::string PolicyLog::apply(const LeafRow& row) {
  const json& extra = row.extra;
  if (row.kind == "policy") {
    PolicyRecord r;
    r.index = row.index;
    r.id = row.id;
    r.name = row.device.value_or("");
    r.signer = row.gateway.value_or("");
    r.received_ms = row.received_ms;
    r.policy = extra.is_object() ? extra.value("policy", json()) : json();
    std::string problem;
    try {
      auto parsed = policy::from_json(r.policy);
      if (parsed.name != r.name) problem = "the record's name differs from its policy's name";
    } catch (const Error& e) {
      problem = std::string("the recorded policy does not validate: ") + e.what();
    }
    by_id_[to_hex(row.id)] = row.index;
    records_[row.index] = std::move(r);
    return problem;
  }
  if (row.kind == "policy_retirement") {
    std::string target = extra.is_object() ? extra.value("policy_id", "") : "";
    auto it = by_id_.find(target);
    if (it == by_id_.end()) return "retires " + (target.empty() ? std::string("nothing") : target) + ", not an earlier policy record";
    PolicyRecord& r = records_.at(it->second);
    if (r.retired_index) return "retires policy " + r.name + " a second time";
    r.retired_index = row.index;
    r.retired_reason = extra.value("reason", "");
    return {};
  }
  return {};
}

std::vector<const PolicyRecord*> PolicyLog::active() const {
  std::vector<const PolicyRecord*> out;
  for (const auto& [index, r] : records_)
    if (!r.retired_index) out.push_back(&r);
  return out;
}

Hash PolicyLog::root() const {
  json set = json::array();
  for (const auto* r : active()) set.push_back(r->policy);
  try {
    return crypto::sha256(jcs::canonicalize(set));
  } catch (const Error&) {
    // A recorded policy that cannot be canonicalised commits to its raw text instead; verify
    // reports the record itself.
    return crypto::sha256(set.dump());
  }
}

PolicyLog load_policy_log(Ledger& ledger, std::uint64_t upto) {
  // The WHERE clause repeats the partial index's condition (leaves_policy) so SQLite uses it.
  std::string sql = std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE " + kPolicyKindsCondition +
                    " AND idx < ? ORDER BY idx";
  auto stmt = ledger.db().prepare(sql.c_str());
  stmt.bind(1, upto);
  PolicyLog log;
  while (stmt.step()) log.apply(read_leaf_row(stmt, 0));
  return log;
}

Hash active_policy_root(Ledger& ledger, std::uint64_t tree_size) { return load_policy_log(ledger, tree_size).root(); }

LeafRow add_policy(Ledger& ledger, const SigningKey& authority, const policy::Policy& p) {
  sql::WriteTransaction tx(ledger.db());
  ledger.require_active(authority.identity().key, {"authority"});
  auto log = load_policy_log(ledger, ledger.size());
  for (const auto* active : log.active())
    if (active->name == p.name)
      throw Error(ExitCode::usage, "policy " + p.name + " is already active (record " + to_hex(active->id).substr(0, 16) +
                                       "); retire it first, or give the new version another name");
  LeafRow row;
  row.kind = "policy";
  row.device = p.name;
  row.received_ms = now_unix_ms();
  row.extra = {{"policy", p.to_json()}};
  Ledger::Appender appender(ledger);
  sign_and_append(appender, authority, row);
  tx.commit();
  return row;
}

LeafRow retire_policy(Ledger& ledger, const SigningKey& authority, std::uint64_t index, const std::string& reason) {
  sql::WriteTransaction tx(ledger.db());
  ledger.require_active(authority.identity().key, {"authority"});
  auto log = load_policy_log(ledger, ledger.size());
  auto it = log.all().find(index);
  if (it == log.all().end()) throw Error(ExitCode::not_found, "record " + std::to_string(index) + " is not a policy record");
  if (it->second.retired_index)
    throw Error(ExitCode::usage, "policy " + it->second.name + " was already retired at record " +
                                     std::to_string(*it->second.retired_index));
  LeafRow row;
  row.kind = "policy_retirement";
  row.device = it->second.name;
  row.received_ms = now_unix_ms();
  row.extra = {{"policy_id", to_hex(it->second.id)}};
  if (!reason.empty()) row.extra["reason"] = reason;
  Ledger::Appender appender(ledger);
  sign_and_append(appender, authority, row);
  tx.commit();
  return row;
}

std::vector<LeafRow> append_alerts(Ledger& ledger, const SigningKey& signer, const std::vector<json>& findings,
                                   std::uint64_t recorded_since) {
  std::vector<LeafRow> out;
  if (findings.empty()) return out;
  sql::WriteTransaction tx(ledger.db());
  ledger.require_active(signer.identity().key, {"auditor", "authority"});
  // Inside the write transaction, so two audits racing cannot both record a finding.
  std::set<std::string> already;
  auto existing = ledger.db().prepare((std::string("SELECT extra FROM leaves WHERE idx >= ? AND ") + kIsAlert).c_str());
  existing.bind(1, recorded_since);
  while (existing.step()) {
    auto extra = json::parse(existing.text(0), nullptr, false);
    if (extra.is_object() && extra.contains("finding")) already.insert(jcs::canonicalize(extra["finding"]));
  }
  Ledger::Appender appender(ledger);
  std::int64_t now = now_unix_ms();
  for (const auto& f : findings) {
    if (!already.insert(jcs::canonicalize(f)).second) continue;
    LeafRow row;
    row.kind = "alert";
    row.device = f.value("rule", "");
    row.received_ms = now;
    row.extra = {{"finding", f}};
    sign_and_append(appender, signer, row);
    out.push_back(std::move(row));
  }
  tx.commit();
  return out;
}

}  // namespace medtrail
