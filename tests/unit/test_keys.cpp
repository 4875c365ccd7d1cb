#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "crypto.hpp"
#include "error.hpp"
#include "keys.hpp"
#include "note.hpp"

using namespace medtrail;

namespace {
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/medtrail-unit.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};
}  // namespace

TEST_CASE("Ed25519 RFC 8032 test vector 1 verifies through EVP", "[keys]") {
  auto pub = from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = from_hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  PublicKey key;
  std::copy(pub->begin(), pub->end(), key.begin());
  CHECK(verify_signature(key, std::span<const std::uint8_t>(), *sig));
  (*sig)[0] ^= 1;
  CHECK_FALSE(verify_signature(key, std::span<const std::uint8_t>(), *sig));
}

TEST_CASE("sign, save, load, verify", "[keys]") {
  TempDir dir;
  auto key = SigningKey::generate("gw-1", "gateway");
  auto sig = key.sign("hello");
  CHECK(verify_signature(key.identity().key, "hello", sig));
  CHECK_FALSE(verify_signature(key.identity().key, "hellO", sig));
  key.save(dir.file("gw-1.key"), dir.file("gw-1.pub"), std::nullopt);
  struct stat st{};
  REQUIRE(::stat(dir.file("gw-1.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = SigningKey::load(dir.file("gw-1.key"), std::nullopt);
  CHECK(loaded.identity().name == "gw-1");
  CHECK(loaded.identity().role == "gateway");
  CHECK(loaded.identity().key == key.identity().key);
  CHECK(load_public_key(dir.file("gw-1.pub")).key == key.identity().key);
  CHECK_THROWS_AS(key.save(dir.file("gw-1.key"), dir.file("x.pub"), std::nullopt), Error);  // no overwrite
}

TEST_CASE("passphrase-protected keys", "[keys]") {
  TempDir dir;
  auto key = SigningKey::generate("hospital", "authority");
  key.save(dir.file("h.key"), dir.file("h.pub"), std::string("s3cret"));
  CHECK(SigningKey::load(dir.file("h.key"), std::string("s3cret")).identity().key == key.identity().key);
  try {
    SigningKey::load(dir.file("h.key"), std::string("wrong"));
    FAIL("wrong passphrase accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::environment);
  }
  CHECK_THROWS_AS(SigningKey::load(dir.file("h.key"), std::nullopt), Error);
}

TEST_CASE("key files readable by others are refused", "[keys]") {
  TempDir dir;
  SigningKey::generate("d", "device").save(dir.file("d.key"), dir.file("d.pub"), std::nullopt);
  ::chmod(dir.file("d.key").c_str(), 0644);
  try {
    SigningKey::load(dir.file("d.key"), std::nullopt);
    FAIL("0644 key accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::environment);
  }
  try {
    SigningKey::load(dir.file("missing.key"), std::nullopt);
    FAIL("missing key accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::not_found);
  }
}

TEST_CASE("vkey and note key hash follow the signed-note format", "[keys][note]") {
  PublicKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  std::string vkey = vkey_of("example.com/log", key);
  CHECK(vkey.rfind("example.com/log+", 0) == 0);
  auto parts = vkey.substr(std::string("example.com/log+").size());
  CHECK(parts.size() == 8 + 1 + 44);
  auto blob = base64_decode(parts.substr(9));
  REQUIRE(blob);
  CHECK((*blob)[0] == 0x01);
  // The key hash is SHA-256(name || "\n" || 0x01 || key)[:4].
  std::string material = "example.com/log\n\x01";
  material.append(reinterpret_cast<const char*>(key.data()), key.size());
  Hash h = crypto::sha256(material);
  char expected[9];
  std::snprintf(expected, sizeof expected, "%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
  CHECK(parts.substr(0, 8) == expected);
}

TEST_CASE("signed checkpoints round trip and reject tampering", "[note]") {
  auto key = SigningKey::generate("hospital", "authority");
  Checkpoint cp{"hospital-a.example/ward3", 1234, crypto::sha256(std::string_view("root"))};
  std::string note_text = sign_note(cp.body(), key);
  auto note = SignedNote::parse(note_text);
  CHECK(note.serialize() == note_text);
  CHECK(note.signed_by("hospital", key.identity().key));
  CHECK_FALSE(note.signed_by("other", key.identity().key));
  auto parsed = parse_checkpoint_body(note.text);
  REQUIRE(parsed);
  CHECK(parsed->origin == cp.origin);
  CHECK(parsed->tree_size == 1234);
  CHECK(parsed->root == cp.root);
  std::string forged = note_text;
  forged.replace(forged.find("1234"), 4, "1235");
  CHECK_FALSE(SignedNote::parse(forged).signed_by("hospital", key.identity().key));
  CHECK_THROWS_AS(SignedNote::parse("no signatures here\n"), Error);
  CHECK_THROWS_AS(SignedNote::parse("body\n\nnot a signature line\n"), Error);
  CHECK_FALSE(parse_checkpoint_body("origin\n01\nAAAA\n"));
  CHECK_FALSE(parse_checkpoint_body("origin\n12\n"));
}

TEST_CASE("data key pseudonyms and replay tags are keyed", "[keys]") {
  auto a = DataKey::generate();
  auto b = DataKey::generate();
  CHECK(a.pseudonym("patient-1") == a.pseudonym("patient-1"));
  CHECK(a.pseudonym("patient-1") != a.pseudonym("patient-2"));
  CHECK(a.pseudonym("patient-1") != b.pseudonym("patient-1"));
  CHECK(a.replay_tag("{}") != b.replay_tag("{}"));
  CHECK(a.id() != b.id());
  CHECK(crypto::equal_constant_time(a.secret, a.secret));
  CHECK_FALSE(crypto::equal_constant_time(a.secret, b.secret));
}
