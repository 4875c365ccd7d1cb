// RFC 8785 JSON Canonicalization Scheme: the one byte string that every record, block header
// and signed object is hashed and signed as.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace medtrail::jcs {

// Canonical UTF-8 text. Throws Error(usage) for what JCS cannot represent: NaN/Infinity,
// integers beyond 2^53 (they would round silently), invalid UTF-8, binary values.
std::string canonicalize(const nlohmann::json& value);
// ECMAScript Number.prototype.toString formatting (RFC 8785 section 3.2.2.3).
std::string format_number(double value);

// Appends `s` as a canonical JSON string (quoted, escaped); throws Error(usage) for invalid
// UTF-8. For writers of objects whose member order is fixed (lib/ledger.cpp's envelopes).
void append_string(std::string& out, std::string_view s);
// Appends the lowercase hex of `bytes` as a JSON string.
void append_hex_string(std::string& out, std::span<const std::uint8_t> bytes);

// The canonical text of one object built member by member, without a json tree: for the
// record envelope, hashed once per record by ingest and verify, whose members are mostly
// strings the caller already holds. Same text as canonicalize() of the equivalent object.
class ObjectWriter {
 public:
  // A later member of the same name replaces the earlier one, as json's operator[] does.
  void string(std::string_view key, std::string_view value);
  void hex(std::string_view key, std::span<const std::uint8_t> bytes);  // a string of lowercase hex
  void value(std::string_view key, const nlohmann::json& value);
  std::string finish();  // members in RFC 8785 order; throws like canonicalize()

 private:
  // Names and canonical values are written into one buffer, not one string per member.
  struct Member {
    std::size_t key_at = 0, key_size = 0, value_at = 0, value_size = 0;
  };
  std::string_view key_of(const Member& m) const;
  void begin_value(std::string_view key);  // the member being written is members_.back()
  void end_value();
  std::string arena_;
  std::vector<Member> members_;
};

}  // namespace medtrail::jcs
