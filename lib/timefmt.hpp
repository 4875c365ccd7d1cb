// RFC 3339 instants, kept internally as milliseconds since the Unix epoch (UTC).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace medtrail {

// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; fractions beyond milliseconds are
// truncated. nullopt for anything else, including impossible dates and leap seconds.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);
// "2026-03-01T10:15:00.120Z": always UTC, always three fraction digits.
std::string format_rfc3339_ms(std::int64_t unix_ms);
// The same text into `out`, without allocating (NUL-terminated); returns its length.
inline constexpr std::size_t kRfc3339MsBufferSize = 48;
std::size_t format_rfc3339_ms_to(std::int64_t unix_ms, std::span<char, kRfc3339MsBufferSize> out);
std::int64_t now_unix_ms();
// "90s", "15m", "2h", "7d" or a bare number of seconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

}  // namespace medtrail
