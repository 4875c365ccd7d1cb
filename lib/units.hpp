// UCUM unit conversion for the reading types medtrail accepts (docs/FORMATS.md, "Input
// readings"): a threshold rule written in one unit judges readings that came in another.
#pragma once
#include <optional>
#include <string_view>

namespace medtrail::units {

// 1 mmol/L of glucose (C6H12O6, 180.156 g/mol) is 18.0156 mg/dL; the factor belongs to the
// substance, so mass <-> molar concentration converts only for glucose readings.
inline constexpr double kGlucoseMgPerDlPerMmolPerL = 18.0156;

// `value` in UCUM unit `from` expressed in `to`, for a reading of `type`; the value itself when
// the units are equal; nullopt when there is no conversion between them for that type.
// Pairs: Cel <-> [degF] (and K) for temperatures, mm[Hg] <-> kPa for pressures, mg/dL <->
// mmol/L for glucose.
std::optional<double> convert(double value, std::string_view from, std::string_view to, std::string_view type);

}  // namespace medtrail::units
