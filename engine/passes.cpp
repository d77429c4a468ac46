#include "engine/passes.h"

#include <set>

#include "engine/checks/cpu_pinning.h"
#include "engine/checks/dsm.h"
#include "engine/checks/host_check.h"
#include "engine/checks/hugepages.h"
#include "engine/checks/passthrough.h"
#include "engine/checks/usb_devices.h"
#include "engine/config/config.h"
#include "engine/config/console_password.h"
#include "engine/graph/resource_graph.h"

namespace virtform {

namespace {

// The passes after loading, for either kind of source.
Desired check_config(Desired desired, const HostFiles& files, FragmentReader read_fragments,
                     Diagnostics& diagnostics) {
  // A fragment taking what a key owns is an error of the config, found before anything is read.
  if (read_fragments) read_fragments(desired, diagnostics);
  // UEFI paths left out come from QEMU's descriptors, so that the next pass checks them too.
  resolve_firmware(desired, files, diagnostics);
  // What the config names on the host must be there (or be creatable) before a plan relies on it.
  check_host_files(desired, files, diagnostics);
  // A console's password is read from its file or variable, to be compared and written.
  resolve_console_passwords(desired, files, diagnostics);
  return desired;
}

std::set<std::string> existing_images(const HostFiles& files, const Desired& desired) {
  std::set<std::string> existing;
  for (const Vm& vm : desired.vms)
    for (const Disk& disk : vm.disks)
      if (disk.kind == DiskSource::file && files.exists(disk.source)) existing.insert(disk.source);
  return existing;
}

// The checks that need the live state, the diff and the order of its steps.
Plan plan_changes(const Desired& desired, const Live& live, const DiffOptions& options,
                  Diagnostics diagnostics) {
  Plan plan;
  // What a guest is handed (PCI devices, whole disks) must be safe to take from the host.
  check_passthrough(desired, live, live.devices, diagnostics);
  // A guest on huge pages starts only where the host has reserved enough of them.
  check_hugepages(desired, live, diagnostics);
  // Pins name host CPUs, which must be there and online.
  check_cpu_pinning(desired, live.devices.cpus, diagnostics);
  // A guest's USB devices must be plugged in, each found once and held by one guest.
  check_usb_devices(desired, live, diagnostics);
  // What apply must do, per resource: typed operations, display fields and their disruption.
  plan.changes = diff(desired, live, options, diagnostics);
  // A DSM guest's loader must be able to map the disks as the changes lay them out.
  check_dsm_guests(desired, live, plan.changes, diagnostics);
  // The steps in dependency order (deletes in reverse), only for a plan that can be applied.
  if (!has_errors(diagnostics)) plan.steps = order_steps(plan.changes, diagnostics);
  plan.diagnostics = std::move(diagnostics);
  // Whichever pass found an error, a plan with errors has no steps.
  if (has_errors(plan.diagnostics)) plan.steps.clear();
  return plan;
}

}  // namespace

Desired read_config(const std::vector<std::string>& paths, const HostFiles& files,
                    FragmentReader read_fragments, Diagnostics& diagnostics) {
  // Every file is read, and every problem of each reported at once, not just the first.
  Desired desired = load_config(paths, diagnostics);
  return check_config(std::move(desired), files, read_fragments, diagnostics);
}

Desired read_config_text(const std::string& text, const std::string& source, const HostFiles& files,
                         FragmentReader read_fragments, Diagnostics& diagnostics) {
  // As read_config, for a file's text already in memory.
  Desired desired = load_config_text(text, source, diagnostics);
  return check_config(std::move(desired), files, read_fragments, diagnostics);
}

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
  // A USB device found by port or serial is given the bus and device number it has now; the
  // rest of the passes see it as libvirt will.
  const std::optional<Desired> placed = place_usb_devices(desired, live.devices.usb, diagnostics);
  Plan plan = plan_changes(placed ? *placed : desired, live, options, std::move(diagnostics));
  plan.uri = uri;
  return plan;
}

Planned plan_config(const Desired& desired, Live libvirt, HostDevices devices,
                    const HostFiles& files, const DiffOptions& options, const std::string& uri,
                    Diagnostics diagnostics) {
  // The host as the config meets it: libvirt's domains, the host's devices, which images exist.
  Live live = observe(std::move(libvirt), files, std::move(devices), desired);
  // Passthrough and DSM checks, the diff and the order of its steps.
  Plan plan = make_plan(desired, live, options, uri, std::move(diagnostics));
  return {std::move(live), std::move(plan)};
}

void seal(Plan& plan, const Desired& desired, const Live& live) {
  plan.fingerprint = fingerprint(desired, live);
  plan.config_digest = config_digest(desired);
}

}  // namespace virtform
