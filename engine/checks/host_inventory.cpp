#include "engine/checks/host_inventory.h"

#include <set>

#include "engine/checks/passthrough.h"
#include "engine/model/text.h"
#include "engine/plan/disk_layout.h"

namespace virtform {

namespace {

InventoryDevice inventory_device(const PciFunction& function, const Claims& claims) {
  return {function, pci_class_name(function.class_code), claims.pci_labels(function.address)};
}

// Unclaimed groups get a hint for choosing devices; claimed ones are judged for each claimant.
void judge(const HostDevices& host, const Claims& claims, InventoryGroup& group) {
  std::set<std::string> claimants;
  std::size_t endpoints = 0;
  for (const auto& device : group.devices) {
    claimants.insert(device.claimed_by.begin(), device.claimed_by.end());
    if (!device.function.is_bridge) ++endpoints;
  }
  if (claimants.empty()) {
    group.verdict = endpoints == 0   ? "bridges only"
                    : endpoints == 1 ? "isolated: can be passed alone"
                                     : "shared by " + std::to_string(endpoints) +
                                           " endpoints: pass them together";
    return;
  }
  std::vector<std::string> verdicts;
  for (const auto& claimant : claimants) {
    const auto blockers = group_blockers(host, group.number, claimant, claims);
    if (blockers.empty()) {
      verdicts.push_back("viable for " + claimant);
      continue;
    }
    group.viable = false;
    std::vector<std::string> listed;
    for (const auto& blocker : blockers) {
      listed.push_back(blocker.function->address + " " + blocker.reason);
    }
    verdicts.push_back("NOT viable for " + claimant + ": " + join(listed, ", "));
  }
  group.verdict = join(verdicts, "; ");
}

std::vector<InventoryDsmGuest> dsm_guests(const Desired& desired, const Live& live) {
  std::vector<InventoryDsmGuest> guests;
  for (const Vm& vm : desired.vms) {
    if (!vm.dsm || !find_dsm_platform(vm.dsm->model)) continue;
    const LiveDomain* domain = find_live_guest(vm, live);
    Vm shown = domain ? domain->vm : lay_out_disks(vm, nullptr);
    shown.dsm = vm.dsm;
    guests.push_back({"vm." + vm.key, vm.name, domain != nullptr, dsm_report(shown, nullptr)});
  }
  return guests;
}

}  // namespace

HostInventory build_host_inventory(const HostDevices& host, const Desired& desired,
                                   const Live& live) {
  const Claims claims = collect_claims(desired, live, host, true);
  HostInventory inventory{
      host.iommu_enabled, host.vfio_loaded, host.vfio_available, {}, {}, {}, host.bridges, {}};
  for (const auto& [number, addresses] : host.iommu_groups) {
    InventoryGroup group{number, {}, true, ""};
    for (const auto& address : addresses) {
      if (const PciFunction* function = host.find_pci(address)) {
        group.devices.push_back(inventory_device(*function, claims));
      }
    }
    judge(host, claims, group);
    inventory.groups.push_back(std::move(group));
  }
  for (const auto& function : host.pci) {
    if (!function.iommu_group) inventory.ungrouped.push_back(inventory_device(function, claims));
  }
  for (const auto& block : host.blocks) {
    inventory.disks.push_back({block, claims.disk_labels(block.name)});
  }
  inventory.dsm_guests = dsm_guests(desired, live);
  return inventory;
}

}  // namespace virtform
