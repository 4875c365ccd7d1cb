// All cryptography goes through OpenSSL's EVP APIs; nothing here is home-made.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "encoding.hpp"

namespace medtrail::crypto {

Hash sha256(std::span<const std::uint8_t> data);
inline Hash sha256(std::string_view s) { return sha256(as_bytes(s)); }

// Incremental SHA-256 for values built from several parts (prefix bytes, salts, files).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::uint8_t> data);
  void update(std::string_view s) { update(as_bytes(s)); }
  Hash finish();

 private:
  void* ctx_;
};

Hash hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
Bytes random_bytes(std::size_t n);
// Constant-time comparison for secrets and MACs.
bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// AES-256-GCM with a 12-byte nonce and a 16-byte tag appended to the ciphertext.
inline constexpr std::size_t kGcmNonceSize = 12;
inline constexpr std::size_t kGcmTagSize = 16;
Bytes aes256gcm_seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                     std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext);
// nullopt when the tag does not verify (wrong key, wrong associated data, altered or truncated).
std::optional<Bytes> aes256gcm_open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                                    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed);
// HKDF-SHA256 (RFC 5869) through EVP_KDF.
Bytes hkdf_sha256(std::span<const std::uint8_t> secret, std::span<const std::uint8_t> salt,
                  std::span<const std::uint8_t> info, std::size_t length);

}  // namespace medtrail::crypto
