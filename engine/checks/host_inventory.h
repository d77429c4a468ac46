#pragma once
// `virtform host`: the host's IOMMU groups and disks, with who claims what and whether each
// group can be handed to a guest. Built once as a value here; engine/render/host_inventory.h
// shows it as a table or as JSON.

#include <string>
#include <vector>

#include "engine/dsm/report.h"
#include "engine/model/host.h"
#include "engine/model/vm.h"

namespace virtform {

// One PCI function with what the inventory adds to it.
struct InventoryDevice {
  PciFunction function;                 // as read from sysfs
  std::string class_name;               // "VGA compatible controller"
  std::vector<std::string> claimed_by;  // "vm.win", "domain 'gaming'"
};

// One IOMMU group and its verdict.
struct InventoryGroup {
  int number = 0;                        // IOMMU group number
  std::vector<InventoryDevice> devices;  // in address order
  bool viable = true;                    // false when a claimant cannot have its functions
  std::string verdict;                   // "isolated", "viable for vm.win", "not viable for ..."
};

// One disk with who claims it.
struct InventoryDisk {
  BlockDevice block;                    // as read from sysfs
  std::vector<std::string> claimed_by;  // "vm.dsm", "domain 'old-nas'"
};

// A declared DSM guest with the slot map of its layout: the live guest's when it exists.
struct InventoryDsmGuest {
  std::string address;  // "vm.dsm"
  std::string name;     // domain name
  bool live = false;    // the map is of the live guest, not of the config
  DsmReport report;
};

// Everything `virtform host` shows.
struct HostInventory {
  bool iommu_enabled = false;                 // an IOMMU is active
  bool vfio_loaded = false;                   // vfio_pci is loaded
  bool vfio_available = false;                // vfio-pci can be loaded
  std::vector<InventoryGroup> groups;         // by group number
  std::vector<InventoryDevice> ungrouped;     // functions in no group (IOMMU off)
  std::vector<InventoryDisk> disks;           // by name
  std::vector<std::string> bridges;           // network bridges
  std::vector<InventoryDsmGuest> dsm_guests;  // in config order
};

// Joins the host with the declared VMs and all live domains (managed or not).
HostInventory build_host_inventory(const HostDevices& host, const Desired& desired,
                                   const Live& live);

}  // namespace virtform
