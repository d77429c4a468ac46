#pragma once
// Reads the host's PCI functions, IOMMU groups, block devices, mounts and bridges from a root
// directory: "/" on a live host, or a recorded tree (examples/demo-host/root, test fixtures).

#include <string>

#include "engine/model/host.h"

namespace virtform {

// Reads under `root`: sys/bus/pci/devices, sys/kernel/iommu_groups, sys/module/vfio_pci,
// sys/class/iommu, sys/block, dev/disk/by-id, proc/self/mountinfo, proc/swaps,
// sys/class/net/*/bridge, sys/kernel/mm/hugepages, sys/devices/system/cpu and node, and
// sys/bus/usb/devices and sys/bus/mdev/devices. Missing parts read as empty (a host without an
// IOMMU has no groups); it never throws for an unreadable attribute. Cheap: a few small reads per
// device, no processes.
HostDevices read_host_devices(const std::string& root);

}  // namespace virtform
