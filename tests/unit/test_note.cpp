// C2SP signed notes and tlog checkpoints (lib/note.hpp): the exact text format, sign/verify
// round trips, rejection of tampered or malformed notes, and a known-answer test against the
// example in Go's golang.org/x/mod/sumdb/note documentation.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "error.hpp"
#include "keys.hpp"
#include "note.hpp"

using namespace medtrail;

namespace {

constexpr const char* kDash = "\xe2\x80\x94";  // U+2014 EM DASH, which starts every signature line

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/medtrail-note.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

Checkpoint sample_checkpoint() {
  Checkpoint cp;
  cp.origin = "hospital.example/medtrail";
  cp.tree_size = 1234;
  for (std::size_t i = 0; i < cp.root.size(); ++i) cp.root[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return cp;
}

// A verifier key "name+hash+base64(0x01 || key)" as Go prints it, taken apart by hand.
PublicKey key_from_vkey(const std::string& vkey) {
  auto last_plus = vkey.rfind('+');
  auto blob = base64_decode(vkey.substr(last_plus + 1));
  REQUIRE(blob);
  REQUIRE(blob->size() == 33);
  REQUIRE((*blob)[0] == 0x01);  // algorithm byte: Ed25519
  PublicKey key{};
  std::copy(blob->begin() + 1, blob->end(), key.begin());
  return key;
}

bool parses(const std::string& text) {
  try {
    SignedNote::parse(text);
    return true;
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    return false;
  }
}

}  // namespace

TEST_CASE("checkpoint body is origin, decimal size and base64 root, one per line", "[note]") {
  const Checkpoint cp = sample_checkpoint();
  const std::string body = cp.body();
  CHECK(body == "hospital.example/medtrail\n1234\n" + base64_encode(cp.root) + "\n");
  CHECK(base64_encode(cp.root).size() == 44);  // 32 bytes, padded standard base64

  auto parsed = parse_checkpoint_body(body);
  REQUIRE(parsed);
  CHECK(parsed->origin == cp.origin);
  CHECK(parsed->tree_size == cp.tree_size);
  CHECK(parsed->root == cp.root);

  // Size 0 and the largest 64-bit size are both representable.
  Checkpoint empty = cp;
  empty.tree_size = 0;
  CHECK(empty.body().find("\n0\n") != std::string::npos);
  CHECK(parse_checkpoint_body(empty.body())->tree_size == 0);
  Checkpoint huge = cp;
  huge.tree_size = UINT64_MAX;
  CHECK(parse_checkpoint_body(huge.body())->tree_size == UINT64_MAX);

  // Extension lines after the root are allowed (tlog-checkpoint), if non-empty.
  CHECK(parse_checkpoint_body(body + "extension line\n"));
}

TEST_CASE("malformed checkpoint bodies are refused", "[note]") {
  const std::string root = base64_encode(sample_checkpoint().root);
  const std::string bad[] = {
      "",
      "origin\n12\n" + root,                      // no final newline
      "origin\n12\n",                             // no root line
      "\n12\n" + root + "\n",                     // empty origin
      "origin\n\n" + root + "\n",                 // empty size
      "origin\n012\n" + root + "\n",              // leading zero
      "origin\n-1\n" + root + "\n",               // negative
      "origin\n+1\n" + root + "\n",               // sign
      "origin\n1 \n" + root + "\n",               // trailing space
      "origin\n0x10\n" + root + "\n",             // not decimal
      "origin\n18446744073709551616\n" + root + "\n",  // 2^64 overflows
      "origin\n12\n" + root.substr(0, 40) + "\n",      // truncated base64
      "origin\n12\n" + base64_encode(Bytes(31, 1)) + "\n",  // 31-byte root
      "origin\n12\n" + base64_encode(Bytes(33, 1)) + "\n",  // 33-byte root
      "origin\n12\n" + root + "\n\n",                       // empty extension line
      "origin\n12\n" + root + "\next\n\n",
  };
  for (const auto& text : bad) {
    INFO("body: " << text);
    CHECK_FALSE(parse_checkpoint_body(text));
  }
}

TEST_CASE("sign_note writes the body, a blank line and one em-dash signature line", "[note]") {
  auto key = SigningKey::generate("hospital", "authority");
  const std::string body = sample_checkpoint().body();
  const std::string note = sign_note(body, key);

  const std::string prefix = body + "\n" + kDash + " hospital ";
  REQUIRE(note.substr(0, prefix.size()) == prefix);
  REQUIRE(note.back() == '\n');
  // The rest of the line: base64 of a 4-byte big-endian key hash and a 64-byte Ed25519 signature.
  auto blob = base64_decode(note.substr(prefix.size(), note.size() - prefix.size() - 1));
  REQUIRE(blob);
  REQUIRE(blob->size() == 68);
  const std::uint32_t hash = note_key_hash("hospital", key.identity().key);
  CHECK((*blob)[0] == std::uint8_t(hash >> 24));
  CHECK((*blob)[1] == std::uint8_t(hash >> 16));
  CHECK((*blob)[2] == std::uint8_t(hash >> 8));
  CHECK((*blob)[3] == std::uint8_t(hash));
  // The signature covers exactly the body, including its final newline.
  CHECK(verify_signature(key.identity().key, body, std::span(*blob).subspan(4)));
}

TEST_CASE("signed notes round-trip through parse, serialize and signed_by", "[note]") {
  auto key = SigningKey::generate("hospital", "authority");
  const std::string body = sample_checkpoint().body();
  const std::string note = sign_note(body, key);

  const SignedNote parsed = SignedNote::parse(note);
  CHECK(parsed.text == body);
  REQUIRE(parsed.signatures.size() == 1);
  CHECK(parsed.signatures[0].name == "hospital");
  CHECK(parsed.signatures[0].key_hash == note_key_hash("hospital", key.identity().key));
  CHECK(parsed.serialize() == note);
  CHECK(parsed.signed_by("hospital", key.identity().key));
  // The signed text is itself a checkpoint again.
  auto cp = parse_checkpoint_body(parsed.text);
  REQUIRE(cp);
  CHECK(cp->tree_size == 1234);

  // A second signer (a witness) adds a line; both verify independently.
  auto witness = SigningKey::generate("witness-1", "auditor");
  const std::string second = sign_note(body, witness);
  const std::string cosigned = note + second.substr(body.size() + 1);  // append its signature line
  const SignedNote both = SignedNote::parse(cosigned);
  CHECK(both.signatures.size() == 2);
  CHECK(both.signed_by("hospital", key.identity().key));
  CHECK(both.signed_by("witness-1", witness.identity().key));
  CHECK(both.serialize() == cosigned);
}

TEST_CASE("tampered notes and wrong keys do not verify", "[note]") {
  auto key = SigningKey::generate("hospital", "authority");
  auto other = SigningKey::generate("hospital", "authority");  // same name, different key
  const PublicKey& pub = key.identity().key;
  const std::string body = sample_checkpoint().body();
  const std::string note = sign_note(body, key);

  SECTION("a changed body") {
    std::string tampered = note;
    tampered.replace(tampered.find("1234"), 4, "1235");
    auto parsed = SignedNote::parse(tampered);
    CHECK(parsed.text != body);
    CHECK_FALSE(parsed.signed_by("hospital", pub));
  }
  SECTION("a changed signature byte") {
    SignedNote parsed = SignedNote::parse(note);
    parsed.signatures[0].signature[10] ^= 1;
    CHECK_FALSE(SignedNote::parse(parsed.serialize()).signed_by("hospital", pub));
  }
  SECTION("a signature by another key with the same name") {
    auto parsed = SignedNote::parse(sign_note(body, other));
    CHECK_FALSE(parsed.signed_by("hospital", pub));
    CHECK(parsed.signed_by("hospital", other.identity().key));
    // Even when the line claims the right key hash, the signature itself fails.
    SignedNote forged = parsed;
    forged.signatures[0].key_hash = note_key_hash("hospital", pub);
    CHECK_FALSE(SignedNote::parse(forged.serialize()).signed_by("hospital", pub));
  }
  SECTION("the wrong key name") {
    auto parsed = SignedNote::parse(note);
    CHECK_FALSE(parsed.signed_by("clinic", pub));
    // Renaming the signature line breaks it too: the key hash covers the name.
    SignedNote renamed = parsed;
    renamed.signatures[0].name = "clinic";
    CHECK_FALSE(SignedNote::parse(renamed.serialize()).signed_by("clinic", pub));
    CHECK_FALSE(SignedNote::parse(renamed.serialize()).signed_by("hospital", pub));
  }
  SECTION("a signature of the wrong length") {
    // A 4-byte key hash with a 63-byte signature parses (unknown signature kinds may exist)
    // but never verifies.
    Bytes blob = {std::uint8_t(note_key_hash("hospital", pub) >> 24), std::uint8_t(note_key_hash("hospital", pub) >> 16),
                  std::uint8_t(note_key_hash("hospital", pub) >> 8), std::uint8_t(note_key_hash("hospital", pub))};
    auto sig = key.sign(body);
    blob.insert(blob.end(), sig.begin(), sig.end() - 1);
    const std::string text = body + "\n" + kDash + " hospital " + base64_encode(blob) + "\n";
    REQUIRE(parses(text));
    CHECK_FALSE(SignedNote::parse(text).signed_by("hospital", pub));
  }
}

TEST_CASE("malformed notes are refused with a usage error", "[note]") {
  auto key = SigningKey::generate("hospital", "authority");
  const std::string body = sample_checkpoint().body();
  const std::string note = sign_note(body, key);
  const std::string sig_line = note.substr(body.size() + 1);  // "— hospital <base64>\n"
  const std::string b64 = sig_line.substr(sig_line.rfind(' ') + 1, sig_line.size() - sig_line.rfind(' ') - 2);
  REQUIRE(parses(note));

  const std::pair<const char*, std::string> bad[] = {
      {"no blank line before the signatures", body + sig_line},
      {"no signature lines", body + "\n"},
      {"signature block without final newline", note.substr(0, note.size() - 1)},
      {"hyphen instead of em dash", body + "\n- hospital " + b64 + "\n"},
      {"no space after the dash", body + "\n" + kDash + "hospital " + b64 + "\n"},
      {"no space between name and signature", body + "\n" + kDash + " hospital" + b64 + "\n"},
      {"empty name", body + "\n" + kDash + "  " + b64 + "\n"},
      {"name only", body + "\n" + kDash + " hospital\n"},
      {"empty signature", body + "\n" + kDash + " hospital \n"},
      {"signature not base64", body + "\n" + kDash + " hospital !!!!\n"},
      {"signature shorter than a key hash", body + "\n" + kDash + " hospital AAAA\n"},
      {"base64 without padding", body + "\n" + kDash + " hospital " + b64.substr(0, b64.size() - 1) + "\n"},
      {"text after the signatures", note + "trailing words\n"},
      {"empty input", ""},
  };
  for (const auto& [why, text] : bad) {
    INFO(why);
    CHECK_FALSE(parses(text));
  }
  // Huge inputs are refused before any parsing.
  CHECK_FALSE(parses(std::string(2 << 20, 'a') + "\n\n" + sig_line));
}

TEST_CASE("known answer: the golang.org/x/mod/sumdb/note documentation example", "[note]") {
  // From the package documentation of golang.org/x/mod/sumdb/note (and its TestSign/TestOpen):
  // the verifier keys, the signed text and the doubly-signed note. Ed25519 is deterministic,
  // so signing the same text with the same private key must give the same bytes.
  const std::string peter_vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  const std::string enoch_vkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
  const std::string text =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  const std::string peter_line = std::string(kDash) +
      " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
  const std::string enoch_line = std::string(kDash) +
      " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

  const PublicKey peter = key_from_vkey(peter_vkey);
  const PublicKey enoch = key_from_vkey(enoch_vkey);
  // medtrail derives the same key hashes and prints the same verifier keys.
  CHECK(note_key_hash("PeterNeumann", peter) == 0xc74f20a3);
  CHECK(note_key_hash("EnochRoot", enoch) == 0xaf0cfe78);
  CHECK(vkey_of("PeterNeumann", peter) == peter_vkey);
  CHECK(vkey_of("EnochRoot", enoch) == enoch_vkey);

  SECTION("verifying Go's notes") {
    const SignedNote single = SignedNote::parse(text + "\n" + peter_line);
    CHECK(single.text == text);
    CHECK(single.signed_by("PeterNeumann", peter));
    CHECK_FALSE(single.signed_by("EnochRoot", enoch));
    CHECK_FALSE(single.signed_by("PeterNeumann", enoch));

    const SignedNote doubly = SignedNote::parse(text + "\n" + peter_line + enoch_line);
    REQUIRE(doubly.signatures.size() == 2);
    CHECK(doubly.signatures[0].key_hash == 0xc74f20a3);
    CHECK(doubly.signatures[1].key_hash == 0xaf0cfe78);
    CHECK(doubly.signed_by("PeterNeumann", peter));
    CHECK(doubly.signed_by("EnochRoot", enoch));
    CHECK(doubly.serialize() == text + "\n" + peter_line + enoch_line);

    std::string tampered = text + "\n" + peter_line;
    tampered.replace(tampered.find("answer"), 6, "Answer");
    CHECK_FALSE(SignedNote::parse(tampered).signed_by("PeterNeumann", peter));
  }

  SECTION("signing reproduces Go's note byte for byte") {
    // Go's private key "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    // holds 0x01 || the 32-byte Ed25519 seed. Wrap the seed in PKCS#8 (RFC 8410) so that
    // SigningKey::load reads it like any medtrail key file.
    auto skey = base64_decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz");
    REQUIRE(skey);
    REQUIRE(skey->size() == 33);
    Bytes der = *from_hex("302e020100300506032b657004220420");
    der.insert(der.end(), skey->begin() + 1, skey->end());
    TempDir dir;
    const std::string path = dir.file("PeterNeumann.key");
    write_file_atomic(path,
                      "# name: PeterNeumann\n# role: authority\n-----BEGIN PRIVATE KEY-----\n" + base64_encode(der) +
                          "\n-----END PRIVATE KEY-----\n",
                      0600);
    auto signer = SigningKey::load(path, std::nullopt);
    CHECK(signer.identity().name == "PeterNeumann");
    CHECK(signer.identity().key == peter);
    CHECK(sign_note(text, signer) == text + "\n" + peter_line);
  }
}
