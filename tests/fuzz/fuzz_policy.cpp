// YAML policies (`policy add`, `audit --policy`) and their canonical JSON form read back from
// the ledger. A policy that parses must survive the round trip YAML -> canonical JSON ->
// from_json unchanged, since the policy root of every block is computed from that form.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "error.hpp"
#include "policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto parsed = medtrail::policy::parse_yaml(text, "fuzz.yaml");
    auto canonical = parsed.canonical();
    auto again = medtrail::policy::from_json(nlohmann::json::parse(canonical));
    if (again.canonical() != canonical || again.sha256() != parsed.sha256()) std::abort();
  } catch (const medtrail::Error&) {
  }
  // The same bytes as the JSON a tampered ledger could hold.
  auto value = nlohmann::json::parse(text, nullptr, false);
  if (!value.is_discarded()) {
    try {
      auto policy = medtrail::policy::from_json(value);
      (void)medtrail::policy::from_json(nlohmann::json::parse(policy.canonical()));
    } catch (const medtrail::Error&) {
    }
  }
  return 0;
}
