// Privacy: encrypted payloads, grants, audited reads and erasure (crypto-shredding).
//
// A ledger whose genesis authority has an X25519 encryption key (`enc_key` in leaf 0) is the
// data owner's: every reading ingested into it is stored only as ciphertext
// (lib/payload_crypto.hpp), its data key wrapped to the owner and to each grantee whose live
// grant covers the reading. Ledgers made before encryption keep their clear payloads.
//
// Records this module appends (all signed, see docs/FORMATS.md):
//   grant      owner -> grantee, scope subject | device | record | all, optional until and purpose
//   revocation owner ends a grant
//   access     signed by the reader: what it read and what it was refused, and why
//   erasure    owner destroyed a subject's payloads (GDPR Art. 17); verify then reports those
//              readings as erased instead of tampered with
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "keys.hpp"
#include "ledger.hpp"
#include "payload_crypto.hpp"

namespace medtrail::privacy {

// The data owner's encryption key (leaf 0's enc_key); nullopt when the ledger stores clear payloads.
std::optional<PublicKey> owner_key(Ledger& ledger);
// The X25519 key an identity was enrolled with, from its identity record.
std::optional<PublicKey> enc_key_of(Ledger& ledger, const Identity& identity);

struct Grant {
  std::uint64_t index = 0;
  Hash id{};
  std::string grantee;        // identity name
  std::string scope;          // subject | device | record | all (every reading: auditors)
  std::string target;         // subject pseudonym (hex), device name, full record id, or "*"
  std::optional<std::int64_t> until_ms;
  std::string purpose;
  std::optional<std::uint64_t> revoked_index;
  bool live(std::int64_t now_ms) const { return !revoked_index && (!until_ms || now_ms <= *until_ms); }
  bool covers(const LeafRow& reading) const;
};
// Every grant in the log, with its revocation; few, found through a partial index.
std::vector<Grant> grants(Ledger& ledger);

// Ingest side: encrypts payloads and wraps their keys inside the caller's write transaction.
class PayloadSealer {
 public:
  explicit PayloadSealer(Ledger& ledger);
  // When enabled, the caller seals each payload (payload_crypto::seal) before append, so the
  // envelope can commit to the ciphertext ("ciphertext_sha256").
  bool enabled() const { return owner_.has_value(); }
  // A record's data key wrapped to the owner before the commit, off the writer's thread
  // (ingest's preparing worker), for the record id `row` has at store().
  struct OwnerWrap {
    const payload_crypto::KeyWrapper* wrapper = nullptr;  // its ephemeral is stored once per sealer
    std::span<const std::uint8_t> wrapped;
  };
  // After append: stores the ciphertext and wraps its key to the owner (or stores `owner_wrap`,
  // made for the owner) and to the covering grantees.
  void store(std::uint64_t index, const LeafRow& row, const payload_crypto::Sealed& sealed,
             std::span<const std::uint8_t> replay_tag, std::optional<OwnerWrap> owner_wrap = std::nullopt);

 private:
  std::int64_t insert_wrap_key(const std::string& recipient_id, const PublicKey& ephemeral);  // its wrap_keys row
  std::int64_t wrap_key_for(const std::string& recipient_id, const PublicKey& recipient);
  std::int64_t wrap_key_of(const std::string& recipient_id, const payload_crypto::KeyWrapper& wrapper);
  Ledger& ledger_;
  std::optional<PublicKey> owner_;
  std::string owner_id_;  // recipient_id(*owner_), once rather than a SHA-256 per record
  struct Grantee {
    Grant grant;
    PublicKey key{};
  };
  std::vector<Grantee> grantees_;
  std::map<std::string, std::pair<std::int64_t, std::unique_ptr<payload_crypto::KeyWrapper>>> wrappers_;
  std::map<PublicKey, std::int64_t> outside_wrap_keys_;  // wrap_keys rows of OwnerWrap wrappers, by ephemeral
  sql::Statement insert_payload_, insert_wrap_key_, insert_wrap_;
};

// Stores a wrapped data key (table wraps) for one recipient; used by ingest and grant.
std::string recipient_id(const PublicKey& enc_key);

enum class ReadOutcome { clear, decrypted, erased, refused, missing, corrupt };

struct ReadResult {
  ReadOutcome outcome = ReadOutcome::missing;
  std::optional<payload_crypto::Opened> payload;
  std::string reason;  // why refused or corrupt
};

// Reads payloads for one reader key, enforcing grants, and remembers what it read and was
// refused so the access record can say so. Without a key only clear payloads are readable.
class PayloadReader {
 public:
  PayloadReader(Ledger& ledger, const SigningKey* reader);
  ReadResult read(const LeafRow& row);
  // The reading text for SQL consumers (Ledger::set_reading_source), nullopt when unreadable.
  std::optional<std::string> reading_text(std::uint64_t index);
  bool is_owner() const { return is_owner_; }
  std::uint64_t decrypted() const { return read_.size(); }
  std::uint64_t refused() const { return refused_.size(); }
  std::uint64_t locked() const { return locked_; }  // encrypted and no key given
  // Appends the reader's signed access record when it read or was refused anything; its own
  // write transaction. Returns the record.
  std::optional<LeafRow> record_access(const std::string& command, const std::string& purpose);

 private:
  Ledger& ledger_;
  const SigningKey* reader_;
  std::optional<Identity> identity_;
  bool is_owner_ = false;
  std::optional<payload_crypto::KeyUnwrapper> unwrapper_;
  std::vector<Grant> grants_;  // the reader's own
  std::vector<std::pair<std::uint64_t, Hash>> read_, refused_;
  std::set<std::string> grants_used_, refusal_reasons_;
  std::uint64_t locked_ = 0;
  sql::Statement payload_, wrap_, leaf_;
};

struct GrantRequest {
  std::string grantee;
  std::string scope;   // subject | device | record | all
  std::string target;  // pseudonym hex, device name, full record id, or "*"
  std::optional<std::int64_t> until_ms;
  std::string purpose;
};
struct GrantResult {
  LeafRow record;
  std::uint64_t wrapped = 0;  // existing records whose keys were wrapped to the grantee
};
GrantResult grant(Ledger& ledger, const SigningKey& owner, const GrantRequest& request);

struct RevokeResult {
  LeafRow record;
  std::uint64_t unwrapped = 0;  // wrapped keys destroyed (no other live grant covered them)
};
RevokeResult revoke(Ledger& ledger, const SigningKey& owner, std::string_view grant_id, const std::string& reason);

struct ForgetResult {
  std::optional<LeafRow> record;  // nullopt when nothing was left to erase
  std::uint64_t erased = 0;
};
// Destroys every payload, wrapped key and value-derived index row of the subject's readings,
// appends an erasure record, then checkpoints the WAL so no old page keeps the bytes.
ForgetResult forget(Ledger& ledger, const SigningKey& owner, const Hash& subject, const std::string& reason);

// Erasure records by subject pseudonym -> their leaf indexes, for verify.
std::map<Hash, std::vector<std::uint64_t>> erasures(Ledger& ledger);

}  // namespace medtrail::privacy
