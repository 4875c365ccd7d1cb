#include "payload_crypto.hpp"

#include <openssl/crypto.h>

#include "crypto.hpp"
#include "error.hpp"

namespace medtrail::payload_crypto {
namespace {

Bytes labelled(std::string_view label, std::span<const std::uint8_t> value) {
  Bytes out(label.begin(), label.end());
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

Bytes derive_kek(std::span<const std::uint8_t> shared, const PublicKey& ephemeral, const PublicKey& recipient) {
  Bytes salt(ephemeral.begin(), ephemeral.end());
  salt.insert(salt.end(), recipient.begin(), recipient.end());
  return crypto::hkdf_sha256(shared, salt, as_bytes(std::string_view("medtrail-kek-v1")), 32);
}

Bytes seal_with(std::span<const std::uint8_t> key, std::span<const std::uint8_t> aad,
                std::span<const std::uint8_t> plaintext) {
  Bytes out = crypto::random_bytes(crypto::kGcmNonceSize);
  Bytes body = crypto::aes256gcm_seal(key, out, aad, plaintext);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::optional<Bytes> open_with(std::span<const std::uint8_t> key, std::span<const std::uint8_t> aad,
                               std::span<const std::uint8_t> sealed) {
  if (sealed.size() < crypto::kGcmNonceSize + crypto::kGcmTagSize) return std::nullopt;
  return crypto::aes256gcm_open(key, sealed.first(crypto::kGcmNonceSize), aad,
                                sealed.subspan(crypto::kGcmNonceSize));
}

}  // namespace

Sealed seal(std::span<const std::uint8_t> salt, std::string_view stored_reading, const Hash& commitment) {
  Sealed out;
  out.dek = crypto::random_bytes(kDekSize);
  Bytes plaintext(salt.begin(), salt.end());
  plaintext.insert(plaintext.end(), stored_reading.begin(), stored_reading.end());
  out.ciphertext = seal_with(out.dek, labelled("medtrail-payload-v1", commitment), plaintext);
  OPENSSL_cleanse(plaintext.data(), plaintext.size());
  return out;
}

std::optional<Opened> open(std::span<const std::uint8_t> dek, std::span<const std::uint8_t> ciphertext,
                           const Hash& commitment) {
  if (dek.size() != kDekSize) return std::nullopt;
  auto plaintext = open_with(dek, labelled("medtrail-payload-v1", commitment), ciphertext);
  if (!plaintext || plaintext->size() < kSaltSize) return std::nullopt;
  Opened out;
  out.salt.assign(plaintext->begin(), plaintext->begin() + kSaltSize);
  out.reading.assign(plaintext->begin() + kSaltSize, plaintext->end());
  OPENSSL_cleanse(plaintext->data(), plaintext->size());
  return out;
}

KeyWrapper::KeyWrapper(const PublicKey& recipient) : recipient_(recipient) {
  auto agreement = x25519_agree_ephemeral(recipient);
  ephemeral_ = agreement.ephemeral;
  kek_ = derive_kek(agreement.shared, ephemeral_, recipient);
  OPENSSL_cleanse(agreement.shared.data(), agreement.shared.size());
}

Bytes KeyWrapper::wrap(std::span<const std::uint8_t> dek, const Hash& record_id) const {
  return seal_with(kek_, labelled("medtrail-dek-v1", record_id), dek);
}

KeyUnwrapper::KeyUnwrapper(const SigningKey& recipient) : recipient_(recipient) {
  if (!recipient.identity().enc_key)
    throw Error(ExitCode::environment, "key " + recipient.identity().name +
                                           " has no encryption key (X25519), so it cannot read encrypted readings");
}

std::optional<Bytes> KeyUnwrapper::unwrap(const PublicKey& ephemeral, std::span<const std::uint8_t> wrapped,
                                          const Hash& record_id) {
  auto found = keks_.find(ephemeral);
  if (found == keks_.end()) {
    Bytes shared;
    try {
      shared = recipient_.agree(ephemeral);
    } catch (const Error&) {
      return std::nullopt;  // a low-order ephemeral key: not a wrap anyone made for us
    }
    found = keks_.emplace(ephemeral, derive_kek(shared, ephemeral, *recipient_.identity().enc_key)).first;
    OPENSSL_cleanse(shared.data(), shared.size());
  }
  return open_with(found->second, labelled("medtrail-dek-v1", record_id), wrapped);
}

}  // namespace medtrail::payload_crypto
