// Ed25519 identities: key files, signatures, key ids and signed-note verifier keys.
//
// Key files are PEM (PKCS#8 for private keys, SubjectPublicKeyInfo for public keys), preceded
// by "# name: ..." style comment lines that OpenSSL's PEM reader skips; medtrail reads the
// name and role from them so a key file is self-describing.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "encoding.hpp"

namespace medtrail {

inline constexpr const char* kRoles[] = {"authority", "gateway", "device", "clinician", "auditor"};
bool is_valid_role(std::string_view role);
// Roles that read encrypted payloads, so keygen gives them an X25519 key beside the Ed25519 one.
bool role_has_encryption_key(std::string_view role);
// Identity names: 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.
bool is_valid_name(std::string_view name);

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

// First 8 bytes of SHA-256 over the raw public key, as 16 hex digits.
std::string key_id_of(const PublicKey& key);
// C2SP signed-note key hash: SHA-256(name || "\n" || 0x01 || key)[:4], big-endian.
std::uint32_t note_key_hash(std::string_view name, const PublicKey& key);
// "name+hhhhhhhh+base64(0x01 || key)", the verifier key Go's sumdb/note accepts.
std::string vkey_of(std::string_view name, const PublicKey& key);

bool verify_signature(const PublicKey& key, std::span<const std::uint8_t> message,
                      std::span<const std::uint8_t> signature);
inline bool verify_signature(const PublicKey& key, std::string_view message,
                             std::span<const std::uint8_t> signature) {
  return verify_signature(key, as_bytes(message), signature);
}

struct PublicIdentity {
  std::string name;
  std::string role;
  PublicKey key{};
  std::optional<PublicKey> enc_key;  // X25519, for authorities, clinicians and auditors
  std::string key_id() const { return key_id_of(key); }
};

// Sender side of an X25519 agreement: a fresh ephemeral key pair and the secret it shares with
// `peer`. Throws Error(environment) for a low-order peer key (all-zero shared secret).
struct X25519Agreement {
  PublicKey ephemeral{};
  Bytes shared;
};
X25519Agreement x25519_agree_ephemeral(const PublicKey& peer);

class SigningKey {
 public:
  // Adds an X25519 encryption key when role_has_encryption_key(role) and with_encryption_key.
  static SigningKey generate(std::string name, std::string role, bool with_encryption_key = true);
  // Throws Error: not_found (missing file), environment (permissions wider than 0600,
  // unreadable, corrupt PEM, wrong kind of key, wrong or missing passphrase).
  static SigningKey load(const std::string& path, const std::optional<std::string>& passphrase);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Signature sign(std::span<const std::uint8_t> message) const;
  Signature sign(std::string_view message) const { return sign(as_bytes(message)); }
  const PublicIdentity& identity() const { return identity_; }
  // Recipient side of an X25519 agreement with the key's encryption key; throws
  // Error(environment) when the key file holds no encryption key.
  Bytes agree(const PublicKey& ephemeral) const;

  // Writes NAME.key (0600, created exclusively) and NAME.pub; refuses to overwrite.
  void save(const std::string& private_path, const std::string& public_path,
            const std::optional<std::string>& passphrase) const;

 private:
  SigningKey() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  PublicIdentity identity_;
};

// Reads a NAME.pub file (or any SubjectPublicKeyInfo PEM holding an Ed25519 key).
PublicIdentity load_public_key(const std::string& path);
std::string public_key_pem(const PublicKey& key);

// Replay tags are 96 bits (schema 16; 128 before): any two different readings of a ledger of
// 10^9 share one with a chance of about 6 x 10^-12, and each tag is stored twice (payloads,
// replay_tags), so 4 bytes fewer are 8 bytes per record less.
inline constexpr std::size_t kReplayTagBytes = 12;

// The pseudonymisation key: 32 random bytes, kept beside the authority key, never in the ledger.
struct DataKey {
  Bytes secret;
  std::string id() const;  // public fingerprint stored in the ledger to find the right file
  static DataKey generate();
  static DataKey load(const std::string& path);
  void save(const std::string& path) const;  // 0600, exclusive
  // HMAC-SHA256(secret, "subject\0" || id): the only form of a subject the chain holds.
  Hash pseudonym(std::string_view subject) const;
  // HMAC over a reading's canonical form, cut to kReplayTagBytes: finds replays without a bare
  // hash of values.
  std::array<std::uint8_t, kReplayTagBytes> replay_tag(std::string_view canonical_reading) const;
};

// Reads a passphrase file (first line, without the newline).
std::string read_passphrase_file(const std::string& path);
// Writes a file atomically: temp file in the same directory, fsync, rename.
void write_file_atomic(const std::string& path, std::string_view content, unsigned mode = 0644);
std::string read_file(const std::string& path);

}  // namespace medtrail
