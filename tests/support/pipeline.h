#pragma once
// The stages `virtform plan` and `virtform apply` run, in-process, for tests that drive the whole
// pipeline against libvirt's test driver and a host tree.

#include <memory>
#include <string>
#include <vector>

#include "engine/plan/plan.h"
#include "engine/system/hypervisor.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/temp_dir.h"

namespace virtform::testing {

// Config -> firmware and host-file checks -> live state (libvirt + the sysfs under `host_root`)
// -> plan, sealed with its fingerprint as a saved plan is. Diagnostics are in the plan.
Plan plan_in_process(Hypervisor& hypervisor, const std::string& host_root,
                     const std::vector<std::string>& paths);

// Carries the plan out against the live state read now; true when every step succeeded.
bool apply_in_process(Hypervisor& hypervisor, const std::string& host_root, const Plan& plan);

// The demo host (examples/demo-host) copied aside, as apply creates image files under its root,
// with libvirt's test driver reading its host.xml.
struct DemoHostCopy {
  explicit DemoHostCopy(const std::string& prefix);

  Plan plan(const std::string& config) { return plan_in_process(*hypervisor, root, {config}); }
  bool apply(const Plan& plan) { return apply_in_process(*hypervisor, root, plan); }
  // Plans a config given as text (saved as a.toml in dir, so its locations name that file).
  Plan plan_of(const std::string& toml) { return plan(dir.write_file("a.toml", toml)); }

  TempDir dir;
  std::string root;  // dir/root
  std::unique_ptr<LibvirtHypervisor> hypervisor;
};

}  // namespace virtform::testing
