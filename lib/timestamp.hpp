// RFC 3161 trusted timestamps over checkpoints, with OpenSSL's TS_* API.
//
// The message imprint is SHA-256 over the checkpoint exactly as stored with its block (the
// whole signed note), so `openssl ts -verify -data checkpoint.txt -token_in ...` checks a
// token with no medtrail code. Tokens (DER TimeStampToken, a CMS SignedData) are stored in
// the `timestamps` table by block height (schema 5).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "encoding.hpp"
#include "ledger.hpp"
#include "verify.hpp"

namespace medtrail::tsa {

// The imprint of a checkpoint note: SHA-256 of its text.
Hash imprint_of(const std::string& checkpoint_note);

// A DER TimeStampReq for a SHA-256 imprint, with a random nonce and certReq set (so the TSA
// includes its certificate and verification needs only the CA).
Bytes make_request(const Hash& imprint);

// Checks a DER TimeStampResp against the request it answers (status granted, imprint, nonce,
// version; not the signature, which verify checks against a chosen CA) and returns the DER
// TimeStampToken in it. Throws Error(environment) naming what is wrong.
Bytes token_from_response(const Bytes& request, const Bytes& response);

// Transports: an HTTP POST of application/timestamp-query (http:// only), or a command run
// with `sh -c` that reads the request on stdin and writes the response on stdout.
Bytes post_http(const std::string& url, const Bytes& request, int timeout_seconds);
Bytes run_command(const std::string& command, const Bytes& request);

// Trust anchors for verification: every certificate in a PEM file (a CA, or the TSA's own
// certificate, which is then trusted directly).
class TrustStore {
 public:
  static TrustStore load(const std::string& pem_path);
  TrustStore(TrustStore&&) noexcept;
  TrustStore& operator=(TrustStore&&) noexcept;
  ~TrustStore();
  std::size_t size() const;

 private:
  TrustStore() = default;
  struct Impl;
  Impl* impl_ = nullptr;
  friend std::optional<std::string> check_token(const Bytes&, const Hash&, const TrustStore&, std::int64_t&);
};

// Verifies a token over `imprint`: SHA-256 imprint equal, CMS signature by a certificate for
// time stamping that chains to `trust`. Returns the problem, or nullopt with `time_ms` set to
// the token's genTime.
std::optional<std::string> check_token(const Bytes& token, const Hash& imprint, const TrustStore& trust,
                                       std::int64_t& time_ms);

// Every stored token checked against its block's checkpoint, and genTimes never decreasing
// from one timestamped block to the next. Findings: timestamp_invalid, timestamp_order.
struct TimestampSummary {
  std::uint64_t timestamped = 0;
  std::uint64_t untimestamped = 0;
};
TimestampSummary verify_timestamps(Ledger& ledger, const TrustStore& trust, const FindingSink& sink);

}  // namespace medtrail::tsa
