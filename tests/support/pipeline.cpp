#include "support/pipeline.h"

#include <filesystem>

#include "engine/apply/step_runner.h"
#include "engine/checks/host_check.h"
#include "engine/config/config.h"
#include "engine/plan/planner.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/sysfs/sysfs_reader.h"

namespace virtform::testing {

Plan plan_in_process(Hypervisor& hypervisor, const std::string& host_root,
                     const std::vector<std::string>& paths) {
  RootedHostFiles files(host_root);
  Diagnostics diagnostics;
  Desired desired = load_config(paths, diagnostics);
  read_xml_fragments(desired, diagnostics);
  resolve_firmware(desired, files, diagnostics);
  check_host_files(desired, files, diagnostics);
  const Live live = observe(hypervisor, files, read_host_devices(host_root), desired);
  Plan plan = make_plan(desired, live, {}, hypervisor.uri(), diagnostics);
  seal(plan, desired, live);
  return plan;
}

bool apply_in_process(Hypervisor& hypervisor, const std::string& host_root, const Plan& plan) {
  RootedHostFiles files(host_root);
  SystemClock clock;
  const Live live = hypervisor.read_live();
  StepRunner runner(StepContext{plan, live, hypervisor, files, clock, nullptr});
  return execute(
             plan.steps, [&](const Step& step) { runner.run(step); }, 4, nullptr)
      .ok();
}

DemoHostCopy::DemoHostCopy(const std::string& prefix) : dir(prefix), root(dir / "root") {
  std::filesystem::copy(
      std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host", dir.path(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  hypervisor = std::make_unique<LibvirtHypervisor>("test://" + (dir / "host.xml"));
}

}  // namespace virtform::testing
