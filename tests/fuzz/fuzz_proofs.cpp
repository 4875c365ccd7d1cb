// Proofs from outside: C2SP tlog-proof text (parse, re-serialise, verify) and consistency
// proof objects (offline verification): findings or a clean error, never a crash.
#include <cstdint>
#include <string_view>

#include "error.hpp"
#include "proofs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed, arbitrary authority: signatures fail, the parsing and proof code still runs.
  medtrail::PublicIdentity authority{"hospital", "authority", {}, std::nullopt};
  auto ignore = [](const medtrail::Finding&) {};
  try {
    auto proof = medtrail::TlogProof::parse(text);
    auto again = medtrail::TlogProof::parse(proof.serialize());
    if (again.serialize() != proof.serialize() || again.index != proof.index || again.inclusion != proof.inclusion)
      __builtin_trap();
    std::uint64_t findings = 0;
    (void)medtrail::verify_tlog_proof(proof, authority, findings, ignore);
  } catch (const medtrail::Error&) {
  }
  auto object = nlohmann::json::parse(text, nullptr, false);
  if (object.is_object()) {
    try {
      (void)medtrail::verify_consistency_proof(object, std::nullopt, ignore);
    } catch (const medtrail::Error&) {
    }
  }
  return 0;
}
