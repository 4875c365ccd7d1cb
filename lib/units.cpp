#include "units.hpp"

namespace medtrail::units {
namespace {

// Temperatures are affine, so they go through kelvin: K = a * value + b.
struct Affine {
  std::string_view unit;
  double scale, offset;
};
constexpr Affine kTemperatures[] = {{"K", 1.0, 0.0}, {"Cel", 1.0, 273.15}, {"[degF]", 5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0}};

// Pressures are linear: pascals per unit (UCUM: m[Hg] = 133.3220 kPa).
struct Linear {
  std::string_view unit;
  double base_per_unit;
};
constexpr Linear kPressures[] = {{"Pa", 1.0}, {"kPa", 1000.0}, {"mm[Hg]", 133.3220}};

template <typename T, std::size_t N>
const T* find(const T (&table)[N], std::string_view unit) {
  for (const auto& entry : table)
    if (entry.unit == unit) return &entry;
  return nullptr;
}

}  // namespace

std::optional<double> convert(double value, std::string_view from, std::string_view to, std::string_view type) {
  if (from == to) return value;
  const auto *tf = find(kTemperatures, from), *tt = find(kTemperatures, to);
  if (tf && tt) return (tf->scale * value + tf->offset - tt->offset) / tt->scale;
  const auto *pf = find(kPressures, from), *pt = find(kPressures, to);
  if (pf && pt) return value * pf->base_per_unit / pt->base_per_unit;
  if (type == "glucose") {
    if (from == "mmol/L" && to == "mg/dL") return value * kGlucoseMgPerDlPerMmolPerL;
    if (from == "mg/dL" && to == "mmol/L") return value / kGlucoseMgPerDlPerMmolPerL;
  }
  return std::nullopt;
}

}  // namespace medtrail::units
