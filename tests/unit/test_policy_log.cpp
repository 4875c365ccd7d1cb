#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "crypto.hpp"
#include "error.hpp"
#include "policy_log.hpp"
#include "verify.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {
struct PolicyFixture {
  std::filesystem::path dir;
  SigningKey authority = SigningKey::generate("hospital", "authority");
  SigningKey auditor = SigningKey::generate("aud-1", "auditor");
  DataKey data_key = DataKey::generate();
  std::optional<Ledger> ledger;

  PolicyFixture() {
    char tmpl[] = "/tmp/medtrail-policy.XXXXXX";
    dir = ::mkdtemp(tmpl);
    ledger.emplace(Ledger::create((dir / "l.db").string(), authority, "test.example/log", data_key, {}));
    ledger->enroll(authority, {{"aud-1", "auditor", auditor.identity().key, "", std::nullopt}});
  }
  ~PolicyFixture() { std::filesystem::remove_all(dir); }
  std::string root_of(const Block& b) const { return b.header.at("policy_root").get<std::string>(); }
  std::uint64_t verify_findings() {
    std::uint64_t n = 0;
    verify_ledger(*ledger, {}, [&](const Finding& f) {
      ++n;
      UNSCOPED_INFO(f.to_json().dump());
    });
    return n;
  }
};

const char* kPolicy = "name: p1\nrules:\n  - {name: replay, kind: gap, severity: critical}\n";
}  // namespace

TEST_CASE("policy_log: no policy is the empty rule set") {
  PolicyFixture fx;
  CHECK(active_policy_root(*fx.ledger, fx.ledger->size()) == empty_policy_root());
  CHECK(fx.root_of(*fx.ledger->latest_block()) == to_hex(empty_policy_root()));
}

TEST_CASE("policy_log: blocks commit to the policies active at their end") {
  PolicyFixture fx;
  auto p = policy::parse_yaml(kPolicy, "p.yaml");
  auto before = *fx.ledger->anchor(fx.authority, 0, false);
  auto row = add_policy(*fx.ledger, fx.authority, p);
  CHECK(row.kind == "policy");
  auto with = *fx.ledger->anchor(fx.authority, 0, false);
  CHECK(fx.root_of(before) == to_hex(empty_policy_root()));
  CHECK(fx.root_of(with) == to_hex(crypto::sha256("[" + p.canonical() + "]")));
  // Same name twice is refused; retiring twice is refused.
  CHECK_THROWS_AS(add_policy(*fx.ledger, fx.authority, p), Error);
  retire_policy(*fx.ledger, fx.authority, row.index, "done");
  CHECK_THROWS_AS(retire_policy(*fx.ledger, fx.authority, row.index, ""), Error);
  auto after = *fx.ledger->anchor(fx.authority, 0, false);
  CHECK(fx.root_of(after) == to_hex(empty_policy_root()));
  auto log = load_policy_log(*fx.ledger, fx.ledger->size());
  REQUIRE(log.all().size() == 1);
  CHECK(log.all().begin()->second.retired_reason == "done");
  CHECK(fx.verify_findings() == 0);
}

TEST_CASE("policy_log: only authorities add policies, auditors and authorities sign alerts") {
  PolicyFixture fx;
  auto p = policy::parse_yaml(kPolicy, "p.yaml");
  CHECK_THROWS_AS(add_policy(*fx.ledger, fx.auditor, p), Error);
  const json finding = {{"rule", "replay"}, {"severity", "critical"}, {"records", {"ab"}}};
  auto since = fx.ledger->size();
  auto alerts = append_alerts(*fx.ledger, fx.auditor, {finding}, since);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].kind == "alert");
  CHECK(*alerts[0].device == "replay");
  // The same finding again (an audit rerun after a crash before its state was saved) is not
  // recorded twice; a different one is, and so is the same one when only older leaves are skipped.
  json other = finding;
  other["records"] = {"cd"};
  CHECK(append_alerts(*fx.ledger, fx.auditor, {finding, other}, since).size() == 1);
  CHECK(append_alerts(*fx.ledger, fx.auditor, {finding}, fx.ledger->size()).size() == 1);
  fx.ledger->anchor(fx.authority, 0, false);
  CHECK(fx.verify_findings() == 0);
}

TEST_CASE("policy_log: replay flags retirements of what is not an active policy") {
  PolicyLog log;
  LeafRow retirement;
  retirement.kind = "policy_retirement";
  retirement.index = 5;
  retirement.extra = {{"policy_id", std::string(64, 'a')}};
  CHECK(log.apply(retirement).find("not an earlier policy record") != std::string::npos);
  LeafRow bad;
  bad.kind = "policy";
  bad.index = 6;
  bad.device = "x";
  bad.extra = {{"policy", {{"name", "x"}, {"rules", json::array()}}}};
  CHECK(log.apply(bad).find("does not validate") != std::string::npos);
}
