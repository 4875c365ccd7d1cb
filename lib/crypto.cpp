#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "error.hpp"

namespace medtrail::crypto {
namespace {
// Fetched once: a fresh implicit fetch per digest costs a locked provider lookup each time,
// about half the time of hashing a Merkle node.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw Error(ExitCode::environment, "OpenSSL has no SHA-256");
  return md;
}
}  // namespace

Hash sha256(std::span<const std::uint8_t> data) {
  Hash out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr) != 1)
    throw Error(ExitCode::environment, "SHA-256 failed in OpenSSL");
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) != 1)
    throw Error(ExitCode::environment, "SHA-256 init failed in OpenSSL");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(std::span<const std::uint8_t> data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1)
    throw Error(ExitCode::environment, "SHA-256 update failed in OpenSSL");
}

Hash Sha256::finish() {
  Hash out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len) != 1)
    throw Error(ExitCode::environment, "SHA-256 final failed in OpenSSL");
  return out;
}

Hash hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Hash out;
  std::size_t len = out.size();
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(),
                 data.size(), out.data(), out.size(), &len))
    throw Error(ExitCode::environment, "HMAC-SHA256 failed in OpenSSL");
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw Error(ExitCode::environment, "the random number generator failed");
  return out;
}

bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace medtrail::crypto
