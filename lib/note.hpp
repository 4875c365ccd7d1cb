// C2SP signed notes and tlog checkpoints (https://c2sp.org/signed-note, /tlog-checkpoint).
//
// A checkpoint body is three lines: origin, decimal tree size, base64 root hash. The note
// appends a blank line and one signature line per signer:
//   "— <name> <base64(4-byte key hash || 64-byte Ed25519 signature)>"
// so Go's golang.org/x/mod/sumdb/note verifies it with the vkey that keygen prints.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "keys.hpp"

namespace medtrail {

struct Checkpoint {
  std::string origin;
  std::uint64_t tree_size = 0;
  Hash root{};
  std::string body() const;
};

struct NoteSignature {
  std::string name;
  std::uint32_t key_hash = 0;
  Signature signature{};
};

struct SignedNote {
  std::string text;  // the signed body, ending in '\n'
  std::vector<NoteSignature> signatures;
  // Throws Error(usage) on malformed input (the caller names the file).
  static SignedNote parse(std::string_view note);
  std::string serialize() const;
  // True when some signature line is by `name`/`key` and verifies.
  bool signed_by(std::string_view name, const PublicKey& key) const;
};

std::string sign_note(std::string_view body, const SigningKey& key);
// Parses a checkpoint body; nullopt when it is not origin / size / base64 root.
std::optional<Checkpoint> parse_checkpoint_body(std::string_view body);

}  // namespace medtrail
