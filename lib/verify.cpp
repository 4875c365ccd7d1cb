#include "verify.hpp"

#include "json_members.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "note.hpp"
#include "policy_log.hpp"
#include "privacy.hpp"
#include "trace_index.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

struct KnownIdentity {
  std::string name;
  std::string role;
  std::optional<PublicKey> key;
  std::uint64_t enrolled = 0;
  std::optional<std::uint64_t> retired;
};

std::optional<PublicKey> decode_key(const json& value) {
  if (!value.is_string()) return std::nullopt;
  auto bytes = base64_decode(value.get_ref<const std::string&>());
  if (!bytes || bytes->size() != 32) return std::nullopt;
  PublicKey k;
  std::copy(bytes->begin(), bytes->end(), k.begin());
  return k;
}

std::optional<Bytes> decode_sig(const json& value) {
  if (!value.is_string()) return std::nullopt;
  return base64_decode(value.get_ref<const std::string&>());
}

// Identity state as the log itself defines it, replayed in order.
class IdentityReplay {
 public:
  // By string_view, as verify asks twice per reading: a std::string key built per call (a key
  // id is past the short-string buffer) and a second map lookup showed in its profile.
  const KnownIdentity* by_key_id(std::string_view key_id) const {
    auto it = key_ids_.find(key_id);
    return it == key_ids_.end() ? nullptr : it->second;
  }
  const KnownIdentity* by_name(std::string_view name) const {
    auto it = identities_.find(name);
    return it == identities_.end() ? nullptr : &it->second;
  }
  static bool active(const KnownIdentity* id, std::initializer_list<std::string_view> roles) {
    if (!id || id->retired) return false;
    for (auto r : roles)
      if (id->role == r) return true;
    return false;
  }
  void enroll(KnownIdentity id) {
    auto key = id.key;
    auto& stored = identities_[id.name];  // a std::map node: its address stays valid
    stored = std::move(id);
    if (key) key_ids_[key_id_of(*key)] = &stored;
  }
  void retire(const std::string& name, std::uint64_t index) {
    if (auto it = identities_.find(name); it != identities_.end()) it->second.retired = index;
  }
  const std::map<std::string, KnownIdentity, std::less<>>& all() const { return identities_; }

 private:
  std::map<std::string, KnownIdentity, std::less<>> identities_;
  std::map<std::string, const KnownIdentity*, std::less<>> key_ids_;
};

// A column's text, or "" when NULL, without a copy.
std::string_view text_or_empty(const std::optional<std::string>& value) {
  return value ? std::string_view(*value) : std::string_view();
}

Finding finding(std::string check, std::string message) {
  Finding f;
  f.check = std::move(check);
  f.message = std::move(message);
  return f;
}

// Checks a block's own integrity: stored hash, signature by an active authority, checkpoint.
void check_block(const Block& block, const std::string& origin, const IdentityReplay& ids, const FindingSink& report) {
  auto fail = [&](std::string check, std::string message) {
    Finding f = finding(std::move(check), std::move(message));
    f.height = block.height;
    report(f);
  };
  std::string canonical;
  try {
    canonical = jcs::canonicalize(block.header);
  } catch (const std::exception&) {
    return fail("block_malformed", "block header cannot be canonicalised");
  }
  Hash computed = crypto::sha256(canonical);
  if (computed != block.hash) {
    Finding f = finding("block_hash_mismatch", "stored block hash does not match its header");
    f.height = block.height;
    f.expected = to_hex(computed);
    f.actual = to_hex(block.hash);
    report(f);
  }
  const auto& h = block.header;
  if (h.value("origin", "") != origin) fail("block_origin", "block origin differs from the ledger's origin");
  std::string signer_id = h.value("signer", "");
  const KnownIdentity* signer = ids.by_key_id(signer_id);
  if (!IdentityReplay::active(signer, {"authority"}) || !signer->key) {
    fail("block_signer", "block signer " + signer_id + " is not an active authority at this height");
    return;
  }
  bool signed_ok = false;
  if (block.signatures.is_array())
    for (const auto& s : block.signatures)
      if (s.is_object() && s.value("key_id", "") == signer_id)
        if (auto sig = decode_sig(s.value("sig", json())); sig && verify_signature(*signer->key, canonical, *sig))
          signed_ok = true;
  if (!signed_ok) fail("block_signature", "block signature by " + signer->name + " does not verify");
  try {
    auto note = SignedNote::parse(block.checkpoint);
    auto cp = parse_checkpoint_body(note.text);
    Hash root{};
    auto log_root = hash_from_hex(h.value("log_root", ""));
    if (log_root) root = *log_root;
    if (!cp || cp->origin != origin || cp->tree_size != h.value("tree_size", std::uint64_t(0)) || cp->root != root)
      fail("checkpoint_mismatch", "the checkpoint stored with the block does not match its header");
    else if (!note.signed_by(signer->name, *signer->key))
      fail("checkpoint_signature", "the checkpoint stored with the block is not signed by " + signer->name);
  } catch (const Error& e) {
    fail("checkpoint_malformed", std::string("stored checkpoint: ") + e.what());
  }
}

}  // namespace

json Finding::to_json() const {
  json j = {{"finding", check}, {"message", message}};
  if (height) j["height"] = *height;
  if (index) j["index"] = *index;
  if (!record.empty()) j["record"] = record;
  if (!expected.empty()) j["expected"] = expected;
  if (!actual.empty()) j["actual"] = actual;
  return j;
}

json VerifySummary::to_json() const {
  return {{"status", findings == 0 ? "verified" : "failed"},
          {"records", records},
          {"blocks", blocks},
          {"pending", pending},
          {"findings", findings},
          {"encrypted", encrypted},
          {"decrypted", decrypted},
          {"erased", erased},
          {"authority", pinned ? "pinned" : "unpinned"}};
}

PublicIdentity genesis_authority(Ledger& ledger) {
  LeafRow genesis = ledger.leaf(0);
  auto key = genesis.extra.is_object() ? decode_key(genesis.extra.value("public_key", json())) : std::nullopt;
  if (genesis.kind != "identity" || genesis.type != std::optional<std::string>("authority") || !key || !genesis.device)
    throw Error(ExitCode::verification_failed, "leaf 0 is not the genesis authority identity");
  return {*genesis.device, "authority", *key, std::nullopt};
}

namespace {
// An order-independent digest of a key -> leaf index map: how many entries, and the lane-wise
// sum mod 2^64 of SHA-256(key || index) cut to 128 bits. It lets verify compare the record-id
// and replay-tag runs (lib/hash_runs.hpp) with the log in one pass over each, in any order.
struct MapDigest {
  std::uint64_t count = 0;
  std::array<std::uint64_t, 2> sum{};
  static std::array<std::uint64_t, 2> entry(std::span<const std::uint8_t> key, std::uint64_t index) {
    std::array<std::uint8_t, 8> be{};
    for (int i = 0; i < 8; ++i) be[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
    crypto::Sha256 sha;
    sha.update(key);
    sha.update(be);
    Hash h = sha.finish();
    std::array<std::uint64_t, 2> out{};
    std::memcpy(out.data(), h.data(), sizeof out);
    return out;
  }
  void add(const std::array<std::uint64_t, 2>& e) {
    ++count;
    sum[0] += e[0];
    sum[1] += e[1];
  }
  bool operator==(const MapDigest&) const = default;
};

// The map a run table holds, as its lookups see it (rows of live runs only), and the keys
// that their run's filter lacks (replay tags): at most a few of those, and how many.
struct RunsContent {
  MapDigest map;
  std::uint64_t damaged = 0;  // HashRuns::scan's count: keys that lookups would miss
  std::uint64_t filter_misses = 0;
  std::vector<std::string> first_misses;
};
// Thrown out of a scan that is no longer wanted.
struct ScanStopped : std::exception {};

RunsContent content_of_runs(sql::Database& db, const char* table, const char* key_column,
                            const std::atomic<bool>* stop = nullptr) {
  RunsContent out;
  out.damaged =
      HashRuns(db, table, key_column)
          .scan([&](std::span<const std::uint8_t> key, std::uint64_t idx, std::int64_t gen, bool filter_holds) {
            if (stop && stop->load(std::memory_order_relaxed)) throw ScanStopped();
            out.map.add(MapDigest::entry(key, idx));
            if (filter_holds) return;
            if (++out.filter_misses <= 3)
              out.first_misses.push_back("tag " + to_hex(key) + " of record " + std::to_string(idx) + " (run " +
                                         std::to_string(gen) + ")");
          });
  return out;
}

// Both runs tables scanned on a read connection of its own, on another thread. Destroying it
// before take() (verify returning early: a gap in the log, an error) stops the scan rather
// than waiting seconds for it to finish.
class RunsScanAhead {
 public:
  void start(const std::string& path) {
    scan_ = std::async(std::launch::async, [this, path]() -> std::optional<std::array<RunsContent, 2>> {
      try {
        sql::Database db(path, sql::Database::Mode::read_only, 0);
        sql::ReadTransaction read(db);
        return std::array<RunsContent, 2>{content_of_runs(db, "record_ids", "id", &unwanted_),
                                          content_of_runs(db, "replay_tags", "tag", &unwanted_)};
      } catch (const std::exception&) {
        return std::nullopt;  // the caller redoes the scan on its own snapshot, which reports any error
      }
    });
  }
  // record_ids then replay_tags; nothing when not started or when the scan failed.
  std::optional<std::array<RunsContent, 2>> take() { return scan_.valid() ? scan_.get() : std::nullopt; }
  ~RunsScanAhead() {
    unwanted_ = true;
    if (scan_.valid()) scan_.wait();
  }

 private:
  std::atomic<bool> unwanted_ = false;
  std::future<std::optional<std::array<RunsContent, 2>>> scan_;
};

// One row of the leaves-with-payloads scan in verify_ledger, with what a worker computes from it.
struct StreamedLeaf {
  LeafRow row;
  std::string malformed;  // the row could not be read: why (raw_index says which)
  std::uint64_t raw_index = 0;
  std::optional<std::string> reading_text;  // as stored until hash_leaves puts it together
  std::int64_t elided = 0;                  // payloads.elided (lib/stored_reading.hpp)
  std::string whole_reading;                // hash_leaves' buffer for putting it together
  Bytes salt;
  std::optional<Bytes> ciphertext;
  std::optional<std::string> extra_text;  // parsed into row.extra by hash_leaves
  std::optional<Bytes> replay_tag;
  // Computed by hash_leaves:
  std::array<std::uint64_t, 2> id_entry{};   // MapDigest entries of (stored id, index) and
  std::array<std::uint64_t, 2> tag_entry{};  // (replay tag, index)
  Hash leaf_hash{};
  std::string canonical_error;  // the envelope could not be canonicalised
  Hash payload_digest{};        // SHA-256(salt || reading) when clear, SHA-256(ciphertext) when encrypted
  ValidReading values;          // trace::indexed_values of a reading stored in clear
};

constexpr std::size_t kVerifyBatch = 4096;

// A statement whose first column is an increasing integer key, read forward: seek(key) steps
// past smaller keys and says whether the row there has that key. Verify reads the payloads
// (by idx) and each level of stored tree hashes this way, beside the leaves, instead of one
// lookup per record; the row stays valid until the next seek.
class ForwardScan {
 public:
  explicit ForwardScan(sql::Statement rows) : rows_(std::move(rows)) { advance(); }
  bool seek(std::uint64_t key) {
    while (has_row_ && key_ < key) advance();
    return has_row_ && key_ == key;
  }
  sql::Statement& row() { return rows_; }

 private:
  void advance() {
    has_row_ = rows_.step();
    if (has_row_) key_ = static_cast<std::uint64_t>(rows_.integer(0));
  }
  sql::Statement rows_;
  bool has_row_ = false;
  std::uint64_t key_ = 0;
};

// Overwrites every member of `out`, reusing its buffers: a batch's rows are read into the
// rows of the batch before the last, so neither allocating nor freeing them is on this
// thread's path (it was 9% of a full verify).
void stream_leaf_into(StreamedLeaf& out, sql::Statement& leaves, LeafRefs& refs, ForwardScan& payloads) {
  out.malformed.clear();
  out.canonical_error.clear();
  out.raw_index = static_cast<std::uint64_t>(leaves.integer(0));
  try {
    refs.read_row_into(leaves, 0, out.row, out.extra_text);
  } catch (const Error& e) {
    out.malformed = e.what();
    return;
  }
  bool has_payload = payloads.seek(out.row.index);
  sql::Statement& p = payloads.row();
  auto present = [&](int column) { return has_payload && !p.is_null(column); };
  auto assign_blob = [&](int column, std::optional<Bytes>& to) {
    if (!present(column)) {
      to.reset();
      return;
    }
    auto blob = p.blob(column);
    if (!to) to.emplace();
    to->assign(blob.begin(), blob.end());
  };
  if (!present(2)) {
    out.reading_text.reset();
    out.salt.clear();
  } else {
    if (!out.reading_text) out.reading_text.emplace();
    out.reading_text->assign(p.text_view(2));
    auto salt = p.blob(1);
    out.salt.assign(salt.begin(), salt.end());
  }
  assign_blob(3, out.ciphertext);
  assign_blob(4, out.replay_tag);
  out.elided = present(5) ? p.integer(5) : 0;
}

// The stored tree hashes read level by level in index order, as the frontier completes them:
// one ForwardScan per level. Keys are level << 58 | index (lib/ledger.cpp).
class StoredNodes {
 public:
  explicit StoredNodes(sql::Database& db) : db_(db) {}
  // The stored hash of node (level, index), or nothing when it is missing. Calls for one
  // level must come in increasing index order; stored nodes skipped on the way are extra,
  // which the count of the nodes table reports.
  std::optional<std::span<const std::uint8_t>> find(int level, std::uint64_t index) {
    auto at = static_cast<std::size_t>(level);
    if (levels_.size() <= at) levels_.resize(at + 1);
    if (!levels_[at]) {
      // Bounds within the level, both stored as SQLite does (levels from 32 on are negative
      // integers, still in order): an end of (level + 1) << 58 would wrap at level 31.
      auto first = static_cast<std::int64_t>(static_cast<std::uint64_t>(level) << 58 | index);
      auto last = static_cast<std::int64_t>(static_cast<std::uint64_t>(level) << 58 | ((std::uint64_t(1) << 58) - 1));
      auto rows = db_.prepare("SELECT key, hash FROM nodes WHERE key >= ? AND key <= ? ORDER BY key");
      rows.bind(1, first).bind(2, last);
      levels_[at] = std::make_unique<ForwardScan>(std::move(rows));
    }
    if (!levels_[at]->seek(static_cast<std::uint64_t>(level) << 58 | index)) return std::nullopt;
    return levels_[at]->row().blob(1);
  }

 private:
  sql::Database& db_;
  std::vector<std::unique_ptr<ForwardScan>> levels_;
};

// Pure functions of each row only: safe on a worker thread while the caller uses the database.
void hash_leaves(std::vector<StreamedLeaf>& batch) {
  for (auto& s : batch) {
    if (!s.malformed.empty()) continue;
    s.id_entry = MapDigest::entry(record_id_key(s.row.id), s.row.index);
    if (s.replay_tag) s.tag_entry = MapDigest::entry(*s.replay_tag, s.row.index);
    if (s.extra_text) {
      try {
        parse_leaf_extra(s.row, *s.extra_text);
      } catch (const Error& e) {
        s.malformed = e.what();
        continue;
      }
    }
    try {
      s.leaf_hash = leaf_hash_of(s.row);
    } catch (const std::exception& e) {
      s.canonical_error = e.what();
    }
    if (s.reading_text) {
      // A text that cannot be put together is hashed as stored, which cannot match the
      // commitment: verify reports payload_mismatch.
      if (s.elided != 0 &&
          restore_envelope_members_into(s.whole_reading, *s.reading_text, s.elided, envelope_members_of(s.row)))
        std::swap(*s.reading_text, s.whole_reading);  // both buffers stay with the row, for the next batch
      crypto::Sha256 sha;
      sha.update(s.salt);
      sha.update(*s.reading_text);
      s.payload_digest = sha.finish();
      if (s.row.kind == "reading") s.values = trace::indexed_values(s.row, &*s.reading_text);
    } else if (s.ciphertext) {
      s.payload_digest = crypto::sha256(*s.ciphertext);
    }
  }
}
}  // namespace

VerifySummary verify_ledger(Ledger& ledger, const VerifyOptions& options, const FindingSink& sink) {
  VerifySummary summary;
  summary.pinned = options.trusted.has_value();
  auto report = [&](const Finding& f) {
    ++summary.findings;
    sink(f);
  };
  sql::ReadTransaction snapshot(ledger.db());
  const std::string origin = ledger.origin();

  // Blocks are few; load their headers and check the chain links first.
  std::vector<Block> blocks;
  {
    std::uint64_t height = 0;
    while (auto b = ledger.block(height)) {
      blocks.push_back(std::move(*b));
      ++height;
    }
    auto count = ledger.db().prepare("SELECT count(*), coalesce(max(height), -1) FROM blocks");
    count.step();
    if (static_cast<std::uint64_t>(count.integer(0)) != blocks.size() ||
        count.integer(1) + 1 != static_cast<std::int64_t>(blocks.size())) {
      Finding f = finding("block_missing", "block heights are not contiguous from 0: block " +
                                               std::to_string(blocks.size()) + " is missing");
      f.height = blocks.size();
      report(f);
    }
  }
  summary.blocks = blocks.size();
  if (blocks.empty()) {
    report(finding("block_missing", "the ledger has no genesis block"));
    return summary;
  }
  std::uint64_t expected_first = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& h = blocks[i].header;
    auto fail = [&](std::string check, std::string message) {
      Finding f = finding(std::move(check), std::move(message));
      f.height = blocks[i].height;
      report(f);
    };
    try {
      if (unsigned_member(h, "height") != blocks[i].height) fail("block_height", "header height differs from its position");
      std::string prev = i == 0 ? std::string(64, '0') : to_hex(blocks[i - 1].hash);
      if (h.at("prev").get<std::string>() != prev) {
        Finding f = finding("block_link", "block does not link to the previous block's hash");
        f.height = blocks[i].height;
        f.expected = prev;
        f.actual = h.at("prev").get<std::string>();
        report(f);
      }
      auto first = unsigned_member(h, "first");
      auto count = unsigned_member(h, "count");
      if (first != expected_first || first + count != unsigned_member(h, "tree_size"))
        fail("block_range", "block range [" + std::to_string(first) + ", +" + std::to_string(count) +
                                ") does not continue the previous block (expected first " + std::to_string(expected_first) + ")");
      expected_first = unsigned_member(h, "tree_size");
      if (integer_member(h, "version") != kBlockVersion) fail("block_version", "unknown block version");
      (void)h.at("policy_root").get<std::string>();  // compared with the replayed policies at the block's end
      if (i > 0 && h.at("time").get<std::string>() < blocks[i - 1].header.at("time").get<std::string>())
        fail("block_time", "block time is earlier than the previous block's");
    } catch (const std::exception& e) {
      fail("block_malformed", std::string("block header is missing or has a mistyped field: ") + e.what());
    }
  }

  // The id and replay-tag runs are scanned on a second connection while this one checks the
  // leaves: the scan is about 9% of a full verify's CPU and ran here, after the leaf loop.
  // That connection's snapshot is later than this one's if a writer commits after this one's
  // first read (the blocks above), so only a clean answer equal to this snapshot's log is
  // taken from it (writers only add keys: runs that map exactly this log mapped it here too).
  // Anything else is redone on this connection, which reports what it finds.
  RunsScanAhead runs_ahead;
  if (options.concurrent_runs_scan) runs_ahead.start(ledger.path());
  // Stream the leaves once, in order, with their payloads.
  auto leaves =
      ledger.db().prepare((std::string("SELECT ") + kLeafColumnsWithRefs + " FROM leaves ORDER BY idx").c_str());
  LeafRefs leaf_refs(ledger.db());
  ForwardScan payloads(
      ledger.db().prepare("SELECT idx, salt, reading, ciphertext, replay_tag, elided FROM payloads ORDER BY idx"));
  StoredNodes stored_nodes(ledger.db());
  auto id_lookup = ledger.db().prepare(kRecordIdLookup);
  std::uint64_t total = ledger.size();
  IdentityReplay ids;
  PolicyLog policies;
  merkle::Frontier log_tree;
  merkle::Frontier block_tree;
  std::deque<Hash> unsealed;  // reading leaves since the last seal
  std::uint64_t unsealed_first = 0;
  std::size_t next_block = 0;
  std::uint64_t expected_nodes = 0;
  PublicIdentity genesis_key{};

  auto check_block_boundary = [&]() {
    while (next_block < blocks.size() && blocks[next_block].tree_size() == log_tree.size()) {
      const Block& b = blocks[next_block];
      auto compare = [&](const char* field, const Hash& computed, const char* check) {
        std::string stored = b.header.value(field, "");
        if (stored != to_hex(computed)) {
          Finding f = finding(check, std::string("block ") + field + " does not match the records it seals");
          f.height = b.height;
          f.expected = to_hex(computed);
          f.actual = stored;
          report(f);
        }
      };
      compare("log_root", log_tree.root(), "log_root_mismatch");
      compare("policy_root", policies.root(), "policy_root_mismatch");
      compare("block_root", block_tree.root(), "block_root_mismatch");
      check_block(b, origin, ids, report);
      block_tree = merkle::Frontier();
      ++next_block;
    }
  };

  trace::IndexChecker trace_index(ledger.db());
  // Erasure records by subject, so a reading met before its erasure is known to be erased.
  auto erasures = privacy::erasures(ledger);
  auto erased_by = [&](const LeafRow& row) -> std::optional<std::uint64_t> {
    if (!row.subject) return std::nullopt;
    auto it = erasures.find(*row.subject);
    if (it == erasures.end()) return std::nullopt;
    for (auto index : it->second)
      if (index > row.index) return index;
    return std::nullopt;
  };
  // Two stages on two cores: a worker parses and hashes one batch (extra column, envelope
  // leaf hash, payload digest, a clear reading's values for the trace index check: the work
  // that needs nothing but the row itself) while this
  // thread reads the next batch from the database and then checks the previous one in order.
  // The two batches alternate between two buffers that never move while the worker runs.
  std::array<std::vector<StreamedLeaf>, 2> batches;
  bool scanned = false;  // stepping a finished statement would start the scan over
  auto read_batch = [&](std::vector<StreamedLeaf>& batch) {
    std::size_t rows = 0;
    while (!scanned && rows < kVerifyBatch) {
      if (!leaves.step()) {
        scanned = true;
      } else {
        if (rows == batch.size()) batch.emplace_back();
        stream_leaf_into(batch[rows++], leaves, leaf_refs, payloads);
      }
    }
    batch.resize(rows);
  };
  std::size_t checking = 0;  // batches[checking] is hashed or being hashed; the other is free
  read_batch(batches[checking]);
  // Declared after the batches: destroyed (and so waited for) before them on every return.
  std::future<void> hashing = std::async(std::launch::async, hash_leaves, std::ref(batches[checking]));
  std::uint64_t expected_index = 0;
  MapDigest logged_ids, logged_tags;
  while (true) {
    auto& current = batches[checking];
    auto& next = batches[1 - checking];
    read_batch(next);  // while the worker hashes current
    hashing.get();
    if (current.empty()) break;
    if (!next.empty()) hashing = std::async(std::launch::async, hash_leaves, std::ref(next));
    for (auto& streamed : current) {
      if (!streamed.malformed.empty()) {
        Finding f = finding("leaf_malformed", streamed.malformed);
        f.index = streamed.raw_index;
        report(f);
        continue;
      }
      LeafRow& row = streamed.row;
      logged_ids.add(streamed.id_entry);
      if (streamed.replay_tag) logged_tags.add(streamed.tag_entry);
      std::optional<std::string>& reading_text = streamed.reading_text;
      auto fail = [&](std::string check, std::string message) {
        Finding f = finding(std::move(check), std::move(message));
        f.index = row.index;
        f.record = to_hex(row.id);
        if (next_block < blocks.size()) f.height = blocks[next_block].height;
        report(f);
      };
      if (row.index != expected_index) {
        Finding f = finding("leaf_gap", "records " + std::to_string(expected_index) + " to " +
                                            std::to_string(row.index - 1) + " are missing from the log");
        f.index = expected_index;
        report(f);
        return summary;  // every later root would differ; one clear finding is enough
      }
      ++expected_index;

      Hash computed = streamed.leaf_hash;
      if (!streamed.canonical_error.empty()) {
        fail("leaf_malformed", "envelope cannot be canonicalised: " + streamed.canonical_error);
        computed = row.id;
      }
      if (computed != row.id) {
        Finding f = finding("leaf_hash_mismatch", "record content differs from the hash it was committed under");
        f.index = row.index;
        f.record = to_hex(row.id);
        f.expected = to_hex(row.id);
        f.actual = to_hex(computed);
        if (next_block < blocks.size()) f.height = blocks[next_block].height;
        report(f);
      }

      // Kind-specific checks against the identity state before this record.
      const json& extra = row.extra;
      auto signer_sig_ok = [&](const KnownIdentity* signer) {
        auto sig = extra.is_object() ? decode_sig(extra.value("sig", json())) : std::nullopt;
        return signer && signer->key && sig && verify_signature(*signer->key, signed_part_of(row), *sig);
      };
      if (row.kind == "reading") {
        const KnownIdentity* gw = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(gw, {"gateway", "authority"}))
          fail("reading_gateway",
               "reading attested by key " + row.gateway.value_or("?") + ", not an active gateway at this point");
        const KnownIdentity* device = ids.by_name(text_or_empty(row.device));
        if (!device || device->retired)
          fail("reading_device",
               "reading from " + row.device.value_or("?") + ", not an enrolled, active device at this point");
        std::string ciphertext_digest = extra.is_object() ? extra.value("ciphertext_sha256", "") : "";
        bool values_known = reading_text.has_value();
        bool decrypted_here = false;  // else the worker parsed the clear reading's values
        if (!reading_text && streamed.ciphertext) {
          // Encrypted: integrity is checked against the committed ciphertext digest without any
          // key; the commitment inside is checked by whoever decrypts (privacy::PayloadReader).
          ++summary.encrypted;
          if (ciphertext_digest.empty()) {
            fail("payload_mismatch", "the reading has a ciphertext, but its record commits to none");
          } else if (to_hex(streamed.payload_digest) != ciphertext_digest) {
            fail("ciphertext_mismatch", "the stored ciphertext differs from the digest the record commits to");
          } else if (options.decrypt) {
            auto opened = options.decrypt(row);
            if (opened.payload) {
              ++summary.decrypted;
              reading_text = std::move(opened.payload->reading);  // commitment checked by the reader
              values_known = true;
              decrypted_here = true;
            } else if (opened.outcome == privacy::ReadOutcome::corrupt) {
              fail("ciphertext_unreadable", opened.reason);
            }
          }
        } else if (!reading_text) {
          if (auto erasure = erased_by(row)) {
            ++summary.erased;
            if (options.erased)
              options.erased(
                  {{"status", "erased"}, {"record", to_hex(row.id)}, {"index", row.index}, {"erasure", *erasure}});
          } else {
            fail("payload_missing", "the reading's payload is missing and no erasure record covers it");
          }
        } else {
          const Hash& c = streamed.payload_digest;
          if (!row.commitment || c != *row.commitment) {
            Finding f = finding("payload_mismatch", "the stored reading or salt differs from the record's commitment");
            f.index = row.index;
            f.record = to_hex(row.id);
            f.expected = row.commitment ? to_hex(*row.commitment) : "";
            f.actual = to_hex(c);
            report(f);
          }
        }
        if (extra.is_object() && extra.contains("derived_from")) {
          for (const auto& link : extra["derived_from"]) {
            auto h = link.is_string() ? hash_from_hex(link.get<std::string>()) : std::nullopt;
            bool earlier = false;
            if (h) {
              id_lookup.bind_blob(1, *h);
              earlier = id_lookup.step() && static_cast<std::uint64_t>(id_lookup.integer(0)) < row.index;
              id_lookup.reset();
            }
            if (!earlier) fail("derivation_link", "derived_from names " + link.dump() + ", not an earlier record");
          }
        }
        std::string problem =
            values_known
                ? trace_index.expect(row, decrypted_here ? trace::stored_facts(id_lookup, row, &*reading_text)
                                                         : trace::stored_facts(id_lookup, row, streamed.values))
                : trace_index.expect_without_values(row, trace::linked_parents(id_lookup, row));
        if (!problem.empty()) fail("trace_index", problem);
        if (unsealed.empty()) unsealed_first = row.index;
        unsealed.push_back(row.id);
      } else if (row.kind == "identity") {
        auto key = extra.is_object() ? decode_key(extra.value("public_key", json())) : std::nullopt;
        if (row.index == 0) {
          genesis_key = {row.device.value_or(""), "authority", key.value_or(PublicKey{}), std::nullopt};
          KnownIdentity self{row.device.value_or(""), "authority", key, 0, std::nullopt};
          if (!key || row.type != std::optional<std::string>("authority") || !signer_sig_ok(&self))
            fail("genesis", "leaf 0 is not a self-signed authority identity");
          ids.enroll(self);
        } else {
          const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
          if (!IdentityReplay::active(signer, {"authority"}) || !signer_sig_ok(signer))
            fail("identity_signature",
                 "enrollment of " + row.device.value_or("?") + " is not signed by an active authority");
          if (ids.by_name(text_or_empty(row.device)))
            fail("identity_duplicate", "identity " + row.device.value_or("?") + " is enrolled twice");
          ids.enroll({row.device.value_or(""), row.type.value_or(""), key, row.index, std::nullopt});
        }
      } else if (row.kind == "retirement") {
        const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(signer, {"authority"}) || !signer_sig_ok(signer))
          fail("identity_signature",
               "retirement of " + row.device.value_or("?") + " is not signed by an active authority");
        ids.retire(row.device.value_or(""), row.index);
      } else if (row.kind == "seal") {
        const KnownIdentity* gw = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(gw, {"gateway", "authority"}) || !signer_sig_ok(gw))
          fail("seal_signature", "seal is not signed by an active gateway");
        std::uint64_t first = extra.is_object() ? extra.value("first", std::uint64_t(0)) : 0;
        std::uint64_t count = extra.is_object() ? extra.value("count", std::uint64_t(0)) : 0;
        if (count != unsealed.size() || (count > 0 && first != unsealed_first)) {
          fail("seal_range", "seal covers " + std::to_string(count) + " records from " + std::to_string(first) +
                                 ", but " + std::to_string(unsealed.size()) + " readings precede it unsealed");
        } else {
          Hash root = merkle::root_of(std::vector<Hash>(unsealed.begin(), unsealed.end()));
          if (extra.value("root", "") != to_hex(root))
            fail("seal_root", "seal root does not match the readings it covers");
        }
        unsealed.clear();
      } else if (row.kind == "policy" || row.kind == "policy_retirement") {
        const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(signer, {"authority"}) || !signer_sig_ok(signer))
          fail("policy_signature",
               row.kind + " of " + row.device.value_or("?") + " is not signed by an active authority");
        if (auto problem = policies.apply(row); !problem.empty()) fail("policy_record", problem);
      } else if (row.kind == "grant" || row.kind == "revocation" || row.kind == "erasure") {
        const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(signer, {"authority"}) || !signer_sig_ok(signer))
          fail("privacy_signature", row.kind + " record is not signed by an active authority");
      } else if (row.kind == "access") {
        const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(signer, {"authority", "clinician", "auditor"}) || !signer_sig_ok(signer) ||
            signer->name != row.device.value_or(""))
          fail("access_signature",
               "access record of " + row.device.value_or("?") + " is not signed by that active reader");
      } else if (row.kind == "alert") {
        const KnownIdentity* signer = ids.by_key_id(text_or_empty(row.gateway));
        if (!IdentityReplay::active(signer, {"auditor", "authority"}) || !signer_sig_ok(signer))
          fail("alert_signature",
               "alert of rule " + row.device.value_or("?") + " is not signed by an active auditor or authority");
      } else {
        fail("leaf_kind", "unknown record kind \"" + row.kind + "\"");
      }

      log_tree.push(row.id, [&](int level, std::uint64_t index, const Hash& hash) {
        if (!is_stored_node_level(level)) return;
        ++expected_nodes;
        auto stored = stored_nodes.find(level, index);
        if (!stored) {
          fail("node_missing", "stored tree hash at level " + std::to_string(level) + " index " +
                                   std::to_string(index) + " is missing");
        } else if (stored->size() != 32 || !std::equal(hash.begin(), hash.end(), stored->begin())) {
          Finding f = finding("node_mismatch", "stored tree hash at level " + std::to_string(level) + " index " +
                                                   std::to_string(index) + " differs from the records below it");
          f.expected = to_hex(hash);
          f.actual = to_hex(*stored);
          report(f);
        }
      });
      block_tree.push(row.id);
      check_block_boundary();
      if (options.progress && (row.index & 0xffff) == 0) options.progress(row.index, total);
    }
    if (next.empty()) break;
    checking = 1 - checking;
  }
  summary.records = log_tree.size();
  if (!unsealed.empty()) {
    Finding f = finding("unsealed_readings", std::to_string(unsealed.size()) + " readings at the end of the log are not covered by a gateway seal");
    f.index = unsealed_first;
    report(f);
  }
  for (; next_block < blocks.size(); ++next_block) {
    Finding f = finding("records_missing", "block seals " + std::to_string(blocks[next_block].tree_size()) +
                                               " records but the log holds only " + std::to_string(log_tree.size()));
    f.height = blocks[next_block].height;
    report(f);
  }
  summary.pending = log_tree.size() - std::min(log_tree.size(), blocks.back().tree_size());

  auto node_count = ledger.db().prepare("SELECT count(*) FROM nodes");
  node_count.step();
  if (static_cast<std::uint64_t>(node_count.integer(0)) != expected_nodes)
    report(finding("node_extra", "the nodes table holds " + std::to_string(node_count.integer(0)) +
                                     " hashes; the log needs exactly " + std::to_string(expected_nodes)));

  for (const auto& problem : trace_index.finish()) report(finding("trace_index", problem));
  // Subjects, signer key ids and labels are found by value (trace --contacts names a
  // pseudonym, trace --device a label): one stored twice, under two refs, would hide the
  // records filed under the other. Their values are in the envelopes, so an edited value
  // already fails the leaf hashes.
  for (auto [table, column] :
       {std::pair{"subjects", "pseudonym"}, std::pair{"signer_keys", "key_id"}, std::pair{"labels", "text"}}) {
    auto twice =
        ledger.db().prepare((std::string("SELECT count(*) - count(DISTINCT ") + column + ") FROM " + table).c_str());
    twice.step();
    if (twice.integer(0) > 0)
      report(finding("trace_index", "the " + std::string(table) + " table repeats a " + column + " in " +
                                        std::to_string(twice.integer(0)) + " extra row(s): a lookup by " + column +
                                        " would miss the records filed under the other ref"));
  }

  // The id and replay-tag runs are indexes too: they must map exactly the log's ids and the
  // stored payloads' tags, or prove could not find a record and a replay would pass as new.
  auto ahead = runs_ahead.take();
  auto runs_check = [&](std::size_t which, const char* table, const char* key_column, const MapDigest& logged,
                        const char* what) {
    if (ahead && (*ahead)[which].filter_misses == 0 && (*ahead)[which].damaged == 0 && (*ahead)[which].map == logged)
      return;
    auto content = content_of_runs(ledger.db(), table, key_column);
    if (content.damaged > 0)
      report(finding(std::string(table) == "record_ids" ? "id_index" : "replay_index",
                     "the " + std::string(table) + " runs hold " + std::to_string(content.damaged) +
                         " malformed or misplaced block(s) or entries: lookups would miss keys they hold"));
    if (content.filter_misses > 0) {
      std::string examples;
      for (const auto& e : content.first_misses) examples += (examples.empty() ? "" : ", ") + e;
      report(finding("replay_filter", "the filters of the " + std::string(table) + " runs lack " +
                                          std::to_string(content.filter_misses) + " of their keys (" + examples +
                                          "): ingest would take replays of those readings as new"));
    }
    const auto& stored = content.map;
    if (stored == logged) return;
    report(finding(std::string(table) == "record_ids" ? "id_index" : "replay_index",
                   std::string("the ") + table + " runs map " + std::to_string(stored.count) + " " + what +
                       (stored.count == logged.count ? ", as many as the log has, but not the same ones"
                                                     : "; the log has " + std::to_string(logged.count))));
  };
  runs_check(0, "record_ids", "id", logged_ids, "record ids");
  runs_check(1, "replay_tags", "tag", logged_tags, "replay tags");

  // The identities table is an index; it must agree with the replayed identity records.
  std::map<std::string, Identity> indexed;
  for (auto& id : ledger.identities()) indexed[id.name] = id;
  for (const auto& [name, id] : ids.all()) {
    auto it = indexed.find(name);
    if (it == indexed.end() || it->second.role != id.role || it->second.key != id.key ||
        it->second.retired_index != id.retired || it->second.enrolled_index != id.enrolled) {
      Finding f = finding("identity_index", "the identities table disagrees with the log about " + name);
      report(f);
    }
    if (it != indexed.end()) indexed.erase(it);
  }
  for (const auto& [name, id] : indexed) report(finding("identity_index", "identity " + name + " has no enrollment record in the log"));

  if (options.trusted && options.trusted->key != genesis_key.key) {
    Finding f = finding("untrusted_authority", "the genesis authority key is not the trusted key");
    f.index = 0;
    f.expected = options.trusted->key_id();
    f.actual = key_id_of(genesis_key.key);
    report(f);
  }
  return summary;
}

json make_receipt(Ledger& ledger, std::uint64_t index) {
  sql::ReadTransaction snapshot(ledger.db());
  auto latest = ledger.latest_block();
  if (!latest || latest->tree_size() <= index)
    throw Error(ExitCode::not_found, "record at index " + std::to_string(index) +
                                         " is not anchored yet; run medtrail anchor, then prove it");
  LeafRow row = ledger.leaf(index);
  std::uint64_t size = latest->tree_size();
  auto proof = merkle::inclusion_proof(index, size, ledger.hash_getter());
  json inclusion = json::array();
  for (const auto& h : proof) inclusion.push_back(to_hex(h));
  PublicIdentity authority = genesis_authority(ledger);
  // The block's signer may be a later authority; name the one that signed the checkpoint.
  if (auto signer = ledger.identity_by_key_id(latest->header.value("signer", "")))
    authority = {signer->name, signer->role, *signer->key, std::nullopt};
  return {
      {"record", envelope_of(row)},
      {"leaf_index", index},
      {"leaf_hash", to_hex(row.id)},
      {"tree_size", size},
      {"inclusion", inclusion},
      {"checkpoint", latest->checkpoint},
      {"block", latest->to_json()},
      {"record_block", ledger.block_height_of(index).value_or(0)},
      {"authority",
       {{"name", authority.name}, {"key_id", authority.key_id()}, {"public_key", base64_encode(authority.key)},
        {"vkey", vkey_of(authority.name, authority.key)}}},
  };
}

std::uint64_t verify_receipt(const json& receipt, const std::optional<PublicIdentity>& trusted, const FindingSink& sink) {
  std::uint64_t findings = 0;
  auto fail = [&](std::string check, std::string message) {
    ++findings;
    sink(finding(std::move(check), std::move(message)));
  };
  try {
    const json& record = receipt.at("record");
    auto index = unsigned_member(receipt, "leaf_index");
    auto size = unsigned_member(receipt, "tree_size");
    Hash leaf = merkle::leaf_hash(as_bytes(jcs::canonicalize(record)));
    if (to_hex(leaf) != receipt.at("leaf_hash").get<std::string>())
      fail("leaf_hash_mismatch", "the record does not hash to the receipt's leaf hash");
    std::vector<Hash> proof;
    for (const auto& h : receipt.at("inclusion")) {
      auto parsed = hash_from_hex(h.get<std::string>());
      if (!parsed) throw Error(ExitCode::usage, "inclusion proof entry is not a 64-digit hex hash");
      proof.push_back(*parsed);
    }
    auto note = SignedNote::parse(receipt.at("checkpoint").get<std::string>());
    auto cp = parse_checkpoint_body(note.text);
    if (!cp) throw Error(ExitCode::usage, "the receipt's checkpoint is not a tlog checkpoint");
    const json& auth = receipt.at("authority");
    auto key = decode_key(auth.at("public_key"));
    if (!key) throw Error(ExitCode::usage, "the receipt's authority key is malformed");
    PublicIdentity authority{auth.at("name").get<std::string>(), "authority", *key, std::nullopt};
    if (trusted && trusted->key != authority.key)
      fail("untrusted_authority", "the receipt is signed by " + authority.name + " (" + authority.key_id() +
                                      "), not by the trusted key " + trusted->key_id());
    if (!note.signed_by(authority.name, authority.key))
      fail("checkpoint_signature", "the checkpoint is not signed by " + authority.name);
    if (cp->tree_size != size) fail("tree_size", "the checkpoint's tree size differs from the receipt's");
    if (!merkle::verify_inclusion(index, size, leaf, proof, cp->root))
      fail("inclusion", "the inclusion proof does not lead to the checkpoint's root");
    const json& block = receipt.at("block");
    const json& header = block.at("header");
    std::string canonical = jcs::canonicalize(header);
    if (to_hex(crypto::sha256(canonical)) != block.at("hash").get<std::string>())
      fail("block_hash_mismatch", "the block hash does not match its header");
    if (unsigned_member(header, "tree_size") != cp->tree_size || header.at("log_root").get<std::string>() != to_hex(cp->root) ||
        header.at("origin").get<std::string>() != cp->origin)
      fail("block_checkpoint", "the block header and the checkpoint disagree");
    bool block_signed = false;
    for (const auto& s : block.at("signatures"))
      if (auto sig = decode_sig(s.value("sig", json())); sig && verify_signature(authority.key, canonical, *sig)) block_signed = true;
    if (!block_signed) fail("block_signature", "the block is not signed by " + authority.name);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ExitCode::usage, std::string("not a medtrail receipt: ") + e.what());
  }
  return findings;
}

json verify_record(Ledger& ledger, std::uint64_t index, const VerifyOptions& options, const FindingSink& sink) {
  std::uint64_t findings = 0;
  auto counting = [&](const Finding& f) {
    ++findings;
    sink(f);
  };
  sql::ReadTransaction snapshot(ledger.db());
  LeafRow row = ledger.leaf(index);
  auto fail = [&](std::string check, std::string message) {
    Finding f = finding(std::move(check), std::move(message));
    f.index = index;
    f.record = to_hex(row.id);
    counting(f);
  };
  Hash computed = leaf_hash_of(row);
  if (computed != row.id) fail("leaf_hash_mismatch", "record content differs from the hash it was committed under");
  if (row.kind == "reading") {
    auto p = ledger.db().prepare("SELECT salt, reading, ciphertext, elided FROM payloads WHERE idx = ?");
    p.bind(1, index);
    std::string ciphertext_digest = row.extra.is_object() ? row.extra.value("ciphertext_sha256", "") : "";
    if (!p.step() || (p.is_null(1) && p.is_null(2))) {
      auto erasures = privacy::erasures(ledger);
      auto it = row.subject ? erasures.find(*row.subject) : erasures.end();
      bool erased = it != erasures.end() &&
                    std::any_of(it->second.begin(), it->second.end(), [&](std::uint64_t e) { return e > index; });
      if (!erased) fail("payload_missing", "the reading's payload is missing and no erasure record covers it");
    } else if (p.is_null(1)) {
      if (to_hex(crypto::sha256(p.blob(2))) != ciphertext_digest)
        fail("ciphertext_mismatch", "the stored ciphertext differs from the digest the record commits to");
    } else {
      std::string stored = p.text(1);
      auto whole = restore_envelope_members(stored, p.integer(3), envelope_members_of(row));
      crypto::Sha256 sha;
      sha.update(p.blob(0));
      sha.update(whole ? *whole : stored);  // as stored when it cannot be put together: a mismatch
      if (!row.commitment || sha.finish() != *row.commitment)
        fail("payload_mismatch", "the stored reading or salt differs from the record's commitment");
    }
  }
  json status = {{"id", to_hex(row.id)}, {"index", index}};
  auto latest = ledger.latest_block();
  if (!latest || latest->tree_size() <= index) {
    fail("pending", "the record is not anchored yet, so no signed checkpoint covers it (run medtrail anchor)");
    status["status"] = "pending";
    return status;
  }
  auto receipt = make_receipt(ledger, index);
  verify_receipt(receipt, options.trusted, [&](const Finding& f) {
    Finding g = f;
    g.index = index;
    g.record = to_hex(row.id);
    counting(g);
  });
  status["block"] = ledger.block_height_of(index).value_or(0);
  status["tree_size"] = latest->tree_size();
  status["status"] = findings == 0 ? "verified" : "failed";
  return status;
}

std::uint64_t verify_against_checkpoint(Ledger& ledger, const std::string& checkpoint_note,
                                        const std::optional<PublicIdentity>& trusted, const FindingSink& sink) {
  std::uint64_t findings = 0;
  auto fail = [&](std::string check, std::string message, std::string expected = {}, std::string actual = {}) {
    ++findings;
    Finding f = finding(std::move(check), std::move(message));
    f.expected = std::move(expected);
    f.actual = std::move(actual);
    sink(f);
  };
  auto note = SignedNote::parse(checkpoint_note);
  auto old = parse_checkpoint_body(note.text);
  if (!old) throw Error(ExitCode::usage, "the checkpoint is not a tlog checkpoint (origin, size, root)");
  sql::ReadTransaction snapshot(ledger.db());
  PublicIdentity signer = trusted ? *trusted : genesis_authority(ledger);
  bool signed_ok = note.signed_by(signer.name, signer.key);
  if (!signed_ok)
    for (const auto& id : ledger.identities())  // a later authority of this ledger may have signed it
      if (!trusted && id.role == "authority" && id.key && note.signed_by(id.name, *id.key)) signed_ok = true;
  if (!signed_ok)
    fail("checkpoint_signature", "the old checkpoint is not signed by " + signer.name +
                                     (trusted ? " (the trusted key)" : " or another authority of this ledger") +
                                     ": the ledger was rewritten under another key, or this checkpoint is from another log");
  if (old->origin != ledger.origin())
    fail("checkpoint_origin", "the checkpoint is for log \"" + old->origin + "\", this ledger is \"" + ledger.origin() + "\"");
  auto latest = ledger.latest_block();
  if (!latest) {
    fail("block_missing", "the ledger has no blocks");
    return findings;
  }
  std::uint64_t size = latest->tree_size();
  auto new_root = hash_from_hex(latest->header.value("log_root", ""));
  if (old->tree_size > size) {
    fail("history_shrank", "the old checkpoint covers " + std::to_string(old->tree_size) + " records, the ledger now only " +
                               std::to_string(size) + ": sealed records or blocks were removed",
         std::to_string(old->tree_size), std::to_string(size));
    return findings;
  }
  std::vector<Hash> proof;
  try {
    proof = merkle::consistency_proof(old->tree_size, size, ledger.hash_getter());
  } catch (const Error& e) {
    fail("consistency", std::string("cannot build a consistency proof: ") + e.what());
    return findings;
  }
  if (!new_root || !merkle::verify_consistency(old->tree_size, size, old->root, *new_root, proof))
    fail("consistency", "the ledger's history is not an extension of the old checkpoint: records it covered were changed",
         base64_encode(old->root), new_root ? base64_encode(*new_root) : "");
  // The current head must itself be signed; otherwise the proof would prove nothing.
  auto head_note = SignedNote::parse(latest->checkpoint);
  bool head_signed = false;
  for (const auto& id : ledger.identities())
    if (id.role == "authority" && id.key && head_note.signed_by(id.name, *id.key)) head_signed = true;
  auto head_cp = parse_checkpoint_body(head_note.text);
  if (!head_signed || !head_cp || head_cp->tree_size != size || !new_root || head_cp->root != *new_root)
    fail("checkpoint_signature", "the ledger's latest checkpoint is not signed by one of its authorities or does not match its block");
  return findings;
}

std::uint64_t verify_file(Ledger& ledger, std::uint64_t index, const std::string& path, const FindingSink& sink) {
  LeafRow row = ledger.leaf(index);
  std::uint64_t findings = 0;
  std::string recorded = row.extra.is_object() ? row.extra.value("file_sha256", "") : "";
  if (recorded.empty())
    throw Error(ExitCode::not_found, "record " + to_hex(row.id) + " does not commit to a file (no payload_file)");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(ExitCode::not_found, "cannot open " + path);
  crypto::Sha256 sha;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) sha.update(std::span(buf, n));
  std::fclose(f);
  std::string actual = to_hex(sha.finish());
  if (actual != recorded) {
    ++findings;
    Finding fd = finding("file_mismatch", path + " differs from the file record " + to_hex(row.id).substr(0, 16) + " committed to");
    fd.index = index;
    fd.record = to_hex(row.id);
    fd.expected = recorded;
    fd.actual = actual;
    sink(fd);
  }
  Hash computed = leaf_hash_of(row);
  if (computed != row.id) {
    ++findings;
    Finding fd = finding("leaf_hash_mismatch", "record content differs from the hash it was committed under");
    fd.index = index;
    fd.record = to_hex(row.id);
    sink(fd);
  }
  return findings;
}

}  // namespace medtrail
