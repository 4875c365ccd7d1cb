#include <catch2/catch.hpp>

#include "error.hpp"
#include "jcs.hpp"
#include "note.hpp"
#include "proofs.hpp"

using namespace medtrail;

namespace {
// A one-leaf log signed by `key`: the checkpoint and the tlog-proof of leaf 0.
TlogProof one_leaf_proof(const SigningKey& key, const std::string& record_text) {
  Bytes data(record_text.begin(), record_text.end());
  Hash leaf = merkle::leaf_hash(data);
  TlogProof p;
  p.extra = data;
  p.index = 0;
  p.checkpoint = sign_note(Checkpoint{"test.example/log", 1, leaf}.body(), key);
  return p;
}
}  // namespace

TEST_CASE("tlog-proof text round-trips and matches the C2SP layout") {
  auto key = SigningKey::generate("hospital", "authority");
  auto proof = one_leaf_proof(key, R"({"kind":"identity","v":1})");
  proof.inclusion.push_back(Hash{});
  std::string text = proof.serialize();
  CHECK(text.rfind("c2sp.org/tlog-proof@v1\nextra ", 0) == 0);
  CHECK(text.find("\nindex 0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\ntest.example/log\n1\n") != std::string::npos);
  auto parsed = TlogProof::parse(text);
  CHECK(parsed.serialize() == text);
  CHECK(parsed.inclusion.size() == 1);
  CHECK(looks_like_tlog_proof(text));
  CHECK_FALSE(looks_like_tlog_proof("{\"record\":{}}"));
}

TEST_CASE("a tlog-proof verifies against its signer only, and its record only") {
  auto key = SigningKey::generate("hospital", "authority");
  auto other = SigningKey::generate("hospital", "authority");
  auto proof = one_leaf_proof(key, R"({"kind":"identity","v":1})");
  std::vector<std::string> checks;
  auto sink = [&](const Finding& f) { checks.push_back(f.check); };
  std::uint64_t findings = 0;
  verify_tlog_proof(proof, key.identity(), findings, sink);
  CHECK(findings == 0);
  verify_tlog_proof(proof, other.identity(), findings, sink);
  CHECK(checks == std::vector<std::string>{"checkpoint_signature"});
  checks.clear();
  proof.extra = Bytes{'{', '}'};
  verify_tlog_proof(proof, key.identity(), findings, sink);
  CHECK(checks == std::vector<std::string>{"inclusion"});
}

TEST_CASE("malformed tlog-proofs are usage errors") {
  auto expect_usage = [](const std::string& text) {
    try {
      TlogProof::parse(text);
      FAIL("parsed: " << text);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::usage);
    }
  };
  expect_usage("");
  expect_usage("c2sp.org/tlog-proof@v2\nindex 0\n\n");
  expect_usage("c2sp.org/tlog-proof@v1\nindex 00\n\nx\n1\nAA==\n\n— x AAAA\n");
  expect_usage("c2sp.org/tlog-proof@v1\nindex -1\n\n");
  expect_usage("c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n");
  expect_usage("c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n");  // a 3-byte hash
  expect_usage("c2sp.org/tlog-proof@v1\nindex 0\n");            // no checkpoint
  expect_usage("c2sp.org/tlog-proof@v1\nindex 0\n\nnot a note\n");
}
