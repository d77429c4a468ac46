#pragma once
// DSM's drive slots from a guest's disk layout: the SataPortMap and DiskIdxMap kernel arguments
// a sataportmap loader (TinyCore RedPill, ARPL, RR) needs in its user_config.json. A pure
// function of the disks' places, so that the same layout always gives the same drives;
// docs/dsm.md gives the rules and their sources.

#include <string>
#include <vector>

#include "engine/model/vm.h"

namespace virtform {

// The disk index the loaders give a controller whose disks DSM must not count as slots (the
// q35 AHCI controller left empty, the controller of a SATA loader): TinyCore RedPill's default
// synoinfo.maxdisks, 16, so its ports come after every slot.
inline constexpr unsigned kDsmMaxDisks = 16;
// Ports one controller may map: the kernel reads one digit per controller, and more than 8
// disks on a controller are known not to be found (redpill-load #62).
inline constexpr unsigned kDsmMaxPortsPerController = 8;
// Ports a SataPortMap digit can give: the loader's controller maps them all, for the kernel to
// find the loader.
inline constexpr unsigned kDsmMaxPortsPerDigit = 9;

// One disk host adapter of the guest, in the order the loader's kernel registers them.
struct DsmController {
  DiskBus bus = DiskBus::sata;  // sata (AHCI) or scsi (virtio-scsi)
  unsigned index = 0;           // its index among the guest's controllers of that bus
  bool built_in = false;        // q35's own AHCI controller (00:1f.2), there even when unused
  bool holds_loader = false;    // the loader disk sits on it
  unsigned ports = 0;           // its SataPortMap entry
  unsigned first_index = 0;     // its DiskIdxMap entry: the slot index of its port 0
  bool past_max_disks = false;  // mapped after every slot: its disks are not DSM's drives
  unsigned data_disks = 0;

  // "sata0 (q35 built-in AHCI)", "scsi0 (virtio-scsi)"
  std::string label() const;
  bool operator==(const DsmController&) const = default;
};

// Where a data disk lands in DSM.
struct DsmSlot {
  std::string source;
  DiskBus bus = DiskBus::sata;
  unsigned controller = 0;
  unsigned unit = 0;
  unsigned drive = 0;  // DSM's "Drive N", from 1

  bool operator==(const DsmSlot&) const = default;
};

struct DsmSlotMap {
  std::vector<DsmController> controllers;  // in the loader's enumeration order
  std::vector<DsmSlot> slots;              // data disks in drive order
  std::string sata_port_map;               // "12"
  std::string disk_idx_map;                // "1000"

  bool operator==(const DsmSlotMap&) const = default;
};

// The map for `vm`'s sata and scsi disks. A disk with no controller is on controller 0; one with
// no unit takes the next free unit of its controller in config order, data disks before the
// loader.
DsmSlotMap compute_dsm_slot_map(const Vm& vm);

// Whether `disk` is the VM's loader: the [vm.X.boot] image or a disk first in the boot order.
bool is_loader_disk(const Disk& disk);

// The line to paste on the TinyCore RedPill loader's shell: jq writing both values into
// user_config.json.
std::string rploader_command(const DsmSlotMap& map);

}  // namespace virtform
