// Hex and base64 (RFC 4648, standard alphabet, padded) for hashes, keys and signatures.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace medtrail {

using Bytes = std::vector<std::uint8_t>;
using Hash = std::array<std::uint8_t, 32>;

std::string to_hex(std::span<const std::uint8_t> data);
// Accepts lower or upper case; nullopt on odd length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view text);
std::optional<Hash> hash_from_hex(std::string_view text);

std::string base64_encode(std::span<const std::uint8_t> data);
// Strict: standard alphabet, required padding, no whitespace.
std::optional<Bytes> base64_decode(std::string_view text);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace medtrail
