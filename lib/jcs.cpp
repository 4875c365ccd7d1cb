#include "jcs.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "error.hpp"

namespace medtrail::jcs {
namespace {

using nlohmann::json;

// 2^53, compared as an integer: converting 2^53 + 1 to double rounds it to 2^53.
constexpr std::int64_t kMaxSafeInteger = std::int64_t(1) << 53;

[[noreturn]] void fail(const std::string& why) { throw Error(ExitCode::usage, "cannot canonicalise JSON: " + why); }

// JCS reads every number as an IEEE double. An integer beyond 2^53 is kept only when that
// reading does not change it: 9007199254740993 would silently become ...992 and is refused,
// while 11222222222222222000 (how JCS itself prints 1.1222222222222222e19) is its own
// canonical form, so canonical text always canonicalises to itself.
std::string large_integer(const std::string& decimal, double as_double) {
  std::string canonical = format_number(as_double);
  if (canonical != decimal) fail("integer " + decimal + " exceeds 2^53 and would change to " + canonical);
  return canonical;
}

// Validates UTF-8 and returns the next code point; advances i.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
  if (extra < 0) fail("invalid UTF-8");
  char32_t cp = c & (0x3f >> extra);
  for (int k = 1; k <= extra; ++k) {
    if (i + static_cast<std::size_t>(k) >= s.size()) fail("invalid UTF-8");
    unsigned char cc = byte(i + static_cast<std::size_t>(k));
    if ((cc & 0xc0) != 0x80) fail("invalid UTF-8");
    cp = cp << 6 | (cc & 0x3f);
  }
  static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail("invalid UTF-8");
  i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

// Member names sort by their UTF-16 code units (RFC 8785 section 3.2.3).
std::u16string utf16_of(std::string_view s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = next_code_point(s, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void write_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Most strings (hex digests, names, times) are ASCII with nothing to escape: copied whole,
  // which made this function the largest single cost of hashing an envelope.
  if (std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
      })) {
    out += s;
    out.push_back('"');
    return;
  }
  for (std::size_t i = 0; i < s.size();) {
    std::size_t start = i;
    char32_t cp = next_code_point(s, i);  // validates as it goes
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20) {
          out += "\\u00";
          out.push_back(kHex[cp >> 4]);
          out.push_back(kHex[cp & 0xf]);
        } else {
          out.append(s, start, i - start);
        }
    }
  }
  out.push_back('"');
}

void write_value(const json& v, std::string& out);

// UTF-8 byte order is UTF-16 order too unless a key holds a character above U+FFFF (a 4-byte
// sequence, lead byte 0xF0-0xF4): only then must members be sorted by their UTF-16 form.
bool beyond_bmp(std::string_view key) {
  return std::any_of(key.begin(), key.end(), [](char c) { return static_cast<unsigned char>(c) >= 0xf0; });
}

void write_object(const json& v, std::string& out) {
  std::vector<json::const_iterator> members;
  members.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) members.push_back(it);
  // nlohmann orders keys by UTF-8 bytes.
  if (std::any_of(members.begin(), members.end(), [&](const auto& it) { return beyond_bmp(it.key()); })) {
    std::vector<std::pair<std::u16string, json::const_iterator>> keyed;
    keyed.reserve(members.size());
    for (const auto& it : members) keyed.emplace_back(utf16_of(it.key()), it);
    std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < keyed.size(); ++i) members[i] = keyed[i].second;
  }
  out.push_back('{');
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    write_string(members[i].key(), out);
    out.push_back(':');
    write_value(members[i].value(), out);
  }
  out.push_back('}');
}

void write_value(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::null: out += "null"; break;
    case json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case json::value_t::string: write_string(v.get_ref<const std::string&>(), out); break;
    case json::value_t::number_integer: {
      auto n = v.get<std::int64_t>();
      if (n > kMaxSafeInteger || n < -kMaxSafeInteger) out += large_integer(std::to_string(n), static_cast<double>(n));
      else out += std::to_string(n);
      break;
    }
    case json::value_t::number_unsigned: {
      auto n = v.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(kMaxSafeInteger)) out += large_integer(std::to_string(n), static_cast<double>(n));
      else out += std::to_string(n);
      break;
    }
    case json::value_t::number_float: out += format_number(v.get<double>()); break;
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        write_value(e, out);
      }
      out.push_back(']');
      break;
    }
    case json::value_t::object: write_object(v, out); break;
    default: fail("binary or discarded values have no JSON form");
  }
}

}  // namespace

std::string format_number(double value) {
  if (!std::isfinite(value)) fail("NaN and Infinity are not JSON numbers");
  if (value == 0) return "0";  // also -0
  // Shortest round-trip digits and decimal exponent from std::to_chars' scientific form.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (ec != std::errc()) fail("number formatting failed");
  std::string sci(buf, end);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  auto e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exponent = std::stoi(sci.substr(e + 1));
  // ECMAScript: value = 0.d1d2...dk * 10^n with n = exponent + 1.
  int k = static_cast<int>(digits.size());
  int n = exponent + 1;
  std::string out = negative ? "-" : "";
  if (k <= n && n <= 21) {
    out += digits + std::string(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
  } else {
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += "e";
    out += n - 1 >= 0 ? "+" : "-";
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

std::string_view ObjectWriter::key_of(const Member& m) const {
  return std::string_view(arena_).substr(m.key_at, m.key_size);
}

void ObjectWriter::begin_value(std::string_view key) {
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (key_of(members_[i]) == key) {
      // Replaced: the old text stays in the arena, unreferenced.
      std::swap(members_[i], members_.back());
      members_.back().value_at = arena_.size();
      return;
    }
  Member m;
  m.key_at = arena_.size();
  m.key_size = key.size();
  arena_ += key;
  m.value_at = arena_.size();
  members_.push_back(m);
}

void ObjectWriter::end_value() { members_.back().value_size = arena_.size() - members_.back().value_at; }

void ObjectWriter::string(std::string_view key, std::string_view value) {
  begin_value(key);
  write_string(value, arena_);
  end_value();
}

void ObjectWriter::hex(std::string_view key, std::span<const std::uint8_t> bytes) {
  begin_value(key);
  append_hex_string(arena_, bytes);
  end_value();
}

void append_string(std::string& out, std::string_view s) { write_string(s, out); }

void append_hex_string(std::string& out, std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto at = out.size();
  out.resize(at + 2 * bytes.size() + 2);
  char* to = out.data() + at;
  *to++ = '"';
  for (auto b : bytes) {
    *to++ = kHex[b >> 4];
    *to++ = kHex[b & 0xf];
  }
  *to = '"';
}

void ObjectWriter::value(std::string_view key, const json& value) {
  begin_value(key);
  write_value(value, arena_);
  end_value();
}

std::string ObjectWriter::finish() {
  if (std::any_of(members_.begin(), members_.end(), [&](const Member& m) { return beyond_bmp(key_of(m)); })) {
    std::vector<std::pair<std::u16string, Member>> keyed;
    for (const auto& m : members_) keyed.emplace_back(utf16_of(key_of(m)), m);
    std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < keyed.size(); ++i) members_[i] = keyed[i].second;
  } else {
    std::sort(members_.begin(), members_.end(),
              [&](const Member& a, const Member& b) { return key_of(a) < key_of(b); });
  }
  std::string out;
  out.reserve(arena_.size() + 4 * members_.size() + 2);
  out.push_back('{');
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out.push_back(',');
    write_string(key_of(members_[i]), out);
    out.push_back(':');
    out.append(arena_, members_[i].value_at, members_[i].value_size);
  }
  out.push_back('}');
  members_.clear();
  arena_.clear();
  return out;
}

std::string canonicalize(const json& value) {
  std::string out;
  out.reserve(256);
  write_value(value, out);
  return out;
}

}  // namespace medtrail::jcs
