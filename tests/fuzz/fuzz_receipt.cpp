// Offline receipt verification of untrusted JSON: findings or a clean error, never a crash.
#include <cstdint>

#include "error.hpp"
#include "verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto receipt = nlohmann::json::parse(data, data + size, nullptr, false);
  if (receipt.is_discarded()) return 0;
  try {
    (void)medtrail::verify_receipt(receipt, std::nullopt, [](const medtrail::Finding&) {});
  } catch (const medtrail::Error&) {
  }
  return 0;
}
