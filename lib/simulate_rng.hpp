// Internal to the simulator (simulate.cpp, scenarios.cpp, and bench_contacts' walks): the
// platform-independent PRNG and the small formatting helpers both generators share.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace medtrail::simulate::detail {

// splitmix64: tiny, fast, and the same on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return uniform() < p; }
  // Irwin-Hall approximation of a standard normal: pure arithmetic, so bit-identical
  // everywhere, and bounded to [-3, 3], which the scenarios rely on to keep background
  // readings clear of their rules' thresholds.
  double normal() { return uniform() + uniform() + uniform() + uniform() + uniform() + uniform() - 3.0; }

 private:
  std::uint64_t state_;
};

// Dividing by a power of ten (not multiplying by 0.1) gives the double nearest the decimal.
inline double round_to(double value, double scale) { return std::round(value * scale) / scale; }

inline std::string numbered(const char* prefix, std::uint64_t n, int width) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%0*llu", prefix, width, static_cast<unsigned long long>(n));
  return buf;
}

inline std::uint64_t device_seed(std::uint64_t seed, std::uint64_t ordinal) {
  return seed * 0x100000001b3ULL ^ (ordinal + 1) * 0x9e3779b97f4a7c15ULL;
}

}  // namespace medtrail::simulate::detail
