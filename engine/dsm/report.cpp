#include "engine/dsm/report.h"

namespace virtform {

DsmReport dsm_report(const Vm& vm, const Vm* live) {
  DsmReport report;
  const DsmPlatform* platform = find_dsm_platform(vm.dsm->model);
  report.model = vm.dsm->model;
  if (!platform) return report;
  report.architecture = platform->architecture;
  report.mapping = platform->mapping;
  if (platform->mapping != SlotMapping::sataportmap) return report;
  report.map = compute_dsm_slot_map(vm);
  if (live) {
    DsmSlotMap before = compute_dsm_slot_map(*live);
    const bool same = before.sata_port_map == report.map->sata_port_map &&
                      before.disk_idx_map == report.map->disk_idx_map;
    if (!same) report.live_map = std::move(before);
  }
  return report;
}

const LiveDomain* find_live_guest(const Vm& vm, const Live& live) {
  if (const LiveDomain* domain = live.find_domain(vm.name)) return domain;
  for (const LiveDomain& domain : live.domains)
    if (domain.managed && domain.vm.key == vm.key && domain.vm.project == vm.project)
      return &domain;
  return nullptr;
}

}  // namespace virtform
