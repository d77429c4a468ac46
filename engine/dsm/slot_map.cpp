#include "engine/dsm/slot_map.h"

#include <algorithm>
#include <cstdio>
#include <map>
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
  std::size_t order;  // in the config
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
    for (std::size_t i = 0; i < vm.disks.size(); ++i) {
      const Disk& disk = vm.disks[i];
      if (!mapped_bus(disk.bus) || is_loader_disk(disk) != loaders) continue;
      const ControllerKey key = key_of(disk);
      unsigned unit = disk.unit.value_or(0);
      if (!disk.unit) {
        std::set<unsigned>& used = taken[key];
        while (used.count(unit)) ++unit;
        used.insert(unit);
      }
      placed.push_back({&disk, key, unit, i, loaders});
    }
  }
  std::sort(placed.begin(), placed.end(),
            [](const Placed& a, const Placed& b) { return a.order < b.order; });
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

std::vector<DsmController> enumerate_controllers(const Vm& vm, const std::vector<Placed>& disks) {
  std::set<ControllerKey> keys;
  if (is_q35(vm.machine)) keys.insert({DiskBus::sata, 0});
  for (const Placed& placed : disks) keys.insert(placed.controller);
  std::vector<DsmController> controllers;
  for (const ControllerKey& key : keys) {
    DsmController controller;
    controller.bus = key.bus;
    controller.index = key.index;
    controller.built_in = key.bus == DiskBus::sata && key.index == 0 && is_q35(vm.machine);
    size_controller(controller, disks);
    controllers.push_back(controller);
  }
  return controllers;
}

DsmController* find(std::vector<DsmController>& controllers, const ControllerKey& key) {
  for (DsmController& controller : controllers)
    if (controller.bus == key.bus && controller.index == key.index) return &controller;
  return nullptr;
}

// Slot indices go to the controllers in the order the config first names a data disk on each,
// so that DSM's drives follow the config as far as whole controllers can.
void assign_first_indices(std::vector<DsmController>& controllers,
                          const std::vector<Placed>& disks) {
  std::set<ControllerKey> done;
  unsigned next = 0;
  for (const Placed& placed : disks) {
    DsmController* controller = find(controllers, placed.controller);
    if (placed.loader || controller->past_max_disks || !done.insert(placed.controller).second)
      continue;
    controller->first_index = next;
    next += controller->ports;
  }
}

// The slots of the data disks, in config order. Where the controllers interleave in the config,
// sata_remap moves the disks so that the drives still follow the config ("a>b": the disk at
// index a takes index b).
void assign_slots(DsmSlotMap& map, std::vector<DsmController>& controllers,
                  const std::vector<Placed>& disks) {
  std::vector<std::pair<const Placed*, unsigned>> natural;
  for (const Placed& placed : disks) {
    const DsmController* controller = find(controllers, placed.controller);
    if (placed.loader || controller->past_max_disks) continue;
    natural.emplace_back(&placed, controller->first_index + placed.unit);
  }
  std::vector<unsigned> indices;
  for (const auto& [placed, index] : natural) indices.push_back(index);
  std::sort(indices.begin(), indices.end());
  std::map<unsigned, unsigned> moves;
  for (std::size_t i = 0; i < natural.size(); ++i) {
    const auto& [placed, index] = natural[i];
    map.slots.push_back({placed->disk->source, placed->controller.bus, placed->controller.index,
                         placed->unit, indices[i] + 1});
    if (index != indices[i]) moves[index] = indices[i];
  }
  for (const auto& [from, to] : moves)
    map.sata_remap +=
        (map.sata_remap.empty() ? "" : ":") + std::to_string(from) + ">" + std::to_string(to);
}

// One SataPortMap character: a digit, or past 9 the character after '9' that TinyCore
// RedPill's satamap writes ('0' + ports).
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
  return !disk.loader.empty() || disk.boot_order.has_value();
}

DsmSlotMap compute_dsm_slot_map(const Vm& vm) {
  const std::vector<Placed> disks = place_disks(vm);
  DsmSlotMap map;
  map.controllers = enumerate_controllers(vm, disks);
  assign_first_indices(map.controllers, disks);
  assign_slots(map, map.controllers, disks);
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
  if (!map.sata_remap.empty()) filter += " | .extra_cmdline.sata_remap = " + quoted(map.sata_remap);
  return "jq '" + filter +
         "' user_config.json > user_config.json.new && mv user_config.json.new user_config.json";
}

}  // namespace virtform
