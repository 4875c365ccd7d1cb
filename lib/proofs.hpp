// Proof objects for verifiers that did not come from here: the C2SP tlog-proof text form of a
// receipt (https://c2sp.org/tlog-proof) and the consistency proof object of `prove
// --consistency-from`. Both are checked offline, without the ledger.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "verify.hpp"

namespace medtrail {

inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";
inline constexpr std::string_view kConsistencyFormat = "medtrail-consistency-v1";

struct TlogProof {
  std::optional<Bytes> extra;  // medtrail writes JCS(envelope): the leaf data itself
  std::uint64_t index = 0;
  std::vector<Hash> inclusion;
  std::string checkpoint;  // the signed note, verbatim
  // Throws Error(usage) naming what is malformed.
  static TlogProof parse(std::string_view text);
  std::string serialize() const;
};

// The tlog-proof form of a JSON receipt from make_receipt.
TlogProof tlog_proof_of(const nlohmann::json& receipt);
bool looks_like_tlog_proof(std::string_view text);

// Checks a tlog-proof: the record in `extra` hashes to a leaf included at `index` under the
// checkpoint's root, and the checkpoint is signed by `authority`. Returns the leaf hash.
Hash verify_tlog_proof(const TlogProof& proof, const PublicIdentity& authority, std::uint64_t& findings,
                       const FindingSink& sink);

// A consistency proof from an old signed checkpoint to the ledger's latest block:
// {"format", "origin", "old_size", "new_size", "consistency": [hex…], "old_checkpoint",
//  "checkpoint", "authority": {name, key_id, public_key, vkey}}.
// Throws Error(verification_failed) when the ledger does not extend the old checkpoint.
nlohmann::json make_consistency_proof(Ledger& ledger, const std::string& old_checkpoint_note);
std::uint64_t verify_consistency_proof(const nlohmann::json& proof, const std::optional<PublicIdentity>& trusted,
                                       const FindingSink& sink);

}  // namespace medtrail
