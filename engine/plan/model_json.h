#pragma once
// The model as JSON, for saved plans: a plan carries the VMs it will define, so that applying it
// later needs nothing but the plan and the host.

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/vm.h"

namespace virtform {

// The whole number at `key`, which must lie in [low, high]. get<T>() would convert 1e300, -1 or
// 2^40 into T with undefined or wrapped results; a plan file holding them is corrupt.
template <typename T>
T integer_at(const nlohmann::json& in, const char* key, T low = std::numeric_limits<T>::min(),
             T high = std::numeric_limits<T>::max()) {
  const nlohmann::json& value = in.at(key);
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (std::cmp_greater_equal(number, low) && std::cmp_less_equal(number, high))
      return static_cast<T>(number);
  } else if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    if (std::cmp_greater_equal(number, low) && std::cmp_less_equal(number, high))
      return static_cast<T>(number);
  }
  // Only a number or string is shown: dumping a deeply nested array would recurse as deep.
  throw std::runtime_error(std::string(key) + " must be a whole number from " +
                           std::to_string(low) + " to " + std::to_string(high) + "; got " +
                           (value.is_primitive() ? value.dump() : value.type_name()));
}

// A list of model values as a JSON array, and back.
template <typename T, typename Convert>
nlohmann::json list_json(const std::vector<T>& items, Convert convert) {
  nlohmann::json out = nlohmann::json::array();
  for (const T& item : items) out.push_back(convert(item));
  return out;
}

template <typename T, typename Convert>
std::vector<T> list_from(const nlohmann::json& in, Convert convert) {
  std::vector<T> items;
  for (const nlohmann::json& item : in) items.push_back(convert(item));
  return items;
}

nlohmann::json vm_to_json(const Vm& vm);
nlohmann::json disk_json(const Disk& disk);
nlohmann::json nic_json(const Nic& nic);
nlohmann::json usb_json(const UsbDevice& device);
nlohmann::json input_json(const InputDevice& input);
// Throws on a missing field or an unknown enum value (a corrupt or foreign plan file).
Vm vm_from_json(const nlohmann::json& json);
Disk disk_from(const nlohmann::json& in);
Nic nic_from(const nlohmann::json& in);
UsbDevice usb_from(const nlohmann::json& in);
InputDevice input_from(const nlohmann::json& in);

}  // namespace virtform
