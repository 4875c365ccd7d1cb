// Integer members of untrusted JSON (receipts, proofs, audit state files, headers read back
// from a file that may have been edited). nlohmann's get<std::uint64_t>() on a float such as
// 5e23 is undefined behaviour and on a negative number wraps, so every such member is checked
// first. A bad member throws std::out_of_range: callers already turn std::exception from a
// malformed document into a finding or a clean error.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace medtrail {

inline std::uint64_t unsigned_member(const nlohmann::json& object, const char* key) {
  const auto& v = object.at(key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  throw std::out_of_range(std::string("\"") + key + "\" must be a non-negative integer");
}

inline std::int64_t integer_member(const nlohmann::json& object, const char* key) {
  const auto& v = object.at(key);
  if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
  throw std::out_of_range(std::string("\"") + key + "\" must be an integer");
}

}  // namespace medtrail
