#include "privacy.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "merkle.hpp"
#include "timefmt.hpp"
#include "trace_index.hpp"

namespace medtrail::privacy {
namespace {

using nlohmann::json;


std::optional<PublicKey> decode_key(const json& extra, const char* member) {
  if (!extra.is_object() || !extra.contains(member) || !extra[member].is_string()) return std::nullopt;
  auto bytes = base64_decode(extra[member].get<std::string>());
  if (!bytes || bytes->size() != 32) return std::nullopt;
  PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

std::vector<LeafRow> privacy_records(Ledger& ledger, const char* kinds) {
  std::string sql = std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE " + kPrivacyKindsCondition +
                    " AND kind_code IN (" + kinds + ") ORDER BY idx";
  auto stmt = ledger.db().prepare(sql.c_str());
  std::vector<LeafRow> out;
  while (stmt.step()) out.push_back(read_leaf_row(stmt, 0));
  return out;
}

// Indexes of the reading records a grant's scope names (also those it does not cover yet).
std::vector<std::uint64_t> readings_in_scope(Ledger& ledger, const std::string& scope, const std::string& target) {
  std::vector<std::uint64_t> out;
  if (scope == "record") {
    auto h = hash_from_hex(target);
    if (!h) return out;
    auto stmt = ledger.db().prepare(
        (std::string("SELECT idx FROM leaves WHERE idx = (") + kRecordIdLookup + ") AND " + kIsReading).c_str());
    stmt.bind_blob(1, *h);
    while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  } else if (scope == "subject") {
    auto h = hash_from_hex(target);
    if (!h) return out;
    auto stmt = ledger.db().prepare((std::string("SELECT idx FROM leaves WHERE subject_ref = ") + kSubjectRefOfParam +
                                     " AND " + kIsReading + " ORDER BY idx")
                                        .c_str());
    stmt.bind_blob(1, *h);
    while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  } else if (scope == "all") {
    auto stmt =
        ledger.db().prepare((std::string("SELECT idx FROM leaves WHERE ") + kIsReading + " ORDER BY idx").c_str());
    while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  } else if (scope == "device") {
    auto stmt = ledger.db().prepare((std::string("SELECT idx FROM leaves WHERE device_ref = ") + kLabelRefOfParam +
                                     " AND " + kIsReading + " ORDER BY idx")
                                        .c_str());
    stmt.bind(1, target);
    while (stmt.step()) out.push_back(static_cast<std::uint64_t>(stmt.integer(0)));
  }
  return out;
}

void require_owner(Ledger& ledger, const SigningKey& owner) {
  ledger.require_active(owner.identity().key, {"authority"});
  auto owner_enc = owner_key(ledger);
  if (!owner_enc)
    throw Error(ExitCode::usage, "this ledger stores payloads in clear (it was created before encryption or by an "
                                 "authority key without an encryption key); there is nothing to grant or erase");
  if (!owner.identity().enc_key || *owner.identity().enc_key != *owner_enc)
    throw Error(ExitCode::usage, "key " + owner.identity().name +
                                     " is not the data owner's: only the authority that created the ledger holds it");
}

json id_summary(const std::vector<std::pair<std::uint64_t, Hash>>& records) {
  std::vector<Hash> ids;
  for (const auto& r : records) ids.push_back(r.second);
  json out = {{"count", ids.size()}, {"root", to_hex(merkle::root_of(ids))}};
  // Short lists are named outright; long ones (audit, trace) by count and Merkle root, so one
  // record's read can still be proven from the reader's list.
  if (ids.size() <= 32) {
    out["ids"] = json::array();
    for (const auto& id : ids) out["ids"].push_back(to_hex(id));
  }
  return out;
}

constexpr const char* kWrapLookup =
    "SELECT k.ephemeral, w.wrapped FROM wraps w JOIN wrap_keys k ON k.id = w.wrap_key WHERE w.idx = ? AND w.recipient = ?";

// A record's wrapped data key for one recipient (lookup: kWrapLookup). A malformed ephemeral
// key comes back as zeros, which no unwrap accepts.
struct StoredWrap {
  PublicKey ephemeral{};
  Bytes wrapped;
};
std::optional<StoredWrap> stored_wrap(sql::Statement& lookup, std::uint64_t index, const std::string& recipient) {
  lookup.bind(1, index).bind(2, recipient);
  if (!lookup.step()) {
    lookup.reset();
    return std::nullopt;
  }
  StoredWrap out;
  auto eph = lookup.blob(0);
  if (eph.size() == 32) std::copy(eph.begin(), eph.end(), out.ephemeral.begin());
  out.wrapped.assign(lookup.blob(1).begin(), lookup.blob(1).end());
  lookup.reset();
  return out;
}

// The payload's data key, unwrapped with the owner's key.
std::optional<Bytes> owner_dek(sql::Statement& lookup, payload_crypto::KeyUnwrapper& unwrapper, const PublicKey& owner,
                               const LeafRow& row) {
  auto wrap = stored_wrap(lookup, row.index, recipient_id(owner));
  if (!wrap) return std::nullopt;
  return unwrapper.unwrap(wrap->ephemeral, wrap->wrapped, row.id);
}

}  // namespace

std::string recipient_id(const PublicKey& enc_key) { return key_id_of(enc_key); }

std::optional<PublicKey> owner_key(Ledger& ledger) {
  if (ledger.size() == 0) return std::nullopt;
  return decode_key(ledger.leaf(0).extra, "enc_key");
}

std::optional<PublicKey> enc_key_of(Ledger& ledger, const Identity& identity) {
  return decode_key(ledger.leaf(identity.enrolled_index).extra, "enc_key");
}

bool Grant::covers(const LeafRow& reading) const {
  if (scope == "record") return to_hex(reading.id) == target;
  if (scope == "device") return reading.device && *reading.device == target;
  if (scope == "subject") return reading.subject && to_hex(*reading.subject) == target;
  return scope == "all";
}

std::vector<Grant> grants(Ledger& ledger) {
  std::vector<Grant> out;
  for (const auto& row : privacy_records(ledger, "8, 9") /* grant, revocation */) {
    const json& x = row.extra;
    if (row.kind == "grant") {
      Grant g;
      g.index = row.index;
      g.id = row.id;
      g.grantee = row.device.value_or("");
      g.scope = x.value("scope", "");
      g.target = x.value("target", "");
      g.purpose = x.value("purpose", "");
      if (x.contains("until") && x["until"].is_string()) g.until_ms = parse_rfc3339_ms(x["until"].get<std::string>());
      out.push_back(std::move(g));
    } else {
      std::string target = x.value("grant", "");
      for (auto& g : out)
        if (to_hex(g.id) == target && !g.revoked_index) g.revoked_index = row.index;
    }
  }
  return out;
}

PayloadSealer::PayloadSealer(Ledger& ledger)
    : ledger_(ledger),
      owner_(owner_key(ledger)),
      insert_payload_(
          ledger.db().prepare("INSERT INTO payloads(idx, ciphertext, replay_tag, elided) VALUES (?, ?, ?, ?)")),
      insert_wrap_key_(ledger.db().prepare("INSERT INTO wrap_keys(recipient, ephemeral) VALUES (?, ?)")),
      insert_wrap_(
          ledger.db().prepare("INSERT OR IGNORE INTO wraps(idx, recipient, wrap_key, wrapped) VALUES (?, ?, ?, ?)")) {
  if (!owner_) return;
  owner_id_ = recipient_id(*owner_);
  std::int64_t now = now_unix_ms();
  for (auto& g : grants(ledger)) {
    if (!g.live(now)) continue;
    auto who = ledger.identity(g.grantee);
    if (!who || who->retired_index) continue;
    if (auto key = enc_key_of(ledger, *who)) grantees_.push_back({std::move(g), *key});
  }
}

std::int64_t PayloadSealer::insert_wrap_key(const std::string& id, const PublicKey& ephemeral) {
  insert_wrap_key_.bind(1, id).bind_blob(2, ephemeral).run();
  return sqlite3_last_insert_rowid(ledger_.db().handle());
}

std::int64_t PayloadSealer::wrap_key_for(const std::string& id, const PublicKey& recipient) {
  auto found = wrappers_.find(id);
  if (found != wrappers_.end()) return found->second.first;
  auto wrapper = std::make_unique<payload_crypto::KeyWrapper>(recipient);
  std::int64_t row = insert_wrap_key(id, wrapper->ephemeral());
  wrappers_.emplace(id, std::make_pair(row, std::move(wrapper)));
  return row;
}

std::int64_t PayloadSealer::wrap_key_of(const std::string& id, const payload_crypto::KeyWrapper& wrapper) {
  auto found = outside_wrap_keys_.find(wrapper.ephemeral());
  if (found != outside_wrap_keys_.end()) return found->second;
  std::int64_t row = insert_wrap_key(id, wrapper.ephemeral());
  outside_wrap_keys_.emplace(wrapper.ephemeral(), row);
  return row;
}

void PayloadSealer::store(std::uint64_t index, const LeafRow& row, const payload_crypto::Sealed& sealed,
                          std::span<const std::uint8_t> replay_tag, std::optional<OwnerWrap> owner_wrap) {
  insert_payload_.bind(1, index).bind_blob(2, sealed.ciphertext).bind_blob(3, replay_tag);
  if (sealed.elided)
    insert_payload_.bind(4, sealed.elided);
  else
    insert_payload_.bind_null(4);
  insert_payload_.run();
  auto insert_wrap = [&](const std::string& id, std::int64_t wrap_key, std::span<const std::uint8_t> wrapped) {
    insert_wrap_.bind(1, index).bind(2, id).bind(3, wrap_key).bind_blob(4, wrapped).run();
  };
  auto wrap_to = [&](const std::string& id, const PublicKey& key) {
    std::int64_t wrap_key = wrap_key_for(id, key);
    insert_wrap(id, wrap_key, wrappers_.at(id).second->wrap(sealed.dek, row.id));
  };
  if (owner_wrap && owner_wrap->wrapper && owner_wrap->wrapper->recipient() == *owner_)
    insert_wrap(owner_id_, wrap_key_of(owner_id_, *owner_wrap->wrapper), owner_wrap->wrapped);
  else
    wrap_to(owner_id_, *owner_);
  for (const auto& g : grantees_)
    if (g.grant.covers(row)) wrap_to(recipient_id(g.key), g.key);
}

PayloadReader::PayloadReader(Ledger& ledger, const SigningKey* reader)
    : ledger_(ledger),
      reader_(reader),
      payload_(ledger.db().prepare("SELECT salt, reading, ciphertext, elided FROM payloads WHERE idx = ?")),
      wrap_(ledger.db().prepare(kWrapLookup)),
      // Prepared once: reading_of calls reading_text for every encrypted row a query touches.
      leaf_(ledger.db().prepare((std::string("SELECT ") + kLeafColumns + " FROM leaves WHERE idx = ?").c_str())) {
  if (!reader_) return;
  auto owner = owner_key(ledger);
  if (!owner) return;  // clear payloads: nothing to decrypt or record
  identity_ = ledger.identity_by_key_id(reader_->identity().key_id());
  if (!identity_)
    throw Error(ExitCode::not_found, "key " + reader_->identity().key_id() +
                                         " is not enrolled on this ledger; only enrolled readers may decrypt (every read is recorded under their name)");
  if (identity_->retired_index) throw Error(ExitCode::usage, "identity " + identity_->name + " is retired");
  if (!reader_->identity().enc_key)
    throw Error(ExitCode::environment, "key file for " + identity_->name +
                                           " holds no encryption key (X25519); it cannot decrypt readings");
  auto enrolled_enc = enc_key_of(ledger, *identity_);
  if (!enrolled_enc || *enrolled_enc != *reader_->identity().enc_key)
    throw Error(ExitCode::environment, "the encryption key in the key file of " + identity_->name +
                                           " is not the one enrolled on this ledger");
  is_owner_ = identity_->role == "authority" && *enrolled_enc == *owner;
  unwrapper_.emplace(*reader_);
  for (auto& g : grants(ledger))
    if (g.grantee == identity_->name) grants_.push_back(std::move(g));
}

ReadResult PayloadReader::read(const LeafRow& row) {
  ReadResult out;
  payload_.bind(1, row.index);
  if (!payload_.step()) {
    payload_.reset();
    return out;  // missing
  }
  if (!payload_.is_null(1)) {
    out.outcome = ReadOutcome::clear;
    auto salt = payload_.blob(0);
    Bytes salt_bytes(salt.begin(), salt.end());
    std::string stored = payload_.text(1);
    std::int64_t elided = payload_.integer(3);
    payload_.reset();
    auto whole = restore_envelope_members(stored, elided, envelope_members_of(row));
    if (!whole) {
      out.outcome = ReadOutcome::corrupt;
      out.reason = "the stored reading cannot be put together with its envelope";
      return out;
    }
    out.payload = payload_crypto::Opened{std::move(salt_bytes), std::move(*whole)};
    return out;
  }
  if (payload_.is_null(2)) {
    payload_.reset();
    out.outcome = ReadOutcome::erased;
    return out;
  }
  Bytes ciphertext(payload_.blob(2).begin(), payload_.blob(2).end());
  const std::int64_t elided = payload_.integer(3);
  payload_.reset();
  auto refuse = [&](std::string reason) {
    out.outcome = ReadOutcome::refused;
    out.reason = std::move(reason);
    refused_.emplace_back(row.index, row.id);
    refusal_reasons_.insert(out.reason);
    return out;
  };
  if (!unwrapper_) {
    ++locked_;
    out.outcome = ReadOutcome::refused;
    out.reason = "the reading is encrypted; give --key with a key that may read it";
    return out;
  }
  std::int64_t now = now_unix_ms();
  const Grant* used = nullptr;
  if (!is_owner_) {
    const Grant* lapsed = nullptr;
    for (const auto& g : grants_) {
      if (!g.covers(row)) continue;
      if (g.live(now)) {
        used = &g;
        break;
      }
      lapsed = &g;
    }
    if (!used) {
      if (!lapsed) return refuse("no grant to " + identity_->name + " covers this record");
      return refuse(lapsed->revoked_index ? "the grant covering this record was revoked"
                                          : "the grant covering this record expired");
    }
  }
  auto corrupt = [&](std::string reason) {
    out.outcome = ReadOutcome::corrupt;
    out.reason = std::move(reason);
    return out;
  };
  std::string expected_digest = row.extra.is_object() ? row.extra.value("ciphertext_sha256", "") : "";
  if (to_hex(crypto::sha256(ciphertext)) != expected_digest)
    return corrupt("the stored ciphertext differs from the digest the record commits to");
  auto wrap = stored_wrap(wrap_, row.index, recipient_id(*reader_->identity().enc_key));
  if (!wrap) return refuse("no data key of this record is wrapped to " + identity_->name);
  auto dek = unwrapper_->unwrap(wrap->ephemeral, wrap->wrapped, row.id);
  if (!dek) return corrupt("the wrapped data key does not open with " + identity_->name + "'s key");
  if (!row.commitment) return corrupt("the record has no commitment");
  auto opened = payload_crypto::open(*dek, ciphertext, *row.commitment);
  if (!opened) return corrupt("the ciphertext does not open (altered, truncated or another record's)");
  auto whole = restore_envelope_members(opened->reading, elided, envelope_members_of(row));
  if (!whole) return corrupt("the decrypted reading cannot be put together with its envelope");
  opened->reading = std::move(*whole);
  crypto::Sha256 sha;
  sha.update(opened->salt);
  sha.update(opened->reading);
  if (sha.finish() != *row.commitment) return corrupt("the decrypted reading differs from the record's commitment");
  out.outcome = ReadOutcome::decrypted;
  out.payload = std::move(opened);
  read_.emplace_back(row.index, row.id);
  if (used) grants_used_.insert(to_hex(used->id));
  return out;
}

std::optional<std::string> PayloadReader::reading_text(std::uint64_t index) {
  leaf_.bind(1, index);
  if (!leaf_.step()) {
    leaf_.reset();
    return std::nullopt;
  }
  LeafRow row = read_leaf_row(leaf_, 0);
  leaf_.reset();
  auto result = read(row);
  if (!result.payload) return std::nullopt;
  return std::move(result.payload->reading);
}

std::optional<LeafRow> PayloadReader::record_access(const std::string& command, const std::string& purpose) {
  if (!reader_ || !identity_ || (read_.empty() && refused_.empty())) return std::nullopt;
  sql::WriteTransaction tx(ledger_.db());
  ledger_.require_active(reader_->identity().key, {"authority", "clinician", "auditor"});
  LeafRow row;
  row.kind = "access";
  row.device = identity_->name;
  row.gateway = reader_->identity().key_id();
  row.received_ms = now_unix_ms();
  row.extra = {{"command", command},
               {"outcome", refused_.empty() ? "granted" : read_.empty() ? "refused" : "partial"},
               {"read", id_summary(read_)},
               {"refused", id_summary(refused_)}};
  if (!purpose.empty()) row.extra["purpose"] = purpose;
  if (!grants_used_.empty()) row.extra["grants"] = grants_used_;
  if (!refusal_reasons_.empty()) row.extra["reasons"] = refusal_reasons_;
  row.extra["sig"] = base64_encode(reader_->sign(signed_part_of(row)));
  Ledger::Appender appender(ledger_);
  appender.append(row);
  tx.commit();
  read_.clear();
  refused_.clear();
  grants_used_.clear();
  refusal_reasons_.clear();
  return row;
}

GrantResult grant(Ledger& ledger, const SigningKey& owner, const GrantRequest& request) {
  if (request.scope != "subject" && request.scope != "device" && request.scope != "record" && request.scope != "all")
    throw Error(ExitCode::usage, "grant scope must be subject, device, record or all");
  sql::WriteTransaction tx(ledger.db());
  require_owner(ledger, owner);
  auto grantee = ledger.identity(request.grantee);
  if (!grantee) throw Error(ExitCode::not_found, "no identity named " + request.grantee + " (medtrail enroll)");
  if (grantee->retired_index) throw Error(ExitCode::usage, "identity " + request.grantee + " is retired");
  auto grantee_key = enc_key_of(ledger, *grantee);
  if (!grantee_key)
    throw Error(ExitCode::usage, "identity " + request.grantee +
                                     " was enrolled without an encryption key; enroll a clinician or auditor key made by medtrail keygen");
  if (request.until_ms && *request.until_ms <= now_unix_ms())
    throw Error(ExitCode::usage, "--until is in the past");
  GrantResult out;
  LeafRow& row = out.record;
  row.kind = "grant";
  row.device = request.grantee;
  row.gateway = owner.identity().key_id();
  row.received_ms = now_unix_ms();
  row.extra = {{"scope", request.scope}, {"target", request.target}};
  if (request.until_ms) row.extra["until"] = format_rfc3339_ms(*request.until_ms);
  if (!request.purpose.empty()) row.extra["purpose"] = request.purpose;
  row.extra["sig"] = base64_encode(owner.sign(signed_part_of(row)));
  Ledger::Appender appender(ledger);
  appender.append(row);

  // Records that exist now get their keys wrapped to the grantee; later ones are wrapped at ingest.
  payload_crypto::KeyUnwrapper unwrapper(owner);
  payload_crypto::KeyWrapper wrapper(*grantee_key);
  std::string to = recipient_id(*grantee_key);
  std::optional<std::int64_t> wrap_key;
  auto insert = ledger.db().prepare("INSERT OR IGNORE INTO wraps(idx, recipient, wrap_key, wrapped) VALUES (?, ?, ?, ?)");
  auto lookup = ledger.db().prepare(kWrapLookup);
  auto owner_enc = *owner.identity().enc_key;
  for (auto index : readings_in_scope(ledger, request.scope, request.target)) {
    LeafRow reading = ledger.leaf(index);
    auto dek = owner_dek(lookup, unwrapper, owner_enc, reading);
    if (!dek) continue;  // erased, or stored in clear before encryption
    if (!wrap_key) {
      ledger.db().prepare("INSERT INTO wrap_keys(recipient, ephemeral) VALUES (?, ?)").bind(1, to).bind_blob(2, wrapper.ephemeral()).run();
      wrap_key = sqlite3_last_insert_rowid(ledger.db().handle());
    }
    insert.bind(1, index).bind(2, to).bind(3, *wrap_key).bind_blob(4, wrapper.wrap(*dek, reading.id)).run();
    OPENSSL_cleanse(dek->data(), dek->size());
    ++out.wrapped;
  }
  tx.commit();
  return out;
}

RevokeResult revoke(Ledger& ledger, const SigningKey& owner, std::string_view grant_id, const std::string& reason) {
  sql::WriteTransaction tx(ledger.db());
  require_owner(ledger, owner);
  auto index = ledger.resolve(grant_id);
  LeafRow target = ledger.leaf(index);
  if (target.kind != "grant") throw Error(ExitCode::usage, "record " + std::string(grant_id) + " is a " + target.kind + ", not a grant");
  auto all = grants(ledger);
  auto it = std::find_if(all.begin(), all.end(), [&](const Grant& g) { return g.index == index; });
  if (it == all.end()) throw Error(ExitCode::not_found, "no grant " + std::string(grant_id));
  if (it->revoked_index)
    throw Error(ExitCode::usage, "grant " + to_hex(it->id) + " was already revoked at record " + std::to_string(*it->revoked_index));
  RevokeResult out;
  LeafRow& row = out.record;
  row.kind = "revocation";
  row.device = it->grantee;
  row.gateway = owner.identity().key_id();
  row.received_ms = now_unix_ms();
  row.extra = {{"grant", to_hex(it->id)}};
  if (!reason.empty()) row.extra["reason"] = reason;
  row.extra["sig"] = base64_encode(owner.sign(signed_part_of(row)));
  Ledger::Appender appender(ledger);
  appender.append(row);
  it->revoked_index = row.index;

  // Destroy the grantee's wrapped keys that no other live grant still needs.
  auto grantee = ledger.identity(it->grantee);
  auto key = grantee ? enc_key_of(ledger, *grantee) : std::nullopt;
  if (key) {
    std::int64_t now = now_unix_ms();
    auto remove = ledger.db().prepare("DELETE FROM wraps WHERE idx = ? AND recipient = ?");
    for (auto reading_index : readings_in_scope(ledger, it->scope, it->target)) {
      LeafRow reading = ledger.leaf(reading_index);
      bool still_covered = std::any_of(all.begin(), all.end(), [&](const Grant& g) {
        return g.grantee == it->grantee && g.live(now) && g.covers(reading);
      });
      if (still_covered) continue;
      remove.bind(1, reading_index).bind(2, recipient_id(*key)).run();
      out.unwrapped += static_cast<std::uint64_t>(sqlite3_changes(ledger.db().handle()));
    }
  }
  tx.commit();
  return out;
}

ForgetResult forget(Ledger& ledger, const SigningKey& owner, const Hash& subject, const std::string& reason) {
  // Freed cells and pages are zeroed, so the ciphertext does not linger in free space.
  ledger.db().exec("PRAGMA secure_delete=ON");
  ForgetResult out;
  {
    sql::WriteTransaction tx(ledger.db());
    require_owner(ledger, owner);
    payload_crypto::KeyUnwrapper unwrapper(owner);
    auto owner_enc = *owner.identity().enc_key;
    auto payload =
        ledger.db().prepare("SELECT salt, reading, ciphertext, replay_tag, elided FROM payloads WHERE idx = ?");
    HashRuns replay_tags(ledger.db(), "replay_tags", "tag");
    auto erase = ledger.db().prepare(
        "UPDATE payloads SET salt = NULL, reading = NULL, ciphertext = NULL, replay_tag = NULL, elided = NULL WHERE "
        "idx = ?");
    auto drop_wraps = ledger.db().prepare("DELETE FROM wraps WHERE idx = ?");
    auto drop_asset = ledger.db().prepare("DELETE FROM assets WHERE asset = ? AND time_ms = ? AND idx = ?");
    auto drop_proximity = ledger.db().prepare("DELETE FROM proximity WHERE peer = ? AND time_ms = ? AND idx = ?");
    auto drop_position = ledger.db().prepare("DELETE FROM positions WHERE idx = ?");
    auto drop_source_ref = ledger.db().prepare("DELETE FROM source_refs WHERE ref = ? AND idx = ?");
    auto id_lookup = ledger.db().prepare(kRecordIdLookup);
    auto wrap_lookup = ledger.db().prepare(kWrapLookup);
    std::vector<Hash> erased_ids;
    for (auto index : readings_in_scope(ledger, "subject", to_hex(subject))) {
      LeafRow row = ledger.leaf(index);
      payload.bind(1, index);
      if (!payload.step()) {
        payload.reset();
        continue;
      }
      std::optional<std::string> text;
      if (!payload.is_null(1)) {
        text = clear_reading_of(row, payload.text(1), payload.integer(4));
      } else if (!payload.is_null(2) && row.commitment) {
        Bytes ciphertext(payload.blob(2).begin(), payload.blob(2).end());
        if (auto dek = owner_dek(wrap_lookup, unwrapper, owner_enc, row))
          if (auto opened = payload_crypto::open(*dek, ciphertext, *row.commitment))
            text = restore_envelope_members(opened->reading, payload.integer(4), envelope_members_of(row));
      } else {
        payload.reset();
        continue;  // already erased
      }
      // The tag is an HMAC of the values: it goes with them, and a later re-ingest is new data.
      if (!payload.is_null(3)) {
        Bytes tag(payload.blob(3).begin(), payload.blob(3).end());
        replay_tags.erase(tag);
      }
      payload.reset();
      // The value-derived trace rows go with the values; derivation links stay (they are in the envelope).
      if (text) {
        auto facts = trace::stored_facts(id_lookup, row, &*text);
        std::int64_t t = row.time_ms.value_or(0);
        if (facts.asset) drop_asset.bind(1, *facts.asset).bind(2, t).bind(3, index).run();
        if (facts.peer) drop_proximity.bind(1, *facts.peer).bind(2, t).bind(3, index).run();
        if (facts.source_ref) drop_source_ref.bind(1, *facts.source_ref).bind(2, index).run();
      }
      drop_position.bind(1, index).run();
      erase.bind(1, index).run();
      drop_wraps.bind(1, index).run();
      erased_ids.push_back(row.id);
      ++out.erased;
    }
    if (out.erased > 0) {
      LeafRow row;
      row.kind = "erasure";
      row.gateway = owner.identity().key_id();
      row.received_ms = now_unix_ms();
      row.extra = {{"subject", to_hex(subject)},
                   {"count", out.erased},
                   {"root", to_hex(merkle::root_of(erased_ids))}};
      if (!reason.empty()) row.extra["reason"] = reason;
      row.extra["sig"] = base64_encode(owner.sign(signed_part_of(row)));
      Ledger::Appender appender(ledger);
      appender.append(row);
      out.record = std::move(row);
    }
    tx.commit();
  }
  // Move every page out of the WAL and truncate it: old frames held the ciphertext.
  auto checkpoint = ledger.db().prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  checkpoint.step();
  bool busy = checkpoint.integer(0) != 0;
  checkpoint.reset();
  if (busy)
    throw Error(ExitCode::environment, "the erasure is committed, but another process holds the ledger open, so old "
                                       "pages remain in the WAL; run medtrail forget again for this subject when it is idle");
  return out;
}

std::map<Hash, std::vector<std::uint64_t>> erasures(Ledger& ledger) {
  std::map<Hash, std::vector<std::uint64_t>> out;
  for (const auto& row : privacy_records(ledger, "11") /* erasure */)
    if (auto h = row.extra.is_object() ? hash_from_hex(row.extra.value("subject", "")) : std::nullopt)
      out[*h].push_back(row.index);
  return out;
}

}  // namespace medtrail::privacy
