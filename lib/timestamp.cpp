#include "timestamp.hpp"

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <memory>

#include "crypto.hpp"
#include "error.hpp"
#include "keys.hpp"
#include "timefmt.hpp"

namespace medtrail::tsa {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using TsReqPtr = std::unique_ptr<TS_REQ, Deleter<TS_REQ_free>>;
using TsRespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP_free>>;
using TsMsgImprintPtr = std::unique_ptr<TS_MSG_IMPRINT, Deleter<TS_MSG_IMPRINT_free>>;
using TsVerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX_free>>;
using TstInfoPtr = std::unique_ptr<TS_TST_INFO, Deleter<TS_TST_INFO_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Deleter<PKCS7_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR_free>>;
using IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;

// OpenSSL's queued error text, for messages that say why a TSA answer was refused.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

Bytes to_der(TS_REQ* req) {
  unsigned char* der = nullptr;
  int n = i2d_TS_REQ(req, &der);
  if (n <= 0) throw Error(ExitCode::environment, "cannot encode the timestamp request: " + openssl_errors());
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

std::int64_t to_unix_ms(const ASN1_GENERALIZEDTIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

TS_VERIFY_CTX* with_imprint(TS_VERIFY_CTX* ctx, const Hash& imprint) {
  // The context takes ownership of an OPENSSL_malloc'd copy.
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(imprint.size()));
  if (!copy) throw Error(ExitCode::environment, "out of memory");
  std::memcpy(copy, imprint.data(), imprint.size());
  TS_VERIFY_CTX_set_imprint(ctx, copy, static_cast<long>(imprint.size()));
  return ctx;
}

bool imprint_is_sha256(TS_TST_INFO* info) {
  X509_ALGOR* algo = TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(info));
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algo);
  return oid && OBJ_obj2nid(oid) == NID_sha256;
}

}  // namespace

Hash imprint_of(const std::string& checkpoint_note) { return crypto::sha256(checkpoint_note); }

Bytes make_request(const Hash& imprint) {
  TsReqPtr req(TS_REQ_new());
  TsMsgImprintPtr msg(TS_MSG_IMPRINT_new());
  AlgorPtr algo(X509_ALGOR_new());
  IntegerPtr nonce(ASN1_INTEGER_new());
  if (!req || !msg || !algo || !nonce) throw Error(ExitCode::environment, "out of memory");
  X509_ALGOR_set0(algo.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
  std::uint64_t nonce_value = 0;
  auto random = crypto::random_bytes(8);
  for (auto b : random) nonce_value = nonce_value << 8 | b;
  nonce_value >>= 1;  // a positive INTEGER
  if (!TS_MSG_IMPRINT_set_algo(msg.get(), algo.get()) ||
      !TS_MSG_IMPRINT_set_msg(msg.get(), const_cast<unsigned char*>(imprint.data()), static_cast<int>(imprint.size())) ||
      !TS_REQ_set_version(req.get(), 1) || !TS_REQ_set_msg_imprint(req.get(), msg.get()) ||
      !ASN1_INTEGER_set_uint64(nonce.get(), nonce_value) || !TS_REQ_set_nonce(req.get(), nonce.get()) ||
      !TS_REQ_set_cert_req(req.get(), 1))
    throw Error(ExitCode::environment, "cannot build the timestamp request: " + openssl_errors());
  return to_der(req.get());
}

Bytes token_from_response(const Bytes& request, const Bytes& response) {
  const unsigned char* p = request.data();
  TsReqPtr req(d2i_TS_REQ(nullptr, &p, static_cast<long>(request.size())));
  p = response.data();
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(response.size())));
  if (!req) throw Error(ExitCode::environment, "cannot decode our own timestamp request");
  if (!resp || p != response.data() + response.size())
    throw Error(ExitCode::environment, "the timestamp authority's answer is not a DER TimeStampResp (" +
                                           std::to_string(response.size()) + " bytes)");
  // Status, version, imprint and nonce against the request; the signature is checked by
  // `verify --tsa-cert`, where the trusted CA is known.
  TsVerifyCtxPtr ctx(TS_REQ_to_TS_VERIFY_CTX(req.get(), nullptr));
  if (!ctx) throw Error(ExitCode::environment, "cannot set up response checks: " + openssl_errors());
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE);
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1)
    throw Error(ExitCode::environment, "the timestamp authority refused or answered another request: " + openssl_errors());
  PKCS7* token = TS_RESP_get_token(resp.get());
  unsigned char* der = nullptr;
  int n = token ? i2d_PKCS7(token, &der) : 0;
  if (n <= 0) throw Error(ExitCode::environment, "the timestamp response holds no token");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

Bytes post_http(const std::string& url, const Bytes& request, int timeout_seconds) {
  int use_ssl = 0;
  char *host = nullptr, *port = nullptr, *path = nullptr;
  if (OSSL_HTTP_parse_url(url.c_str(), &use_ssl, nullptr, &host, &port, nullptr, &path, nullptr, nullptr) != 1)
    throw Error(ExitCode::usage, "--tsa-url " + url + " is not an http:// URL");
  struct OpenSslFree {
    void operator()(char* s) const { OPENSSL_free(s); }
  };
  std::unique_ptr<char, OpenSslFree> owned_host(host), owned_port(port), owned_path(path);
  if (use_ssl)
    throw Error(ExitCode::usage, "--tsa-url supports http:// only (a timestamp token is signed, so TLS adds no trust); "
                                 "for https use --tsa-cmd 'curl -s --data-binary @- -H \"Content-Type: application/timestamp-query\" URL'");
  BioPtr body(BIO_new_mem_buf(request.data(), static_cast<int>(request.size())));
  // expect_asn1 = 1: OpenSSL reads the whole DER answer into a memory BIO. Otherwise it may
  // hand back the (non-blocking) connection itself, whose first read can come up empty.
  BIO* reply = OSSL_HTTP_transfer(nullptr, host, port, path, 0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0,
                                  nullptr, "application/timestamp-query", body.get(), "application/timestamp-reply", 1,
                                  1 << 20, timeout_seconds, 0);
  if (!reply) throw Error(ExitCode::environment, "timestamp request to " + url + " failed: " + openssl_errors());
  BioPtr owned(reply);
  Bytes out;
  unsigned char buf[4096];
  int n;
  while ((n = BIO_read(reply, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  return out;
}

Bytes run_command(const std::string& command, const Bytes& request) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0) throw Error(ExitCode::environment, std::string("pipe: ") + std::strerror(errno));
  if (pipe(from_child) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    throw Error(ExitCode::environment, std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid = fork();
  if (pid < 0) throw Error(ExitCode::environment, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  // A command that exits without reading its input must not kill us with SIGPIPE.
  auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  while (written < request.size()) {
    ssize_t n = write(to_child[1], request.data() + written, request.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(to_child[1]);
  std::signal(SIGPIPE, old_handler);
  Bytes out;
  unsigned char buf[4096];
  for (;;) {
    ssize_t n = read(from_child[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > (1u << 20)) break;
  }
  close(from_child[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(ExitCode::environment, "--tsa-cmd failed (exit status " +
                                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                                           "): " + command);
  return out;
}

struct TrustStore::Impl {
  StorePtr store;
  std::vector<X509Ptr> certs;
};

TrustStore TrustStore::load(const std::string& pem_path) {
  std::string text = read_file(pem_path);
  TrustStore out;
  out.impl_ = new Impl;
  out.impl_->store.reset(X509_STORE_new());
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.impl_->certs.emplace_back(cert);
    X509_STORE_add_cert(out.impl_->store.get(), cert);
  }
  ERR_clear_error();  // the read loop ends on "no start line"
  if (out.impl_->certs.empty()) throw Error(ExitCode::usage, pem_path + " holds no PEM certificate");
  // A TSA certificate given directly is a trust anchor too, not only a self-signed root.
  X509_STORE_set_flags(out.impl_->store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return out;
}

TrustStore::TrustStore(TrustStore&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
TrustStore& TrustStore::operator=(TrustStore&& other) noexcept {
  std::swap(impl_, other.impl_);
  return *this;
}
TrustStore::~TrustStore() { delete impl_; }
std::size_t TrustStore::size() const { return impl_ ? impl_->certs.size() : 0; }

std::optional<std::string> check_token(const Bytes& token, const Hash& imprint, const TrustStore& trust,
                                       std::int64_t& time_ms) {
  const unsigned char* p = token.data();
  Pkcs7Ptr cms(d2i_PKCS7(nullptr, &p, static_cast<long>(token.size())));
  if (!cms || p != token.data() + token.size()) return "the stored token is not a DER TimeStampToken";
  TstInfoPtr info(PKCS7_to_TS_TST_INFO(cms.get()));
  if (!info) return "the token holds no TSTInfo: " + openssl_errors();
  if (!imprint_is_sha256(info.get())) return "the token's message imprint is not SHA-256";
  TsVerifyCtxPtr ctx(TS_VERIFY_CTX_new());
  if (!ctx) throw Error(ExitCode::environment, "out of memory");
  // The context owns (and frees) its store and imprint; the store is shared, so take a reference.
  X509_STORE_up_ref(trust.impl_->store.get());
  TS_VERIFY_CTX_set_store(ctx.get(), trust.impl_->store.get());
  // The given certificates also serve as untrusted intermediates, for a token that carries none.
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const auto& c : trust.impl_->certs) {
    X509_up_ref(c.get());
    sk_X509_push(untrusted, c.get());
  }
  TS_VERIFY_CTX_set_certs(ctx.get(), untrusted);
  with_imprint(ctx.get(), imprint);
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT);
  ERR_clear_error();
  if (TS_RESP_verify_token(ctx.get(), cms.get()) != 1) return openssl_errors();
  time_ms = to_unix_ms(TS_TST_INFO_get_time(info.get()));
  return std::nullopt;
}

TimestampSummary verify_timestamps(Ledger& ledger, const TrustStore& trust, const FindingSink& sink) {
  TimestampSummary summary;
  sql::ReadTransaction snapshot(ledger.db());
  std::optional<std::int64_t> previous_time;
  std::uint64_t previous_height = 0;
  std::uint64_t height = 0;
  while (auto block = ledger.block(height)) {
    auto token = ledger.timestamp(height);
    ++height;
    if (!token) {
      ++summary.untimestamped;
      continue;
    }
    ++summary.timestamped;
    std::int64_t time_ms = 0;
    auto problem = check_token(*token, imprint_of(block->checkpoint), trust, time_ms);
    if (problem) {
      Finding f;
      f.check = "timestamp_invalid";
      f.message = "the RFC 3161 token of block " + std::to_string(block->height) +
                  " does not verify over its checkpoint against the given TSA certificate: " + *problem;
      f.height = block->height;
      sink(f);
      continue;
    }
    if (previous_time && time_ms < *previous_time) {
      Finding f;
      f.check = "timestamp_order";
      f.message = "block " + std::to_string(block->height) + " was timestamped before block " +
                  std::to_string(previous_height) + ", which precedes it";
      f.height = block->height;
      f.expected = "not before " + format_rfc3339_ms(*previous_time);
      f.actual = format_rfc3339_ms(time_ms);
      sink(f);
    }
    previous_time = time_ms;
    previous_height = block->height;
  }
  return summary;
}

}  // namespace medtrail::tsa
