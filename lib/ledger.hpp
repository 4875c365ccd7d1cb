// The ledger: one SQLite file holding an append-only log of records (Merkle leaves), the
// stored interior hashes of its RFC 9162 tree, the payloads the leaves commit to, and the
// authority-signed blocks that seal the log.
//
// On-disk layout (schema version 16; docs/FORMATS.md is the contract for outside verifiers):
//   leaves     one row per record. The envelope is not stored as text: it is rebuilt from
//              these columns (plus the JCS object in `extra`) and hashed, so any edit of a
//              column changes the leaf hash that verify recomputes. The kind is a number
//              (kind_code, RecordKind).
//   subjects, signer_keys, labels  each subject pseudonym, signer key id and device name or
//              type (labels) once; leaves refer to them by number (subject_ref, signer_ref,
//              device_ref, type_ref), as they repeat in every reading.
//   payloads   the reading and its salt, off the leaves: as ciphertext on a ledger with a data
//              owner (lib/privacy.hpp), in clear on older ledgers, neither once erased;
//              replay_tag finds re-sent readings. A reading is stored (or sealed) without the
//              device, type and time its leaf holds; `elided` says which (lib/stored_reading.hpp).
//   record_ids, replay_tags, hash_runs  ids (their first 8 bytes) and replay tags to leaf indexes, as sorted runs
//              (lib/hash_runs.hpp), so that inserts stay local however large the log grows;
//   hash_run_merges  the sliced merge of those runs in progress, if any.
//   wrap_keys, wraps  per-record data keys wrapped to the owner and grantees.
//   nodes      hashes of complete aligned subtrees at levels 4, 8, 12, ..., key = level << 58 |
//              index; a level between is folded from at most 8 hashes of the stored level below
//              (level 0 is leaves.id), so roots and proofs cost O(log n) short range reads.
//   blocks     signed headers and the checkpoint note issued with each.
//   identities a derived index of enrolled keys; verify re-derives it from the identity
//              records in the log and reports any difference.
//   links, assets, proximity, positions (+ space-time grid), leaves_device_time, leaves_subject_time:
//              the trace indexes (lib/trace_index.hpp), also derived and checked by verify.
//   timestamps RFC 3161 tokens over block checkpoints, by height (lib/timestamp.hpp).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hash_runs.hpp"
#include "keys.hpp"
#include "merkle.hpp"
#include "sqlite.hpp"
#include "stored_reading.hpp"

namespace medtrail {

inline constexpr int kSchemaVersion = 17;
// Tree hashes are stored for every 4th level only (schema 12); see Ledger::hash_getter.
inline constexpr int kStoredNodeLevelStep = 4;
constexpr bool is_stored_node_level(int level) { return level > 0 && level % kStoredNodeLevelStep == 0; }
inline constexpr int kEnvelopeVersion = 1;
inline constexpr int kBlockVersion = 1;

// The record_ids runs key each record by the first 8 bytes of its id (schema 13): 64 bits
// tell 10^7 ids apart but for about one pair in 10^5 ledgers, and every lookup checks the
// full id on the leaf, so a shared prefix costs a second seek, never a wrong answer.
inline constexpr std::size_t kRecordIdKeyBytes = 8;
inline std::span<const std::uint8_t> record_id_key(const Hash& id) { return std::span(id).first(kRecordIdKeyBytes); }

// Finds a record's leaf index by its full id (bind the 32-byte id as parameter 1); per run of
// lib/hash_runs.hpp one seek for the block that would hold the id's key (its head, or an entry
// packed in `more`, read by run_block_find), then the leaf's own id. Statements that must look ids up in bulk
// prepare this once. It uses ?1 twice: embed it only where it is the sole parameter.
inline constexpr const char* kRecordIdLookup =
    "SELECT l.idx FROM hash_runs r CROSS JOIN record_ids t ON t.gen = r.gen AND t.id = "
    "(SELECT id FROM record_ids WHERE gen = r.gen AND id <= substr(?1, 1, 8) ORDER BY id DESC LIMIT 1) "
    "CROSS JOIN leaves l ON l.idx = iif(t.id = substr(?1, 1, 8), t.idx, run_block_find(t.more, substr(?1, 1, 8))) "
    "WHERE r.tbl = 'record_ids' AND l.id = ?1 LIMIT 1";

// leaves.kind_code (schema 15): part of the file format, never renumbered. A code outside the
// list (a tampered file, or a kind no release wrote) reads as the kind "unknown-<code>", whose
// envelope matches no leaf hash.
enum class RecordKind : int {
  reading = 1,
  identity = 2,
  retirement = 3,
  seal = 4,
  policy = 5,
  policy_retirement = 6,
  alert = 7,
  grant = 8,
  revocation = 9,
  access = 10,
  erasure = 11,
};
// The code of a kind name; throws std::logic_error for a name that is not a kind.
int kind_code_of(std::string_view kind);
// The name of a kind code, as kind_code_of reverses it.
std::string kind_name_of(std::int64_t code);

struct LeafRow {
  std::uint64_t index = 0;
  Hash id{};
  std::string kind;  // reading | identity | retirement | seal | policy | policy_retirement | alert
  std::optional<std::string> device;   // reading: device; identity/retirement: identity name
  std::optional<std::string> gateway;  // key id of the gateway (reading, seal) or signer
  std::optional<std::int64_t> time_ms;
  std::int64_t received_ms = 0;
  std::optional<std::string> type;     // reading type; identity: role
  std::optional<Hash> commitment;
  std::optional<Hash> subject;
  nlohmann::json extra;                // object of further members, or null
};

// The envelope object whose JCS form is the Merkle leaf data.
nlohmann::json envelope_of(const LeafRow& row);
std::string canonical_envelope(const LeafRow& row);
Hash leaf_hash_of(const LeafRow& row);
// The message an identity, retirement or seal record's signature covers: JCS(envelope - "sig").
std::string signed_part_of(const LeafRow& row);

struct Block {
  std::uint64_t height = 0;
  Hash hash{};
  nlohmann::json header;
  nlohmann::json signatures;  // [{"key_id": ..., "sig": base64}]
  std::string checkpoint;     // signed note text
  std::uint64_t tree_size() const { return header.at("tree_size").get<std::uint64_t>(); }
  nlohmann::json to_json() const;  // {"hash", "header", "signatures"}
};

struct Identity {
  std::string name;
  std::string role;
  std::optional<PublicKey> key;
  std::string kind;  // device kind (wristband, ...) when given
  std::uint64_t enrolled_index = 0;
  std::optional<std::uint64_t> retired_index;
  std::optional<std::string> key_id() const { return key ? std::optional(key_id_of(*key)) : std::nullopt; }
};

// The policy root of a block while no policy is active: SHA-256 of JCS([]), the empty rule set
// (policy_log.hpp computes the root of a non-empty set).
Hash empty_policy_root();

class Ledger {
 public:
  struct Options {
    int busy_timeout_ms = 5000;
  };
  // `init`: creates the file, genesis identity record (leaf 0) and genesis block (height 0).
  static Ledger create(const std::string& path, const SigningKey& authority, const std::string& origin,
                       const DataKey& data_key, Options options);
  static Ledger open(const std::string& path, bool writable, Options options);

  sql::Database& db() { return *db_; }
  const std::string& origin() const { return origin_; }
  const std::string& data_key_id() const { return data_key_id_; }
  const std::string& path() const { return db_->path(); }

  std::uint64_t size();  // leaves in the log, anchored or not
  std::optional<Block> latest_block();
  std::optional<Block> block(std::uint64_t height);
  // Height of the block whose range holds leaf `index`, or nullopt while it is pending.
  std::optional<std::uint64_t> block_height_of(std::uint64_t index);
  LeafRow leaf(std::uint64_t index);
  // {"reading": ...}; nullopt when absent, erased, or encrypted and no reader installed.
  std::optional<nlohmann::json> payload(std::uint64_t index);
  // Resolves a full id or unique prefix of >= 8 hex digits to a leaf index.
  // Throws Error(usage) for a malformed or ambiguous prefix, Error(not_found) when absent.
  std::uint64_t resolve(std::string_view id_or_prefix);
  std::vector<Identity> identities();
  std::optional<Identity> identity(const std::string& name);
  std::optional<Identity> identity_by_key_id(const std::string& key_id);  // indexed: O(log n)
  merkle::HashGetter hash_getter();

  // From now on, Appenders of this ledger look replay tags up through the runs' filters, held
  // in memory across transactions (lib/hash_runs.hpp): for writers that look up many tags.
  void cache_replay_filters() {
    if (!replay_filters_) replay_filters_ = std::make_unique<RunFilterCache>();
  }

  // Appends records inside an open write transaction, keeping stored hashes up to date.
  class Appender {
   public:
    explicit Appender(Ledger& ledger);
    // Inserts the leaf (its id is computed here) and returns its index.
    std::uint64_t append(LeafRow& row);
    // The same for a row whose id already is leaf_hash_of(row), computed off the writer's
    // thread (ingest's preparing worker); the envelope holds no index, so it can be.
    std::uint64_t append_hashed(LeafRow& row);
    // The clear payload of an appended reading, as elide_envelope_members gave it for the
    // leaf's envelope (lib/stored_reading.hpp).
    void add_payload(std::uint64_t index, std::span<const std::uint8_t> salt, const StoredReading& reading,
                     std::span<const std::uint8_t> replay_tag);
    std::uint64_t size() const { return frontier_.size(); }
    // Replay tags of stored payloads: add_payload records them; encrypted payloads, stored by
    // privacy::PayloadSealer, record theirs here.
    HashRuns& replay_tags() { return replay_tags_; }
    // Ingest's batches: record ids and replay tags are kept in memory until flush_hash_keys()
    // writes them, a large batch as runs of its own (HashRuns::stage_inserts). The caller
    // flushes before its transaction commits and before Ledger::resolve looks ids up.
    void stage_hash_keys() {
      record_ids_.stage_inserts();
      replay_tags_.stage_inserts();
    }
    void flush_hash_keys() {
      record_ids_.flush_staged();
      replay_tags_.flush_staged();
    }

   private:
    // A value kept once in a small table (subjects, signer_keys, labels) and referred to by its ref.
    class Interned {
     public:
      Interned(sql::Database& db, const char* table, const char* column);
      std::int64_t ref_of_text(std::string_view text);
      std::int64_t ref_of_blob(std::span<const std::uint8_t> blob);

     private:
      std::int64_t ref_of(std::string_view bytes, bool is_blob);
      sql::Statement find_;
      sql::Statement insert_;
      // Looked up by string_view, without a string per call (four per reading).
      struct BytesHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view bytes) const { return std::hash<std::string_view>{}(bytes); }
      };
      std::unordered_map<std::string, std::int64_t, BytesHash, std::equal_to<>>
          cache_;  // an Appender lives in one transaction
    };
    merkle::Frontier frontier_;
    sql::Statement insert_leaf_;
    sql::Statement insert_node_;
    sql::Statement insert_payload_;
    HashRuns record_ids_;
    HashRuns replay_tags_;
    Interned subjects_;
    Interned signer_keys_;
    Interned labels_;
  };

  // Authority-signed identity records (`enroll`, `retire`); inside their own transaction.
  struct EnrollRequest {
    std::string name;
    std::string role;
    std::optional<PublicKey> key;
    std::string kind;
    std::optional<PublicKey> enc_key;  // X25519, for identities that read encrypted payloads
  };
  std::vector<LeafRow> enroll(const SigningKey& authority, const std::vector<EnrollRequest>& requests);
  LeafRow retire(const SigningKey& authority, const std::string& name, const std::string& reason);

  // Seals pending records into the next block. nullopt when nothing is pending and
  // allow_empty is false.
  std::optional<Block> anchor(const SigningKey& authority, std::uint64_t max_records, bool allow_empty);

  // RFC 3161 tokens over block checkpoints (schema 4); store_timestamp runs its own transaction.
  void store_timestamp(std::uint64_t height, std::span<const std::uint8_t> token);
  std::optional<Bytes> timestamp(std::uint64_t height);

  // Where the SQL function reading_of (kReadingOfPayload) finds readings stored encrypted;
  // unset, it yields NULL for them. lib/privacy.hpp's PayloadReader installs itself here.
  using ReadingSource = std::function<std::optional<std::string>(std::uint64_t index)>;
  void set_reading_source(ReadingSource source) { *reading_source_ = std::move(source); }

  // Throws unless `key` is enrolled with one of `roles` and not retired.
  Identity require_active(const PublicKey& key, std::initializer_list<std::string_view> roles);

 private:
  explicit Ledger(std::unique_ptr<sql::Database> db);
  std::vector<Identity> identities_where(const std::string& column, const std::string& value);
  void load_meta();
  void migrate();
  std::unique_ptr<sql::Database> db_;
  std::string origin_;
  std::string data_key_id_;
  std::unique_ptr<ReadingSource> reading_source_;  // heap: SQLite holds its address across moves
  std::unique_ptr<RunFilterCache> replay_filters_;
  // leaf() prepared once: ingest reports every duplicate of a replayed file with its leaf's id,
  // and preparing the statement each time made a replay slower than the first ingest.
  std::optional<sql::Statement> leaf_at_;
};

LeafRow read_leaf_row(sql::Statement& stmt, int first_column);
// The same into an existing row, whose strings keep their buffers (verify reads millions of
// rows into the same few thousand), except the extra column: its text is returned in
// `extra_text` (nullopt when NULL) and left unparsed, for another thread to parse with
// parse_leaf_extra; row.extra is left as it was when there is text to parse.
void read_leaf_row_into(sql::Statement& stmt, int first_column, LeafRow& row, std::optional<std::string>& extra_text);
// Parses a leaf's extra column into row.extra; throws Error when it is not a JSON object.
void parse_leaf_extra(LeafRow& row, const std::string& text);
// Conditions on leaves.kind_code (RecordKind), for queries: the numbers are the file format's.
inline constexpr const char* kIsReading = "kind_code = 1";
inline constexpr const char* kIsAlert = "kind_code = 7";
inline constexpr const char* kIsAccess = "kind_code = 10";
// The condition of the partial index leaves_policy (policy and policy_retirement records); a
// query must repeat it letter for letter, or SQLite will not use the index.
inline constexpr const char* kPolicyKindsCondition = "kind_code IN (5, 6)";
// The condition of the partial index leaves_privacy (grant, revocation, access and erasure
// records), likewise. Equalities, not IN: with an IN list of more than two values, every leaf
// insert builds a temporary table to test the condition, which cost ingest several percent.
inline constexpr const char* kPrivacyKindsCondition =
    "(kind_code = 8 OR kind_code = 9 OR kind_code = 10 OR kind_code = 11)";

// A leaf's device (or identity name) and type (or role) text, in a SELECT list or a condition:
// they are kept once each in labels (schema 15). No table alias is needed, as no other table
// has the columns device_ref and type_ref.
inline constexpr const char* kDeviceOfLeaf = "(SELECT text FROM labels WHERE ref = device_ref)";
inline constexpr const char* kTypeOfLeaf = "(SELECT text FROM labels WHERE ref = type_ref)";
// The ref of the label bound to this parameter (NULL when no leaf has it), so that
// `device_ref = ` it reads leaves_device_time.
inline constexpr const char* kLabelRefOfParam = "(SELECT ref FROM labels WHERE text = ?)";

// Column list matching read_leaf_row, for SELECTs. The kind is read as its code; the device,
// type, subject and gateway (signer) through labels, subjects and signer_keys.
inline constexpr const char* kLeafColumns =
    "idx, id, kind_code, (SELECT text FROM labels WHERE ref = device_ref), "
    "(SELECT key_id FROM signer_keys WHERE ref = signer_ref), time_ms, received_ms, "
    "(SELECT text FROM labels WHERE ref = type_ref), commitment, (SELECT pseudonym FROM subjects WHERE ref = "
    "subject_ref), "
    "extra";
// The same columns with device, type, signer and subject left as their refs, for scans of the
// whole log that resolve them through LeafRefs: kLeafColumns' correlated subqueries per row
// were 7% of a full verify's CPU when there were two.
inline constexpr const char* kLeafColumnsWithRefs =
    "idx, id, kind_code, device_ref, signer_ref, time_ms, received_ms, type_ref, commitment, subject_ref, extra";

// Reads rows of kLeafColumnsWithRefs as read_leaf_row_into reads kLeafColumns, looking the
// refs up on `db` (so in the scan's snapshot) behind direct-mapped caches: bounded, as a
// ledger may hold millions of subjects, and nearly always hit, as readings come from far fewer
// patients and gateways than records.
class LeafRefs {
 public:
  explicit LeafRefs(sql::Database& db);
  void read_row_into(sql::Statement& stmt, int first_column, LeafRow& row, std::optional<std::string>& extra_text);

 private:
  static constexpr std::size_t kSignerSlots = 1024, kLabelSlots = 16384, kSubjectSlots = 65536;
  template <typename Value>
  struct Slot {
    bool filled = false;
    std::int64_t ref = 0;
    std::optional<Value> value;
  };
  // The slot's value for `ref`, looked up with `lookup` and read(lookup) on a miss.
  template <typename Value, typename Read>
  static const std::optional<Value>& cached(std::vector<Slot<Value>>& slots, sql::Statement& lookup, std::int64_t ref,
                                            Read&& read);
  sql::Statement signer_lookup_, label_lookup_, subject_lookup_;
  std::vector<Slot<std::string>> signers_, labels_;
  std::vector<Slot<Hash>> subjects_;
};

// The whole reading of payload row `p` and its leaf row `l` (aliases the query must use), in a
// SELECT list: a clear reading with the members it was stored without put back
// (lib/stored_reading.hpp), an encrypted one through the installed reader, else NULL.
inline constexpr const char* kReadingOfPayload =
    "reading_of(l.idx, p.reading, p.elided, (SELECT text FROM labels WHERE ref = l.device_ref), "
    "(SELECT text FROM labels WHERE ref = l.type_ref), l.time_ms)";
// The reading of the payload at leaf index ?, whole (as kReadingOfPayload).
inline constexpr const char* kReadingAtIndex =
    "SELECT reading_of(l.idx, p.reading, p.elided, (SELECT text FROM labels WHERE ref = l.device_ref), "
    "(SELECT text FROM labels WHERE ref = l.type_ref), l.time_ms) FROM payloads p JOIN leaves l ON l.idx = p.idx "
    "WHERE p.idx = ?";
// What a leaf holds of the members a stored reading may lack (lib/stored_reading.hpp).
inline EnvelopeMembers envelope_members_of(const LeafRow& row) { return {row.device, row.type, row.time_ms}; }
// A clear reading as stored (`elided` as in payloads; SQLite reads NULL as 0), whole; throws
// Error(verification_failed) when it cannot be put together (tampered storage).
std::string clear_reading_of(const LeafRow& row, std::string_view stored, std::int64_t elided);
// A leaf's subject pseudonym (32-byte blob or NULL), in a SELECT list.
inline constexpr const char* kSubjectOfLeaf = "(SELECT pseudonym FROM subjects WHERE ref = subject_ref)";
// The subject_ref of the pseudonym bound to this parameter (NULL when no leaf has it), so that
// `subject_ref = ` it reads leaves_subject_time.
inline constexpr const char* kSubjectRefOfParam = "(SELECT ref FROM subjects WHERE pseudonym = ?)";

}  // namespace medtrail
