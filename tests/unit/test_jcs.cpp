// RFC 8785 JSON Canonicalization Scheme (lib/jcs.hpp): the RFC's own examples, its Appendix B
// number table, string escaping, nesting and the inputs JCS must refuse.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "encoding.hpp"
#include "error.hpp"
#include "jcs.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {
std::string canon(const char* json_text) { return jcs::canonicalize(json::parse(json_text)); }

std::string hex64(std::uint64_t bits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}
}  // namespace

TEST_CASE("RFC 8785 section 3.2.2 sample: numbers, strings and literals", "[jcs]") {
  // Input as printed in RFC 8785 section 3.2.2 (also in cyberphone/json-canonicalization's README).
  const char* input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  const std::string expected =
      R"({"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],)"
      R"("string":"€$\u000f\nA'B\"\\\\\"/"})";
  const std::string got = canon(input);
  CHECK(got == expected);
  // Section 3.2.4 gives the same result as UTF-8 bytes; compare byte for byte.
  CHECK(to_hex(as_bytes(got)) ==
        "7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a"
        "5b3333333333333333332e333333333333332c31652b33302c342e352c302e3030322c31652d3237"
        "5d2c22737472696e67223a22e282ac245c75303030665c6e4127425c225c5c5c5c5c222f227d");
}

TEST_CASE("RFC 8785 section 3.2.3: members sort by UTF-16 code units", "[jcs]") {
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB33, although its UTF-8 bytes
  // (and its code point) sort after: this is the case a byte-order sort gets wrong.
  const std::string expected =
      "{\"\\r\":\"Carriage Return\","
      "\"1\":\"One\","
      "\"\xc2\x80\":\"Control\","
      "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
      "\"\xe2\x82\xac\":\"Euro Sign\","
      "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
      "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
  CHECK(canon(input) == expected);
}

TEST_CASE("RFC 8785 Appendix B number serialization samples", "[jcs]") {
  // Appendix B: IEEE 754 bit patterns and their required ECMAScript text.
  const std::pair<std::uint64_t, const char*> samples[] = {
      {0x0000000000000000, "0"},                          // zero
      {0x8000000000000000, "0"},                          // minus zero
      {0x0000000000000001, "5e-324"},                     // min positive
      {0x8000000000000001, "-5e-324"},                    // min negative
      {0x7fefffffffffffff, "1.7976931348623157e+308"},    // max positive
      {0xffefffffffffffff, "-1.7976931348623157e+308"},   // max negative
      {0x4340000000000000, "9007199254740992"},           // max positive int
      {0xc340000000000000, "-9007199254740992"},          // max negative int
      {0x4430000000000000, "295147905179352830000"},      // ~2^68
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},         // round to even
  };
  for (auto [bits, text] : samples) {
    INFO("bits " << hex64(bits) << " want " << text);
    const double value = std::bit_cast<double>(bits);
    CHECK(jcs::format_number(value) == text);
    CHECK(jcs::canonicalize(json(value)) == text);
    CHECK(jcs::canonicalize(json::array({value})) == std::string("[") + text + "]");
  }
  // The table's two error rows: NaN and Infinity have no JSON form.
  for (std::uint64_t bits : {0x7fffffffffffffffULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL}) {
    INFO("bits " << hex64(bits));
    const double value = std::bit_cast<double>(bits);
    CHECK_THROWS_AS(jcs::format_number(value), Error);
    CHECK_THROWS_AS(jcs::canonicalize(json{{"n", json::array({1, value})}}), Error);
  }
}

TEST_CASE("more ECMAScript number forms", "[jcs]") {
  const std::pair<double, const char*> cases[] = {
      {0.0, "0"},          {-0.0, "0"},
      {1.0, "1"},          {-1.0, "-1"},
      {4.5, "4.5"},        {0.1, "0.1"},
      {100.0, "100"},      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},     {1.5e300, "1.5e+300"},
      {1e-6, "0.000001"},  {1e-7, "1e-7"},
      {1.23e-18, "1.23e-18"}, {333333333.3333333, "333333333.3333333"},
      {9007199254740992.0, "9007199254740992"}, {0.5, "0.5"},
      {123456.789, "123456.789"}, {-0.000123, "-0.000123"},
  };
  for (auto [value, text] : cases) {
    INFO(text);
    CHECK(jcs::format_number(value) == text);
  }
  // Integers parsed as integers print the same way as the equal double would.
  CHECK(canon("[0, -0, 7, -7, 9007199254740992, -9007199254740992]") ==
        "[0,0,7,-7,9007199254740992,-9007199254740992]");
  CHECK(canon("[1.0, 1E2, 10e-1, -0.0]") == "[1,100,1,0]");
}

TEST_CASE("string escaping follows ECMAScript JSON.stringify", "[jcs]") {
  // The five short escapes; every other control character as lowercase \u00xx.
  CHECK(jcs::canonicalize(json(std::string("\b\t\n\f\r"))) == R"("\b\t\n\f\r")");
  CHECK(jcs::canonicalize(json(std::string("\x01\x1f\x0b\x0e", 4))) == R"("\u0001\u001f\u000b\u000e")");
  CHECK(jcs::canonicalize(json(std::string("a\0b", 3))) == R"("a\u0000b")");
  CHECK(jcs::canonicalize(json("quote \" backslash \\")) == R"("quote \" backslash \\")");
  // '/' and DEL are not escaped; non-ASCII stays as UTF-8, never \u escapes.
  CHECK(jcs::canonicalize(json("a/b\x7f")) == "\"a/b\x7f\"");
  CHECK(canon(R"("\u00e9\u4e2d\ud83d\ude00\/")") == "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80/\"");
  CHECK(canon(R"("\u0041\u001F")") == R"("A\u001f")");
  CHECK(jcs::canonicalize(json("")) == R"("")");
  // Member names are escaped the same way.
  CHECK(canon(R"({"a\nb":1,"\u0007":2})") == R"({"\u0007":2,"a\nb":1})");
}

TEST_CASE("nested arrays and objects are canonicalised all the way down", "[jcs]") {
  CHECK(canon(R"({"b": [{"z": 1, "a": 2}, [], {}], "a": {"d": true, "c": null}})") ==
        R"({"a":{"c":null,"d":true},"b":[{"a":2,"z":1},[],{}]})");
  CHECK(canon("[[[[]]], {\"x\": [1, [2, {\"k\": \"v\"}]]}]") == R"([[[[]]],{"x":[1,[2,{"k":"v"}]]}])");
  CHECK(canon("{}") == "{}");
  CHECK(canon("[]") == "[]");
  CHECK(canon(R"({"only":{"one":[null]}})") == R"({"only":{"one":[null]}})");
  // Array order is data and is kept; member order is not and is sorted.
  CHECK(canon("[3, 1, 2]") == "[3,1,2]");
  CHECK(canon(R"({"b":1,"a":2,"B":3,"aa":4,"":5})") == R"({"":5,"B":3,"a":2,"aa":4,"b":1})");
  // Whitespace in the input never reaches the output.
  CHECK(canon(" { \"a\" : [ 1 , 2 ] } ") == R"({"a":[1,2]})");
}

TEST_CASE("canonicalisation is idempotent", "[jcs]") {
  const char* inputs[] = {
      R"({"numbers":[333333333.33333329,1E30,4.50,2e-3],"s":"\u20ac\u000f","l":[null,true,false]})",
      R"({"\ud83d\ude00":1,"\ufb33":2,"z":{"y":[{"b":1,"a":0}]}})",
  };
  for (const char* input : inputs) {
    const std::string once = canon(input);
    CHECK(jcs::canonicalize(json::parse(once)) == once);
  }
}

TEST_CASE("what JCS cannot represent throws medtrail::Error", "[jcs]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(jcs::canonicalize(json(nan)), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(inf)), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(-inf)), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json{{"deep", {{"er", json::array({nan})}}}}), Error);

  // Integers beyond 2^53 would change value when read back as IEEE doubles.
  CHECK(jcs::canonicalize(json(std::uint64_t(9007199254740992ULL))) == "9007199254740992");
  CHECK(jcs::canonicalize(json(std::int64_t(-9007199254740992LL))) == "-9007199254740992");
  CHECK_THROWS_AS(canon("9007199254740993"), Error);  // 2^53 + 1: rounds to 2^53 as a double
  CHECK_THROWS_AS(canon("-9007199254740993"), Error);
  // Beyond 2^53, an integer that is exactly a double printed the same way is its own canonical
  // form: JCS prints large doubles as integers, so canonical text must canonicalise to itself
  // (found by fuzz_jcs: 11222222222222222222e-0).
  CHECK(canon("9007199254740994") == "9007199254740994");
  CHECK(canon("11222222222222222222e-0") == "11222222222222221000");
  CHECK(canon(canon("11222222222222222222e-0").c_str()) == "11222222222222221000");
  CHECK(canon("-11222222222222221000") == "-11222222222222221000");
  CHECK_THROWS_AS(canon("18446744073709551615"), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(std::int64_t(9007199254740993LL))), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(std::uint64_t(9007199254740993ULL))), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(std::numeric_limits<std::int64_t>::min())), Error);
  CHECK_THROWS_AS(jcs::canonicalize(json(std::numeric_limits<std::uint64_t>::max())), Error);
  CHECK_THROWS_AS(canon(R"({"a":[1,{"b":12345678901234567890}]})"), Error);

  // Invalid UTF-8, in values and in member names (single and multi-member objects).
  const char* bad_utf8[] = {
      "\xff",              // never valid
      "\xc3",              // truncated two-byte sequence
      "\xe2\x82",          // truncated three-byte sequence
      "a\x80",             // stray continuation byte
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // UTF-16 surrogate D800 encoded in UTF-8
      "\xf4\x90\x80\x80",  // beyond U+10FFFF
      "\xf8\x88\x80\x80\x80",
  };
  for (const char* s : bad_utf8) {
    INFO(to_hex(as_bytes(s)));
    CHECK_THROWS_AS(jcs::canonicalize(json(std::string(s))), Error);
    CHECK_THROWS_AS(jcs::canonicalize(json{{std::string(s), 1}}), Error);
    CHECK_THROWS_AS(jcs::canonicalize(json{{std::string(s), 1}, {"other", 2}}), Error);
  }
  // Binary values have no JSON text at all.
  CHECK_THROWS_AS(jcs::canonicalize(json::binary({1, 2, 3})), Error);

  // The errors are usage errors (bad input), not environment failures.
  try {
    jcs::canonicalize(json(nan));
    FAIL("NaN was canonicalised");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
  }
}

TEST_CASE("random objects: members in UTF-16 order, strings escaped as JSON.stringify does", "[jcs]") {
  // Characters listed in UTF-16 order of their first code unit: U+1F600 (D83D DE00) sorts
  // before U+FB33 although its UTF-8 bytes sort after. Keys are words over this alphabet, so
  // comparing the words letter by letter by position in the list is UTF-16 order.
  const std::vector<std::string> key_letters = {"\r", "1", "a", "\xc2\x80", "\xc3\xb6", "\xe2\x82\xac",
                                                "\xf0\x9f\x98\x80", "\xef\xac\xb3"};
  // Value characters: every escape JSON.stringify makes, DEL (not escaped), '/', multi-byte.
  const std::vector<std::string> value_letters = {"a", "0", "\"", "\\", "\n", "\t", "\b", "\f", "\r", "\x01",
                                                  "\x1f", "\x7f", "/", "\xc3\xb6", "\xf0\x9f\x98\x80", " "};
  std::mt19937 rng(8785);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  for (int round = 0; round < 500; ++round) {
    std::map<std::vector<std::size_t>, std::pair<std::string, std::string>> by_utf16;  // ranks -> key, value
    json object = json::object();
    for (std::size_t m = 0, members = 1 + pick(6); m < members; ++m) {
      std::vector<std::size_t> ranks;
      std::string key;
      for (std::size_t i = 0, len = 1 + pick(3); i < len; ++i) {
        ranks.push_back(pick(key_letters.size()));
        key += key_letters[ranks.back()];
      }
      std::string value;
      for (std::size_t i = 0, len = pick(8); i < len; ++i) value += value_letters[pick(value_letters.size())];
      object[key] = value;
      by_utf16[ranks] = {key, value};
    }
    // The oracle: nlohmann's own string serialisation escapes exactly as ECMAScript does.
    std::string expected = "{";
    for (const auto& [ranks, member] : by_utf16)
      expected += (expected.size() > 1 ? "," : "") + json(member.first).dump() + ":" + json(member.second).dump();
    expected += "}";
    INFO(object.dump());
    REQUIRE(jcs::canonicalize(object) == expected);
  }
}
