#pragma once
// Builds sysfs/proc/dev trees like the kernel's from compact descriptions of a host, so tests
// read real files and real relative symlinks. Also the hosts the tests share: the seed's Ryzen
// 5350GE / B450 listing, a poorly isolated APU, a discrete GPU behind a root port, a SAS HBA whose
// disks the host still uses, and a generator for large hosts (reused by bench/).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace virtform::testing {

// One PCI function.
struct FixturePci {
  std::string address;     // "0000:08:00.0"
  std::string ids;         // "1002:1638"
  std::string class_code;  // "030000"
  std::string driver;      // bound driver; "" for unbound
  int group = -1;          // IOMMU group; -1 for none
  std::string parent;      // address of the upstream bridge; "" under the root complex
  bool boot_vga = false;   // the firmware's console GPU
  std::string subsystem;   // "1849:3638"; defaults to `ids`
};

// One whole disk; nodes in mounts/holders/swap name the disk itself or a partition ("sdb1").
struct FixtureDisk {
  std::string name;                  // "sdb"
  std::uint64_t size_bytes = 0;      // multiple of 512
  std::string model;                 // "WDC WD100EMAZ-00WJTA0"
  std::string controller;            // PCI address of its controller; "" for a virtual disk
  std::vector<std::string> by_id;    // "ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN" (adds -partN links)
  int partitions = 0;                // sdb1..sdbN (nvme0n1p1.. for names ending in a digit)
  std::vector<std::string> mounts;   // "sdb1 /srv/data": node, then mount point
  std::vector<std::string> holders;  // "sdb1 md0": node, then holder
  std::vector<std::string> swap;     // "sdb2": active swap nodes
};

// A whole host.
struct FixtureHost {
  std::vector<FixturePci> pci;
  std::vector<FixtureDisk> disks;
  bool iommu = true;                       // sys/class/iommu/ivhd0 exists
  bool vfio_loaded = true;                 // sys/module/vfio_pci and drivers/vfio-pci exist
  std::vector<std::string> bridges;        // network bridges ("br0")
  std::vector<std::string> extra_drivers;  // loaded drivers with no device bound ("pci-stub")
};

// Writes the host's tree under `root` (created if missing): sys/, proc/, dev/.
void write_fixture(const FixtureHost& host, const std::filesystem::path& root);

// A fixture tree in a fresh temporary directory, removed on destruction.
class FixtureTree {
 public:
  explicit FixtureTree(const FixtureHost& host);
  ~FixtureTree();
  FixtureTree(const FixtureTree&) = delete;
  FixtureTree& operator=(const FixtureTree&) = delete;

  // The tree's root, to pass as a sysfs root.
  const std::string& root() const { return root_; }

 private:
  std::string root_;  // the temporary directory
};

// The seed's Ryzen 5 5350GE on a B450M with the ACS-like BIOS: all 21 IOMMU groups of its
// listing; the APU GPU 0000:08:00.0 is the boot VGA. Disks: nvme0n1 (root, swap) on 07:00.0,
// sda (mounted /srv/media) on the FCH SATA 09:00.0, and sdb/sdc, the DSM guest's two unused
// 10 TB disks, on the SAS2008 HBA 01:00.0.
FixtureHost seed_ryzen_host();
// The same APU on the stock BIOS: GPU, its audio, PSP, USB and HD audio functions all in one
// group (5) with the 1022:1632 host bridge and 1022:1635 bridge.
FixtureHost poor_apu_host();
// An Intel host: iGPU 0000:00:02.0 is the boot VGA; a GeForce 10de:1b80 at 0000:01:00.0 with
// its HDMI audio 10de:10f0 at 0000:01:00.1 shares group 2 with its root port 0000:00:01.0.
FixtureHost discrete_gpu_host();
// A SAS2008 HBA 1000:0072 at 0000:01:00.0 (group 10): sdb has /srv/tank mounted from sdb1, sdc1
// is in md0, sdd is unused.
FixtureHost sas_hba_host();
// `device_count` PCI functions in realistic groups: a root port per group (pcieport) with
// one to four endpoint functions behind it, spread over domains so addresses stay valid.
FixtureHost generated_host(int device_count);

}  // namespace virtform::testing
