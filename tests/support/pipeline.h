#pragma once
// The stages `virtform plan` and `virtform apply` run, in-process, for tests that drive the whole
// pipeline against libvirt's test driver and a host tree.

#include <string>
#include <vector>

#include "engine/plan/plan.h"
#include "engine/system/hypervisor.h"

namespace virtform::testing {

// Config -> firmware and host-file checks -> live state (libvirt + the sysfs under `host_root`)
// -> plan, sealed with its fingerprint as a saved plan is. Diagnostics are in the plan.
Plan plan_in_process(Hypervisor& hypervisor, const std::string& host_root,
                     const std::vector<std::string>& paths);

// Carries the plan out against the live state read now; true when every step succeeded.
bool apply_in_process(Hypervisor& hypervisor, const std::string& host_root, const Plan& plan);

}  // namespace virtform::testing
