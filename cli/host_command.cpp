// virtform host: what the host has for passthrough, and who claims it.

#include <iostream>

#include "cli/commands.h"
#include "engine/checks/host_inventory.h"
#include "engine/render/host_inventory.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"

namespace virtform {

int run_host(const CommonOptions& options, const HostOptions& host_options) {
  Session session = open_session(options, /*config_required=*/false);
  // The inventory is useful even with a broken config: claims come from what could be read.
  std::cerr << render_diagnostics(session.diagnostics, session.style());
  const HostDevices devices = read_host_devices(session.host_root);
  Live live;
  if (!host_options.offline)
    live = LibvirtHypervisor(session.uri, read_threads(options)).read_live();
  const HostInventory inventory = build_host_inventory(devices, session.desired, live);
  std::cout << (host_options.json ? render_host_json(inventory) : render_host_text(inventory));
  return kExitOk;
}

}  // namespace virtform
