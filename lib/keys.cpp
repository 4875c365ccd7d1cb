#include "keys.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crypto.hpp"
#include "error.hpp"

namespace medtrail {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

PublicKey raw_public(EVP_PKEY* pkey) {
  PublicKey out{};
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size())
    throw Error(ExitCode::environment, "cannot read a raw public key: " + openssl_reason());
  return out;
}

Bytes x25519_derive(EVP_PKEY* own, const PublicKey& peer) {
  PkeyPtr peer_key(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
  EVP_PKEY_CTX* ctx = peer_key ? EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr) : nullptr;
  Bytes shared(32);
  std::size_t len = shared.size();
  // OpenSSL refuses an all-zero result, so a low-order peer key fails here.
  bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer_key.get()) == 1 &&
            EVP_PKEY_derive(ctx, shared.data(), &len) == 1 && len == shared.size();
  EVP_PKEY_CTX_free(ctx);
  if (!ok) throw Error(ExitCode::environment, "X25519 key agreement failed: " + openssl_reason());
  return shared;
}

// Comment header "# key: value" lines that precede the PEM block.
std::string header_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  const std::string prefix = "# " + key + ": ";
  while (std::getline(in, line)) {
    if (line.rfind("-----BEGIN", 0) == 0) break;
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return {};
}

std::string stem_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  auto dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

void write_new_file(const std::string& path, std::string_view content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST)
      throw Error(ExitCode::usage, path + " already exists; refusing to overwrite a key");
    throw Error(ExitCode::environment, "cannot create " + path + ": " + std::strerror(errno));
  }
  // The umask may have narrowed the mode; a private key must be exactly what we asked.
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw Error(ExitCode::environment, "cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(path.c_str());
    throw Error(ExitCode::environment, "cannot write " + path + ": " + std::strerror(errno));
  }
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

bool is_valid_role(std::string_view role) {
  for (const char* r : kRoles)
    if (role == r) return true;
  return false;
}

bool role_has_encryption_key(std::string_view role) {
  return role == "authority" || role == "clinician" || role == "auditor";
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

std::string key_id_of(const PublicKey& key) {
  Hash h = crypto::sha256(key);
  return to_hex(std::span(h.data(), 8));
}

std::uint32_t note_key_hash(std::string_view name, const PublicKey& key) {
  crypto::Sha256 sha;
  sha.update(name);
  const std::uint8_t sep[2] = {'\n', 0x01};
  sha.update(sep);
  sha.update(key);
  Hash h = sha.finish();
  return std::uint32_t(h[0]) << 24 | std::uint32_t(h[1]) << 16 | std::uint32_t(h[2]) << 8 | h[3];
}

std::string vkey_of(std::string_view name, const PublicKey& key) {
  Bytes blob;
  blob.push_back(0x01);
  blob.insert(blob.end(), key.begin(), key.end());
  char hash[9];
  std::snprintf(hash, sizeof hash, "%08x", note_key_hash(name, key));
  return std::string(name) + "+" + hash + "+" + base64_encode(blob);
}

bool verify_signature(const PublicKey& key, std::span<const std::uint8_t> message,
                      std::span<const std::uint8_t> signature) {
  if (signature.size() != 64) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  if (!pkey) {
    ERR_clear_error();
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                             message.size()) == 1;
  ERR_clear_error();
  return ok;
}

struct SigningKey::Impl {
  PkeyPtr pkey;
  PkeyPtr enc;  // X25519, or null
};

X25519Agreement x25519_agree_ephemeral(const PublicKey& peer) {
  PkeyPtr ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!ephemeral) throw Error(ExitCode::environment, "X25519 key generation failed: " + openssl_reason());
  X25519Agreement out;
  out.ephemeral = raw_public(ephemeral.get());
  out.shared = x25519_derive(ephemeral.get(), peer);
  return out;
}

Bytes SigningKey::agree(const PublicKey& ephemeral) const {
  if (!impl_->enc)
    throw Error(ExitCode::environment, "key " + identity_.name + " has no encryption key (X25519); only keys made by "
                                       "medtrail keygen for an authority, clinician or auditor can decrypt");
  return x25519_derive(impl_->enc.get(), ephemeral);
}

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

SigningKey SigningKey::generate(std::string name, std::string role, bool with_encryption_key) {
  SigningKey key;
  key.impl_ = std::make_unique<Impl>();
  key.impl_->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key.impl_->pkey)
    throw Error(ExitCode::environment, "Ed25519 key generation failed: " + openssl_reason());
  bool encrypts = with_encryption_key && role_has_encryption_key(role);
  key.identity_ = {std::move(name), std::move(role), raw_public(key.impl_->pkey.get()), std::nullopt};
  if (encrypts) {
    key.impl_->enc.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    if (!key.impl_->enc) throw Error(ExitCode::environment, "X25519 key generation failed: " + openssl_reason());
    key.identity_.enc_key = raw_public(key.impl_->enc.get());
  }
  return key;
}

SigningKey SigningKey::load(const std::string& path, const std::optional<std::string>& passphrase) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error(ExitCode::not_found, "key file " + path + " not found");
    throw Error(ExitCode::environment, "cannot read key file " + path + ": " + std::strerror(errno));
  }
  std::string text = read_file(path);
  // Checked before the mode: a NAME.pub (0644 by design) given as --key is the wrong file,
  // and "chmod 600" would be the wrong advice.
  if (text.find("-----BEGIN PUBLIC KEY-----") != std::string::npos)
    throw Error(ExitCode::environment, "key file " + path + " is a public key; this needs the private key (NAME.key)");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    throw Error(ExitCode::environment, "key file " + path + " has mode " + mode +
                                           "; a private key must not be readable by others "
                                           "(chmod 600 " + path + ")");
  }
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  bool encrypted = text.find("ENCRYPTED PRIVATE KEY") != std::string::npos;
  if (encrypted && !passphrase)
    throw Error(ExitCode::environment,
                "key file " + path + " is passphrase-protected; give --passphrase-file or MEDTRAIL_PASSPHRASE");
  // An empty passphrase callback result makes OpenSSL fail cleanly instead of prompting on a tty.
  std::string pass = passphrase.value_or("");
  auto callback = [](char* buf, int size, int, void* user) -> int {
    auto* p = static_cast<std::string*>(user);
    int n = static_cast<int>(std::min<std::size_t>(p->size(), static_cast<std::size_t>(size)));
    std::memcpy(buf, p->data(), static_cast<std::size_t>(n));
    return n;
  };
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, callback, &pass));
  if (!pkey) {
    std::string reason = openssl_reason();
    if (encrypted)
      throw Error(ExitCode::environment, "cannot decrypt key file " + path + ": wrong passphrase");
    throw Error(ExitCode::environment, "key file " + path + " is not a valid PEM private key (" + reason + ")");
  }
  if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519)
    throw Error(ExitCode::environment, "key file " + path + " holds a " +
                                           std::string(EVP_PKEY_get0_type_name(pkey.get())) +
                                           " key; medtrail signs with Ed25519 keys (medtrail keygen)");
  SigningKey key;
  key.impl_ = std::make_unique<Impl>();
  key.impl_->pkey = std::move(pkey);
  std::string name = header_value(text, "name");
  std::string role = header_value(text, "role");
  key.identity_ = {name.empty() ? stem_of(path) : name, role, raw_public(key.impl_->pkey.get()), std::nullopt};
  // An optional second PEM block: the X25519 encryption key, under the same passphrase.
  if (text.find("-----BEGIN", text.find("-----END") + 1) != std::string::npos) {
    PkeyPtr enc(PEM_read_bio_PrivateKey(bio.get(), nullptr, callback, &pass));
    if (!enc || EVP_PKEY_get_base_id(enc.get()) != EVP_PKEY_X25519) {
      openssl_reason();
      throw Error(ExitCode::environment, "key file " + path + " has a second key that is not a valid X25519 encryption key");
    }
    key.identity_.enc_key = raw_public(enc.get());
    key.impl_->enc = std::move(enc);
  }
  return key;
}

Signature SigningKey::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  std::size_t len = sig.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
      len != sig.size())
    throw Error(ExitCode::environment, "Ed25519 signing failed: " + openssl_reason());
  return sig;
}

std::string public_key_pem(const PublicKey& key) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!pkey || !bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1)
    throw Error(ExitCode::environment, "cannot encode public key: " + openssl_reason());
  return bio_contents(bio.get());
}

void SigningKey::save(const std::string& private_path, const std::string& public_path,
                      const std::optional<std::string>& passphrase) const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase ? EVP_aes_256_cbc() : nullptr;
  std::string pass = passphrase.value_or("");
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey.get(), cipher,
                                            passphrase ? pass.data() : nullptr,
                                            static_cast<int>(pass.size()), nullptr, nullptr) != 1)
    throw Error(ExitCode::environment, "cannot encode private key: " + openssl_reason());
  if (impl_->enc && PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->enc.get(), cipher,
                                                   passphrase ? pass.data() : nullptr,
                                                   static_cast<int>(pass.size()), nullptr, nullptr) != 1)
    throw Error(ExitCode::environment, "cannot encode encryption key: " + openssl_reason());
  std::string enc_line =
      identity_.enc_key ? "# enc_key_id: " + key_id_of(*identity_.enc_key) + "\n" : std::string();
  std::string header = "# medtrail private key\n# name: " + identity_.name + "\n# role: " +
                       identity_.role + "\n# key_id: " + identity_.key_id() + "\n" + enc_line;
  std::string pub_text = "# medtrail public key\n# name: " + identity_.name + "\n# role: " +
                         identity_.role + "\n# key_id: " + identity_.key_id() + "\n# vkey: " +
                         vkey_of(identity_.name, identity_.key) + "\n" + enc_line +
                         public_key_pem(identity_.key);
  if (identity_.enc_key) {
    PkeyPtr enc_pub(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, identity_.enc_key->data(), 32));
    BioPtr pub_bio(BIO_new(BIO_s_mem()));
    if (!enc_pub || !pub_bio || PEM_write_bio_PUBKEY(pub_bio.get(), enc_pub.get()) != 1)
      throw Error(ExitCode::environment, "cannot encode encryption public key: " + openssl_reason());
    pub_text += bio_contents(pub_bio.get());
  }
  write_new_file(private_path, header + bio_contents(bio.get()), 0600);
  try {
    write_new_file(public_path, pub_text, 0644);
  } catch (...) {
    ::unlink(private_path.c_str());
    throw;
  }
}

PublicIdentity load_public_key(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT)
    throw Error(ExitCode::not_found, "public key file " + path + " not found");
  std::string text = read_file(path);
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  // A callback that supplies no passphrase: given an encrypted private key by mistake, OpenSSL
  // would otherwise prompt on the terminal.
  auto no_passphrase = [](char*, int, int, void*) -> int { return 0; };
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    openssl_reason();
    throw Error(ExitCode::environment, path + " is not a PEM public key");
  }
  if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519)
    throw Error(ExitCode::environment, path + " does not hold an Ed25519 public key");
  std::string name = header_value(text, "name");
  PublicIdentity out{name.empty() ? stem_of(path) : name, header_value(text, "role"), raw_public(pkey.get()), std::nullopt};
  if (text.find("-----BEGIN", text.find("-----END") + 1) != std::string::npos) {
    PkeyPtr enc(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
    if (!enc || EVP_PKEY_get_base_id(enc.get()) != EVP_PKEY_X25519) {
      openssl_reason();
      throw Error(ExitCode::environment, path + " has a second key that is not an X25519 encryption key");
    }
    out.enc_key = raw_public(enc.get());
  }
  return out;
}

std::string DataKey::id() const {
  static constexpr std::string_view kLabel = "medtrail data key id";
  Hash h = crypto::hmac_sha256(secret, as_bytes(kLabel));
  return to_hex(std::span(h.data(), 8));
}

DataKey DataKey::generate() { return {crypto::random_bytes(32)}; }

DataKey DataKey::load(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw Error(ExitCode::not_found, "data key file " + path + " not found");
    throw Error(ExitCode::environment, "cannot read data key " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0)
    throw Error(ExitCode::environment, "data key file " + path + " is readable by others (chmod 600 " + path + ")");
  std::string text = read_file(path);
  std::istringstream in(text);
  std::string magic, encoded;
  std::getline(in, magic);
  std::getline(in, encoded);
  auto secret = base64_decode(encoded);
  if (magic != "medtrail-data-key-v1" || !secret || secret->size() != 32)
    throw Error(ExitCode::environment, path + " is not a medtrail data key file");
  return {std::move(*secret)};
}

void DataKey::save(const std::string& path) const {
  write_new_file(path, "medtrail-data-key-v1\n" + base64_encode(secret) + "\n", 0600);
}

Hash DataKey::pseudonym(std::string_view subject) const {
  std::string message = "subject";
  message.push_back('\0');
  message.append(subject);
  return crypto::hmac_sha256(secret, as_bytes(message));
}

std::array<std::uint8_t, kReplayTagBytes> DataKey::replay_tag(std::string_view canonical_reading) const {
  std::string message = "replay";
  message.push_back('\0');
  message.append(canonical_reading);
  Hash h = crypto::hmac_sha256(secret, as_bytes(message));
  std::array<std::uint8_t, kReplayTagBytes> tag;
  std::copy_n(h.begin(), tag.size(), tag.begin());
  return tag;
}

std::string read_passphrase_file(const std::string& path) {
  std::string text = read_file(path);
  auto newline = text.find_first_of("\r\n");
  if (newline != std::string::npos) text.resize(newline);
  return text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) throw Error(ExitCode::not_found, path + " not found");
    throw Error(ExitCode::environment, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw Error(ExitCode::environment, "cannot read " + path);
  return out.str();
}

void write_file_atomic(const std::string& path, std::string_view content, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  write_new_file(tmp, content, static_cast<mode_t>(mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(ExitCode::environment, "cannot write " + path + ": " + std::strerror(err));
  }
}

}  // namespace medtrail
