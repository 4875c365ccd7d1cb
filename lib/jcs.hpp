// RFC 8785 JSON Canonicalization Scheme: the one byte string that every record, block header
// and signed object is hashed and signed as.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace medtrail::jcs {

// Canonical UTF-8 text. Throws Error(usage) for what JCS cannot represent: NaN/Infinity,
// integers beyond 2^53 (they would round silently), invalid UTF-8, binary values.
std::string canonicalize(const nlohmann::json& value);
// ECMAScript Number.prototype.toString formatting (RFC 8785 section 3.2.2.3).
std::string format_number(double value);

}  // namespace medtrail::jcs
