#include "engine/dsm/slot_map.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

namespace virtform {
namespace {

bool mapped_bus(DiskBus bus) {
  return bus == DiskBus::sata || bus == DiskBus::scsi;
}

// The kernel registers the AHCI hosts (its built-in ahci driver) before the virtio-scsi ones
// (the loader's virtio extension loads later), each kind in controller order.
struct ControllerKey {
  DiskBus bus;
  unsigned index;

  int rank() const { return bus == DiskBus::sata ? 0 : 1; }
  bool operator<(const ControllerKey& other) const {
    return std::pair(rank(), index) < std::pair(other.rank(), other.index);
  }
};

// A sata or scsi disk at its place.
struct Placed {
  const Disk* disk;
  ControllerKey controller;
  unsigned unit;
  bool loader;
};

ControllerKey key_of(const Disk& disk) {
  return {disk.bus, disk.controller.value_or(0)};
}

// Pinned units stay; the others take the next free unit of their controller in config order,
// the data disks before the loader, which so never shifts them.
std::vector<Placed> place_disks(const Vm& vm) {
  std::map<ControllerKey, std::set<unsigned>> taken;
  for (const Disk& disk : vm.disks)
    if (mapped_bus(disk.bus) && disk.unit) taken[key_of(disk)].insert(*disk.unit);
  std::vector<Placed> placed;
  for (const bool loaders : {false, true}) {
    for (const Disk& disk : vm.disks) {
      if (!mapped_bus(disk.bus) || is_loader_disk(disk) != loaders) continue;
      const ControllerKey key = key_of(disk);
      unsigned unit = disk.unit.value_or(0);
      if (!disk.unit) {
        std::set<unsigned>& used = taken[key];
        while (used.count(unit)) ++unit;
        used.insert(unit);
      }
      placed.push_back({&disk, key, unit, loaders});
    }
  }
  return placed;
}

// One controller's ports, and whether its disks are left out of DSM's slots.
void size_controller(DsmController& controller, const std::vector<Placed>& disks) {
  unsigned highest = 0;
  for (const Placed& placed : disks) {
    if (placed.controller.bus != controller.bus || placed.controller.index != controller.index)
      continue;
    highest = std::max(highest, placed.unit);
    if (placed.loader) {
      controller.holds_loader = true;
    } else {
      ++controller.data_disks;
    }
  }
  // The loaders map an empty controller with one port past every slot (a first entry of 0
  // ports panics the kernel), and a loader's controller likewise, so that DSM never counts the
  // boot disk as a drive.
  controller.past_max_disks = controller.holds_loader || controller.data_disks == 0;
  controller.ports = controller.data_disks == 0 && !controller.holds_loader ? 1 : highest + 1;
  if (controller.past_max_disks) controller.first_index = kDsmMaxDisks;
}

// The highest controller index the guest has on `bus`: q35 always has sata0, and a disk on
// controller N brings every controller from 0 to N (virtform writes the virtio-scsi ones,
// libvirt adds the missing AHCI ones), each of which the kernel registers.
std::optional<unsigned> highest_controller(const Vm& vm, DiskBus bus,
                                           const std::vector<Placed>& disks) {
  std::optional<unsigned> highest;
  if (bus == DiskBus::sata && is_q35(vm.machine)) highest = 0;
  for (const Placed& placed : disks)
    if (placed.controller.bus == bus)
      highest = std::max(highest.value_or(0), placed.controller.index);
  return highest;
}

std::vector<DsmController> enumerate_controllers(const Vm& vm, const std::vector<Placed>& disks) {
  std::vector<DsmController> controllers;
  for (const DiskBus bus : {DiskBus::sata, DiskBus::scsi}) {
    const std::optional<unsigned> highest = highest_controller(vm, bus, disks);
    if (!highest) continue;
    for (unsigned index = 0; index <= *highest; ++index) {
      DsmController controller;
      controller.bus = bus;
      controller.index = index;
      controller.built_in = bus == DiskBus::sata && index == 0 && is_q35(vm.machine);
      size_controller(controller, disks);
      controllers.push_back(controller);
    }
  }
  return controllers;
}

const DsmController& find(const std::vector<DsmController>& controllers, const ControllerKey& key) {
  return *std::find_if(controllers.begin(), controllers.end(), [&](const DsmController& c) {
    return c.bus == key.bus && c.index == key.index;
  });
}

// Slot indices go to the data controllers in the order the kernel registers them, so that each
// disk's drive follows its place (controller, then unit): a disk added anywhere in the config
// takes a free place and moves no drive of a controller before its own.
void assign_first_indices(std::vector<DsmController>& controllers) {
  unsigned next = 0;
  for (DsmController& controller : controllers) {
    if (controller.past_max_disks) continue;
    controller.first_index = next;
    next += controller.ports;
  }
}

// Each data disk's drive: its port's index, from 1, in drive order.
std::vector<DsmSlot> assign_slots(const std::vector<DsmController>& controllers,
                                  const std::vector<Placed>& disks) {
  std::vector<DsmSlot> slots;
  for (const Placed& placed : disks) {
    const DsmController& controller = find(controllers, placed.controller);
    if (placed.loader || controller.past_max_disks) continue;
    slots.push_back({placed.disk->source, placed.controller.bus, placed.controller.index,
                     placed.unit, controller.first_index + placed.unit + 1});
  }
  std::sort(slots.begin(), slots.end(),
            [](const DsmSlot& a, const DsmSlot& b) { return a.drive < b.drive; });
  return slots;
}

// One SataPortMap character. The kernel reads one digit per controller: plan refuses a layout
// that needs more than 9 ports on one (engine/checks/dsm.cpp).
char port_character(unsigned ports) {
  return static_cast<char>('0' + ports);
}

std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "%02X", value & 0xffu);
  return text;
}

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

}  // namespace

std::string DsmController::label() const {
  std::string text = to_string(bus) + std::to_string(index);
  if (built_in) return text + " (q35 built-in AHCI)";
  return text + (bus == DiskBus::sata ? " (AHCI)" : " (virtio-scsi)");
}

bool is_loader_disk(const Disk& disk) {
  // A data disk may have a later place in the boot order (`boot = 2`) and still be a drive.
  return !disk.loader.empty() || disk.boot_order == 1u;
}

DsmSlotMap compute_dsm_slot_map(const Vm& vm) {
  const std::vector<Placed> disks = place_disks(vm);
  DsmSlotMap map;
  map.controllers = enumerate_controllers(vm, disks);
  assign_first_indices(map.controllers);
  map.slots = assign_slots(map.controllers, disks);
  for (const DsmController& controller : map.controllers) {
    map.sata_port_map += port_character(controller.ports);
    map.disk_idx_map += hex_byte(controller.first_index);
  }
  // With no controller at all (a pc machine with no sata or scsi disk) the loaders still write
  // one entry: a first entry of 0 ports panics the kernel.
  if (map.controllers.empty()) {
    map.sata_port_map = "1";
    map.disk_idx_map = "00";
  }
  return map;
}

std::string rploader_command(const DsmSlotMap& map) {
  // jq writes a new file that then replaces the old one: `... | tee user_config.json` truncates
  // the file it is still reading.
  std::string filter = ".extra_cmdline.SataPortMap = " + quoted(map.sata_port_map) +
                       " | .extra_cmdline.DiskIdxMap = " + quoted(map.disk_idx_map);
  return "jq '" + filter +
         "' user_config.json > user_config.json.new && mv user_config.json.new user_config.json";
}

}  // namespace virtform
