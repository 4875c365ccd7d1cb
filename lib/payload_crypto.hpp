// Encryption of reading payloads at rest (issue: privacy), all through OpenSSL's EVP APIs.
//
//   payload plaintext  = salt (32 bytes) || JCS(reading)
//   payload ciphertext = nonce (12) || AES-256-GCM(DEK, aad = "medtrail-payload-v1" || commitment) || tag (16)
//   DEK                = 32 random bytes, one per record
//   wrapped DEK        = nonce (12) || AES-256-GCM(KEK, aad = "medtrail-dek-v1" || record id) || tag (16)
//   KEK                = HKDF-SHA256(X25519(ephemeral, recipient), salt = ephemeral || recipient,
//                                    info = "medtrail-kek-v1")
//
// The payload's associated data is the record's salted commitment rather than its id: the id
// hashes the envelope, and the envelope commits to the ciphertext's digest, so the id does not
// exist yet when the payload is encrypted. The commitment is unique per record (fresh salt) and
// is in the envelope, so a ciphertext moved to another record still fails to open. Wrapped
// keys are made after the record exists and are bound to its id.
//
// One ephemeral X25519 key serves a whole session (an ingest commit, a grant): the costly
// agreement runs once per recipient per session, and each record's DEK costs one AES-GCM.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "encoding.hpp"
#include "keys.hpp"

namespace medtrail::payload_crypto {

inline constexpr std::size_t kDekSize = 32;
inline constexpr std::size_t kSaltSize = 32;

struct Sealed {
  Bytes ciphertext;  // nonce || ciphertext || tag
  Bytes dek;
  std::int64_t elided = 0;  // what the sealed text lacks (payloads.elided, lib/stored_reading.hpp); set by the caller
};
// `stored_reading`: the reading's JCS text, or that less the members its envelope holds
// (lib/stored_reading.hpp); the commitment is always over the whole text.
Sealed seal(std::span<const std::uint8_t> salt, std::string_view stored_reading, const Hash& commitment);

struct Opened {
  Bytes salt;
  std::string reading;  // the text as sealed: put it together (lib/stored_reading.hpp) before use
};
// nullopt when the DEK, the commitment or the ciphertext does not match (altered, truncated,
// or another record's ciphertext).
std::optional<Opened> open(std::span<const std::uint8_t> dek, std::span<const std::uint8_t> ciphertext,
                           const Hash& commitment);

// Sender side: wraps DEKs to one recipient's X25519 key under one ephemeral key.
class KeyWrapper {
 public:
  explicit KeyWrapper(const PublicKey& recipient);
  const PublicKey& ephemeral() const { return ephemeral_; }
  const PublicKey& recipient() const { return recipient_; }
  Bytes wrap(std::span<const std::uint8_t> dek, const Hash& record_id) const;

 private:
  PublicKey recipient_{};
  PublicKey ephemeral_{};
  Bytes kek_;
};

// Recipient side: unwraps with the recipient's private encryption key, deriving each
// ephemeral's KEK once.
class KeyUnwrapper {
 public:
  explicit KeyUnwrapper(const SigningKey& recipient);
  // nullopt when the wrapped key was not made for this recipient or this record, or was altered.
  std::optional<Bytes> unwrap(const PublicKey& ephemeral, std::span<const std::uint8_t> wrapped,
                              const Hash& record_id);

 private:
  const SigningKey& recipient_;
  std::map<PublicKey, Bytes> keks_;
};

}  // namespace medtrail::payload_crypto
