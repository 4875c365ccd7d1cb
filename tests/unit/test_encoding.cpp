#include <catch2/catch.hpp>

#include "encoding.hpp"
#include "timefmt.hpp"

using namespace medtrail;

TEST_CASE("hex round trip and rejection", "[encoding]") {
  Bytes data = {0x00, 0x01, 0xab, 0xff};
  CHECK(to_hex(data) == "0001abff");
  CHECK(from_hex("0001ABff") == data);
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK_FALSE(hash_from_hex("00"));
}

TEST_CASE("base64 follows RFC 4648 test vectors", "[encoding]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    CHECK(base64_encode(as_bytes(plain)) == encoded);
    auto decoded = base64_decode(encoded);
    REQUIRE(decoded);
    CHECK(std::string(decoded->begin(), decoded->end()) == plain);
  }
  CHECK_FALSE(base64_decode("Zm9"));       // length
  CHECK_FALSE(base64_decode("Zm9v\n"));    // whitespace
  CHECK_FALSE(base64_decode("Zh=="));      // non-canonical trailing bits
  CHECK_FALSE(base64_decode("Z=9v"));      // padding in the middle
  CHECK_FALSE(base64_decode("Zm9v!A=="));
}

TEST_CASE("RFC 3339 parsing and formatting", "[time]") {
  CHECK(parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339_ms("2026-03-01T10:15:00.120Z") == 1772360100120);
  CHECK(parse_rfc3339_ms("2026-03-01T18:15:00.120+08:00") == 1772360100120);
  CHECK(parse_rfc3339_ms("2026-03-01T10:15:00.123456789Z") == 1772360100123);
  CHECK(parse_rfc3339_ms("2024-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01 10:15:00Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01T10:15:00"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01T24:00:00Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01T10:15:60Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01T10:15:00.Z"));
  CHECK_FALSE(parse_rfc3339_ms("2026-03-01T10:15:00Zjunk"));
  CHECK(format_rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(1772360100120) == "2026-03-01T10:15:00.120Z");
  CHECK(format_rfc3339_ms(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339_ms(-62167219200000) == "0000-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(253402300799999) == "9999-12-31T23:59:59.999Z");
  CHECK(format_rfc3339_ms(253402300800000) == "10000-01-01T00:00:00.000Z");  // beyond the digit-by-digit path
  for (std::int64_t t : {0LL, 951782400000LL, 1709164800000LL, 4102444799999LL})
    CHECK(parse_rfc3339_ms(format_rfc3339_ms(t)) == t);
  CHECK(parse_duration_ms("15m") == 900000);
  CHECK(parse_duration_ms("2h") == 7200000);
  CHECK(parse_duration_ms("30") == 30000);
  CHECK_FALSE(parse_duration_ms("m"));
  CHECK_FALSE(parse_duration_ms("-5s"));
}
