#include "proofs.hpp"
#include "json_members.hpp"

#include <charconv>

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "note.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

Finding finding(std::string check, std::string message) {
  Finding f;
  f.check = std::move(check);
  f.message = std::move(message);
  return f;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Takes one '\n'-terminated line off the front of `text`.
std::optional<std::string_view> next_line(std::string_view& text) {
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  auto line = text.substr(0, nl);
  text.remove_prefix(nl + 1);
  return line;
}

json authority_json(const PublicIdentity& a) {
  return {{"name", a.name}, {"key_id", a.key_id()}, {"public_key", base64_encode(a.key)}, {"vkey", vkey_of(a.name, a.key)}};
}

PublicIdentity authority_from_json(const json& auth) {
  auto bytes = base64_decode(auth.at("public_key").get<std::string>());
  if (!bytes || bytes->size() != 32) throw Error(ExitCode::usage, "the authority's public key is malformed");
  PublicIdentity a{auth.at("name").get<std::string>(), "authority", {}, std::nullopt};
  std::copy(bytes->begin(), bytes->end(), a.key.begin());
  return a;
}

}  // namespace

bool looks_like_tlog_proof(std::string_view text) {
  return text.substr(0, kTlogProofHeader.size() + 1) == std::string(kTlogProofHeader) + "\n";
}

TlogProof TlogProof::parse(std::string_view text) {
  if (text.size() > 1 << 20) throw Error(ExitCode::usage, "tlog-proof is too large");
  auto bad = [](const std::string& why) { return Error(ExitCode::usage, "not a c2sp.org/tlog-proof@v1: " + why); };
  if (!looks_like_tlog_proof(text)) throw bad("the first line must be " + std::string(kTlogProofHeader));
  next_line(text);
  TlogProof proof;
  auto line = next_line(text);
  if (line && line->substr(0, 6) == "extra ") {
    proof.extra = base64_decode(line->substr(6));
    if (!proof.extra) throw bad("the extra line is not base64");
    line = next_line(text);
  }
  if (!line || line->substr(0, 6) != "index ") throw bad("an \"index N\" line must follow");
  auto index = parse_decimal(line->substr(6));
  if (!index) throw bad("the index is not a decimal without leading zeroes");
  proof.index = *index;
  for (;;) {
    line = next_line(text);
    if (!line) throw bad("the inclusion proof must end with an empty line before the checkpoint");
    if (line->empty()) break;
    auto hash = base64_decode(*line);
    if (!hash || hash->size() != 32) throw bad("inclusion proof line " + std::to_string(proof.inclusion.size() + 1) +
                                               " is not a base64 SHA-256 hash");
    Hash h;
    std::copy(hash->begin(), hash->end(), h.begin());
    proof.inclusion.push_back(h);
  }
  proof.checkpoint = std::string(text);
  SignedNote::parse(proof.checkpoint);  // malformed notes are rejected here, with the reason
  return proof;
}

std::string TlogProof::serialize() const {
  std::string out = std::string(kTlogProofHeader) + "\n";
  if (extra) out += "extra " + base64_encode(*extra) + "\n";
  out += "index " + std::to_string(index) + "\n";
  for (const auto& h : inclusion) out += base64_encode(h) + "\n";
  out += "\n" + checkpoint;
  return out;
}

TlogProof tlog_proof_of(const json& receipt) {
  TlogProof proof;
  // The extra data is the leaf's data, so a verifier recomputes the record's leaf hash from
  // it; the tlog-proof spec leaves extra unauthenticated, which the inclusion proof fixes.
  std::string canonical = jcs::canonicalize(receipt.at("record"));
  proof.extra = Bytes(canonical.begin(), canonical.end());
  proof.index = unsigned_member(receipt, "leaf_index");
  for (const auto& h : receipt.at("inclusion")) proof.inclusion.push_back(*hash_from_hex(h.get<std::string>()));
  proof.checkpoint = receipt.at("checkpoint").get<std::string>();
  return proof;
}

Hash verify_tlog_proof(const TlogProof& proof, const PublicIdentity& authority, std::uint64_t& findings,
                       const FindingSink& sink) {
  auto fail = [&](std::string check, std::string message) {
    ++findings;
    sink(finding(std::move(check), std::move(message)));
  };
  if (!proof.extra)
    throw Error(ExitCode::usage, "the tlog-proof has no extra line: medtrail proofs carry the record there, and nothing else names it");
  Hash leaf = merkle::leaf_hash(*proof.extra);
  auto record = json::parse(proof.extra->begin(), proof.extra->end(), nullptr, false);
  if (!record.is_object()) fail("record_malformed", "the tlog-proof's extra data is not a JSON record");
  auto note = SignedNote::parse(proof.checkpoint);
  auto cp = parse_checkpoint_body(note.text);
  if (!cp) throw Error(ExitCode::usage, "the tlog-proof's checkpoint is not a tlog checkpoint (origin, size, root)");
  if (!note.signed_by(authority.name, authority.key))
    fail("checkpoint_signature", "the checkpoint is not signed by " + authority.name + " (" + authority.key_id() + ")");
  if (!merkle::verify_inclusion(proof.index, cp->tree_size, leaf, proof.inclusion, cp->root))
    fail("inclusion", "the inclusion proof for index " + std::to_string(proof.index) +
                          " does not lead to the checkpoint's root");
  return leaf;
}

json make_consistency_proof(Ledger& ledger, const std::string& old_checkpoint_note) {
  auto note = SignedNote::parse(old_checkpoint_note);
  auto old = parse_checkpoint_body(note.text);
  if (!old) throw Error(ExitCode::usage, "the old checkpoint is not a tlog checkpoint (origin, size, root)");
  sql::ReadTransaction snapshot(ledger.db());
  if (old->origin != ledger.origin())
    throw Error(ExitCode::verification_failed,
                "the old checkpoint is for log \"" + old->origin + "\", this ledger is \"" + ledger.origin() + "\"");
  if (old->tree_size == 0) throw Error(ExitCode::usage, "the old checkpoint covers no records: there is nothing to prove");
  auto latest = ledger.latest_block();
  if (!latest) throw Error(ExitCode::not_found, "the ledger has no blocks");
  std::uint64_t size = latest->tree_size();
  if (old->tree_size > size)
    throw Error(ExitCode::verification_failed, "the old checkpoint covers " + std::to_string(old->tree_size) +
                                                   " records, the ledger's latest block only " + std::to_string(size) +
                                                   ": the history shrank");
  auto proof = merkle::consistency_proof(old->tree_size, size, ledger.hash_getter());
  auto new_root = hash_from_hex(latest->header.value("log_root", ""));
  // Refuse to print a proof that does not hold: the caller asked for evidence, not a claim.
  if (!new_root || !merkle::verify_consistency(old->tree_size, size, old->root, *new_root, proof))
    throw Error(ExitCode::verification_failed,
                "the ledger is not an extension of the old checkpoint: records it covered were changed");
  auto signer = ledger.identity_by_key_id(latest->header.value("signer", ""));
  if (!signer || !signer->key) throw Error(ExitCode::verification_failed, "the latest block's signer is not an enrolled authority");
  json hashes = json::array();
  for (const auto& h : proof) hashes.push_back(to_hex(h));
  return {{"format", kConsistencyFormat},
          {"origin", ledger.origin()},
          {"old_size", old->tree_size},
          {"new_size", size},
          {"consistency", hashes},
          {"old_checkpoint", old_checkpoint_note},
          {"checkpoint", latest->checkpoint},
          {"authority", authority_json({signer->name, signer->role, *signer->key, std::nullopt})}};
}

std::uint64_t verify_consistency_proof(const json& object, const std::optional<PublicIdentity>& trusted,
                                       const FindingSink& sink) {
  std::uint64_t findings = 0;
  auto fail = [&](std::string check, std::string message) {
    ++findings;
    sink(finding(std::move(check), std::move(message)));
  };
  try {
    if (object.at("format").get<std::string>() != kConsistencyFormat)
      throw Error(ExitCode::usage, "unknown consistency proof format " + object.at("format").dump());
    auto old_size = unsigned_member(object, "old_size");
    auto new_size = unsigned_member(object, "new_size");
    std::vector<Hash> proof;
    for (const auto& h : object.at("consistency")) {
      auto parsed = hash_from_hex(h.get<std::string>());
      if (!parsed) throw Error(ExitCode::usage, "consistency proof entry is not a 64-digit hex hash");
      proof.push_back(*parsed);
    }
    PublicIdentity authority = authority_from_json(object.at("authority"));
    if (trusted && trusted->key != authority.key)
      fail("untrusted_authority", "the proof names authority " + authority.name + " (" + authority.key_id() +
                                      "), not the trusted key " + trusted->key_id());
    auto old_note = SignedNote::parse(object.at("old_checkpoint").get<std::string>());
    auto new_note = SignedNote::parse(object.at("checkpoint").get<std::string>());
    auto old_cp = parse_checkpoint_body(old_note.text);
    auto new_cp = parse_checkpoint_body(new_note.text);
    if (!old_cp || !new_cp) throw Error(ExitCode::usage, "a checkpoint in the proof is not a tlog checkpoint");
    if (!old_note.signed_by(authority.name, authority.key))
      fail("checkpoint_signature", "the old checkpoint is not signed by " + authority.name);
    if (!new_note.signed_by(authority.name, authority.key))
      fail("checkpoint_signature", "the new checkpoint is not signed by " + authority.name);
    std::string origin = object.at("origin").get<std::string>();
    if (old_cp->origin != origin || new_cp->origin != origin)
      fail("checkpoint_origin", "the checkpoints are not both of log \"" + origin + "\"");
    if (old_cp->tree_size != old_size || new_cp->tree_size != new_size)
      fail("tree_size", "old_size and new_size differ from the checkpoints' tree sizes");
    if (old_size == 0 || !merkle::verify_consistency(old_cp->tree_size, new_cp->tree_size, old_cp->root, new_cp->root, proof))
      fail("consistency", "the proof does not show the tree of size " + std::to_string(new_cp->tree_size) +
                              " extends the tree of size " + std::to_string(old_cp->tree_size));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ExitCode::usage, std::string("not a medtrail consistency proof: ") + e.what());
  }
  return findings;
}

}  // namespace medtrail
