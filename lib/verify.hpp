// Read-side checking, kept apart from the writers (ingest, anchor, enroll): the whole chain,
// single records in O(log n), offline receipts, and consistency with an earlier checkpoint.
// Every problem is a Finding with the evidence needed to act on it.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "privacy.hpp"

namespace medtrail {

struct Finding {
  std::string check;  // machine-readable name, e.g. "leaf_hash_mismatch"
  std::string message;
  std::optional<std::uint64_t> height;
  std::optional<std::uint64_t> index;
  std::string record;  // record id, when one is concerned
  std::string expected;
  std::string actual;
  nlohmann::json to_json() const;
};

using FindingSink = std::function<void(const Finding&)>;

struct VerifyOptions {
  std::optional<PublicIdentity> trusted;  // pins the genesis authority key
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Called for each reading whose payload an erasure record destroyed (not a finding).
  std::function<void(const nlohmann::json& erased)> erased;
  // Decrypts an encrypted payload (the data owner's privacy::PayloadReader): then its
  // commitment and value-derived trace index rows are checked too. Unset: digest only.
  std::function<privacy::ReadResult(const LeafRow& row)> decrypt;
  // Scan the id and replay-tag runs on a second read connection, beside the leaf checks.
  // Off: after them, on the ledger's connection (the bench compares the two).
  bool concurrent_runs_scan = true;
};

struct VerifySummary {
  std::uint64_t records = 0;
  std::uint64_t blocks = 0;
  std::uint64_t pending = 0;
  std::uint64_t findings = 0;
  std::uint64_t encrypted = 0;  // encrypted payloads, checked against their ciphertext digest
  std::uint64_t decrypted = 0;  // of which decrypted with the key given: commitment checked too
  std::uint64_t erased = 0;
  bool pinned = false;
  nlohmann::json to_json() const;
};

// Everything: leaves against envelopes and payload commitments, stored interior hashes,
// identity and seal signatures, block links, roots, signatures and checkpoints.
VerifySummary verify_ledger(Ledger& ledger, const VerifyOptions& options, const FindingSink& sink);

// Inclusion of one record under the latest signed block, O(log n) reads.
// Returns a status object for the record; findings go to sink.
nlohmann::json verify_record(Ledger& ledger, std::uint64_t index, const VerifyOptions& options,
                             const FindingSink& sink);

// A self-contained receipt for a record: envelope, inclusion proof, latest checkpoint and block.
nlohmann::json make_receipt(Ledger& ledger, std::uint64_t index);
// Checks a receipt with no database. Returns the number of findings.
std::uint64_t verify_receipt(const nlohmann::json& receipt, const std::optional<PublicIdentity>& trusted,
                             const FindingSink& sink);

// The ledger's history only grew since `checkpoint_note` was issued.
std::uint64_t verify_against_checkpoint(Ledger& ledger, const std::string& checkpoint_note,
                                        const std::optional<PublicIdentity>& trusted, const FindingSink& sink);

// A file matches the digest a record committed to (file_sha256 of a report).
std::uint64_t verify_file(Ledger& ledger, std::uint64_t index, const std::string& path, const FindingSink& sink);

// The genesis authority, read from leaf 0.
PublicIdentity genesis_authority(Ledger& ledger);

}  // namespace medtrail
