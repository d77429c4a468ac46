#include "engine/checks/dsm.h"

#include <map>

#include "engine/dsm/report.h"
#include "engine/plan/disk_layout.h"

namespace virtform {
namespace {

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

// Reports for one DSM guest.
class GuestCheck {
 public:
  GuestCheck(const Vm& vm, Diagnostics& diagnostics)
      : vm_(vm), resource_("vm." + vm.key), diagnostics_(diagnostics) {}

  void error(const std::string& message, const Location& where) {
    diagnostics_.push_back({Severity::error, message, where, resource_});
  }
  void warning(const std::string& message, const Location& where) {
    diagnostics_.push_back({Severity::warning, message, where, resource_});
  }

  // DSM takes USB disks for external drives and does not see virtio-blk ones as slots: redpill's
  // SATA port shim turns only SCSI-attached disks (virtio-scsi, SAS) into SATA ones.
  void check_data_disk_buses() {
    for (const Disk& disk : vm_.disks) {
      if (is_loader_disk(disk) || disk.bus != DiskBus::virtio) continue;
      warning("DSM does not count virtio-blk disks as drive slots, so it will not use " +
                  disk.source + "; set bus = \"scsi\" (virtio-scsi) or \"sata\"",
              disk.where);
    }
  }

  // The loader's controller is mapped past every slot, and a USB loader makes every USB disk
  // look like removable media beside it: a data disk there is never one of DSM's drives.
  void check_loader_neighbours() {
    const Disk* loader = nullptr;
    for (const Disk& disk : vm_.disks)
      if (is_loader_disk(disk)) loader = &disk;
    if (!loader) return;
    for (const Disk& disk : vm_.disks) {
      if (&disk == loader || is_loader_disk(disk) || disk.bus != loader->bus) continue;
      const bool own_controller = disk.bus == DiskBus::sata || disk.bus == DiskBus::scsi;
      if (own_controller && disk.controller.value_or(0) != loader->controller.value_or(0)) continue;
      const std::string place =
          own_controller ? to_string(disk.bus) + std::to_string(disk.controller.value_or(0))
                         : to_string(disk.bus);
      error("data disk " + disk.source + " is on " + place + ", the loader's " +
                (own_controller ? "controller" : "bus") +
                ", where DSM does not see it as a drive; put it on another " +
                (own_controller ? "controller or bus" : "bus (bus = \"scsi\")"),
            disk.where);
    }
  }

  // A controller's SataPortMap entry is one digit, and loaders lose disks past 8 on one
  // controller (redpill-load #62).
  void check_ports(const DsmSlotMap& map) {
    for (const DsmController& controller : map.controllers) {
      if (controller.holds_loader) {
        check_loader_ports(controller);
        continue;
      }
      if (controller.past_max_disks || controller.ports <= kDsmMaxPortsPerController) continue;
      const Disk* beyond = first_disk_past_ports(map, controller);
      error(controller.label() + " needs " + std::to_string(controller.ports) + " ports; a " +
                vm_.dsm->model + "'s loader maps at most " +
                std::to_string(kDsmMaxPortsPerController) +
                " disks per controller: put the disks from unit " +
                std::to_string(kDsmMaxPortsPerController) + " on another controller",
            beyond ? beyond->where : vm_.dsm->where);
    }
  }

  // The loader's controller maps every port up to the loader's, so that the kernel finds it;
  // past the ninth that no longer fits the controller's one SataPortMap digit.
  void check_loader_ports(const DsmController& controller) {
    if (controller.ports <= kDsmMaxPortsPerDigit) return;
    const Disk* loader = find_loader();
    error("the loader sits at unit " + std::to_string(controller.ports - 1) + " of " +
              controller.label() + ", but SataPortMap gives a controller one digit, at most " +
              std::to_string(kDsmMaxPortsPerDigit) +
              " ports, and the kernel must reach the loader: set bus = \"usb\" in [vm." + vm_.key +
              ".boot], or move the loader to a unit below " + std::to_string(kDsmMaxPortsPerDigit),
          loader ? loader->where : vm_.dsm->where);
  }

  // DiskIdxMap's slots end at the loader's maxdisks, where the empty controllers and the
  // loader's are mapped: a drive past it is lost or collides with them.
  void check_drive_count(const DsmSlotMap& map) {
    if (map.slots.empty() || map.slots.back().drive <= kDsmMaxDisks) return;
    const std::string slots = std::to_string(map.slots.back().drive);
    const std::string disks = std::to_string(map.slots.size());
    const std::string limit = std::to_string(kDsmMaxDisks);
    const std::string fix =
        map.slots.size() > kDsmMaxDisks
            ? "remove " + std::to_string(map.slots.size() - kDsmMaxDisks) + " of them"
            : "pin the units of each controller without gaps";
    error("the " + disks + " data disks take drive slots up to " + slots + ", past the " + limit +
              " a " + vm_.dsm->model + "'s loader maps (its maxdisks): " + fix,
          first_disk_past_max(map));
  }
  // What the config says the loader holds must be what the layout needs.
  void check_declared(const DsmSlotMap& map) {
    const DsmGuest& dsm = *vm_.dsm;
    const bool ports_differ = dsm.sata_port_map && *dsm.sata_port_map != map.sata_port_map;
    const bool indices_differ = dsm.disk_idx_map && *dsm.disk_idx_map != map.disk_idx_map;
    if (!ports_differ && !indices_differ) return;
    error("the loader's SataPortMap = " + quoted(dsm.sata_port_map.value_or("(unset)")) +
              " and DiskIdxMap = " + quoted(dsm.disk_idx_map.value_or("(unset)")) +
              " do not match this disk layout, which needs SataPortMap = " +
              quoted(map.sata_port_map) + " and DiskIdxMap = " + quoted(map.disk_idx_map) +
              ": set sata_port_map = " + quoted(map.sata_port_map) +
              " and disk_idx_map = " + quoted(map.disk_idx_map) +
              " here and in the loader's user_config.json, then " + "rebuild the loader",
          ports_differ ? dsm.sata_port_map_where : dsm.disk_idx_map_where);
  }

  void check_map_change(const DsmReport& report) {
    if (!report.live_map) return;
    const DsmSlotMap& before = *report.live_map;
    const DsmSlotMap& after = *report.map;
    const std::string moves = moved_drives(before, after);
    warning("this change moves DSM's disk map from SataPortMap = " + quoted(before.sata_port_map) +
                ", DiskIdxMap = " + quoted(before.disk_idx_map) + " to SataPortMap = " +
                quoted(after.sata_port_map) + ", DiskIdxMap = " + quoted(after.disk_idx_map) +
                (moves.empty() ? "" : "; drives move (" + moves + ")") +
                ": rebuild the loader with the new values before the guest boots, or DSM will "
                "miss or reorder its disks",
            vm_.dsm->where);
  }

  void check_device_tree(const DsmReport& report) {
    if (report.mapping != SlotMapping::device_tree) return;
    const DsmGuest& dsm = *vm_.dsm;
    if (!dsm.sata_port_map && !dsm.disk_idx_map) return;
    warning("a " + dsm.model + "'s loader builds a device tree from the controllers it finds " +
                "and reads no SataPortMap or DiskIdxMap; drop sata_port_map and disk_idx_map",
            dsm.sata_port_map ? dsm.sata_port_map_where : dsm.disk_idx_map_where);
  }

  // Without acpid in the loader, DSM ignores ACPI's power button: every graceful stop waits out
  // shutdown_timeout and fails.
  void check_shutdown() {
    if (vm_.force_stop || vm_.dsm->acpid) return;
    warning(
        "DSM shuts down on the power button only with the loader's acpid extension; "
        "without it every restart or stop waits " +
            std::to_string(vm_.shutdown_timeout.count()) +
            "s and times out. Add it to the loader (docs/dsm.md says how to check) and set "
            "acpid = true, or set force_stop = true",
        vm_.dsm->where);
  }

 private:
  const Disk* first_disk_past_ports(const DsmSlotMap& map, const DsmController& controller) {
    for (const DsmSlot& slot : map.slots)
      if (slot.bus == controller.bus && slot.controller == controller.index &&
          slot.unit >= kDsmMaxPortsPerController)
        return vm_.find_disk(slot.source);
    return nullptr;
  }

  const Disk* find_loader() const {
    for (const Disk& disk : vm_.disks)
      if (is_loader_disk(disk)) return &disk;
    return nullptr;
  }

  Location first_disk_past_max(const DsmSlotMap& map) const {
    for (const Disk& disk : vm_.disks)
      for (const DsmSlot& slot : map.slots)
        if (slot.source == disk.source && slot.drive > kDsmMaxDisks) return disk.where;
    return vm_.dsm->where;
  }

  // "/dev/sdc: drive 2 -> 3" for each disk in both maps whose drive changes.
  static std::string moved_drives(const DsmSlotMap& before, const DsmSlotMap& after) {
    std::map<std::string, unsigned> old_drives;
    for (const DsmSlot& slot : before.slots) old_drives[slot.source] = slot.drive;
    std::string list;
    for (const DsmSlot& slot : after.slots) {
      const auto old = old_drives.find(slot.source);
      if (old == old_drives.end() || old->second == slot.drive) continue;
      list += (list.empty() ? "" : "; ") + slot.source + ": drive " + std::to_string(old->second) +
              " -> " + std::to_string(slot.drive);
    }
    return list;
  }

  const Vm& vm_;
  std::string resource_;
  Diagnostics& diagnostics_;
};

Change* find_change(std::vector<Change>& changes, const Vm& vm) {
  for (Change& change : changes)
    if (change.kind == ResourceKind::vm && change.address == "vm." + vm.key) return &change;
  return nullptr;
}

}  // namespace

void check_dsm_guests(const Desired& desired, const Live& live, std::vector<Change>& changes,
                      Diagnostics& diagnostics) {
  for (const Vm& vm : desired.vms) {
    if (!vm.dsm || !find_dsm_platform(vm.dsm->model)) continue;
    const LiveDomain* domain = find_live_guest(vm, live);
    // The places diff and apply give the disks, so the map is the one the guest will have.
    const Vm placed = lay_out_disks(vm, domain);
    const DsmReport report = dsm_report(placed, domain ? &domain->vm : nullptr);
    GuestCheck check(placed, diagnostics);
    check.check_data_disk_buses();
    check.check_loader_neighbours();
    check.check_device_tree(report);
    if (report.map) {
      check.check_ports(*report.map);
      check.check_drive_count(*report.map);
      check.check_declared(*report.map);
      check.check_map_change(report);
    }
    check.check_shutdown();
    if (Change* change = find_change(changes, vm)) change->dsm = report;
  }
}

}  // namespace virtform
