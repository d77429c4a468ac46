#pragma once
// The host's devices as virtform sees them: PCI functions with their IOMMU groups and drivers,
// and whole block devices with everything on the host that still uses them. Plain values, read
// by providers/sysfs from a root directory ("/" or a recorded tree).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace virtform {

// One PCI function, e.g. the GPU of an APU at 0000:08:00.0.
struct PciFunction {
  std::string address;             // canonical "0000:08:00.0"
  std::string vendor;              // 4 hex digits, lower case: "1002"
  std::string device;              // "1638"
  std::string subsystem_vendor;    // "1849"
  std::string subsystem_device;    // "1638"
  std::string class_code;          // 6 hex digits: "030000"
  std::string driver;              // bound driver ("amdgpu"); empty when unbound
  std::string driver_override;     // empty when unset
  std::optional<int> iommu_group;  // absent when the IOMMU is off
  bool boot_vga = false;           // the firmware initialised this GPU: the host console is on it
  bool is_bridge = false;          // PCI bridge (class 0604) or bound to pcieport

  // "1002:1638"
  std::string ids() const { return vendor + ":" + device; }
  // "0000:08:00" — the functions sharing it form one multi-function device.
  std::string slot() const;
  bool operator==(const PciFunction&) const = default;
};

// One whole block device, e.g. sdb, with its partitions folded in.
struct BlockDevice {
  std::string name;                      // kernel name: "sdb", "nvme0n1", "loop3"
  std::uint64_t size_bytes = 0;          // from the size attribute (512-byte sectors)
  std::string model;                     // "WDC WD100EMAZ-00WJTA0", may be empty
  std::vector<std::string> partitions;   // "sdb1", "sdb2"
  std::vector<std::string> holders;      // of the disk and its partitions: "md0", "dm-1"
  std::vector<std::string> mountpoints;  // of the disk and its partitions: "/srv/data"
  bool swap = false;                     // the disk or one of its partitions is active swap
  std::vector<std::string> by_id;        // names in /dev/disk/by-id pointing at the disk
  std::string controller;                // PCI address of the controller it hangs off; may be ""
  bool removable = false;

  // Anything on the host that would lose its storage if the disk were handed to a guest.
  bool in_use_by_host() const { return swap || !holders.empty() || !mountpoints.empty(); }
  // The most stable /dev/disk/by-id path (ata-/nvme-/scsi- before wwn-), or "" if none.
  std::string preferred_by_id_path() const;
  bool operator==(const BlockDevice&) const = default;
};

// One size of the host's huge pages (sys/kernel/mm/hugepages/hugepages-<size>kB).
struct HugePagePool {
  std::uint64_t page_kib = 0;  // 2048, 1048576
  std::uint64_t total = 0;     // nr_hugepages: reserved
  std::uint64_t free = 0;      // free_hugepages: not yet taken by a guest or a program

  bool operator==(const HugePagePool&) const = default;
};

// The host's CPUs (sys/devices/system/cpu and node): what pins may name.
struct HostCpus {
  std::set<unsigned> present;  // empty when the tree does not say
  std::set<unsigned> online;
  std::map<unsigned, std::set<unsigned>> siblings;  // a CPU's SMT siblings, itself included
  std::map<unsigned, unsigned> node;                // a CPU's NUMA node

  bool operator==(const HostCpus&) const = default;
};

// One USB device plugged into the host (sys/bus/usb/devices/<port path>).
struct UsbHostDevice {
  std::string port;     // where it sits, stable across plug-ins into the same port: "1-4.2"
  std::string vendor;   // idVendor, 4 lower-case hex digits: "046d"
  std::string product;  // idProduct: "c52b"
  unsigned bus = 0;     // busnum
  unsigned device = 0;  // devnum, new at each plug-in
  std::string name;     // what it calls itself (manufacturer and product strings), may be ""
  std::string serial;   // may be ""

  bool operator==(const UsbHostDevice&) const = default;
};

// Everything providers/sysfs reads about the host's devices.
struct HostDevices {
  bool iommu_enabled = false;    // an IOMMU is active (sys/class/iommu or IOMMU groups exist)
  bool vfio_loaded = false;      // the vfio_pci module is loaded (sys/module/vfio_pci)
  bool vfio_available = false;   // loaded, or installed so that libvirt can load it
  std::vector<PciFunction> pci;  // sorted by address
  std::map<int, std::vector<std::string>> iommu_groups;  // group -> addresses, sorted
  std::vector<BlockDevice> blocks;                       // sorted by name
  std::vector<std::string> bridges;                      // host bridge interfaces ("br0")
  // The host's huge page sizes, by size; empty when the tree has no sys/kernel/mm/hugepages
  // (a kernel without hugetlb, or a host recorded before virtform read it).
  std::vector<HugePagePool> hugepages;
  HostCpus cpus;
  std::vector<UsbHostDevice> usb;  // by port
  std::set<std::string> mdevs;     // the UUIDs of the mediated devices made (sys/bus/mdev/devices)
  // The size of a huge page where none is named (proc/meminfo's Hugepagesize); 0: not known.
  std::uint64_t default_hugepage_kib = 0;

  // The function at the address, or nullptr.
  const PciFunction* find_pci(const std::string& address) const;
  // All functions with these ids, in address order.
  std::vector<const PciFunction*> find_pci_by_ids(const std::string& vendor,
                                                  const std::string& device) const;
  // The block device with this kernel name, or nullptr.
  const BlockDevice* find_block(const std::string& name) const;
  // Maps "/dev/disk/by-id/ata-X", "/dev/sdb" or "sdb" to the whole disk, or nullptr (also for
  // partitions and unknown names).
  const BlockDevice* resolve_block(const std::string& path) const;
  // Functions sharing the slot of `address`, other than itself, in address order.
  std::vector<const PciFunction*> siblings(const std::string& address) const;
};

// "VGA compatible controller" for "030000"; falls back to the base class ("Display controller"),
// then to "Class 0xNNNN".
std::string pci_class_name(const std::string& class_code);
// A disk size as lsblk shows it: "10T" is "10 TiB", "9.1 TiB", "476.9 GiB", "512 B".
std::string format_disk_size(std::uint64_t bytes);

}  // namespace virtform
