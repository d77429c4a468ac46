#pragma once
// The model as JSON, for saved plans: a plan carries the VMs it will define, so that applying it
// later needs nothing but the plan and the host.

#include <nlohmann/json.hpp>

#include "engine/model/vm.h"

namespace virtform {

nlohmann::json vm_to_json(const Vm& vm);
// Throws on a missing field or an unknown enum value (a corrupt or foreign plan file).
Vm vm_from_json(const nlohmann::json& json);

}  // namespace virtform
