// RFC 3161 tokens from an in-process TSA (OpenSSL's TS_RESP_CTX with a fixed clock), so that
// times can go backwards: request/response checks, token verification and the ordering rule.
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "error.hpp"
#include "ledger.hpp"
#include "timestamp.hpp"

using namespace medtrail;

namespace {

// A self-signed time-stamping certificate and a responder that stamps at a chosen time.
struct TestTsa {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  long now_seconds = 0;

  TestTsa() {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("unit TSA"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_EXTENSION* eku = X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "critical,timeStamping");
    X509_add_ext(cert, eku, -1);
    X509_EXTENSION_free(eku);
    X509_sign(cert, key, EVP_sha256());
  }
  ~TestTsa() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  void write_pem(const std::string& path) const {
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
  static int clock(TS_RESP_CTX*, void* self, long* sec, long* usec) {
    *sec = static_cast<TestTsa*>(self)->now_seconds;
    *usec = 0;
    return 1;
  }
  Bytes respond(const Bytes& request, long at_seconds) {
    now_seconds = at_seconds;
    TS_RESP_CTX* ctx = TS_RESP_CTX_new();
    TS_RESP_CTX_set_signer_cert(ctx, cert);
    TS_RESP_CTX_set_signer_key(ctx, key);
    TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256());
    ASN1_OBJECT* policy = OBJ_txt2obj("1.2.3.4.1", 1);
    TS_RESP_CTX_set_def_policy(ctx, policy);
    ASN1_OBJECT_free(policy);
    TS_RESP_CTX_add_md(ctx, EVP_sha256());
    TS_RESP_CTX_set_time_cb(ctx, &TestTsa::clock, this);
    BIO* in = BIO_new_mem_buf(request.data(), static_cast<int>(request.size()));
    TS_RESP* resp = TS_RESP_create_response(ctx, in);
    BIO_free(in);
    unsigned char* der = nullptr;
    int n = i2d_TS_RESP(resp, &der);
    Bytes out(der, der + n);
    OPENSSL_free(der);
    TS_RESP_free(resp);
    TS_RESP_CTX_free(ctx);
    return out;
  }
  // A token for `checkpoint` stamped at `at_seconds`, through the same checks anchor applies.
  Bytes token(const std::string& checkpoint, long at_seconds) {
    auto request = tsa::make_request(tsa::imprint_of(checkpoint));
    return tsa::token_from_response(request, respond(request, at_seconds));
  }
};

struct Fixture {
  std::filesystem::path dir;
  SigningKey authority = SigningKey::generate("hospital", "authority");
  std::optional<Ledger> ledger;
  TestTsa tsa;
  std::string cert_path;
  Fixture() {
    char tmpl[] = "/tmp/medtrail-tsa.XXXXXX";
    dir = ::mkdtemp(tmpl);
    cert_path = (dir / "tsa.pem").string();
    tsa.write_pem(cert_path);
    ledger.emplace(Ledger::create((dir / "l.db").string(), authority, "test.example/log", DataKey::generate(), {}));
    // Blocks 1 and 2, each over a new record, so their checkpoints differ.
    for (const char* name : {"wb-1", "wb-2"}) {
      ledger->enroll(authority, {{name, "device", std::nullopt, "", std::nullopt}});
      ledger->anchor(authority, 0, false);
    }
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  std::string checkpoint(std::uint64_t height) { return ledger->block(height)->checkpoint; }
  std::vector<Finding> verify() {
    std::vector<Finding> findings;
    tsa::verify_timestamps(*ledger, tsa::TrustStore::load(cert_path), [&](const Finding& f) { findings.push_back(f); });
    return findings;
  }
};

constexpr long kMarch1 = 1772359200;  // 2026-03-01T10:00:00Z

}  // namespace

TEST_CASE("timestamp tokens in order verify, and untimestamped blocks are counted") {
  Fixture fx;
  fx.ledger->store_timestamp(1, fx.tsa.token(fx.checkpoint(1), kMarch1));
  fx.ledger->store_timestamp(2, fx.tsa.token(fx.checkpoint(2), kMarch1 + 60));
  std::vector<Finding> findings;
  auto summary = tsa::verify_timestamps(*fx.ledger, tsa::TrustStore::load(fx.cert_path),
                                        [&](const Finding& f) { findings.push_back(f); });
  CHECK(findings.empty());
  CHECK(summary.timestamped == 2);
  CHECK(summary.untimestamped == 1);  // the genesis block
  std::int64_t time_ms = 0;
  auto token = *fx.ledger->timestamp(2);
  CHECK_FALSE(tsa::check_token(token, tsa::imprint_of(fx.checkpoint(2)), tsa::TrustStore::load(fx.cert_path), time_ms));
  CHECK(time_ms == (kMarch1 + 60) * 1000);
}

TEST_CASE("a later block stamped earlier than the one before it is a timestamp_order finding") {
  Fixture fx;
  fx.ledger->store_timestamp(1, fx.tsa.token(fx.checkpoint(1), kMarch1));
  fx.ledger->store_timestamp(2, fx.tsa.token(fx.checkpoint(2), kMarch1 - 3600));
  auto findings = fx.verify();
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].check == "timestamp_order");
  CHECK(findings[0].height == std::optional<std::uint64_t>(2));
  CHECK(findings[0].actual == "2026-03-01T09:00:00.000Z");
}

TEST_CASE("equal times are in order") {
  Fixture fx;
  fx.ledger->store_timestamp(1, fx.tsa.token(fx.checkpoint(1), kMarch1));
  fx.ledger->store_timestamp(2, fx.tsa.token(fx.checkpoint(2), kMarch1));
  CHECK(fx.verify().empty());
}

TEST_CASE("a token over another checkpoint, or from an untrusted TSA, is timestamp_invalid") {
  Fixture fx;
  fx.ledger->store_timestamp(1, fx.tsa.token(fx.checkpoint(2), kMarch1));  // block 2's checkpoint
  TestTsa rogue;
  fx.ledger->store_timestamp(2, rogue.token(fx.checkpoint(2), kMarch1 + 60));
  auto findings = fx.verify();
  REQUIRE(findings.size() == 2);
  CHECK(findings[0].check == "timestamp_invalid");
  CHECK(findings[0].height == std::optional<std::uint64_t>(1));
  CHECK_THAT(findings[0].message, Catch::Contains("imprint"));
  CHECK(findings[1].check == "timestamp_invalid");
  CHECK(findings[1].height == std::optional<std::uint64_t>(2));
}

TEST_CASE("an answer to another request is refused at anchor time") {
  Fixture fx;
  auto request = tsa::make_request(tsa::imprint_of(fx.checkpoint(1)));
  auto other = tsa::make_request(tsa::imprint_of(fx.checkpoint(1)));  // same imprint, another nonce
  CHECK_THROWS_AS(tsa::token_from_response(request, fx.tsa.respond(other, kMarch1)), Error);
  auto elsewhere = tsa::make_request(tsa::imprint_of(fx.checkpoint(2)));
  CHECK_THROWS_AS(tsa::token_from_response(request, fx.tsa.respond(elsewhere, kMarch1)), Error);
  CHECK_THROWS_AS(tsa::token_from_response(request, Bytes{0x30, 0x03, 0x02, 0x01, 0x02}), Error);
  CHECK_NOTHROW(tsa::token_from_response(request, fx.tsa.respond(request, kMarch1)));
}

TEST_CASE("a trust file without certificates is a usage error") {
  Fixture fx;
  std::ofstream(fx.dir / "empty.pem") << "no certificates here\n";
  try {
    tsa::TrustStore::load((fx.dir / "empty.pem").string());
    FAIL("loaded");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
  }
}
