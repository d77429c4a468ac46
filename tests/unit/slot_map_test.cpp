// DSM's drive slot map from a guest's disk layout. The expected values are worked out by hand
// from the rules docs/dsm.md gives with their sources; each case writes its derivation out:
//   R1  the loader's kernel registers the AHCI (sata) controllers first, in index order, then
//       the virtio-scsi ones; a q35 machine always has sata0, its built-in AHCI controller;
//       a disk on controller N brings every controller of its bus from 0 to N;
//   R2  a controller with neither data disks nor the loader: 1 port at index 0x10 (past the
//       16 slots of TinyCore RedPill's maxdisks);
//   R3  the loader's controller: every port up to the loader's unit, at index 0x10;
//   R4  a controller with data disks: ports up to its highest unit; the first slot indices go
//       to these controllers in R1's order;
//   R5  a disk's drive is its controller's first index + its unit + 1, whatever the config
//       order: the drives follow the places;
//   R6  no controller at all: SataPortMap "1", DiskIdxMap "00".

#include "engine/dsm/slot_map.h"

#include <catch2/catch.hpp>

namespace virtform {
namespace {

struct Place {
  DiskBus bus;
  std::optional<unsigned> controller = std::nullopt;
  std::optional<unsigned> unit = std::nullopt;
  bool loader = false;
};

Vm guest(const std::string& machine, const std::vector<Place>& places) {
  Vm vm;
  vm.machine = machine;
  int number = 0;
  for (const Place& place : places) {
    Disk disk;
    disk.kind = DiskSource::block;
    disk.source = "/dev/disk/by-id/disk-" + std::to_string(++number);
    disk.bus = place.bus;
    disk.controller = place.controller;
    disk.unit = place.unit;
    if (place.loader) {
      disk.kind = DiskSource::file;
      disk.source = "/images/loader.img";
      disk.loader = "tcrp";
      disk.boot_order = 1;
    }
    vm.disks.push_back(disk);
  }
  return vm;
}

std::vector<Place> times(int count, Place place) {
  return std::vector<Place>(static_cast<std::size_t>(count), place);
}

std::vector<Place> one(Place place) {
  return {place};
}

std::vector<Place> operator+(std::vector<Place> a, const std::vector<Place>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const Place kUsbLoader{DiskBus::usb, std::nullopt, std::nullopt, true};
const Place kSata{DiskBus::sata};
const Place kScsi{DiskBus::scsi};

struct Case {
  const char* name;
  Vm vm;
  const char* sata_port_map;
  const char* disk_idx_map;
};

}  // namespace

TEST_CASE("the slot map of layouts of 1 to 12 disks on q35 and pc", "[dsm]") {
  const std::vector<Case> cases = {
      // R1: sata0 (built in), scsi0. R2: sata0 empty -> "1"/"10". R4: scsi0 units 0,1 -> "2"/"00".
      {"the seed: q35, loader on usb, 2 disks on virtio-scsi",
       guest("pc-q35-4.2", one(kUsbLoader) + times(2, kScsi)), "12", "1000"},
      // R1, R2 as the seed; R4: scsi0 one unit -> "1"/"00".
      {"1 disk on scsi", guest("q35", {kUsbLoader, kScsi}), "11", "1000"},
      // R1: sata0 only. R4: sata0 unit 0 -> "1"/"00".
      {"1 disk on sata", guest("q35", {kUsbLoader, kSata}), "1", "00"},
      // R4: sata0 units 0-3 -> "4"/"00".
      {"4 disks on sata", guest("q35", one(kUsbLoader) + times(4, kSata)), "4", "00"},
      // R4: the built-in controller full, units 0-5 -> "6"/"00".
      {"6 disks on sata", guest("q35", times(6, kSata) + std::vector{kUsbLoader}), "6", "00"},
      // R2: sata0 "1"/"10"; R4: scsi0 units 0-6 -> "7"/"00".
      {"7 disks on scsi", guest("q35", one(kUsbLoader) + times(7, kScsi)), "17", "1000"},
      // R2, R4: scsi0 units 0-7 -> "8"/"00".
      {"8 disks on scsi", guest("q35", one(kUsbLoader) + times(8, kScsi)), "18", "1000"},
      // R4: sata0 first: 2 ports from 0; scsi0 next: 3 ports from 0+2.
      {"2 sata then 3 scsi", guest("q35", times(2, kSata) + times(3, kScsi)), "23", "0002"},
      // R4 follows R1, not the config: sata0 still gets 0, scsi0 0+2.
      {"3 scsi then 2 sata", guest("q35", times(3, kScsi) + times(2, kSata)), "23", "0002"},
      // R4: sata0 1 port from 0, scsi0 8 ports from 1: nine disks.
      {"1 sata and 8 scsi", guest("q35", one(kSata) + times(8, kScsi)), "18", "0001"},
      // R4: 5 + 5 ports, the scsi ones from 5: ten disks.
      {"5 sata and 5 scsi", guest("q35", times(5, kSata) + times(5, kScsi)), "55", "0005"},
      // R1: sata0, scsi0, scsi1. R4: 3 from 0, 4 from 3, 4 from 7: eleven disks.
      {"3 sata, 4 on scsi0, 4 on scsi1",
       guest("q35", times(3, kSata) + times(4, kScsi) + times(4, Place{DiskBus::scsi, 1})), "344",
       "000307"},
      // R4: 6 from 0 and 6 from 6: twelve disks.
      {"6 sata and 6 scsi", guest("q35", times(6, kSata) + times(6, kScsi)), "66", "0006"},
      // R2: sata0 "1"/"10"; R4: scsi0 6 from 0, scsi1 6 from 6: twelve disks.
      {"6 on scsi0 and 6 on scsi1",
       guest("q35", one(kUsbLoader) + times(6, kScsi) + times(6, Place{DiskBus::scsi, 1})), "166",
       "100006"},
      // pc has no built-in AHCI (R1): scsi0 alone, units 0,1.
      {"pc: 2 disks on scsi", guest("pc", one(kUsbLoader) + times(2, kScsi)), "2", "00"},
      // pc: a sata disk brings its own AHCI controller, sata0, here with 3 units.
      {"pc: 3 disks on sata", guest("pc-i440fx-7.2", times(3, kSata)), "3", "00"},
      // pc: 4 sata + 8 scsi (R4: 4 from 0, 8 from 4): twelve disks.
      {"pc: 4 sata and 8 scsi", guest("pc", times(4, kSata) + times(8, kScsi)), "48", "0004"},
      // R6: virtio-blk disks are on no controller the loader maps.
      {"pc: no sata or scsi disk", guest("pc", {kUsbLoader, Place{DiskBus::virtio}}), "1", "00"},
      // R3: the loader on sata0 (unit 0): 1 port at 0x10; R4: scsi0 units 0,1.
      {"q35: the loader on sata, 2 disks on scsi",
       guest("q35", one(Place{DiskBus::sata, std::nullopt, std::nullopt, true}) + times(2, kScsi)),
       "12", "1000"},
      // R4: sata0 1 port from 0 (B), scsi0 2 ports from 1 (A unit 0, C unit 1); R5: drives B,
      // A, C, with no sata_remap.
      {"interleaved: scsi, sata, scsi", guest("q35", {kScsi, kSata, kScsi}), "12", "0001"},
      // R1: sata0, the empty scsi0 and scsi1. R2: sata0 and scsi0 "1"/"10"; R4: scsi1 "2"/"00".
      {"q35: 2 disks on scsi1, scsi0 empty",
       guest("q35", one(kUsbLoader) + times(2, Place{DiskBus::scsi, 1})), "112", "101000"},
      // R1: pc's sata0 comes with the disk on sata1. R2: sata0 "1"/"10"; R4: sata1 "1"/"00".
      {"pc: 1 disk on sata1, sata0 empty", guest("pc", {Place{DiskBus::sata, 1}}), "11", "1000"},
      // R1: sata0 (data), sata1 and sata2 (empty), sata3 (data), then scsi0: the indices skip
      // the empty ones (R2) and go on in R1's order (R4).
      {"q35: disks on sata0, sata3 and scsi0",
       guest("q35", {Place{DiskBus::sata, 3}, kScsi, kSata}), "11111", "0010100102"},
      // Units pinned at 0 and 3: 4 ports (R4); drives 1 and 4 are in config order, no remap.
      {"pinned units with a gap",
       guest("q35", {Place{DiskBus::scsi, 0, 0}, Place{DiskBus::scsi, 0, 3}}), "14", "1000"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      const DsmSlotMap map = compute_dsm_slot_map(c.vm);
      CHECK(map.sata_port_map == c.sata_port_map);
      CHECK(map.disk_idx_map == c.disk_idx_map);
    }
  }
}

TEST_CASE("the seed's layout puts its two disks in drives 1 and 2", "[dsm]") {
  const DsmSlotMap map = compute_dsm_slot_map(guest("q35", one(kUsbLoader) + times(2, kScsi)));
  REQUIRE(map.controllers.size() == 2);
  CHECK(map.controllers[0].label() == "sata0 (q35 built-in AHCI)");
  CHECK(map.controllers[0].past_max_disks);
  CHECK(map.controllers[1].label() == "scsi0 (virtio-scsi)");
  CHECK(map.controllers[1].data_disks == 2);
  REQUIRE(map.slots.size() == 2);
  CHECK(map.slots[0] == DsmSlot{"/dev/disk/by-id/disk-2", DiskBus::scsi, 0, 0, 1});
  CHECK(map.slots[1] == DsmSlot{"/dev/disk/by-id/disk-3", DiskBus::scsi, 0, 1, 2});
}

TEST_CASE("drives follow the disks' places, not the config's order", "[dsm]") {
  // The seed with a disk inserted between its two in the config: the layout keeps the two at
  // units 0 and 1 and gives the new one unit 2 (R4: scsi0 "3"/"00"); R5 keeps drives 1 and 2.
  const DsmSlotMap map =
      compute_dsm_slot_map(guest("q35", {kUsbLoader, Place{DiskBus::scsi, 0, 0},
                                         Place{DiskBus::scsi, 0, 2}, Place{DiskBus::scsi, 0, 1}}));
  CHECK(map.sata_port_map == "13");
  CHECK(map.disk_idx_map == "1000");
  REQUIRE(map.slots.size() == 3);
  CHECK(map.slots[0] == DsmSlot{"/dev/disk/by-id/disk-2", DiskBus::scsi, 0, 0, 1});
  CHECK(map.slots[1] == DsmSlot{"/dev/disk/by-id/disk-4", DiskBus::scsi, 0, 1, 2});
  CHECK(map.slots[2] == DsmSlot{"/dev/disk/by-id/disk-3", DiskBus::scsi, 0, 2, 3});
}

TEST_CASE("an empty controller below a used one is mapped past the drives", "[dsm]") {
  const DsmSlotMap map =
      compute_dsm_slot_map(guest("q35", one(kUsbLoader) + times(2, Place{DiskBus::scsi, 1})));
  REQUIRE(map.controllers.size() == 3);
  CHECK(map.controllers[1].label() == "scsi0 (virtio-scsi)");
  CHECK(map.controllers[1].past_max_disks);
  CHECK(map.controllers[1].ports == 1);
  CHECK(map.controllers[1].first_index == kDsmMaxDisks);
  CHECK(map.controllers[2].first_index == 0);
  REQUIRE(map.slots.size() == 2);
  CHECK(map.slots[0].drive == 1);
  CHECK(map.slots[1].drive == 2);
}

TEST_CASE("the loader never shifts the data disks of its controller", "[dsm]") {
  // The loader listed first on scsi0 still takes the unit after the data disks.
  const DsmSlotMap map = compute_dsm_slot_map(
      guest("q35", one(Place{DiskBus::scsi, std::nullopt, std::nullopt, true}) + times(2, kScsi)));
  REQUIRE(map.controllers.size() == 2);
  CHECK(map.controllers[1].holds_loader);
  CHECK(map.controllers[1].ports == 3);
  CHECK(map.sata_port_map == "13");
  CHECK(map.disk_idx_map == "1010");
  CHECK(map.slots.empty());
}

TEST_CASE("the loader line writes the values into user_config.json", "[dsm]") {
  const DsmSlotMap seed = compute_dsm_slot_map(guest("q35", one(kUsbLoader) + times(2, kScsi)));
  CHECK(rploader_command(seed) ==
        "jq '.extra_cmdline.SataPortMap = \"12\" | .extra_cmdline.DiskIdxMap = \"1000\"' "
        "user_config.json > user_config.json.new && mv user_config.json.new user_config.json");
  const DsmSlotMap interleaved = compute_dsm_slot_map(guest("q35", {kScsi, kSata, kScsi}));
  CHECK(rploader_command(interleaved).find("sata_remap") == std::string::npos);
}

}  // namespace virtform
