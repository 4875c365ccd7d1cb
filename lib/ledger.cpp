#include "ledger.hpp"

#include <unistd.h>
#include <algorithm>
#include <array>
#include <map>

#include "crypto.hpp"
#include "error.hpp"
#include "hash_runs.hpp"
#include "jcs.hpp"
#include "note.hpp"
#include "policy_log.hpp"
#include "timefmt.hpp"
#include "trace_index.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

constexpr int kLevelShift = 58;

std::int64_t node_key(int level, std::uint64_t index) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(level) << kLevelShift | index);
}

Hash to_hash(std::span<const std::uint8_t> blob, const char* what) {
  if (blob.size() != 32) throw Error(ExitCode::verification_failed, std::string("stored ") + what + " is not 32 bytes");
  Hash h;
  std::copy(blob.begin(), blob.end(), h.begin());
  return h;
}

// Schema migrations, applied in order; user_version records how many have run.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE leaves(
  idx INTEGER PRIMARY KEY,
  id BLOB NOT NULL,
  kind TEXT NOT NULL,
  device TEXT,
  gateway TEXT,
  time_ms INTEGER,
  received_ms INTEGER NOT NULL,
  type TEXT,
  commitment BLOB,
  subject BLOB,
  extra TEXT
);
CREATE INDEX leaves_id ON leaves(id);
CREATE TABLE payloads(
  idx INTEGER PRIMARY KEY REFERENCES leaves(idx),
  salt BLOB NOT NULL,
  reading TEXT NOT NULL,
  replay_tag BLOB NOT NULL
);
CREATE UNIQUE INDEX payloads_replay ON payloads(replay_tag);
CREATE TABLE nodes(key INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE blocks(
  height INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  header TEXT NOT NULL,
  signatures TEXT NOT NULL,
  checkpoint TEXT NOT NULL
);
CREATE TABLE identities(
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  key_id TEXT,
  public_key BLOB,
  kind TEXT NOT NULL DEFAULT '',
  enrolled_idx INTEGER NOT NULL REFERENCES leaves(idx),
  retired_idx INTEGER REFERENCES leaves(idx)
);
CREATE INDEX identities_key ON identities(key_id);
)sql",
    // 2: trace indexes (lib/trace_index.cpp). All derived from leaves and payloads, rebuilt on
    // migration; verify checks they agree with the log.
    R"sql(
CREATE INDEX leaves_device_time ON leaves(device, time_ms);
CREATE INDEX leaves_subject_time ON leaves(subject, time_ms, type, device) WHERE subject IS NOT NULL;
CREATE TABLE links(parent INTEGER NOT NULL, child INTEGER NOT NULL, PRIMARY KEY(parent, child)) WITHOUT ROWID;
CREATE TABLE assets(asset TEXT NOT NULL, time_ms INTEGER NOT NULL, idx INTEGER NOT NULL,
                    PRIMARY KEY(asset, time_ms, idx)) WITHOUT ROWID;
CREATE TABLE proximity(peer TEXT NOT NULL, time_ms INTEGER NOT NULL, idx INTEGER NOT NULL, distance_m REAL NOT NULL,
                       PRIMARY KEY(peer, time_ms, idx)) WITHOUT ROWID;
CREATE VIRTUAL TABLE positions USING rtree_i32(idx, t_min, t_max, lat_min, lat_max, lon_min, lon_max);
)sql",
    // 3: policy records are found without a scan (policy_log.cpp derives the active set).
    R"sql(
CREATE INDEX leaves_policy ON leaves(idx) WHERE kind IN ('policy', 'policy_retirement');
)sql",
    // 4: positions move from the R*Tree to a plain table with a space-time grid index (minute,
    // 14 m latitude band, longitude); see lib/trace_index.hpp for why. The expressions must
    // match trace::grid_slot and trace::grid_band.
    R"sql(
CREATE TABLE positions_grid_table(idx INTEGER PRIMARY KEY, t_s INTEGER NOT NULL, lat INTEGER NOT NULL, lon INTEGER NOT NULL);
INSERT INTO positions_grid_table SELECT idx, t_min, lat_min, lon_min FROM positions;
DROP TABLE positions;
ALTER TABLE positions_grid_table RENAME TO positions;
CREATE INDEX positions_grid ON positions(t_s / 60, lat >> 7, lon, t_s, lat);
)sql",
    // 5: RFC 3161 timestamp tokens over block checkpoints (lib/timestamp.hpp). Kept beside
    // the blocks, not in them: a token arrives after its block is sealed and signs the
    // checkpoint, so it cannot be part of what the authority signed.
    R"sql(
CREATE TABLE timestamps(height INTEGER PRIMARY KEY REFERENCES blocks(height), token BLOB NOT NULL);
)sql",
    // 6: the ids readings had in their source system (FHIR "Observation/<id>"), so later input
    // can name them in derivedFrom/hasMember. A trace index: derived from the payloads, checked
    // by verify. Nothing older can hold a source_ref (validation rejected the member), so
    // there is nothing to rebuild.
    R"sql(
CREATE TABLE source_refs(ref TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(ref, idx)) WITHOUT ROWID;
)sql",
    // 7: encrypted payloads (lib/privacy.hpp). A payload is either clear (salt, reading; ledgers
    // made before encryption) or a ciphertext; an erased one keeps neither. Data keys are
    // wrapped per recipient: wrap_keys holds one ephemeral X25519 key per session and
    // recipient, wraps one wrapped key per record and recipient. Privacy records (grant,
    // revocation, access, erasure) are found through a partial index, whose condition is
    // kPrivacyKindsCondition (lib/ledger.hpp) letter for letter.
    R"sql(
CREATE TABLE payloads_v7(
  idx INTEGER PRIMARY KEY REFERENCES leaves(idx),
  salt BLOB,
  reading TEXT,
  ciphertext BLOB,
  replay_tag BLOB
);
INSERT INTO payloads_v7(idx, salt, reading, replay_tag) SELECT idx, salt, reading, replay_tag FROM payloads;
DROP TABLE payloads;
ALTER TABLE payloads_v7 RENAME TO payloads;
CREATE UNIQUE INDEX payloads_replay ON payloads(replay_tag);
CREATE TABLE wrap_keys(id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, ephemeral BLOB NOT NULL);
CREATE TABLE wraps(
  idx INTEGER NOT NULL REFERENCES leaves(idx),
  recipient TEXT NOT NULL,
  wrap_key INTEGER NOT NULL REFERENCES wrap_keys(id),
  wrapped BLOB NOT NULL,
  PRIMARY KEY(idx, recipient)
) WITHOUT ROWID;
CREATE INDEX leaves_privacy ON leaves(idx) WHERE (kind = 'grant' OR kind = 'revocation' OR kind = 'access' OR kind = 'erasure');
)sql",
    // 8: record ids and replay tags move from B-tree indexes on leaves and payloads to sorted
    // runs (lib/hash_runs.hpp), so that ingest does not slow as the ledger grows. Existing
    // keys become one sorted run (gen 1); gen 2 is the open run new keys go to.
    R"sql(
CREATE TABLE hash_runs(tbl TEXT NOT NULL, gen INTEGER NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY(tbl, gen)) WITHOUT ROWID;
CREATE TABLE record_ids(gen INTEGER NOT NULL, id BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(gen, id, idx)) WITHOUT ROWID;
CREATE TABLE replay_tags(gen INTEGER NOT NULL, tag BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(gen, tag)) WITHOUT ROWID;
INSERT INTO record_ids(gen, id, idx) SELECT 1, id, idx FROM leaves ORDER BY id;
INSERT INTO replay_tags(gen, tag, idx) SELECT 1, replay_tag, idx FROM payloads WHERE replay_tag IS NOT NULL ORDER BY replay_tag;
INSERT INTO hash_runs(tbl, gen, rows) VALUES
  ('record_ids', 1, (SELECT count(*) FROM record_ids)), ('record_ids', 2, 0),
  ('replay_tags', 1, (SELECT count(*) FROM replay_tags)), ('replay_tags', 2, 0);
DROP INDEX leaves_id;
DROP INDEX payloads_replay;
)sql",
    // 9: large merges of those runs proceed in slices across commits; this names the one in
    // progress per table (lib/hash_runs.hpp).
    R"sql(
CREATE TABLE hash_run_merges(tbl TEXT PRIMARY KEY, target INTEGER NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 10: Bloom filters of the replay-tag runs (lib/hash_runs.hpp), so that ingest seeks only
    // the runs that may hold a reading's tag. Runs sealed before this have none and are sought
    // as before until a merge takes them in.
    R"sql(
ALTER TABLE hash_runs ADD COLUMN filtered INTEGER NOT NULL DEFAULT 0;
CREATE TABLE hash_run_filters(tbl TEXT NOT NULL, gen INTEGER NOT NULL, segment INTEGER NOT NULL, bits BLOB NOT NULL,
  PRIMARY KEY(tbl, gen, segment)) WITHOUT ROWID;
)sql",
    // 11: subject pseudonyms and signer (gateway) key ids are kept once each, in subjects and
    // signer_keys, and leaves refer to them by number: a ward's few hundred patients and few
    // gateways repeat in every reading, and the 32-byte pseudonym filled leaves_subject_time
    // too (1M readings: 63 bytes per record less). The envelope is unchanged: queries read
    // the values back through kLeafColumns (lib/ledger.hpp).
    R"sql(
CREATE TABLE subjects(ref INTEGER PRIMARY KEY, pseudonym BLOB NOT NULL UNIQUE);
CREATE TABLE signer_keys(ref INTEGER PRIMARY KEY, key_id TEXT NOT NULL UNIQUE);
INSERT INTO subjects(pseudonym) SELECT DISTINCT subject FROM leaves WHERE subject IS NOT NULL;
INSERT INTO signer_keys(key_id) SELECT DISTINCT gateway FROM leaves WHERE gateway IS NOT NULL;
DROP INDEX leaves_subject_time;
ALTER TABLE leaves ADD COLUMN subject_ref INTEGER;
ALTER TABLE leaves ADD COLUMN signer_ref INTEGER;
UPDATE leaves SET subject_ref = (SELECT ref FROM subjects WHERE pseudonym = subject),
                  signer_ref = (SELECT ref FROM signer_keys WHERE key_id = gateway)
  WHERE subject IS NOT NULL OR gateway IS NOT NULL;
ALTER TABLE leaves DROP COLUMN subject;
ALTER TABLE leaves DROP COLUMN gateway;
CREATE INDEX leaves_subject_time ON leaves(subject_ref, time_ms, type, device) WHERE subject_ref IS NOT NULL;
)sql",
    // 12: only every 4th level of tree hashes is stored (4, 8, 12, ...; level 0 is leaves.id),
    // as Go's tlog tiles keep every 8th: a level between is folded from at most 8 hashes of
    // the stored level below, read in one range (Ledger::hash_getter). Levels 1-3 were 15/16
    // of the table, 48 bytes per record at 10^6. The freed pages are reused by later writes
    // (VACUUM returns them to the file system).
    R"sql(
DELETE FROM nodes WHERE (key >> 58) % 4 != 0;
)sql",
    // 13: the record_ids runs key each record by the first 8 bytes of its id instead of all 32
    // (kRecordIdKeyBytes, lib/ledger.hpp); lookups check the full id on the leaf. Rewritten in
    // key order into a fresh table: a prefix keeps the order of the ids it cuts.
    R"sql(
CREATE TABLE record_ids_v13(gen INTEGER NOT NULL, id BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(gen, id, idx)) WITHOUT ROWID;
INSERT INTO record_ids_v13(gen, id, idx) SELECT gen, substr(id, 1, 8), idx FROM record_ids ORDER BY gen, id, idx;
DROP TABLE record_ids;
ALTER TABLE record_ids_v13 RENAME TO record_ids;
)sql",
    // 14: clear readings are stored without the device, type and time their leaf holds
    // (lib/stored_reading.hpp); `elided` says which members to put back, NULL none. Earlier
    // rows stay whole.
    R"sql(
ALTER TABLE payloads ADD COLUMN elided INTEGER;
)sql",
    // 15: device names (identity names) and types (roles) are kept once each, in labels, and
    // leaves refer to them by number, as subjects since 11; the kind is a number (RecordKind,
    // lib/ledger.hpp). A ward's devices and a handful of types repeat in every reading, and
    // both leaf indexes repeated them too (10^6 readings: about 41 bytes per record less). A
    // kind this release does not know reads as code 0: its envelope no longer matches, as it
    // did not before. The envelope is unchanged.
    R"sql(
CREATE TABLE labels(ref INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
INSERT INTO labels(text) SELECT device FROM leaves WHERE device IS NOT NULL UNION SELECT type FROM leaves WHERE type IS NOT NULL;
DROP INDEX leaves_device_time;
DROP INDEX leaves_subject_time;
DROP INDEX leaves_policy;
DROP INDEX leaves_privacy;
ALTER TABLE leaves ADD COLUMN kind_code INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leaves ADD COLUMN device_ref INTEGER;
ALTER TABLE leaves ADD COLUMN type_ref INTEGER;
UPDATE leaves SET kind_code = CASE kind WHEN 'reading' THEN 1 WHEN 'identity' THEN 2 WHEN 'retirement' THEN 3
                    WHEN 'seal' THEN 4 WHEN 'policy' THEN 5 WHEN 'policy_retirement' THEN 6 WHEN 'alert' THEN 7
                    WHEN 'grant' THEN 8 WHEN 'revocation' THEN 9 WHEN 'access' THEN 10 WHEN 'erasure' THEN 11 ELSE 0 END,
                  device_ref = (SELECT ref FROM labels WHERE text = device),
                  type_ref = (SELECT ref FROM labels WHERE text = type);
ALTER TABLE leaves DROP COLUMN kind;
ALTER TABLE leaves DROP COLUMN device;
ALTER TABLE leaves DROP COLUMN type;
CREATE INDEX leaves_device_time ON leaves(device_ref, time_ms);
CREATE INDEX leaves_subject_time ON leaves(subject_ref, time_ms, type_ref, device_ref) WHERE subject_ref IS NOT NULL;
CREATE INDEX leaves_policy ON leaves(idx) WHERE kind_code IN (5, 6);
CREATE INDEX leaves_privacy ON leaves(idx) WHERE (kind_code = 8 OR kind_code = 9 OR kind_code = 10 OR kind_code = 11);
)sql",
    // 16: replay tags are cut to their first 12 bytes (kReplayTagBytes, lib/keys.hpp), in
    // payloads and in their runs; a prefix keeps the runs' key order. The filters' probes come
    // from those 12 bytes now: Ledger::migrate writes every filter again after this.
    R"sql(
UPDATE payloads SET replay_tag = substr(replay_tag, 1, 12) WHERE length(replay_tag) > 12;
CREATE TABLE replay_tags_v16(gen INTEGER NOT NULL, tag BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(gen, tag)) WITHOUT ROWID;
INSERT INTO replay_tags_v16(gen, tag, idx) SELECT gen, substr(tag, 1, 12), idx FROM replay_tags ORDER BY gen, tag;
DROP TABLE replay_tags;
ALTER TABLE replay_tags_v16 RENAME TO replay_tags;
)sql",
    // 17: merges write their runs as packed blocks (lib/hash_runs.hpp): a row keeps its first
    // key and index in KEY and idx and the block's further entries in `more`. Existing rows
    // are blocks of one entry and stay as they are.
    R"sql(
ALTER TABLE record_ids ADD COLUMN more BLOB;
ALTER TABLE replay_tags ADD COLUMN more BLOB;
)sql",
};
constexpr int kMigrationCount = static_cast<int>(std::size(kMigrations));
static_assert(kMigrationCount == kSchemaVersion);

void configure(sql::Database& db) {
  db.exec("PRAGMA foreign_keys=ON");
  db.exec("PRAGMA synchronous=NORMAL");  // WAL + NORMAL: durable across application crashes
  // 64 MiB of page cache (default 2 MiB): lookups of record ids and replay tags land on
  // random pages of their runs (lib/hash_runs.hpp); a small cache re-reads them from disk.
  db.exec("PRAGMA cache_size=-65536");
  // Checkpoint the WAL into the file every 64 MiB of frames instead of every 4 MiB: an ingest
  // commit (16,384 records) writes more than 4 MiB, so each commit was followed by a checkpoint
  // that wrote back the same hot index pages again. 3 pairs at 10^6 (bench/README.md, schema 17):
  // ingest +8%, bytes written per record -24%, read -43%.
  db.exec("PRAGMA wal_autocheckpoint=16384");
}

constexpr std::string_view kKindNames[] = {
    "",      "reading", "identity",   "retirement", "seal",   "policy", "policy_retirement",
    "alert", "grant",   "revocation", "access",     "erasure"};
static_assert(std::size(kKindNames) == static_cast<std::size_t>(RecordKind::erasure) + 1);

}  // namespace

namespace {
// The name of a code this release writes, or nothing.
std::optional<std::string_view> known_kind_name(std::int64_t code) {
  if (code > 0 && static_cast<std::uint64_t>(code) < std::size(kKindNames))
    return kKindNames[static_cast<std::size_t>(code)];
  return std::nullopt;
}
}  // namespace

int kind_code_of(std::string_view kind) {
  for (std::size_t code = 1; code < std::size(kKindNames); ++code)
    if (kKindNames[code] == kind) return static_cast<int>(code);
  throw std::logic_error("not a record kind: " + std::string(kind));
}

std::string kind_name_of(std::int64_t code) {
  if (auto name = known_kind_name(code)) return std::string(*name);
  return "unknown-" + std::to_string(code);
}

json envelope_of(const LeafRow& row) {
  json env = json::object();
  env["v"] = kEnvelopeVersion;
  env["kind"] = row.kind;
  env["received"] = format_rfc3339_ms(row.received_ms);
  if (row.kind == "reading") {
    if (row.device) env["device"] = *row.device;
    if (row.gateway) env["gateway"] = *row.gateway;
    if (row.time_ms) env["time"] = format_rfc3339_ms(*row.time_ms);
    if (row.type) env["type"] = *row.type;
    if (row.commitment) env["commitment"] = to_hex(*row.commitment);
    if (row.subject) env["subject"] = to_hex(*row.subject);
  } else {
    // identity / retirement: device column holds the identity name, type its role.
    if (row.device) env["name"] = *row.device;
    if (row.type) env["role"] = *row.type;
    if (row.gateway) env[row.kind == "seal" ? "gateway" : "signer"] = *row.gateway;
  }
  if (row.extra.is_object())
    for (const auto& [key, value] : row.extra.items()) env[key] = value;
  return env;
}

namespace {
// The envelope of a reading with no extra members, which is nearly every record: its member
// names are fixed ASCII, so their RFC 8785 order is fixed too and the text is written straight
// into `out`, in that order. Collecting and sorting the members cost 15% of a full verify.
void write_plain_reading_envelope(const LeafRow& row, std::string& out) {
  static_assert(kEnvelopeVersion >= 0 && kEnvelopeVersion <= 9, "v is written as one digit");
  out.clear();
  bool first = true;
  auto name = [&](std::string_view key) {
    out += first ? "{\"" : ",\"";
    first = false;
    out += key;
    out += "\":";
  };
  auto member = [&](std::string_view key, std::string_view value) {
    name(key);
    jcs::append_string(out, value);
  };
  auto hex_member = [&](std::string_view key, const Hash& value) {
    name(key);
    jcs::append_hex_string(out, value);
  };
  auto time_member = [&](std::string_view key, std::int64_t unix_ms) {
    std::array<char, kRfc3339MsBufferSize> text{};
    member(key, std::string_view(text.data(), format_rfc3339_ms_to(unix_ms, text)));
  };
  if (row.commitment) hex_member("commitment", *row.commitment);
  if (row.device) member("device", *row.device);
  if (row.gateway) member("gateway", *row.gateway);
  member("kind", row.kind);
  time_member("received", row.received_ms);
  if (row.subject) hex_member("subject", *row.subject);
  if (row.time_ms) time_member("time", *row.time_ms);
  if (row.type) member("type", *row.type);
  name("v");
  out += static_cast<char>('0' + kEnvelopeVersion);
  out += '}';
}

bool is_plain_reading(const LeafRow& row) {
  return row.kind == "reading" && (!row.extra.is_object() || row.extra.empty());
}
}  // namespace

// The JCS text of envelope_of(row), written without building its json object: ingest and
// verify hash one per record. Member for member the same as envelope_of, which
// tests/unit/test_ledger.cpp and the envelope fuzz target check.
std::string canonical_envelope(const LeafRow& row) {
  if (is_plain_reading(row)) {
    std::string out;
    write_plain_reading_envelope(row, out);
    return out;
  }
  jcs::ObjectWriter env;
  // A member of extra replaces the column of the same name, so that column is not written at
  // all: writing it would refuse text (invalid UTF-8) that the envelope does not contain.
  const bool has_extra = row.extra.is_object() && !row.extra.empty();
  auto kept = [&](std::string_view key) { return !has_extra || !row.extra.contains(key); };
  if (kept("v")) env.value("v", kEnvelopeVersion);
  if (kept("kind")) env.string("kind", row.kind);
  if (kept("received")) env.string("received", format_rfc3339_ms(row.received_ms));
  if (row.kind == "reading") {
    if (row.device && kept("device")) env.string("device", *row.device);
    if (row.gateway && kept("gateway")) env.string("gateway", *row.gateway);
    if (row.time_ms && kept("time")) env.string("time", format_rfc3339_ms(*row.time_ms));
    if (row.type && kept("type")) env.string("type", *row.type);
    if (row.commitment && kept("commitment")) env.hex("commitment", *row.commitment);
    if (row.subject && kept("subject")) env.hex("subject", *row.subject);
  } else {
    const char* signer = row.kind == "seal" ? "gateway" : "signer";
    if (row.device && kept("name")) env.string("name", *row.device);
    if (row.type && kept("role")) env.string("role", *row.type);
    if (row.gateway && kept(signer)) env.string(signer, *row.gateway);
  }
  if (has_extra)
    for (const auto& [key, value] : row.extra.items()) env.value(key, value);
  return env.finish();
}

Hash leaf_hash_of(const LeafRow& row) {
  if (!is_plain_reading(row)) return merkle::leaf_hash(as_bytes(canonical_envelope(row)));
  thread_local std::string text;  // one buffer per thread: verify hashes every reading of the log
  write_plain_reading_envelope(row, text);
  return merkle::leaf_hash(as_bytes(text));
}

std::string signed_part_of(const LeafRow& row) {
  json env = envelope_of(row);
  env.erase("sig");
  return jcs::canonicalize(env);
}

json Block::to_json() const {
  return {{"hash", to_hex(hash)}, {"header", header}, {"signatures", signatures}};
}

Hash empty_policy_root() { return crypto::sha256(std::string_view("[]")); }

void parse_leaf_extra(LeafRow& row, const std::string& text) {
  row.extra = json::parse(text, nullptr, false);
  if (!row.extra.is_object())
    throw Error(ExitCode::verification_failed, "record " + std::to_string(row.index) + " has a malformed extra column");
}

LeafRow read_leaf_row(sql::Statement& s, int c) {
  LeafRow row;
  std::optional<std::string> extra_text;
  read_leaf_row_into(s, c, row, extra_text);
  if (extra_text) parse_leaf_extra(row, *extra_text);
  return row;
}

namespace {
void assign_text(sql::Statement& s, int column, std::optional<std::string>& out) {
  if (s.is_null(column)) {
    out.reset();
    return;
  }
  if (!out) out.emplace();
  out->assign(s.text_view(column));
}
}  // namespace

namespace {
// As kind_name_of, into `out`'s buffer (verify reads millions of rows into a few).
void assign_kind(std::string& out, std::int64_t code) {
  if (auto name = known_kind_name(code))
    out.assign(*name);
  else
    out = kind_name_of(code);
}

// Reads every column of kLeafColumns but device (3), signer (4), type (7) and subject (9),
// which `interned` fills: they are values in kLeafColumns, refs in kLeafColumnsWithRefs.
template <typename Interned>
void read_leaf_columns(sql::Statement& s, int c, LeafRow& row, std::optional<std::string>& extra_text,
                       Interned&& interned) {
  row.index = static_cast<std::uint64_t>(s.integer(c));
  row.id = to_hash(s.blob(c + 1), "record id");
  // Strictly an integer: a code stored as 1.5 would read as 1 and pass the leaf hash, while
  // every `kind_code = 1` query missed the record.
  if (s.is_integer(c + 2))
    assign_kind(row.kind, s.integer(c + 2));
  else
    row.kind = "unknown-" + std::string(s.is_null(c + 2) ? "null" : s.text_view(c + 2));
  row.time_ms = s.is_null(c + 5) ? std::nullopt : std::optional<std::int64_t>(s.integer(c + 5));
  row.received_ms = s.integer(c + 6);
  row.commitment = s.is_null(c + 8) ? std::nullopt : std::optional<Hash>(to_hash(s.blob(c + 8), "commitment"));
  interned();
  assign_text(s, c + 10, extra_text);
  if (!extra_text && !row.extra.is_null()) row.extra = nullptr;
}

std::optional<Hash> subject_of(sql::Statement& s, int column) {
  return s.is_null(column) ? std::nullopt : std::optional<Hash>(to_hash(s.blob(column), "subject pseudonym"));
}
}  // namespace

void read_leaf_row_into(sql::Statement& s, int c, LeafRow& row, std::optional<std::string>& extra_text) {
  read_leaf_columns(s, c, row, extra_text, [&] {
    assign_text(s, c + 3, row.device);
    assign_text(s, c + 4, row.gateway);
    assign_text(s, c + 7, row.type);
    row.subject = subject_of(s, c + 9);
  });
}

LeafRefs::LeafRefs(sql::Database& db)
    : signer_lookup_(db.prepare("SELECT key_id FROM signer_keys WHERE ref = ?")),
      label_lookup_(db.prepare("SELECT text FROM labels WHERE ref = ?")),
      subject_lookup_(db.prepare("SELECT pseudonym FROM subjects WHERE ref = ?")),
      signers_(kSignerSlots),
      labels_(kLabelSlots),
      subjects_(kSubjectSlots) {}

template <typename Value, typename Read>
const std::optional<Value>& LeafRefs::cached(std::vector<Slot<Value>>& slots, sql::Statement& lookup, std::int64_t ref,
                                             Read&& read) {
  auto& slot = slots[static_cast<std::uint64_t>(ref) % slots.size()];
  if (slot.filled && slot.ref == ref) return slot.value;
  slot.filled = false;  // until the lookup has succeeded: a malformed value throws each time
  slot.ref = ref;
  lookup.bind(1, ref);
  try {
    slot.value = lookup.step() ? read(lookup) : std::nullopt;
  } catch (...) {
    lookup.reset();
    throw;
  }
  lookup.reset();
  slot.filled = true;
  return slot.value;
}

void LeafRefs::read_row_into(sql::Statement& s, int c, LeafRow& row, std::optional<std::string>& extra_text) {
  // A ref that is not an integer, or names no row, reads as NULL, as the subqueries of
  // kLeafColumns read it (an INTEGER column keeps a value as text or real only when it is not
  // an integer, and such a value equals no integer key).
  auto text_ref = [&](int column, std::vector<Slot<std::string>>& slots, sql::Statement& lookup,
                      std::optional<std::string>& out) {
    if (!s.is_integer(column)) {
      out.reset();
      return;
    }
    const auto& value = cached(slots, lookup, s.integer(column), [](sql::Statement& found) {
      return found.is_null(0) ? std::nullopt : std::optional<std::string>(found.text_view(0));
    });
    if (!value) {
      out.reset();
    } else {
      if (!out) out.emplace();
      out->assign(*value);
    }
  };
  read_leaf_columns(s, c, row, extra_text, [&] {
    text_ref(c + 3, labels_, label_lookup_, row.device);
    text_ref(c + 4, signers_, signer_lookup_, row.gateway);
    text_ref(c + 7, labels_, label_lookup_, row.type);
    if (!s.is_integer(c + 9)) {
      row.subject.reset();
    } else {
      row.subject = cached(subjects_, subject_lookup_, s.integer(c + 9),
                           [](sql::Statement& found) { return subject_of(found, 0); });
    }
  });
}

Ledger::Ledger(std::unique_ptr<sql::Database> db)
    : db_(std::move(db)), reading_source_(std::make_unique<ReadingSource>()) {
  // reading_of(idx, stored, elided, device, type, time_ms) is kReadingOfPayload: the clear
  // reading, whole, when stored in clear, else whatever the installed reader (lib/privacy.hpp)
  // may decrypt, else NULL. Queries that need reading values use it so that neither storage
  // form nor keys are each query's business.
  auto call = [](sqlite3_context* ctx, int, sqlite3_value** args) {
    auto optional_text = [&](int at) -> std::optional<std::string_view> {
      if (sqlite3_value_type(args[at]) == SQLITE_NULL) return std::nullopt;
      auto* text = reinterpret_cast<const char*>(sqlite3_value_text(args[at]));
      return std::string_view(text, static_cast<std::size_t>(sqlite3_value_bytes(args[at])));
    };
    try {
      if (sqlite3_value_type(args[1]) != SQLITE_NULL) {
        std::int64_t elided = sqlite3_value_int64(args[2]);
        if (elided == 0) return sqlite3_result_value(ctx, args[1]);
        EnvelopeMembers envelope{optional_text(3), optional_text(4), std::nullopt};
        if (sqlite3_value_type(args[5]) != SQLITE_NULL) envelope.time_ms = sqlite3_value_int64(args[5]);
        auto stored = optional_text(1);
        auto whole = restore_envelope_members(*stored, elided, envelope);
        if (!whole)
          return sqlite3_result_error(ctx,
                                      ("the stored reading of record " + std::to_string(sqlite3_value_int64(args[0])) +
                                       " cannot be put together with its envelope (medtrail verify)")
                                          .c_str(),
                                      -1);
        return sqlite3_result_text64(ctx, whole->data(), whole->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      auto* source = static_cast<ReadingSource*>(sqlite3_user_data(ctx));
      if (!*source) return sqlite3_result_null(ctx);
      auto text = (*source)(static_cast<std::uint64_t>(sqlite3_value_int64(args[0])));
      if (!text) return sqlite3_result_null(ctx);
      sqlite3_result_text64(ctx, text->data(), text->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } catch (const std::exception& e) {
      sqlite3_result_error(ctx, e.what(), -1);
    }
  };
  if (sqlite3_create_function_v2(db_->handle(), "reading_of", 6, SQLITE_UTF8, reading_source_.get(), call, nullptr,
                                 nullptr, nullptr) != SQLITE_OK)
    throw Error(ExitCode::environment, "cannot register the reading_of SQL function");
  register_run_functions(*db_);
}

void Ledger::migrate() {
  int version = 0;
  {
    // Finalised before migrating: DROP TABLE fails (SQLITE_LOCKED) while any statement is active.
    auto version_stmt = db_->prepare("PRAGMA user_version");
    version_stmt.step();
    version = static_cast<int>(version_stmt.integer(0));
  }
  if (version > kSchemaVersion)
    throw Error(ExitCode::environment, db_->path() + " uses ledger schema version " + std::to_string(version) +
                                           ", newer than this medtrail supports (" +
                                           std::to_string(kSchemaVersion) + "); upgrade medtrail");
  for (int v = version; v < kMigrationCount; ++v) {
    db_->exec(kMigrations[v]);
    db_->exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
  }
  // A ledger written before the trace indexes existed: fill them once they have their final shape.
  if (version < 2) trace::rebuild_index(*this);
  // Filters exist since schema 10; migration 16 changed what they hold.
  if (version >= 10 && version < 16) HashRuns(*db_, "replay_tags", "tag").rewrite_filters();
}

void Ledger::load_meta() {
  auto stmt = db_->prepare("SELECT key, value FROM meta");
  std::map<std::string, std::string> meta;
  while (stmt.step()) meta[stmt.text(0)] = stmt.text(1);
  if (meta["format"] != "medtrail-ledger")
    throw Error(ExitCode::environment, db_->path() + " is not a medtrail ledger");
  origin_ = meta["origin"];
  data_key_id_ = meta["data_key_id"];
}

Ledger Ledger::open(const std::string& path, bool writable, Options options) {
  auto db = std::make_unique<sql::Database>(path, writable ? sql::Database::Mode::read_write
                                                           : sql::Database::Mode::read_only,
                                            options.busy_timeout_ms);
  Ledger ledger(std::move(db));
  configure(*ledger.db_);
  // Reading the schema version is the first access: random bytes or an empty file fail here.
  auto stmt = ledger.db_->prepare("PRAGMA user_version");
  stmt.step();
  auto version = stmt.integer(0);
  stmt.reset();
  if (version == 0)
    throw Error(ExitCode::environment, path + " is not a medtrail ledger (no schema)");
  if (version > kSchemaVersion)
    throw Error(ExitCode::environment, path + " uses ledger schema version " + std::to_string(version) +
                                           ", newer than this medtrail supports (" +
                                           std::to_string(kSchemaVersion) + "); upgrade medtrail");
  if (version < kSchemaVersion) {
    if (!writable)
      throw Error(ExitCode::environment, path + " uses an older schema; run a writing command (e.g. anchor) to migrate it");
    sql::WriteTransaction tx(*ledger.db_);
    ledger.migrate();
    tx.commit();
  }
  ledger.load_meta();
  return ledger;
}

Ledger Ledger::create(const std::string& path, const SigningKey& authority, const std::string& origin,
                      const DataKey& data_key, Options options) {
  if (origin.empty() || origin.find('\n') != std::string::npos || origin.size() > 256)
    throw Error(ExitCode::usage, "--origin must be one line of at most 256 characters, e.g. hospital-a.example/ward3");
  if (::access(path.c_str(), F_OK) == 0)
    throw Error(ExitCode::usage, path + " already exists; refusing to initialise over an existing file");
  auto db = std::make_unique<sql::Database>(path, sql::Database::Mode::create, options.busy_timeout_ms);
  Ledger ledger(std::move(db));
  auto& d = *ledger.db_;
  d.exec("PRAGMA journal_mode=WAL");
  configure(d);
  sql::WriteTransaction tx(d);
  ledger.migrate();
  auto meta = d.prepare("INSERT INTO meta(key, value) VALUES (?, ?)");
  meta.bind(1, "format").bind(2, "medtrail-ledger").run();
  meta.bind(1, "origin").bind(2, origin).run();
  meta.bind(1, "data_key_id").bind(2, data_key.id()).run();
  meta.bind(1, "created").bind(2, format_rfc3339_ms(now_unix_ms())).run();
  ledger.origin_ = origin;
  ledger.data_key_id_ = data_key.id();

  // Leaf 0: the authority enrols itself; its self-signature is what --trust pins.
  const auto& id = authority.identity();
  LeafRow genesis;
  genesis.kind = "identity";
  genesis.device = id.name;
  genesis.type = "authority";
  genesis.gateway = id.key_id();
  genesis.received_ms = now_unix_ms();
  genesis.extra = {{"public_key", base64_encode(id.key)}, {"origin", origin}};
  // The genesis authority's encryption key makes it the data owner: payloads are encrypted.
  if (id.enc_key) genesis.extra["enc_key"] = base64_encode(*id.enc_key);
  genesis.extra["sig"] = base64_encode(authority.sign(signed_part_of(genesis)));
  Appender appender(ledger);
  std::uint64_t index = appender.append(genesis);
  d.prepare("INSERT INTO identities(name, role, key_id, public_key, kind, enrolled_idx) VALUES (?, ?, ?, ?, '', ?)")
      .bind(1, id.name).bind(2, "authority").bind(3, id.key_id()).bind_blob(4, id.key).bind(5, index).run();
  tx.commit();
  // Height 0 seals the genesis record.
  if (!ledger.anchor(authority, 1, false))
    throw Error(ExitCode::environment, "could not seal the genesis block");
  return ledger;
}

std::uint64_t Ledger::size() {
  auto stmt = db_->prepare("SELECT coalesce(max(idx) + 1, 0) FROM leaves");
  stmt.step();
  return static_cast<std::uint64_t>(stmt.integer(0));
}

namespace {
std::optional<Block> read_block(sql::Statement& stmt) {
  if (!stmt.step()) return std::nullopt;
  Block b;
  b.height = static_cast<std::uint64_t>(stmt.integer(0));
  b.hash = to_hash(stmt.blob(1), "block hash");
  b.header = json::parse(stmt.text(2), nullptr, false);
  b.signatures = json::parse(stmt.text(3), nullptr, false);
  b.checkpoint = stmt.text(4);
  if (!b.header.is_object() || !b.signatures.is_array() || !b.header.contains("tree_size") ||
      !b.header["tree_size"].is_number_unsigned())
    throw Error(ExitCode::verification_failed, "block " + std::to_string(b.height) + " is malformed in the ledger");
  return b;
}
}  // namespace

std::optional<Block> Ledger::latest_block() {
  auto stmt = db_->prepare("SELECT height, hash, header, signatures, checkpoint FROM blocks ORDER BY height DESC LIMIT 1");
  return read_block(stmt);
}

std::optional<Block> Ledger::block(std::uint64_t height) {
  auto stmt = db_->prepare("SELECT height, hash, header, signatures, checkpoint FROM blocks WHERE height = ?");
  stmt.bind(1, height);
  return read_block(stmt);
}

std::optional<std::uint64_t> Ledger::block_height_of(std::uint64_t index) {
  // Blocks are few compared with leaves; the first block whose tree_size exceeds index holds it.
  auto stmt = db_->prepare(
      "SELECT height FROM blocks WHERE json_extract(header, '$.tree_size') > ? ORDER BY height LIMIT 1");
  stmt.bind(1, index);
  if (!stmt.step()) return std::nullopt;
  return static_cast<std::uint64_t>(stmt.integer(0));
}

LeafRow Ledger::leaf(std::uint64_t index) {
  if (!leaf_at_)
    leaf_at_.emplace(db_->prepare((std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE idx = ?").c_str()));
  auto& stmt = *leaf_at_;
  // Reset on every way out, or the statement would hold its read transaction open.
  struct ResetOnExit {
    sql::Statement& stmt;
    ~ResetOnExit() { stmt.reset(); }
  } reset_on_exit{stmt};
  stmt.bind(1, index);
  if (!stmt.step()) throw Error(ExitCode::not_found, "no record at index " + std::to_string(index));
  return read_leaf_row(stmt, 0);
}

std::optional<json> Ledger::payload(std::uint64_t index) {
  // Encrypted readings come through reading_of, so only an installed reader can see them.
  auto stmt = db_->prepare(kReadingAtIndex);
  stmt.bind(1, index);
  if (!stmt.step() || stmt.is_null(0)) return std::nullopt;
  json reading = json::parse(stmt.text(0), nullptr, false);
  return json{{"reading", reading}};
}

std::uint64_t Ledger::resolve(std::string_view text) {
  if (text.size() < 8 || text.size() > 64)
    throw Error(ExitCode::usage, "record id \"" + std::string(text) + "\" must be 8 to 64 hex digits");
  std::string lower;
  for (char c : text) {
    char l = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f')))
      throw Error(ExitCode::usage, "record id \"" + std::string(text) + "\" is not hexadecimal");
    lower.push_back(l);
  }
  // Prefix range on the runs' 8-byte keys: [prefix 00.., prefix ff..], cut to the key width.
  const auto lo = *hash_from_hex(lower + std::string(64 - lower.size(), '0'));
  const auto hi = *hash_from_hex(lower + std::string(64 - lower.size(), 'f'));
  const auto key_lo = record_id_key(lo), key_hi = record_id_key(hi);
  // A prefix of up to 16 digits is decided by the keys alone: two hits are ambiguous. A longer
  // one is checked on each hit's leaf, as ids may share their first 8 bytes.
  const bool key_decides = lower.size() <= 2 * kRecordIdKeyBytes;
  auto hits = HashRuns(*db_, "record_ids", "id").range(key_lo, key_hi, key_decides ? 2 : 64);
  std::vector<std::uint64_t> found;
  for (auto index : hits) {
    auto id = leaf(index).id;
    auto key = record_id_key(id);
    // The runs are a table anyone with the file can edit: never hand out a record they misname.
    if (std::ranges::lexicographical_compare(key, key_lo) || std::ranges::lexicographical_compare(key_hi, key))
      throw Error(ExitCode::verification_failed, "the record-id index maps " + lower + " to record " +
                                                     std::to_string(index) + ", whose id is " + to_hex(id) +
                                                     "; the ledger is damaged (run medtrail verify)");
    if (to_hex(id).compare(0, lower.size(), lower) == 0) found.push_back(index);
  }
  if (found.empty()) throw Error(ExitCode::not_found, "no record with id " + lower);
  if (found.size() > 1) throw Error(ExitCode::usage, "record id prefix " + lower + " is ambiguous; give more digits");
  return found.front();
}

std::vector<Identity> Ledger::identities() { return identities_where("", ""); }

std::vector<Identity> Ledger::identities_where(const std::string& column, const std::string& value) {
  std::vector<Identity> out;
  std::string sql = "SELECT name, role, public_key, kind, enrolled_idx, retired_idx FROM identities " +
                    (column.empty() ? std::string() : "WHERE " + column + " = ? ") + "ORDER BY enrolled_idx";
  auto stmt = db_->prepare(sql.c_str());
  if (!column.empty()) stmt.bind(1, value);
  while (stmt.step()) {
    Identity id;
    id.name = stmt.text(0);
    id.role = stmt.text(1);
    if (!stmt.is_null(2)) {
      auto blob = stmt.blob(2);
      if (blob.size() != 32) throw Error(ExitCode::verification_failed, "identity " + id.name + " has a malformed key");
      PublicKey k;
      std::copy(blob.begin(), blob.end(), k.begin());
      id.key = k;
    }
    id.kind = stmt.text(3);
    id.enrolled_index = static_cast<std::uint64_t>(stmt.integer(4));
    if (!stmt.is_null(5)) id.retired_index = static_cast<std::uint64_t>(stmt.integer(5));
    out.push_back(std::move(id));
  }
  return out;
}

std::optional<Identity> Ledger::identity(const std::string& name) {
  auto found = identities_where("name", name);
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::optional<Identity> Ledger::identity_by_key_id(const std::string& key_id) {
  for (auto& id : identities_where("key_id", key_id))
    if (id.key && key_id_of(*id.key) == key_id) return id;
  return std::nullopt;
}

merkle::HashGetter Ledger::hash_getter() {
  // Statements are shared by the returned getter; it must not outlive the ledger.
  auto leaf_range =
      std::make_shared<sql::Statement>(db_->prepare("SELECT id FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx"));
  auto node_range =
      std::make_shared<sql::Statement>(db_->prepare("SELECT hash FROM nodes WHERE key >= ? AND key < ? ORDER BY key"));
  return [leaf_range, node_range](int level, std::uint64_t index) -> Hash {
    // A level between stored ones is folded from the 2, 4 or 8 hashes below it on the
    // nearest stored level (leaves.id being level 0), read in one range.
    const int base = level - level % kStoredNodeLevelStep;
    const int depth = level - base;
    const std::uint64_t first = index << depth, count = std::uint64_t(1) << depth;
    auto& stmt = base == 0 ? *leaf_range : *node_range;
    const std::int64_t low = base == 0 ? static_cast<std::int64_t>(first) : node_key(base, first);
    stmt.bind(1, low).bind(2, low + static_cast<std::int64_t>(count));
    std::vector<Hash> row;
    row.reserve(count);
    while (stmt.step()) row.push_back(to_hash(stmt.blob(0), "tree hash"));
    stmt.reset();
    if (row.size() != count)
      throw Error(ExitCode::verification_failed,
                  "stored hash missing at level " + std::to_string(base) + " index " + std::to_string(first) +
                      (depth == 0 ? std::string()
                                  : " to " + std::to_string(first + count - 1) + " (needed for level " +
                                        std::to_string(level) + " index " + std::to_string(index) + ")"));
    for (std::size_t n = count; n > 1; n /= 2)
      for (std::size_t i = 0; i < n / 2; ++i) row[i] = merkle::node_hash(row[2 * i], row[2 * i + 1]);
    return row[0];
  };
}

Identity Ledger::require_active(const PublicKey& key, std::initializer_list<std::string_view> roles) {
  std::string wanted;
  for (auto r : roles) wanted += std::string(wanted.empty() ? "" : " or ") + std::string(r);
  for (auto& id : identities()) {
    if (!id.key || *id.key != key) continue;
    if (id.retired_index)
      throw Error(ExitCode::usage, "identity " + id.name + " (key " + key_id_of(key) + ") was retired at record " +
                                                     std::to_string(*id.retired_index));
    if (std::find(roles.begin(), roles.end(), id.role) == roles.end())
      throw Error(ExitCode::usage, "identity " + id.name + " is enrolled as " + id.role + ", but this needs " + wanted);
    return id;
  }
  throw Error(ExitCode::not_found, "key " + key_id_of(key) + " is not enrolled on this ledger (enroll it as " + wanted + " first)");
}

Ledger::Appender::Appender(Ledger& ledger)
    : insert_leaf_(ledger.db_->prepare(
          "INSERT INTO leaves(idx, id, kind_code, device_ref, signer_ref, time_ms, received_ms, type_ref, commitment, "
          "subject_ref, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")),
      insert_node_(ledger.db_->prepare("INSERT INTO nodes(key, hash) VALUES (?, ?)")),
      insert_payload_(
          ledger.db_->prepare("INSERT INTO payloads(idx, salt, reading, replay_tag, elided) VALUES (?, ?, ?, ?, ?)")),
      record_ids_(*ledger.db_, "record_ids", "id"),
      replay_tags_(*ledger.db_, "replay_tags", "tag", HashRuns::Tuning{}, ledger.replay_filters_.get()),
      subjects_(*ledger.db_, "subjects", "pseudonym"),
      signer_keys_(*ledger.db_, "signer_keys", "key_id"),
      labels_(*ledger.db_, "labels", "text") {
  frontier_ = merkle::Frontier::load(ledger.size(), ledger.hash_getter());
  record_ids_.pin_open_run();
  replay_tags_.pin_open_run();
  record_ids_.maintain();
  replay_tags_.maintain();
}

std::uint64_t Ledger::Appender::append(LeafRow& row) {
  row.id = leaf_hash_of(row);
  return append_hashed(row);
}

std::uint64_t Ledger::Appender::append_hashed(LeafRow& row) {
  row.index = frontier_.size();
  auto& s = insert_leaf_;
  auto bind_label = [&](int at, const std::optional<std::string>& text) {
    if (text)
      s.bind(at, labels_.ref_of_text(*text));
    else
      s.bind_null(at);
  };
  s.bind(1, row.index).bind_blob(2, row.id).bind(3, kind_code_of(row.kind));
  bind_label(4, row.device);
  if (row.gateway)
    s.bind(5, signer_keys_.ref_of_text(*row.gateway));
  else
    s.bind_null(5);
  s.bind(6, row.time_ms).bind(7, row.received_ms);
  bind_label(8, row.type);
  if (row.commitment) s.bind_blob(9, *row.commitment); else s.bind_null(9);
  if (row.subject)
    s.bind(10, subjects_.ref_of_blob(*row.subject));
  else
    s.bind_null(10);
  if (row.extra.is_object() && !row.extra.empty()) s.bind(11, jcs::canonicalize(row.extra)); else s.bind_null(11);
  s.run();
  record_ids_.insert(record_id_key(row.id), row.index);
  frontier_.push(row.id, [this](int level, std::uint64_t index, const Hash& hash) {
    if (!is_stored_node_level(level)) return;
    insert_node_.bind(1, node_key(level, index)).bind_blob(2, hash).run();
  });
  return row.index;
}

Ledger::Appender::Interned::Interned(sql::Database& db, const char* table, const char* column)
    : find_(db.prepare((std::string("SELECT ref FROM ") + table + " WHERE " + column + " = ?").c_str())),
      insert_(db.prepare((std::string("INSERT INTO ") + table + "(" + column + ") VALUES (?) RETURNING ref").c_str())) {
}

std::int64_t Ledger::Appender::Interned::ref_of_text(std::string_view text) { return ref_of(text, false); }

std::int64_t Ledger::Appender::Interned::ref_of_blob(std::span<const std::uint8_t> blob) {
  return ref_of(std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()), true);
}

std::int64_t Ledger::Appender::Interned::ref_of(std::string_view bytes, bool is_blob) {
  if (auto it = cache_.find(bytes); it != cache_.end()) return it->second;
  auto bind = [&](sql::Statement& s) -> sql::Statement& {
    if (is_blob) return s.bind_blob(1, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    return s.bind(1, bytes);
  };
  std::int64_t ref = 0;
  if (bind(find_).step()) {
    ref = find_.integer(0);
    find_.reset();
  } else {
    find_.reset();
    if (!bind(insert_).step()) throw Error(ExitCode::environment, "could not store a subject, signer key id or label");
    ref = insert_.integer(0);
    insert_.reset();
  }
  // Bounded: a long --atomic ingest over a huge population must not grow without limit.
  if (cache_.size() >= 65536) cache_.clear();
  cache_.emplace(std::string(bytes), ref);
  return ref;
}

void Ledger::Appender::add_payload(std::uint64_t index, std::span<const std::uint8_t> salt,
                                   const StoredReading& reading, std::span<const std::uint8_t> replay_tag) {
  insert_payload_.bind(1, index).bind_blob(2, salt).bind(3, reading.text).bind_blob(4, replay_tag);
  if (reading.elided)
    insert_payload_.bind(5, reading.elided);
  else
    insert_payload_.bind_null(5);
  insert_payload_.run();
  replay_tags_.insert(replay_tag, index);
}

std::string clear_reading_of(const LeafRow& row, std::string_view stored, std::int64_t elided) {
  auto whole = restore_envelope_members(stored, elided, envelope_members_of(row));
  if (!whole)
    throw Error(ExitCode::verification_failed, "the stored reading of record " + std::to_string(row.index) +
                                                   " cannot be put together with its envelope (medtrail verify)");
  return *whole;
}

std::vector<LeafRow> Ledger::enroll(const SigningKey& authority, const std::vector<EnrollRequest>& requests) {
  sql::WriteTransaction tx(*db_);
  const auto& me = authority.identity();
  require_active(me.key, {"authority"});
  std::map<std::string, Identity> known;
  std::map<std::string, std::string> key_owner;
  for (auto& id : identities()) {
    if (id.key) key_owner[key_id_of(*id.key)] = id.name;
    known[id.name] = std::move(id);
  }
  Appender appender(*this);
  auto insert_identity = db_->prepare(
      "INSERT INTO identities(name, role, key_id, public_key, kind, enrolled_idx) VALUES (?, ?, ?, ?, ?, ?)");
  std::vector<LeafRow> out;
  std::int64_t now = now_unix_ms();
  for (const auto& r : requests) {
    if (!is_valid_name(r.name))
      throw Error(ExitCode::usage, "identity name \"" + r.name + "\" must be 1-64 letters, digits, '.', '_' or '-'");
    if (!is_valid_role(r.role)) throw Error(ExitCode::usage, "unknown role \"" + r.role + "\"");
    if (r.role != "device" && !r.key)
      throw Error(ExitCode::usage, "a " + r.role + " must be enrolled with its public key file");
    if (known.count(r.name))
      throw Error(ExitCode::usage, "identity " + r.name + " is already enrolled" +
                                       (known[r.name].retired_index ? " (and retired; names are never reused)" : ""));
    if (r.key && key_owner.count(key_id_of(*r.key)))
      throw Error(ExitCode::usage, "that public key is already enrolled as " + key_owner[key_id_of(*r.key)]);
    LeafRow row;
    row.kind = "identity";
    row.device = r.name;
    row.type = r.role;
    row.gateway = me.key_id();
    row.received_ms = now;
    row.extra = json::object();
    if (r.key) row.extra["public_key"] = base64_encode(*r.key);
    if (r.enc_key) row.extra["enc_key"] = base64_encode(*r.enc_key);
    if (!r.kind.empty()) row.extra["device_kind"] = r.kind;
    row.extra["sig"] = base64_encode(authority.sign(signed_part_of(row)));
    auto index = appender.append(row);
    insert_identity.bind(1, r.name).bind(2, r.role);
    if (r.key) insert_identity.bind(3, key_id_of(*r.key)).bind_blob(4, *r.key);
    else insert_identity.bind_null(3).bind_null(4);
    insert_identity.bind(5, r.kind).bind(6, index).run();
    Identity id{r.name, r.role, r.key, r.kind, index, std::nullopt};
    if (r.key) key_owner[key_id_of(*r.key)] = r.name;
    known[r.name] = id;
    out.push_back(std::move(row));
  }
  tx.commit();
  return out;
}

LeafRow Ledger::retire(const SigningKey& authority, const std::string& name, const std::string& reason) {
  sql::WriteTransaction tx(*db_);
  const auto& me = authority.identity();
  require_active(me.key, {"authority"});
  auto target = identity(name);
  if (!target) throw Error(ExitCode::not_found, "no identity named " + name);
  if (target->retired_index) throw Error(ExitCode::usage, name + " is already retired");
  if (target->role == "authority") {
    int active_authorities = 0;
    for (auto& id : identities()) active_authorities += id.role == "authority" && !id.retired_index;
    if (active_authorities <= 1)
      throw Error(ExitCode::usage, "refusing to retire the last active authority; enroll another authority first");
  }
  LeafRow row;
  row.kind = "retirement";
  row.device = name;
  row.gateway = me.key_id();
  row.received_ms = now_unix_ms();
  row.extra = json::object();
  if (!reason.empty()) row.extra["reason"] = reason;
  row.extra["sig"] = base64_encode(authority.sign(signed_part_of(row)));
  Appender appender(*this);
  auto index = appender.append(row);
  db_->prepare("UPDATE identities SET retired_idx = ? WHERE name = ?").bind(1, index).bind(2, name).run();
  tx.commit();
  return row;
}

void Ledger::store_timestamp(std::uint64_t height, std::span<const std::uint8_t> token) {
  sql::WriteTransaction tx(*db_);
  db_->prepare("INSERT INTO timestamps(height, token) VALUES (?, ?)").bind(1, height).bind_blob(2, token).run();
  tx.commit();
}

std::optional<Bytes> Ledger::timestamp(std::uint64_t height) {
  auto stmt = db_->prepare("SELECT token FROM timestamps WHERE height = ?");
  stmt.bind(1, height);
  if (!stmt.step()) return std::nullopt;
  auto blob = stmt.blob(0);
  return Bytes(blob.begin(), blob.end());
}

std::optional<Block> Ledger::anchor(const SigningKey& authority, std::uint64_t max_records, bool allow_empty) {
  sql::WriteTransaction tx(*db_);
  const auto& me = authority.identity();
  require_active(me.key, {"authority"});
  auto previous = latest_block();
  std::uint64_t first = previous ? previous->tree_size() : 0;
  std::uint64_t total = size();
  std::uint64_t count = std::min<std::uint64_t>(total - first, max_records == 0 ? total - first : max_records);
  if (count == 0 && !allow_empty) return std::nullopt;
  std::uint64_t tree_size = first + count;

  // The block's own root covers just its leaves; read them once, in order.
  merkle::Frontier block_tree;
  auto leaves = db_->prepare("SELECT id FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx");
  leaves.bind(1, first).bind(2, tree_size);
  while (leaves.step()) block_tree.push(to_hash(leaves.blob(0), "record id"));
  if (block_tree.size() != count) throw Error(ExitCode::verification_failed, "the log has a gap before index " + std::to_string(tree_size));
  Hash log_root = tree_size == 0 ? merkle::empty_root() : merkle::tree_root(tree_size, hash_getter());

  std::uint64_t height = previous ? previous->height + 1 : 0;
  json header = {
      {"version", kBlockVersion},
      {"origin", origin_},
      {"height", height},
      {"prev", previous ? to_hex(previous->hash) : std::string(64, '0')},
      {"time", format_rfc3339_ms(now_unix_ms())},
      {"first", first},
      {"count", count},
      {"block_root", to_hex(block_tree.root())},
      {"tree_size", tree_size},
      {"log_root", to_hex(log_root)},
      {"policy_root", to_hex(active_policy_root(*this, tree_size))},
      {"signer", me.key_id()},
  };
  std::string canonical = jcs::canonicalize(header);
  Block block;
  block.height = height;
  block.hash = crypto::sha256(canonical);
  block.header = header;
  block.signatures = json::array({{{"key_id", me.key_id()}, {"sig", base64_encode(authority.sign(canonical))}}});
  block.checkpoint = sign_note(Checkpoint{origin_, tree_size, log_root}.body(), authority);
  db_->prepare("INSERT INTO blocks(height, hash, header, signatures, checkpoint) VALUES (?, ?, ?, ?, ?)")
      .bind(1, height).bind_blob(2, block.hash).bind(3, canonical).bind(4, block.signatures.dump())
      .bind(5, block.checkpoint).run();
  tx.commit();
  return block;
}

}  // namespace medtrail
