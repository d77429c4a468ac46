#pragma once
// Where each sata and scsi disk of a guest sits on its controller, decided before the diff, so
// that the plan, apply and DSM's slot map all see one layout. DSM tracks its disks by slot, so a
// layout never moves a disk on its own:
// - a place the config pins (`controller`, `unit`) is kept;
// - a disk the live domain already has keeps its live place, so a guest made by hand, or by an
//   earlier virtform, is adopted as it is. When the config reorders such disks, they swap into
//   each other's places in the config's order: the move the plan shows, with a warning;
// - the loader (the disk of [vm.X.boot]) takes the last unit of controller 0 on its bus, so it
//   never shifts the data disks;
// - new disks fill the free units from unit 0 in config order. A place held by a disk virtform
//   does not express (a network CD-ROM, a SCSI host device), or by a disk still in the running
//   guest, is not free;
// - CD-ROM drives are placed as disks are, after the disks of their bus. A drive the domain has
//   (the one of its place in the order of drives) keeps its live place.

#include <string>
#include <utility>
#include <vector>

#include "engine/model/vm.h"

namespace virtform {

// `desired` with every sata and scsi disk placed; `live` is its domain, or nullptr for a new one.
Vm lay_out_disks(const Vm& desired, const LiveDomain* live);

// What the layout of `placed` cannot give, one message per disk: a pin onto a unit a disk
// virtform does not express holds (libvirt would refuse the definition), or a controller pinned
// with no unit left on it.
std::vector<std::pair<const Disk*, std::string>> layout_conflicts(const Vm& placed,
                                                                  const LiveDomain* live);

// Whether another disk of `vm` sits at `disk`'s place: a running guest that still has one there
// cannot take `disk` until it boots again.
bool place_held_by_other(const Disk& disk, const Vm& vm);

// "scsi 0:1": the bus, controller and unit of a placed disk; "" for a disk without a place.
std::string describe_place(const Disk& disk);

// The disks that `desired` places elsewhere than `live` has them, as "source: before -> after",
// for the warning that names the slots that move.
std::vector<std::string> moved_disks(const Vm& desired, const Vm& live);

}  // namespace virtform
