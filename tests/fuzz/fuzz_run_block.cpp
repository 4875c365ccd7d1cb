// The packed entries of a merged run's block (lib/hash_runs.hpp, `more` since schema 17). The
// bytes come from the ledger file, which a hostile writer may have chosen: reading them must
// visit entries or stop at a fault, never crash or loop. Whatever was read, written again it
// reads back the same and is never longer; and in a block whose keys are in strictly
// increasing order, as merges write them, every key is found with its own index.
//
// Input: [key size byte][packed bytes]; the key size is the byte mod 17 (0 included, which
// decodes nothing).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "hash_runs.hpp"

namespace {
using Entries = std::vector<std::pair<std::vector<std::uint8_t>, std::int64_t>>;

Entries read_all(std::span<const std::uint8_t> more, std::size_t key_size, bool& well_formed) {
  Entries out;
  well_formed = medtrail::run_blocks::visit(more, key_size, [&](std::span<const std::uint8_t> key, std::int64_t idx) {
    out.emplace_back(std::vector<std::uint8_t>(key.begin(), key.end()), idx);
  });
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t key_size = data[0] % 17;
  const std::span<const std::uint8_t> more(data + 1, size - 1);

  bool well_formed = false;
  const auto entries = read_all(more, key_size, well_formed);
  if (key_size == 0 && !entries.empty()) __builtin_trap();
  for (const auto& [key, idx] : entries)
    if (key.size() != key_size || idx < 0) __builtin_trap();

  std::vector<std::uint8_t> written;
  for (const auto& [key, idx] : entries) medtrail::run_blocks::append(written, key, idx);
  bool rewritten_well_formed = false;
  if (read_all(written, key_size, rewritten_well_formed) != entries || !rewritten_well_formed) __builtin_trap();
  if (written.size() > more.size()) __builtin_trap();
  if (well_formed && written.size() == more.size() && !std::equal(written.begin(), written.end(), more.begin()))
    __builtin_trap();  // the shortest encoding of the same entries is unique

  bool increasing = true;
  for (std::size_t i = 1; i < entries.size(); ++i) increasing = increasing && entries[i - 1].first < entries[i].first;
  if (!increasing) return 0;
  for (const auto& [key, idx] : entries)
    if (medtrail::run_blocks::find(more, key) != std::optional<std::int64_t>(idx)) __builtin_trap();
  if (!entries.empty()) {
    // A key just below the first is not there.
    auto below = entries.front().first;
    bool can_lower = false;
    for (auto it = below.rbegin(); it != below.rend(); ++it)
      if (*it > 0) {
        --*it;
        can_lower = true;
        break;
      }
    if (can_lower && medtrail::run_blocks::find(more, below)) __builtin_trap();
  }
  return 0;
}
