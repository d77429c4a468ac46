#include "engine/plan/planner.h"

#include "engine/checks/dsm.h"
#include "engine/checks/passthrough.h"
#include "engine/graph/resource_graph.h"

namespace virtform {

namespace {

std::set<std::string> existing_images(const HostFiles& files, const Desired& desired) {
  std::set<std::string> existing;
  for (const Vm& vm : desired.vms)
    for (const Disk& disk : vm.disks)
      if (disk.kind == DiskSource::file && files.exists(disk.source)) existing.insert(disk.source);
  return existing;
}

}  // namespace

Live observe(Hypervisor& hypervisor, const HostFiles& files, HostDevices devices,
             const Desired& desired) {
  return observe(hypervisor.read_live(), files, std::move(devices), desired);
}

Live observe(Live libvirt, const HostFiles& files, HostDevices devices, const Desired& desired) {
  Live live = std::move(libvirt);
  live.bridges = devices.bridges;
  live.devices = std::move(devices);
  live.existing_files = existing_images(files, desired);
  return live;
}

Plan make_plan(const Desired& desired, const Live& live, const DiffOptions& options,
               const std::string& uri, Diagnostics diagnostics) {
  Plan plan;
  plan.uri = uri;
  check_passthrough(desired, live, live.devices, diagnostics);
  plan.changes = diff(desired, live, options, diagnostics);
  check_dsm_guests(desired, live, plan.changes, diagnostics);
  if (!has_errors(diagnostics)) plan.steps = order_steps(plan.changes, diagnostics);
  plan.diagnostics = std::move(diagnostics);
  if (has_errors(plan.diagnostics)) plan.steps.clear();
  return plan;
}

void seal(Plan& plan, const Desired& desired, const Live& live) {
  plan.fingerprint = fingerprint(desired, live);
  plan.config_digest = config_digest(desired);
}

}  // namespace virtform
