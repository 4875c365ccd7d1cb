#include <catch2/catch.hpp>

#include "crypto.hpp"
#include "keys.hpp"
#include "payload_crypto.hpp"

using namespace medtrail;

namespace {
Hash hash_of(std::string_view s) { return crypto::sha256(s); }
}  // namespace

TEST_CASE("payload encryption: round trip, and every wrong input is refused", "[privacy]") {
  Bytes salt = crypto::random_bytes(32);
  std::string reading = R"({"device":"wb-1","type":"body_temperature","unit":"Cel","value":38.47})";
  Hash commitment = hash_of("commitment of record A");
  auto sealed = payload_crypto::seal(salt, reading, commitment);
  CHECK(sealed.ciphertext.size() == 12 + 32 + reading.size() + 16);
  CHECK(std::string(sealed.ciphertext.begin(), sealed.ciphertext.end()).find("38.47") == std::string::npos);

  auto opened = payload_crypto::open(sealed.dek, sealed.ciphertext, commitment);
  REQUIRE(opened);
  CHECK(opened->reading == reading);
  CHECK(opened->salt == salt);

  // Another record's commitment (a ciphertext moved between records), a wrong key, a flipped
  // byte, a truncation: each fails to open.
  CHECK_FALSE(payload_crypto::open(sealed.dek, sealed.ciphertext, hash_of("commitment of record B")));
  Bytes wrong_key = crypto::random_bytes(32);
  CHECK_FALSE(payload_crypto::open(wrong_key, sealed.ciphertext, commitment));
  Bytes flipped = sealed.ciphertext;
  flipped[20] ^= 0x01;
  CHECK_FALSE(payload_crypto::open(sealed.dek, flipped, commitment));
  for (std::size_t n : {0, 11, 27, 28, 60}) {
    Bytes truncated(sealed.ciphertext.begin(), sealed.ciphertext.begin() + static_cast<std::ptrdiff_t>(std::min(n, sealed.ciphertext.size())));
    CHECK_FALSE(payload_crypto::open(sealed.dek, truncated, commitment));
  }
  // Fresh key and nonce every time: sealing the same reading twice gives different bytes.
  CHECK(payload_crypto::seal(salt, reading, commitment).ciphertext != sealed.ciphertext);
}

TEST_CASE("key wrapping: only the recipient unwraps, only for the record it was made for", "[privacy]") {
  auto clinician = SigningKey::generate("dr-lee", "clinician");
  auto other = SigningKey::generate("dr-kim", "clinician");
  REQUIRE(clinician.identity().enc_key);
  Bytes dek = crypto::random_bytes(32);
  Hash record = hash_of("record A");
  payload_crypto::KeyWrapper wrapper(*clinician.identity().enc_key);
  Bytes wrapped = wrapper.wrap(dek, record);
  CHECK(wrapped.size() == 12 + 32 + 16);

  payload_crypto::KeyUnwrapper mine(clinician);
  auto unwrapped = mine.unwrap(wrapper.ephemeral(), wrapped, record);
  REQUIRE(unwrapped);
  CHECK(*unwrapped == dek);
  // The cached key-encryption key gives the same answer for a second record of the session.
  Bytes dek2 = crypto::random_bytes(32);
  CHECK(mine.unwrap(wrapper.ephemeral(), wrapper.wrap(dek2, hash_of("record B")), hash_of("record B")) == dek2);

  CHECK_FALSE(mine.unwrap(wrapper.ephemeral(), wrapped, hash_of("record B")));  // moved to another record
  payload_crypto::KeyUnwrapper theirs(other);
  CHECK_FALSE(theirs.unwrap(wrapper.ephemeral(), wrapped, record));  // someone else's key
  Bytes flipped = wrapped;
  flipped.back() ^= 0x80;
  CHECK_FALSE(mine.unwrap(wrapper.ephemeral(), flipped, record));
  PublicKey zero{};  // a low-order point: the agreement is refused, not a crash
  CHECK_FALSE(mine.unwrap(zero, wrapped, record));

  auto gateway = SigningKey::generate("gw-1", "gateway");
  CHECK_FALSE(gateway.identity().enc_key);
  CHECK_THROWS(payload_crypto::KeyUnwrapper(gateway));
}
