#include "support/pipeline.h"

#include <filesystem>

#include "engine/apply/step_runner.h"
#include "engine/passes.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/sysfs/sysfs_reader.h"

namespace virtform::testing {

Plan plan_in_process(Hypervisor& hypervisor, const std::string& host_root,
                     const std::vector<std::string>& paths) {
  RootedHostFiles files(host_root);
  Diagnostics diagnostics;
  const Desired desired = read_config(paths, files, read_xml_fragments, diagnostics);
  Planned planned = plan_config(desired, hypervisor.read_live(), read_host_devices(host_root),
                                files, {}, hypervisor.uri(), diagnostics);
  seal(planned.plan, desired, planned.live);
  return std::move(planned.plan);
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
