#pragma once
// Desired vs live, resource by resource. Only what the config owns is compared, after the live
// domain has been read back into the same model, so libvirt's normalisation is never a change.

#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/plan/change.h"

namespace virtform {

struct DiffOptions {
  bool restart_all = false;  // apply --restart: every VM may be restarted for its changes
};

// One change per declared VM, per managed domain no longer declared, per image to create, and
// per loader/network/bridge a VM needs (action none: they are checked, not changed).
// Conflicts (an unmanaged domain in the way, a missing network) land in `diagnostics`.
std::vector<Change> diff(const Desired& desired, const Live& live, const DiffOptions& options,
                         Diagnostics& diagnostics);

// What the config owns that a live domain has otherwise, field by field, as the plan of a
// shut-off domain shows it: empty when the domain is what the VM declares.
std::vector<FieldChange> owned_differences(const Vm& desired, const Vm& live);

// The differences in hot-pluggable devices between a desired VM and its live domain: what apply
// attaches to or detaches from a running guest. Disks, NICs, host USB devices and inputs only
// (PCI changes wait for a boot); in config order.
struct DeviceDelta {
  std::vector<Disk> disks_added, disks_removed;
  std::vector<Nic> nics_added, nics_removed;
  std::vector<UsbDevice> usb_added, usb_removed;
  std::vector<InputDevice> inputs_added, inputs_removed;  // hot-pluggable ones only
};
DeviceDelta device_delta(const Vm& desired, const Vm& live);

// Whether the VM's UEFI variable store moves to another file: apply copies the current one there,
// so boot entries and Secure Boot keys move with it.
bool moves_nvram(const Firmware& desired, const Firmware& live);

// Whether a disk can be plugged into or out of a running guest: not on SATA, and not a disk with
// a boot order (the loader), which the guest boots from: swapping it waits for a boot.
bool hot_pluggable(const Disk& disk);
// Whether an input can be: a virtio or USB one, not a host device passed through (evdev).
bool hot_pluggable(const InputDevice& input);

}  // namespace virtform
