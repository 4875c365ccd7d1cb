// UCUM conversions for threshold rules (lib/units.hpp).
#include <catch2/catch.hpp>

#include "units.hpp"

using medtrail::units::convert;

TEST_CASE("temperatures convert between Cel and [degF] (and K), both ways", "[units]") {
  CHECK(*convert(100.4, "[degF]", "Cel", "body_temperature") == Approx(38.0).margin(1e-9));
  CHECK(*convert(98.6, "[degF]", "Cel", "body_temperature") == Approx(37.0).margin(1e-9));
  CHECK(*convert(37.5, "Cel", "[degF]", "body_temperature") == Approx(99.5).margin(1e-9));
  CHECK(*convert(-40, "Cel", "[degF]", "body_temperature") == Approx(-40).margin(1e-9));
  CHECK(*convert(310.15, "K", "Cel", "body_temperature") == Approx(37.0).margin(1e-9));
  for (double c : {25.0, 36.6, 38.25, 45.0})
    CHECK(*convert(*convert(c, "Cel", "[degF]", "body_temperature"), "[degF]", "Cel", "body_temperature") == Approx(c).margin(1e-9));
}

TEST_CASE("pressures convert between mm[Hg] and kPa", "[units]") {
  CHECK(*convert(120, "mm[Hg]", "kPa", "blood_pressure") == Approx(15.99864).margin(1e-6));
  CHECK(*convert(24, "kPa", "mm[Hg]", "blood_pressure") == Approx(180.0153).margin(1e-3));
}

TEST_CASE("glucose converts between mg/dL and mmol/L by its molar mass, and only glucose", "[units]") {
  CHECK(*convert(3.1, "mmol/L", "mg/dL", "glucose") == Approx(55.84836).margin(1e-6));
  CHECK(*convert(70, "mg/dL", "mmol/L", "glucose") == Approx(3.88552).margin(1e-5));
  // Another substance has another molar mass: no conversion rather than a wrong one.
  CHECK_FALSE(convert(3.1, "mmol/L", "mg/dL", "cholesterol"));
}

TEST_CASE("equal units pass through, unrelated units do not convert", "[units]") {
  CHECK(*convert(97, "%", "%", "spo2") == 97);
  CHECK_FALSE(convert(97, "%", "/min", "spo2"));
  CHECK_FALSE(convert(37, "Cel", "mm[Hg]", "body_temperature"));
  CHECK_FALSE(convert(5, "mg/dL", "Cel", "glucose"));
  CHECK_FALSE(convert(5, "", "Cel", "body_temperature"));
}
