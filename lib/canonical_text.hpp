// Walking canonical (RFC 8785) JSON text without parsing it into a tree: members come in
// order, with no whitespace. Used where a json tree per record showed in verify's profile
// (lib/stored_reading.cpp puts a reading's cut members back; lib/trace_index.cpp reads the
// few members trace indexes). Every function refuses (npos, false) what it cannot walk.
#pragma once
#include <cstddef>
#include <cstring>
#include <string_view>

namespace medtrail::canonical_text {

inline constexpr auto npos = std::string_view::npos;

// Index just past the JSON string starting at `at` (a quote), or npos.
inline std::size_t skip_string(std::string_view text, std::size_t at) {
  // The closing quote is the first one after an even run of backslashes (memchr is vectorised).
  for (std::size_t from = at + 1; from < text.size();) {
    const void* found = std::memchr(text.data() + from, '"', text.size() - from);
    if (!found) return npos;
    std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(found) - text.data());
    std::size_t backslashes = 0;
    while (quote - backslashes > at + 1 && text[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    from = quote + 1;
  }
  return npos;
}

// Index just past the JSON value starting at `at`, or npos. Canonical text has no whitespace;
// scalars other than strings end at the next delimiter.
inline std::size_t skip_value(std::string_view text, std::size_t at) {
  if (at >= text.size()) return npos;
  if (text[at] == '"') return skip_string(text, at);
  if (text[at] == '{' || text[at] == '[') {
    int depth = 0;
    for (std::size_t i = at; i < text.size();) {
      char c = text[i];
      if (c == '"') {
        i = skip_string(text, i);
        if (i == npos) return npos;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return npos;
  }
  std::size_t end = at;
  while (end < text.size() && text[end] != ',' && text[end] != '}' && text[end] != ']') ++end;
  return end == at || end == text.size() ? npos : end;
}

struct Member {
  std::string_view key;    // as written, between the quotes
  std::string_view value;  // as written
  std::string_view whole;  // "key":value
};

// Calls visit(Member) for each top-level member of the canonical object `text`, in order;
// false when `text` is not one object (visit may also stop the walk by returning false).
template <typename Visit>
bool for_each_member(std::string_view text, Visit&& visit) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return false;
  if (text == "{}") return true;
  std::size_t at = 1;
  while (true) {
    if (text[at] != '"') return false;
    std::size_t key_end = skip_string(text, at);
    if (key_end == npos || key_end >= text.size() || text[key_end] != ':') return false;
    std::size_t value_end = skip_value(text, key_end + 1);
    if (value_end == npos || value_end >= text.size()) return false;
    Member m{text.substr(at + 1, key_end - at - 2), text.substr(key_end + 1, value_end - key_end - 1),
             text.substr(at, value_end - at)};
    if (!visit(m)) return false;
    if (text[value_end] == '}') return value_end + 1 == text.size();
    if (text[value_end] != ',') return false;
    at = value_end + 1;
  }
}

}  // namespace medtrail::canonical_text
