#include "providers/sysfs/sysfs_reader.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/sysfs_fixture.h"

using namespace virtform;
using virtform::testing::FixtureTree;

TEST_CASE("reader: the seed's Ryzen host has its 21 IOMMU groups", "[sysfs]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  const HostDevices host = read_host_devices(tree.root());

  CHECK(host.iommu_enabled);
  CHECK(host.vfio_loaded);
  CHECK(host.vfio_available);
  CHECK(host.iommu_groups.size() == 21);
  CHECK(host.pci.size() == 36);
  CHECK(host.iommu_groups.at(9).size() == 8);
  CHECK(host.iommu_groups.at(11) ==
        std::vector<std::string>{"0000:02:00.0", "0000:02:00.1", "0000:02:00.2", "0000:03:00.0",
                                 "0000:03:01.0", "0000:03:04.0", "0000:05:00.0", "0000:06:00.0"});
  CHECK(host.bridges == std::vector<std::string>{"br0"});
}

TEST_CASE("reader: a PCI function's ids, class, driver, group and boot VGA", "[sysfs]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  const HostDevices host = read_host_devices(tree.root());

  const PciFunction* gpu = host.find_pci("0000:08:00.0");
  REQUIRE(gpu != nullptr);
  CHECK(gpu->vendor == "1002");
  CHECK(gpu->device == "1638");
  CHECK(gpu->subsystem_vendor == "1849");
  CHECK(gpu->class_code == "030000");
  CHECK(gpu->driver == "amdgpu");
  CHECK(gpu->driver_override.empty());  // "(null)" in the file
  CHECK(gpu->iommu_group == 13);
  CHECK(gpu->boot_vga);
  CHECK_FALSE(gpu->is_bridge);
  CHECK(pci_class_name(gpu->class_code) == "VGA compatible controller");

  const PciFunction* port = host.find_pci("0000:03:01.0");
  REQUIRE(port != nullptr);
  CHECK(port->is_bridge);
  CHECK(port->driver == "pcieport");
  const PciFunction* isa = host.find_pci("0000:00:14.3");
  REQUIRE(isa != nullptr);
  CHECK(isa->driver.empty());
  CHECK(pci_class_name(isa->class_code) == "ISA bridge");

  const auto siblings = host.siblings("0000:08:00.0");
  CHECK(siblings.size() == 5);
  CHECK(host.find_pci_by_ids("1002", "1637").at(0)->address == "0000:08:00.1");
}

TEST_CASE("reader: block devices with size, model, by-id, controller and use", "[sysfs]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  const HostDevices host = read_host_devices(tree.root());

  const BlockDevice* sdb = host.find_block("sdb");
  REQUIRE(sdb != nullptr);
  CHECK(sdb->size_bytes == 10ULL << 40);
  CHECK(sdb->model == "WDC WD100EMAZ-00WJTA0");
  CHECK(sdb->controller == "0000:01:00.0");
  CHECK(sdb->by_id ==
        std::vector<std::string>{"ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN", "wwn-0x5000cca267c1a1an"});
  CHECK_FALSE(sdb->in_use_by_host());
  CHECK(sdb->preferred_by_id_path() == "/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN");

  const BlockDevice* nvme = host.find_block("nvme0n1");
  REQUIRE(nvme != nullptr);
  CHECK(nvme->partitions == std::vector<std::string>{"nvme0n1p1", "nvme0n1p2", "nvme0n1p3"});
  CHECK(nvme->mountpoints == std::vector<std::string>{"/boot/efi", "/"});
  CHECK(nvme->swap);
  CHECK(nvme->controller == "0000:07:00.0");
  // Partition links (-part1) do not name the whole disk.
  CHECK(nvme->by_id == std::vector<std::string>{"nvme-INTEL_SSDPEKKW256G8_BTHH81234567256B"});

  CHECK(host.resolve_block("/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A2BN")->name == "sdc");
  CHECK(host.resolve_block("/dev/sdc")->name == "sdc");
  CHECK(host.resolve_block("/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A2BN-part1") == nullptr);
  CHECK(host.resolve_block("/dev/sdz") == nullptr);
}

TEST_CASE("reader: holders of partitions count for the disk", "[sysfs]") {
  const FixtureTree tree(virtform::testing::sas_hba_host());
  const HostDevices host = read_host_devices(tree.root());

  CHECK(host.find_block("sdb")->mountpoints == std::vector<std::string>{"/srv/tank"});
  CHECK(host.find_block("sdc")->holders == std::vector<std::string>{"md0"});
  CHECK_FALSE(host.find_block("sdd")->in_use_by_host());
  CHECK(host.find_pci("0000:01:00.0")->subsystem_device == "3020");
}

TEST_CASE("reader: no IOMMU and no vfio", "[sysfs]") {
  auto description = virtform::testing::discrete_gpu_host();
  description.iommu = false;
  description.vfio_loaded = false;
  for (auto& function : description.pci) function.group = -1;
  const FixtureTree tree(description);
  const HostDevices host = read_host_devices(tree.root());

  CHECK_FALSE(host.iommu_enabled);
  CHECK_FALSE(host.vfio_loaded);
  CHECK_FALSE(host.vfio_available);
  CHECK(host.iommu_groups.empty());
  CHECK_FALSE(host.find_pci("0000:01:00.0")->iommu_group.has_value());
}

TEST_CASE("reader: vfio-pci installed but not loaded is available", "[sysfs]") {
  auto description = virtform::testing::discrete_gpu_host();
  description.vfio_loaded = false;
  const FixtureTree tree(description);
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(tree.root()) / "proc/sys/kernel");
  std::ofstream(fs::path(tree.root()) / "proc/sys/kernel/osrelease") << "6.1.0-18-amd64\n";
  const fs::path modules = fs::path(tree.root()) / "lib/modules/6.1.0-18-amd64";
  fs::create_directories(modules);
  std::ofstream(modules / "modules.dep")
      << "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko\n";

  const HostDevices host = read_host_devices(tree.root());
  CHECK_FALSE(host.vfio_loaded);
  CHECK(host.vfio_available);
}

TEST_CASE("reader: an empty root reads as an empty host", "[sysfs]") {
  const HostDevices host = read_host_devices("/nonexistent/virtform-root");
  CHECK(host.pci.empty());
  CHECK(host.blocks.empty());
  CHECK_FALSE(host.iommu_enabled);
}

// How fast this is read is bench/'s business (bench_host_devices); here only that a tree of the
// size the benchmark uses is read whole.
TEST_CASE("reader: a generated tree of 2000 PCI functions is read whole", "[sysfs]") {
  const FixtureTree tree(virtform::testing::generated_host(2000));
  const HostDevices host = read_host_devices(tree.root());
  CHECK(host.pci.size() == 2000);
  CHECK(host.iommu_groups.size() > 500);
  CHECK(host.find_pci("0003:2e:00.1") != nullptr);
}

TEST_CASE("reader: the demo host's recorded tree matches the seed listing", "[sysfs]") {
  const HostDevices host = read_host_devices(VIRTFORM_SOURCE_DIR "/examples/demo-host/root");
  // The listing's 21, and the I350-T2's root port and its two ports.
  CHECK(host.iommu_groups.size() == 24);
  REQUIRE(host.find_pci("0000:08:00.1") != nullptr);
  CHECK(host.find_pci("0000:08:00.1")->ids() == "1002:1637");
  REQUIRE(host.resolve_block("/dev/disk/by-id/ata-EXAMPLE_SERIAL_1") != nullptr);
  CHECK(host.resolve_block("/dev/disk/by-id/ata-EXAMPLE_SERIAL_1")->controller == "0000:01:00.0");
  CHECK_FALSE(host.resolve_block("/dev/disk/by-id/ata-EXAMPLE_SERIAL_2")->in_use_by_host());
  CHECK(host.find_block("nvme0n1")->swap);
  CHECK(host.find_block("sda")->mountpoints == std::vector<std::string>{"/srv/media"});
  CHECK(host.find_pci("0000:08:00.0")->boot_vga);
}
