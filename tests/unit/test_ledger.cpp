#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "error.hpp"
#include "ingest.hpp"
#include "jcs.hpp"
#include "ledger.hpp"
#include "privacy.hpp"
#include "verify.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {
std::uint64_t count_in(Ledger& ledger, const char* sql) {
  auto stmt = ledger.db().prepare(sql);
  stmt.step();
  return static_cast<std::uint64_t>(stmt.integer(0));
}

// Takes the payloads back to schema 13: every reading stored whole, no elided column. Clear
// payloads only: an encrypted one would have to be sealed again.
// Takes a current ledger back to schema 14: kind, device and type as text in every leaf.
// Back to schema 16 (migration 17 adds the runs' `more` column): valid while no merge or
// ingest batch of 4,096 readings has packed a block, as in these small ledgers.
void undo_schema_17(Ledger& ledger) {
  REQUIRE(count_in(ledger, "SELECT count(*) FROM record_ids WHERE more IS NOT NULL") == 0);
  REQUIRE(count_in(ledger, "SELECT count(*) FROM replay_tags WHERE more IS NOT NULL") == 0);
  ledger.db().exec("ALTER TABLE record_ids DROP COLUMN more; ALTER TABLE replay_tags DROP COLUMN more;");
}

void undo_schema_15(Ledger& ledger) {
  undo_schema_17(ledger);
  ledger.db().exec(R"sql(
DROP INDEX leaves_device_time; DROP INDEX leaves_subject_time; DROP INDEX leaves_policy; DROP INDEX leaves_privacy;
ALTER TABLE leaves ADD COLUMN kind TEXT NOT NULL DEFAULT ''; ALTER TABLE leaves ADD COLUMN device TEXT;
ALTER TABLE leaves ADD COLUMN type TEXT;
UPDATE leaves SET kind = CASE kind_code WHEN 1 THEN 'reading' WHEN 2 THEN 'identity' WHEN 3 THEN 'retirement'
    WHEN 4 THEN 'seal' WHEN 5 THEN 'policy' WHEN 6 THEN 'policy_retirement' WHEN 7 THEN 'alert' WHEN 8 THEN 'grant'
    WHEN 9 THEN 'revocation' WHEN 10 THEN 'access' WHEN 11 THEN 'erasure' END,
  device = (SELECT text FROM labels WHERE ref = device_ref), type = (SELECT text FROM labels WHERE ref = type_ref);
ALTER TABLE leaves DROP COLUMN kind_code; ALTER TABLE leaves DROP COLUMN device_ref; ALTER TABLE leaves DROP COLUMN type_ref;
DROP TABLE labels;
CREATE INDEX leaves_device_time ON leaves(device, time_ms);
CREATE INDEX leaves_subject_time ON leaves(subject_ref, time_ms, type, device) WHERE subject_ref IS NOT NULL;
CREATE INDEX leaves_policy ON leaves(idx) WHERE kind IN ('policy', 'policy_retirement');
CREATE INDEX leaves_privacy ON leaves(idx) WHERE (kind = 'grant' OR kind = 'revocation' OR kind = 'access' OR kind = 'erasure');
)sql");
}

// Takes a current ledger back to schema 13: readings stored whole (and, first, schema 14).
void undo_schema_14(Ledger& ledger) {
  REQUIRE(count_in(ledger, "SELECT count(*) FROM payloads WHERE elided IS NOT NULL AND reading IS NULL") == 0);
  std::vector<std::pair<std::uint64_t, std::string>> whole;
  {
    auto rows = ledger.db().prepare("SELECT idx, reading, elided FROM payloads WHERE elided IS NOT NULL");
    while (rows.step()) {
      auto index = static_cast<std::uint64_t>(rows.integer(0));
      whole.emplace_back(index, clear_reading_of(ledger.leaf(index), rows.text(1), rows.integer(2)));
    }
  }
  undo_schema_15(ledger);
  auto update = ledger.db().prepare("UPDATE payloads SET reading = ? WHERE idx = ?");
  for (const auto& [index, text] : whole) update.bind(1, text).bind(2, index).run();
  ledger.db().exec("ALTER TABLE payloads DROP COLUMN elided");
}

struct Fixture {
  std::filesystem::path dir;
  SigningKey authority = SigningKey::generate("hospital", "authority");
  SigningKey gateway = SigningKey::generate("gw-1", "gateway");
  DataKey data_key = DataKey::generate();
  std::optional<Ledger> ledger;

  // Payloads are encrypted to the authority unless `encrypted` is false (clear payloads, as a
  // ledger whose authority has no X25519 key keeps them).
  explicit Fixture(bool encrypted = true) : authority(SigningKey::generate("hospital", "authority", encrypted)) {
    char tmpl[] = "/tmp/medtrail-ledger.XXXXXX";
    dir = ::mkdtemp(tmpl);
    ledger.emplace(Ledger::create((dir / "l.db").string(), authority, "test.example/log", data_key, {}));
    ledger->enroll(authority, {{"gw-1", "gateway", gateway.identity().key, "", std::nullopt}, {"wb-1", "device", std::nullopt, "wristband", std::nullopt}});
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  std::vector<json> ingest(int count, int minute_offset = 0) {
    std::vector<json> receipts;
    IngestEvents events;
    events.receipt = [&](const std::string& line) { receipts.push_back(json::parse(line)); };
    IngestOptions options;
    options.chunk_records = 7;  // several seals
    Ingestor ingestor(*ledger, gateway, data_key, options, events);
    for (int i = 0; i < count; ++i) {
      int m = minute_offset + i;
      char line[256];
      std::snprintf(line, sizeof line,
                    R"({"device":"wb-1","time":"2026-03-01T%02d:%02d:00Z","type":"heart_rate","value":%d,"unit":"/min","subject":"p-1"})",
                    m / 60 % 24, m % 60, 60 + i % 30);
      ingestor.add_line("test", static_cast<std::uint64_t>(i + 1), line);
    }
    auto stats = ingestor.finish();
    CHECK(stats.rejected == 0);
    return receipts;
  }

  std::vector<Finding> verify() {
    std::vector<Finding> findings;
    verify_ledger(*ledger, {authority.identity(), {}, {}, {}}, [&](const Finding& f) { findings.push_back(f); });
    return findings;
  }
};
}  // namespace

TEST_CASE("the envelope's canonical text is JCS of envelope_of for every kind of record", "[ledger][jcs]") {
  // canonical_envelope writes the text directly; a difference would change every leaf hash.
  const Hash digest = leaf_hash_of(LeafRow{});
  const std::vector<json> extras = {
      json(),
      json::object(),
      {{"sig", "c2ln"}, {"public_key", "a2V5"}},
      {{"value", 36.6}, {"unit", "Cel"}, {"derived_from", {"ab", "cd"}}},
      {{"kind", "overridden"}, {"v", 2}, {"time", nullptr}},  // later members replace fixed ones
      {{"count", 4096}, {"first", 0}, {"root", "00"}, {"big", 9007199254740992LL}, {"tiny", 1e-7}},
      {{"caf\u00e9", "\u00fcml\u00e4ut \" \\ \n"}, {"\U0001F600", 1}, {"\uFFFD", 2}, {"z", {{"b", 1}, {"a", 2}}}},
  };
  const std::vector<std::string> kinds = {"reading", "identity", "retirement", "seal", "policy", "alert", "grant", "x"};
  int compared = 0;
  for (std::size_t k = 0; k < kinds.size(); ++k)
    for (std::size_t e = 0; e < extras.size(); ++e)
      for (int present = 0; present < 2; ++present) {
        LeafRow row;
        row.kind = kinds[k];
        row.received_ms = 1772360100120 + static_cast<std::int64_t>(k * 1000 + e);
        row.extra = extras[e];
        if (present) {
          row.device = "wb-\u00e9" + std::to_string(e);
          row.gateway = "5a9a294b3847e512";
          row.time_ms = -1;
          row.type = "heart_rate";
          row.commitment = digest;
          row.subject = digest;
        }
        INFO("kind " << row.kind << ", extra " << row.extra.dump() << ", fields " << present);
        CHECK(canonical_envelope(row) == jcs::canonicalize(envelope_of(row)));
        ++compared;
      }
  CHECK(compared == 112);
  LeafRow bad;
  bad.kind = "reading";
  bad.device = std::string("\xff");  // invalid UTF-8 is refused by both
  CHECK_THROWS_AS(jcs::canonicalize(envelope_of(bad)), Error);
  CHECK_THROWS_AS(canonical_envelope(bad), Error);
  // A member of extra replaces a column, so the column's text is not refused either (found by
  // the envelope fuzz target: the direct writer had validated the replaced signer first).
  LeafRow replaced;
  replaced.kind = "identity";
  replaced.gateway = std::string("0123\x99");
  replaced.extra = {{"signer", "t.example"}, {"sig", "BBBB"}};
  CHECK(canonical_envelope(replaced) == jcs::canonicalize(envelope_of(replaced)));
}

TEST_CASE("a fresh ledger has a verified genesis block", "[ledger]") {
  Fixture f;
  auto genesis = f.ledger->block(0);
  REQUIRE(genesis);
  CHECK(genesis->header["height"] == 0);
  CHECK(genesis->header["tree_size"] == 1);
  CHECK(f.verify().empty());
  CHECK(genesis_authority(*f.ledger).key == f.authority.identity().key);
}

TEST_CASE("ingest, anchor, verify, prove, receipts, consistency", "[ledger]") {
  Fixture f;
  auto receipts = f.ingest(50);
  REQUIRE(receipts.size() == 50);
  auto old_block = f.ledger->anchor(f.authority, 0, false);
  REQUIRE(old_block);
  CHECK_FALSE(f.ledger->anchor(f.authority, 0, false));  // nothing pending
  CHECK(f.verify().empty());

  // Every record proves under the latest checkpoint, and a receipt survives without the DB.
  for (const auto& r : receipts) {
    auto index = f.ledger->resolve(r["id"].get<std::string>().substr(0, 10));
    auto receipt = make_receipt(*f.ledger, index);
    std::vector<Finding> findings;
    CHECK(verify_receipt(receipt, f.authority.identity(), [&](const Finding& x) { findings.push_back(x); }) == 0);
    receipt["record"]["device"] = "wb-2";
    CHECK(verify_receipt(receipt, f.authority.identity(), [](const Finding&) {}) > 0);
  }

  f.ingest(30, 100);
  auto new_block = f.ledger->anchor(f.authority, 10, false);  // --max 10
  REQUIRE(new_block);
  CHECK(new_block->header["count"] == 10);
  CHECK(f.ledger->anchor(f.authority, 0, false));
  CHECK(f.verify().empty());
  CHECK(verify_against_checkpoint(*f.ledger, old_block->checkpoint, f.authority.identity(), [](const Finding&) {}) == 0);
  auto other = SigningKey::generate("hospital", "authority");
  CHECK(verify_against_checkpoint(*f.ledger, old_block->checkpoint, other.identity(), [](const Finding&) {}) > 0);
}

TEST_CASE("replays are duplicates and ids resolve by prefix", "[ledger]") {
  Fixture f;
  auto first = f.ingest(5);
  auto again = f.ingest(5);
  REQUIRE(again.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(again[i]["status"] == "duplicate");
    CHECK(again[i]["id"] == first[i]["id"]);
  }
  CHECK_THROWS_AS(f.ledger->resolve("abc"), Error);
  try {
    f.ledger->resolve("0000000000000000000000000000000000000000000000000000000000000000");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::not_found);
  }
}

TEST_CASE("leaf() leaves no statement running, found or not", "[ledger]") {
  Fixture f(false);
  auto busy_statements = [&] {
    int busy = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(f.ledger->db().handle(), nullptr); s;
         s = sqlite3_next_stmt(f.ledger->db().handle(), s))
      busy += sqlite3_stmt_busy(s) ? 1 : 0;
    return busy;
  };
  CHECK(f.ledger->leaf(0).kind == "identity");
  CHECK(busy_statements() == 0);
  CHECK_THROWS_AS(f.ledger->leaf(1000), Error);
  CHECK(busy_statements() == 0);
  CHECK(f.ledger->leaf(1).device == "gw-1");  // the statement is reused
}

TEST_CASE("ingest hashes leaves and wraps data keys ahead of the commit, and again for links", "[ledger][ingest]") {
  Fixture f;  // encrypted
  auto plain = f.ingest(10);
  // Readings deriving from earlier ones: their leaves change at commit, so their ids and
  // owner wraps must be made again there.
  std::vector<json> receipts;
  IngestEvents events;
  events.receipt = [&](const std::string& line) { receipts.push_back(json::parse(line)); };
  IngestOptions options;
  options.chunk_records = 4;
  {
    Ingestor ingestor(*f.ledger, f.gateway, f.data_key, options, events);
    for (int i = 0; i < 10; ++i) {
      json reading = {{"device", "wb-1"},     {"time", "2026-03-02T08:00:0" + std::to_string(i) + "Z"},
                      {"type", "heart_rate"}, {"value", 70 + i},
                      {"unit", "/min"},       {"subject", "p-2"}};
      if (i % 3 == 1)
        reading["derived_from"] = {plain[static_cast<std::size_t>(i)]["id"].get<std::string>().substr(0, 12)};
      ingestor.add_line("test", static_cast<std::uint64_t>(i + 1), reading.dump());
    }
    CHECK(ingestor.finish().accepted == 10);
  }
  REQUIRE(receipts.size() == 10);
  CHECK(f.verify().empty());
  privacy::PayloadReader reader(*f.ledger, &f.authority);
  for (const auto& r : receipts) {
    auto row = f.ledger->leaf(r["index"].get<std::uint64_t>());
    CHECK(to_hex(row.id) == r["id"]);
    CHECK(to_hex(leaf_hash_of(row)) == r["id"]);
    CHECK(reader.read(row).outcome == privacy::ReadOutcome::decrypted);
  }
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM leaves WHERE extra LIKE '%derived_from%'") == 3);
  // One ephemeral key per prepared batch for the wraps made ahead (and at most one more per
  // commit for those made again), not one per reading.
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM wrap_keys") < 20);
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM wraps") == 20);
}

TEST_CASE("a batch large enough for runs of its own: replays, links and ids still found, atomic or not",
          "[ledger][ingest]") {
  const bool atomic = GENERATE(false, true);
  Fixture f;  // encrypted
  auto line_of = [](int i, const std::string& parent = "") {
    const std::string link = parent.empty() ? "" : R"(,"derived_from":[")" + parent + R"("])";
    char text[320];
    std::snprintf(
        text, sizeof text,
        R"({"device":"wb-1","time":"2026-03-01T%02d:%02d:%02dZ","type":"heart_rate","value":%d,"unit":"/min","subject":"p-1"%s})",
        i / 3600, i / 60 % 60, i % 60, 60 + i % 30, link.c_str());
    return std::string(text);
  };
  auto run = [&](int first, int count, const std::function<std::string(int)>& parent_of) {
    std::vector<json> receipts;
    IngestEvents events;
    events.receipt = [&](const std::string& line) { receipts.push_back(json::parse(line)); };
    IngestOptions options;
    options.chunk_records = 6000;  // one batch: its keys are staged past HashRuns' staged_run_rows
    options.chunk_max_ms = 60'000;
    options.atomic = atomic;
    if (atomic) options.chunk_records = 2500;  // two batches in one transaction
    Ingestor ingestor(*f.ledger, f.gateway, f.data_key, options, events);
    for (int i = first; i < first + count; ++i)
      ingestor.add_line("test", static_cast<std::uint64_t>(i + 1), line_of(i, parent_of(i)));
    auto stats = ingestor.finish();
    CHECK(stats.rejected == 0);
    return receipts;
  };
  auto first = run(0, 5000, [](int) { return std::string(); });
  REQUIRE(first.size() == 5000);
  // The packed runs hold every key: a replay is all duplicates of the same records.
  auto replay = run(0, 5000, [](int) { return std::string(); });
  REQUIRE(replay.size() == 5000);
  for (std::size_t i = 0; i < replay.size(); i += 97) {
    CHECK(replay[i]["status"] == "duplicate");
    CHECK(replay[i]["id"] == first[i]["id"]);
  }
  CHECK(std::ranges::all_of(replay, [](const json& r) { return r["status"] == "duplicate"; }));
  // New readings, every 50th deriving from a reading of the first batch by a 12-digit prefix.
  auto linked = run(5000, 5000, [&](int i) {
    return i % 50 == 0 ? first[static_cast<std::size_t>(i - 5000)]["id"].get<std::string>().substr(0, 12) : "";
  });
  REQUIRE(linked.size() == 5000);
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM leaves WHERE extra LIKE '%derived_from%'") == 100);
  for (const auto* receipts : {&first, &linked})
    for (std::size_t i = 0; i < receipts->size(); i += 61) {
      const auto& r = (*receipts)[i];
      CHECK(f.ledger->resolve(r["id"].get<std::string>()) == r["index"].get<std::uint64_t>());
      CHECK(f.ledger->resolve(r["id"].get<std::string>().substr(0, 10)) == r["index"].get<std::uint64_t>());
    }
  CHECK(f.verify().empty());
}

TEST_CASE("ingest's two stages keep input order: receipts, rejections, duplicates", "[ledger][ingest]") {
  Fixture f;
  std::vector<json> receipts, rejections;
  std::vector<std::string> receipt_texts;
  IngestEvents events;
  events.receipt = [&](const std::string& line) {
    receipt_texts.push_back(line);
    receipts.push_back(json::parse(line));
  };
  events.rejection = [&](const std::string& line) { rejections.push_back(json::parse(line)); };
  IngestOptions options;
  options.chunk_records = 3;  // the worker prepares one batch of 3 while the previous one commits
  options.chunk_max_ms = 60'000;
  Ingestor ingestor(*f.ledger, f.gateway, f.data_key, options, events);
  auto reading = [](int minute) {
    return "{\"device\":\"wb-1\",\"time\":\"2026-03-01T10:" + std::string(minute < 10 ? "0" : "") +
           std::to_string(minute) + ":00Z\",\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}";
  };
  // line: 1 ok, 2 not JSON, 3 ok, 4 unknown device, 5 rejected by the caller, 6 replay of 1
  // (committed two batches before), 7 ok, 8 replay of 7 (same batch), 9 wrong unit, 10 ok
  // with a locator that replaces "source", 11 replay of 10 (the batch being prepared).
  std::set<std::uint64_t> expected_rejected = {2, 4, 5, 9};
  ingestor.add_line("in", 1, reading(1));
  ingestor.add_line("in", 2, "{not json");
  ingestor.add_line("in", 3, reading(3));
  ingestor.add_line("in", 4,
                    R"({"device":"wb-9","time":"2026-03-01T10:04:00Z","type":"heart_rate","value":70,"unit":"/min"})");
  ingestor.reject("in", 5, "line too long", json{{"row", 5}});
  ingestor.add_line("in", 6, reading(1));
  ingestor.add_line("in", 7, reading(7));
  ingestor.add_line("in", 8, reading(7));
  ingestor.add_line("in", 9,
                    R"({"device":"wb-1","time":"2026-03-01T10:09:00Z","type":"heart_rate","value":70,"unit":"mmHg"})");
  ingestor.add_reading("in", 10, json::parse(reading(10)), json{{"entry", 4}, {"source", "bundle.json"}});
  ingestor.add_reading("in", 11, json::parse(reading(10)));
  // 12 ok, with a locator member that replaces "index" (the worker then leaves the receipt
  // to the commit rather than fill its placeholder).
  ingestor.add_reading("in", 12, json::parse(reading(12)), json{{"index", "entry-7"}});
  auto stats = ingestor.finish();

  CHECK(stats.lines == 12);
  CHECK(stats.accepted == 5);
  CHECK(stats.duplicates == 3);
  CHECK(stats.rejected == 4);
  std::vector<std::uint64_t> rejected_lines, receipt_lines;
  for (const auto& r : rejections) rejected_lines.push_back(r["line"]);
  for (const auto& r : receipts) receipt_lines.push_back(r["line"]);
  CHECK(rejected_lines == std::vector<std::uint64_t>{2, 4, 5, 9});
  CHECK(rejections[2]["reason"] == "line too long");
  CHECK(rejections[2]["row"] == 5);
  CHECK(receipt_lines == std::vector<std::uint64_t>{1, 3, 6, 7, 8, 10, 11, 12});
  REQUIRE(receipts.size() == 8);
  CHECK(receipts[7]["index"] == "entry-7");
  // Every receipt names the record at its index (pending receipts are written ahead with a
  // placeholder index that the commit fills in).
  for (std::size_t i = 0; i < 7; ++i)
    CHECK(to_hex(f.ledger->leaf(receipts[i]["index"].get<std::uint64_t>()).id) == receipts[i]["id"]);
  CHECK(receipts[2]["status"] == "duplicate");
  CHECK(receipts[2]["id"] == receipts[0]["id"]);
  CHECK(receipts[4]["status"] == "duplicate");
  CHECK(receipts[4]["id"] == receipts[3]["id"]);
  CHECK(receipts[6]["status"] == "duplicate");
  CHECK(receipts[6]["id"] == receipts[5]["id"]);
  CHECK(receipts[5]["source"] == "bundle.json");
  CHECK(receipts[5]["entry"] == 4);
  // The receipt text is json's own dump of the parsed object: key order, escapes, numbers.
  for (std::size_t i = 0; i < receipts.size(); ++i) CHECK(receipt_texts[i] == receipts[i].dump());
  CHECK(f.verify().empty());
}

TEST_CASE("retired and unknown identities cannot act", "[ledger]") {
  Fixture f;
  auto stranger = SigningKey::generate("x", "authority");
  CHECK_THROWS_AS(f.ledger->anchor(stranger, 0, true), Error);
  CHECK_THROWS_AS(f.ledger->enroll(f.gateway, {{"wb-9", "device", std::nullopt, "", std::nullopt}}), Error);
  CHECK_THROWS_AS(f.ledger->retire(f.authority, "hospital", ""), Error);  // the last authority
  f.ledger->retire(f.authority, "gw-1", "decommissioned");
  CHECK_THROWS_AS(f.ledger->require_active(f.gateway.identity().key, {"gateway"}), Error);
  CHECK(f.verify().empty());
}

TEST_CASE("privacy records are found through their partial index, which costs a leaf insert nothing", "[ledger]") {
  Fixture f;
  auto& db = f.ledger->db();
  auto index_sql = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'leaves_privacy'");
  REQUIRE(index_sql.step());
  CHECK_THAT(index_sql.text(0), Catch::EndsWith(std::string("WHERE ") + kPrivacyKindsCondition));
  // An IN list of more than two values would open a temporary table on every insert.
  auto insert_plan = db.prepare("EXPLAIN INSERT INTO leaves(idx, id, kind_code, received_ms) VALUES (?, ?, ?, ?)");
  while (insert_plan.step()) CHECK(insert_plan.text(1) != "OpenEphemeral");
  auto query_plan = db.prepare((std::string("EXPLAIN QUERY PLAN SELECT idx FROM leaves WHERE ") +
                                kPrivacyKindsCondition + " AND " + kIsAccess + " AND idx >= ? ORDER BY idx")
                                   .c_str());
  std::string plan;
  while (query_plan.step()) plan += query_plan.text(3) + "\n";
  CHECK_THAT(plan, Catch::Contains("USING INDEX leaves_privacy"));
}

TEST_CASE("subjects and signer key ids are stored once each and read back into every leaf", "[ledger]") {
  Fixture f;
  auto ingest_round = [&](int round) {
    IngestOptions options;
    options.chunk_records = 5;  // several Appenders, each looking refs up afresh
    Ingestor ingestor(*f.ledger, f.gateway, f.data_key, options, IngestEvents{});
    for (int i = 0; i < 30; ++i) {
      char line[256];
      std::snprintf(
          line, sizeof line,
          R"({"device":"wb-1","time":"2026-03-01T%02d:%02d:00Z","type":"heart_rate","value":70,"unit":"/min","subject":"p-%d"})",
          round, i, i % 3);
      ingestor.add_line("test", static_cast<std::uint64_t>(i + 1), line);
    }
    CHECK(ingestor.finish().accepted == 30);
  };
  ingest_round(1);
  ingest_round(2);
  REQUIRE(f.ledger->anchor(f.authority, 0, false));
  auto& db = f.ledger->db();
  auto count = [&](const char* sql) {
    auto stmt = db.prepare(sql);
    stmt.step();
    return stmt.integer(0);
  };
  CHECK(count("SELECT count(*) FROM subjects") == 3);
  CHECK(count("SELECT count(*) FROM leaves WHERE kind_code = 1 AND subject_ref IS NOT NULL") == 60);
  // The authority signs identities and blocks, the gateway its readings and seals.
  CHECK(count("SELECT count(*) FROM signer_keys") == 2);
  // Device and identity names and types and roles, once each (schema 15).
  CHECK(count("SELECT count(*) FROM labels") == count("SELECT count(DISTINCT text) FROM labels"));
  CHECK(count("SELECT count(*) FROM labels WHERE text IN ('wb-1', 'heart_rate')") == 2);

  std::set<Hash> expected;
  for (int k = 0; k < 3; ++k) expected.insert(f.data_key.pseudonym("p-" + std::to_string(k)));
  auto rows = db.prepare((std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE " + kIsReading).c_str());
  int readings = 0;
  while (rows.step()) {
    auto row = read_leaf_row(rows, 0);
    REQUIRE(row.subject);
    CHECK(expected.count(*row.subject) == 1);
    CHECK(row.gateway == f.gateway.identity().key_id());
    CHECK(row.kind == "reading");
    CHECK(row.device == "wb-1");
    CHECK(row.type == "heart_rate");
    ++readings;
  }
  CHECK(readings == 60);
  CHECK(f.verify().empty());

  // A search by subject reads the covering index, through the pseudonym's ref.
  auto plan = db.prepare(
      (std::string("EXPLAIN QUERY PLAN SELECT idx, time_ms, type_ref, device_ref FROM leaves WHERE subject_ref = ") +
       kSubjectRefOfParam + " AND time_ms BETWEEN ? AND ?")
          .c_str());
  std::string text;
  while (plan.step()) text += plan.text(3) + "\n";
  CHECK_THAT(text, Catch::Contains("COVERING INDEX leaves_subject_time"));
}

TEST_CASE("tree hashes are stored for every 4th level and the levels between fold from the one below",
          "[ledger][merkle]") {
  Fixture f(false);
  f.ingest(300);
  REQUIRE(f.ledger->anchor(f.authority, 0, false));
  auto& db = f.ledger->db();
  const auto size = f.ledger->size();
  REQUIRE(size > 300);
  std::vector<Hash> leaves;
  auto ids = db.prepare("SELECT id FROM leaves ORDER BY idx");
  while (ids.step()) {
    Hash h;
    std::copy(ids.blob(0).begin(), ids.blob(0).end(), h.begin());
    leaves.push_back(h);
  }
  auto get = f.ledger->hash_getter();
  for (int level = 0; level <= 8; ++level)
    for (std::uint64_t index = 0; (index + 1) << level <= size; ++index)
      REQUIRE(get(level, index) == merkle::root_of(std::span(leaves).subspan(index << level, std::size_t(1) << level)));
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM nodes") == (size >> 4) + (size >> 8));
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM nodes WHERE (key >> 58) % 4 != 0") == 0);

  // A schema-11 file stored levels 1-3 as well; migration 12 drops them and nothing else.
  auto insert = db.prepare("INSERT INTO nodes(key, hash) VALUES (?, ?)");
  std::uint64_t added = 0;
  for (int level = 1; level <= 3; ++level)
    for (std::uint64_t index = 0; (index + 1) << level <= size; ++index, ++added)
      insert.bind(1, static_cast<std::int64_t>(std::uint64_t(level) << 58 | index))
          .bind_blob(2, get(level, index))
          .run();
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM nodes") ==
        (size >> 1) + (size >> 2) + (size >> 3) + (size >> 4) + (size >> 8));
  undo_schema_14(*f.ledger);
  db.exec("PRAGMA user_version = 11");
  const auto path = (f.dir / "l.db").string();
  f.ledger.reset();
  f.ledger.emplace(Ledger::open(path, true, {}));
  CHECK(count_in(*f.ledger, "PRAGMA user_version") == static_cast<std::uint64_t>(kSchemaVersion));
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM nodes") == (size >> 4) + (size >> 8));
  CHECK(f.verify().empty());
  CHECK(added > 0);
}

TEST_CASE("readings are stored without the envelope's device, type and time, and older rows stay whole",
          "[ledger][stored_reading]") {
  Fixture f(false);
  f.ingest(20);
  const auto readings = count_in(*f.ledger, "SELECT count(*) FROM payloads");
  REQUIRE(readings == 20);
  // The fixture writes times to the second.
  CHECK(count_in(*f.ledger,
                 "SELECT count(*) FROM payloads WHERE elided = 27 AND reading NOT LIKE '%wb-1%' AND "
                 "reading NOT LIKE '%heart_rate%' AND reading NOT LIKE '%2026-%' AND reading NOT LIKE '%/min%'") ==
        readings);
  const auto first = count_in(*f.ledger, "SELECT min(idx) FROM payloads");
  auto payload = f.ledger->payload(first);
  REQUIRE(payload);
  CHECK(
      jcs::canonicalize((*payload)["reading"]) ==
      R"({"device":"wb-1","subject":"p-1","time":"2026-03-01T00:00:00Z","type":"heart_rate","unit":"/min","value":60})");
  CHECK(f.verify().empty());

  // A schema-13 file: migration 14 adds the column and leaves the whole readings as they are.
  undo_schema_14(*f.ledger);
  f.ledger->db().exec("PRAGMA user_version = 13");
  const auto path = (f.dir / "l.db").string();
  f.ledger.reset();
  f.ledger.emplace(Ledger::open(path, true, {}));
  CHECK(count_in(*f.ledger,
                 "SELECT count(*) FROM payloads WHERE elided IS NULL AND reading LIKE '%\"device\":\"wb-1\"%'") ==
        readings);
  CHECK(f.ledger->payload(first) == payload);
  f.ingest(5, 100);
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM payloads WHERE elided = 27") == 5);
  CHECK(f.verify().empty());

  // A flag that no longer says what was cut: the reading no longer matches its commitment.
  f.ledger->db().exec("UPDATE payloads SET elided = 3 WHERE idx = (SELECT max(idx) FROM payloads)");
  auto findings = f.verify();
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].check == "payload_mismatch");
}

TEST_CASE("encrypted readings are sealed without the envelope's members and decrypt whole",
          "[ledger][stored_reading]") {
  Fixture f;
  f.ingest(10);
  REQUIRE(count_in(*f.ledger, "SELECT count(*) FROM payloads WHERE ciphertext IS NOT NULL AND elided = 27") == 10);
  const auto first = count_in(*f.ledger, "SELECT min(idx) FROM payloads");
  {
    privacy::PayloadReader reader(*f.ledger, &f.authority);
    auto read = reader.read(f.ledger->leaf(first));
    REQUIRE(read.outcome == privacy::ReadOutcome::decrypted);
    CHECK(
        read.payload->reading ==
        R"({"device":"wb-1","subject":"p-1","time":"2026-03-01T00:00:00Z","type":"heart_rate","unit":"/min","value":60})");
  }
  // The flag is outside the ciphertext; a wrong one makes the reading differ from its commitment.
  f.ledger->db().prepare("UPDATE payloads SET elided = 3 WHERE idx = ?").bind(1, first).run();
  privacy::PayloadReader reader(*f.ledger, &f.authority);
  auto read = reader.read(f.ledger->leaf(first));
  CHECK(read.outcome == privacy::ReadOutcome::corrupt);
  CHECK_THAT(read.reason, Catch::Contains("differs from the record's commitment"));
}

TEST_CASE("record ids are keyed by their first 8 bytes and ids sharing them still resolve", "[ledger][hash_runs]") {
  Fixture f;
  f.ingest(20);
  auto& db = f.ledger->db();
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM record_ids WHERE length(id) != 8") == 0);
  CHECK(count_in(*f.ledger, "SELECT count(*) FROM record_ids") == f.ledger->size());
  // Make record 12's id share its first 8 bytes with record 5's, in the leaf and in the runs:
  // what two real ids would look like once in about 10^5 ledgers of 10^7 records.
  const auto a = f.ledger->leaf(5).id;
  auto b = f.ledger->leaf(12).id;
  std::copy_n(a.begin(), kRecordIdKeyBytes, b.begin());
  db.prepare("UPDATE leaves SET id = ? WHERE idx = 12").bind_blob(1, b).run();
  db.prepare("UPDATE record_ids SET id = ? WHERE idx = 12").bind_blob(1, record_id_key(b)).run();
  REQUIRE(f.ledger->leaf(12).id == b);
  REQUIRE(to_hex(b).substr(0, 16) == to_hex(a).substr(0, 16));
  REQUIRE(to_hex(b).substr(0, 20) != to_hex(a).substr(0, 20));
  CHECK(f.ledger->resolve(to_hex(a)) == 5);
  CHECK(f.ledger->resolve(to_hex(b)) == 12);
  CHECK(f.ledger->resolve(to_hex(a).substr(0, 20)) == 5);
  try {
    f.ledger->resolve(to_hex(a).substr(0, 16));
    FAIL("a prefix both ids share must be ambiguous");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
  }
  auto lookup = db.prepare(kRecordIdLookup);
  for (auto [id, index] : {std::pair{a, 5}, std::pair{b, 12}}) {
    lookup.bind_blob(1, id);
    REQUIRE(lookup.step());
    CHECK(lookup.integer(0) == index);
    lookup.reset();
  }
}

TEST_CASE("verify checks every batch of its two-stage scan and places findings exactly", "[ledger]") {
  Fixture f;
  IngestEvents events;
  IngestOptions options;
  Ingestor ingestor(*f.ledger, f.gateway, f.data_key, options, events);
  const int readings = 9000;  // a little over two of verify's 4,096-row batches
  for (int i = 0; i < readings; ++i) {
    char line[256];
    std::snprintf(line, sizeof line,
                  R"({"device":"wb-1","time":"2026-03-%02dT%02d:%02d:00Z","type":"heart_rate","value":%d,"unit":"/min","subject":"p-1"})",
                  1 + i / 1440, i / 60 % 24, i % 60, 60 + i % 30);
    ingestor.add_line("test", static_cast<std::uint64_t>(i + 1), line);
  }
  CHECK(ingestor.finish().rejected == 0);
  REQUIRE(f.ledger->anchor(f.authority, 0, false));
  CHECK(f.verify().empty());

  auto reading_after = [&](int index) {
    auto q = f.ledger->db().prepare("SELECT min(idx) FROM leaves WHERE kind_code = 1 AND idx > ?");
    q.bind(1, static_cast<std::int64_t>(index));
    REQUIRE(q.step());
    return static_cast<std::uint64_t>(q.integer(0));
  };
  const auto in_second_batch = reading_after(5000), in_third_batch = reading_after(8500);
  f.ledger->db().exec(("UPDATE payloads SET ciphertext = zeroblob(80) WHERE idx = " + std::to_string(in_second_batch)).c_str());
  f.ledger->db().exec(("UPDATE leaves SET received_ms = received_ms + 1 WHERE idx = " + std::to_string(in_third_batch)).c_str());
  std::set<std::pair<std::string, std::uint64_t>> found;
  for (const auto& finding : f.verify()) {
    REQUIRE(finding.index);
    found.insert({finding.check, *finding.index});
  }
  CHECK(found == std::set<std::pair<std::string, std::uint64_t>>{{"ciphertext_mismatch", in_second_batch},
                                                                  {"leaf_hash_mismatch", in_third_batch}});
}

TEST_CASE("verify's concurrent scan of the id and tag runs answers for the snapshot verify reads", "[ledger][verify]") {
  // The runs are scanned on a second connection, whose snapshot can be later than verify's
  // when a writer commits in between: its answer then differs from the log verify reads and
  // must be redone on verify's own snapshot, not reported as a damaged index.
  Fixture f;
  f.ingest(20);
  REQUIRE(f.ledger->anchor(f.authority, 0, false));
  const std::string path = (f.dir / "l.db").string();
  auto reader = Ledger::open(path, false, {});
  sql::ReadTransaction pinned(reader.db());
  const std::uint64_t pinned_size = reader.size();  // the first read fixes the snapshot
  f.ingest(20, 100);                                // committed after it, so seen by any later connection only
  REQUIRE(Ledger::open(path, false, {}).size() > pinned_size);
  for (bool concurrent : {true, false}) {
    VerifyOptions options{f.authority.identity(), {}, {}, {}};
    options.concurrent_runs_scan = concurrent;
    std::vector<std::string> checks;
    auto summary = verify_ledger(reader, options, [&](const Finding& x) { checks.push_back(x.check); });
    CHECK(checks.empty());
    CHECK(summary.records == pinned_size);
  }
}

TEST_CASE("verify reports damaged id and tag runs whether they are scanned beside the leaves or after",
          "[ledger][verify]") {
  Fixture f;
  f.ingest(30);
  REQUIRE(f.ledger->anchor(f.authority, 0, false));
  f.ledger->db().exec("DELETE FROM record_ids WHERE idx = 10; DELETE FROM replay_tags WHERE idx = 12");
  for (bool concurrent : {true, false}) {
    VerifyOptions options{f.authority.identity(), {}, {}, {}};
    options.concurrent_runs_scan = concurrent;
    std::multiset<std::string> checks;
    verify_ledger(*f.ledger, options, [&](const Finding& x) { checks.insert(x.check); });
    CHECK(checks == std::multiset<std::string>{"id_index", "replay_index"});
  }
}

TEST_CASE("LeafRefs reads leaves with refs exactly as kLeafColumns reads them", "[ledger]") {
  // Verify scans kLeafColumnsWithRefs through LeafRefs' caches; every other query reads
  // kLeafColumns' subqueries. They must agree on every row, including edited refs.
  Fixture f(false);
  f.ingest(20);
  auto& db = f.ledger->db();
  db.exec(
      "INSERT INTO subjects(ref, pseudonym) VALUES (70001, zeroblob(32)), (4465, randomblob(32)), "
      "(4466, x'0102'), (70002, randomblob(32))");
  // 70001 and 4465 share a cache slot (70001 = 4465 + 65536); 4466 is not a 32-byte pseudonym.
  db.exec("UPDATE leaves SET subject_ref = 70001 WHERE idx = 5");
  db.exec("UPDATE leaves SET subject_ref = 4465 WHERE idx = 6");
  db.exec("UPDATE leaves SET subject_ref = 70001 WHERE idx = 7");
  db.exec("UPDATE leaves SET subject_ref = 'p-1', signer_ref = 1.5 WHERE idx = 8");
  db.exec("UPDATE leaves SET subject_ref = 999999, signer_ref = 999 WHERE idx = 9");
  db.exec("UPDATE leaves SET subject_ref = NULL, signer_ref = NULL WHERE idx = 10");
  db.exec("UPDATE leaves SET subject_ref = 4466 WHERE idx = 11");
  db.exec("UPDATE leaves SET subject_ref = 70002 WHERE idx = 12");
  db.exec("UPDATE leaves SET subject_ref = 4466 WHERE idx = 13");
  // Labels (device and type): 20000 and 3616 share a cache slot (20000 = 3616 + 16384).
  db.exec("INSERT INTO labels(ref, text) VALUES (20000, 'wb-x'), (3616, 'wb-y')");
  db.exec("UPDATE leaves SET device_ref = 20000 WHERE idx = 14");
  db.exec("UPDATE leaves SET device_ref = 3616, type_ref = 20000 WHERE idx = 15");
  db.exec("UPDATE leaves SET device_ref = 20000, type_ref = 'heart_rate' WHERE idx = 16");
  db.exec("UPDATE leaves SET device_ref = NULL, type_ref = 99999 WHERE idx = 17");
  db.exec("UPDATE leaves SET kind_code = 99 WHERE idx = 18");

  auto by_value = db.prepare((std::string("SELECT ") + kLeafColumns + " FROM leaves ORDER BY idx").c_str());
  auto by_ref = db.prepare((std::string("SELECT ") + kLeafColumnsWithRefs + " FROM leaves ORDER BY idx").c_str());
  LeafRefs refs(db);
  LeafRow value_row, ref_row;
  std::optional<std::string> value_extra, ref_extra;
  int rows = 0, malformed = 0;
  while (by_value.step()) {
    REQUIRE(by_ref.step());
    std::string value_error, ref_error;
    try {
      read_leaf_row_into(by_value, 0, value_row, value_extra);
    } catch (const Error& e) {
      value_error = e.what();
    }
    try {
      refs.read_row_into(by_ref, 0, ref_row, ref_extra);
    } catch (const Error& e) {
      ref_error = e.what();
    }
    INFO("leaf " << rows);
    CHECK(ref_error == value_error);
    if (!value_error.empty()) {
      ++malformed;
    } else {
      CHECK(ref_row.gateway == value_row.gateway);
      CHECK(ref_row.subject == value_row.subject);
      CHECK(ref_row.kind == value_row.kind);
      CHECK(ref_row.device == value_row.device);
      CHECK(ref_row.type == value_row.type);
      CHECK(canonical_envelope(ref_row) == canonical_envelope(value_row));
    }
    ++rows;
  }
  CHECK_FALSE(by_ref.step());
  CHECK(rows > 20);
  CHECK(malformed == 2);  // leaves 11 and 13: a 2-byte pseudonym, each time it is read
  // Verify (which reads through LeafRefs) reports each edit that changes an envelope: the
  // readings' subjects and signers, a seal's signer (a seal has no subject); then the first
  // row it cannot read, after which it reports the log as broken there and stops.
  std::set<std::uint64_t> changed, unreadable, gap;
  for (const auto& x : f.verify()) {
    if (x.check == "leaf_hash_mismatch") changed.insert(x.index.value_or(0));
    if (x.check == "leaf_malformed") unreadable.insert(x.index.value_or(0));
    if (x.check == "leaf_gap") gap.insert(x.index.value_or(0));
  }
  std::set<std::uint64_t> expected_changed;
  auto kind = db.prepare("SELECT kind_code FROM leaves WHERE idx = ?");
  for (std::uint64_t index = 5; index <= 10; ++index) {
    kind.bind(1, index);
    REQUIRE(kind.step());
    bool reading = kind.integer(0) == static_cast<int>(RecordKind::reading);
    kind.reset();
    if (reading || index >= 8) expected_changed.insert(index);
  }
  CHECK(changed == expected_changed);
  CHECK(unreadable == std::set<std::uint64_t>{11});
  CHECK(gap == std::set<std::uint64_t>{11});
}
