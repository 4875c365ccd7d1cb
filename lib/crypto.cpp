#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

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
// Digest contexts are kept per thread and reused: allocating and freeing one per hash, as
// EVP_Digest does, was about 8% of a full verify, which hashes two or three values per record.
struct ContextPool {
  std::vector<EVP_MD_CTX*> idle;
  ~ContextPool() {
    for (auto* ctx : idle) EVP_MD_CTX_free(ctx);
  }
};
thread_local ContextPool context_pool;
constexpr std::size_t kIdleContexts = 8;  // more than any caller holds at once

EVP_MD_CTX* take_sha256_context() {
  EVP_MD_CTX* ctx = nullptr;
  if (!context_pool.idle.empty()) {
    ctx = context_pool.idle.back();
    context_pool.idle.pop_back();
  } else {
    ctx = EVP_MD_CTX_new();
  }
  if (!ctx || EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    throw Error(ExitCode::environment, "SHA-256 init failed in OpenSSL");
  }
  return ctx;
}

void return_context(EVP_MD_CTX* ctx) {
  if (context_pool.idle.size() < kIdleContexts)
    context_pool.idle.push_back(ctx);
  else
    EVP_MD_CTX_free(ctx);
}
}  // namespace

Hash sha256(std::span<const std::uint8_t> data) {
  Sha256 sha;
  sha.update(data);
  return sha.finish();
}

Sha256::Sha256() : ctx_(take_sha256_context()) {}

Sha256::~Sha256() { return_context(static_cast<EVP_MD_CTX*>(ctx_)); }

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

namespace {
// Fetched once, like sha256_md: EVP_Q_mac fetches HMAC and SHA-256 on every call, which cost
// ingest more than the two HMACs per reading themselves.
EVP_MAC* hmac_mac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw Error(ExitCode::environment, "OpenSSL has no HMAC");
  return mac;
}

// Served from 4 KiB draws of OpenSSL's DRBG: one RAND_bytes call per salt, data key and nonce
// cost ingest more than the AES-GCM they feed. The pool is per thread; a forked child drops
// what it inherited so that it never repeats its parent's bytes.
struct RandomPool {
  std::array<std::uint8_t, 4096> bytes{};
  std::size_t used = bytes.size();
  ~RandomPool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};
thread_local RandomPool random_pool;

void drop_random_pool_in_child() {
  OPENSSL_cleanse(random_pool.bytes.data(), random_pool.bytes.size());
  random_pool.used = random_pool.bytes.size();
}
}  // namespace

Hash hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(hmac_mac()), EVP_MAC_CTX_free);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  Hash out;
  std::size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    throw Error(ExitCode::environment, "HMAC-SHA256 failed in OpenSSL");
  return out;
}

Bytes random_bytes(std::size_t n) {
  static const bool fork_handler_installed = pthread_atfork(nullptr, nullptr, drop_random_pool_in_child) == 0;
  Bytes out(n);
  if (n > random_pool.bytes.size() || !fork_handler_installed) {
    if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
      throw Error(ExitCode::environment, "the random number generator failed");
    return out;
  }
  if (random_pool.bytes.size() - random_pool.used < n) {
    if (RAND_bytes(random_pool.bytes.data(), static_cast<int>(random_pool.bytes.size())) != 1)
      throw Error(ExitCode::environment, "the random number generator failed");
    random_pool.used = 0;
  }
  // Bytes handed out are wiped from the pool, so a later memory dump holds no past keys.
  std::uint8_t* next = random_pool.bytes.data() + random_pool.used;
  std::copy_n(next, n, out.begin());
  OPENSSL_cleanse(next, n);
  random_pool.used += n;
  return out;
}

bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {
struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};
const EVP_CIPHER* aes256gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!cipher) throw Error(ExitCode::environment, "OpenSSL has no AES-256-GCM");
  return cipher;
}
void check_gcm_sizes(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce) {
  if (key.size() != 32 || nonce.size() != kGcmNonceSize)
    throw Error(ExitCode::environment, "AES-256-GCM needs a 32-byte key and a 12-byte nonce");
}
}  // namespace

Bytes aes256gcm_seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                     std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext) {
  check_gcm_sizes(key, nonce);
  CipherCtx c;
  Bytes out(plaintext.size() + kGcmTagSize);
  int len = 0, final_len = 0;
  bool ok = c.ctx && EVP_EncryptInit_ex2(c.ctx, aes256gcm(), key.data(), nonce.data(), nullptr) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(c.ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1) &&
            EVP_EncryptUpdate(c.ctx, out.data(), &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(c.ctx, out.data() + len, &final_len) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kGcmTagSize),
                                out.data() + plaintext.size()) == 1;
  if (!ok) throw Error(ExitCode::environment, "AES-256-GCM encryption failed in OpenSSL");
  return out;
}

std::optional<Bytes> aes256gcm_open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                                    std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed) {
  check_gcm_sizes(key, nonce);
  if (sealed.size() < kGcmTagSize) return std::nullopt;
  std::size_t body = sealed.size() - kGcmTagSize;
  CipherCtx c;
  Bytes out(body);
  int len = 0, final_len = 0;
  Bytes tag(sealed.begin() + static_cast<std::ptrdiff_t>(body), sealed.end());
  if (!c.ctx || EVP_DecryptInit_ex2(c.ctx, aes256gcm(), key.data(), nonce.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(c.ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(c.ctx, out.data(), &len, sealed.data(), static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kGcmTagSize), tag.data()) != 1)
    throw Error(ExitCode::environment, "AES-256-GCM decryption failed in OpenSSL");
  if (EVP_DecryptFinal_ex(c.ctx, out.data() + len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

Bytes hkdf_sha256(std::span<const std::uint8_t> secret, std::span<const std::uint8_t> salt,
                  std::span<const std::uint8_t> info, std::size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(length);
  bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) throw Error(ExitCode::environment, "HKDF-SHA256 failed in OpenSSL");
  return out;
}

}  // namespace medtrail::crypto
