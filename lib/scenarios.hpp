// Internal to the simulator: the five uses of PRODUCT.md as planted scenarios (scenarios.cpp).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulate.hpp"

namespace medtrail::simulate::detail {

const std::vector<std::string>& use_scenarios();
bool is_use_scenario(const std::string& name);
// Throw Error(usage) when the options cannot hold the scenario.
std::vector<DeviceInfo> use_devices(const Options& options);
std::uint64_t use_generate(const Options& options, const std::function<void(const std::string&)>& emit, nlohmann::json* truth);

}  // namespace medtrail::simulate::detail
