#include "engine/checks/host_inventory.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/render/host_inventory.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/sysfs_fixture.h"

using namespace virtform;
using virtform::testing::FixtureHost;
using virtform::testing::FixtureTree;

namespace {

HostDevices read(const FixtureHost& description) {
  const FixtureTree tree(description);
  return read_host_devices(tree.root());
}

PciDevice pci_at(const std::string& address) {
  PciDevice device;
  device.address = address;
  return device;
}

Desired windows_guest(const std::vector<std::string>& addresses) {
  Vm vm;
  vm.key = "win";
  vm.name = "win";
  for (const auto& address : addresses) vm.pci.push_back(pci_at(address));
  Desired desired;
  desired.vms.push_back(vm);
  return desired;
}

const InventoryGroup& group_of(const HostInventory& inventory, int number) {
  for (const auto& group : inventory.groups) {
    if (group.number == number) return group;
  }
  FAIL("no group " << number);
  return inventory.groups.front();  // not reached: FAIL throws
}

}  // namespace

TEST_CASE("inventory: the seed host's groups, classes, drivers and claims", "[inventory]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  const auto inventory =
      build_host_inventory(host, windows_guest({"0000:08:00.0", "0000:08:00.1"}), {});

  REQUIRE(inventory.groups.size() == 21);
  const auto& gpu_group = group_of(inventory, 13);
  CHECK(gpu_group.viable);
  CHECK(gpu_group.verdict == "viable for vm.win");
  CHECK(gpu_group.devices.at(0).class_name == "VGA compatible controller");
  CHECK(gpu_group.devices.at(0).claimed_by == std::vector<std::string>{"vm.win"});
  CHECK(group_of(inventory, 15).verdict == "isolated: can be passed alone");
  CHECK(group_of(inventory, 11).verdict == "shared by 4 endpoints: pass them together");
  CHECK(group_of(inventory, 6).verdict == "bridges only");

  const std::string text = render_host_text(inventory);
  CHECK_THAT(text, Catch::Contains("IOMMU: on    vfio-pci: loaded    bridges: br0"));
  CHECK_THAT(text, Catch::Contains("IOMMU group 13  viable for vm.win\n"
                                   "  0000:08:00.0  VGA compatible controller  1002:1638  amdgpu  "
                                   "vm.win  boot VGA\n"));
  CHECK_THAT(text, Catch::Contains("Serial Attached SCSI controller  1000:0072  mpt3sas"));
  CHECK_THAT(text, Catch::Contains("sdb      10 TiB   WDC WD100EMAZ-00WJTA0"));
  CHECK_THAT(text, Catch::Contains("mounted /srv/media"));
}

TEST_CASE("inventory: a poorly isolated group is not viable for its claimant", "[inventory]") {
  const auto host = read(virtform::testing::poor_apu_host());
  const auto inventory =
      build_host_inventory(host, windows_guest({"0000:08:00.0", "0000:08:00.1"}), {});
  const auto& group = group_of(inventory, 5);
  CHECK_FALSE(group.viable);
  CHECK_THAT(group.verdict, Catch::StartsWith("NOT viable for vm.win: ") &&
                                Catch::Contains("0000:08:00.2 on host driver ccp"));
}

TEST_CASE("inventory: live domains claim devices and disks", "[inventory]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  Live live;
  LiveDomain domain;
  domain.vm.name = "nas";
  domain.managed = true;  // even an orphan claims what it holds today
  Disk whole;
  whole.kind = DiskSource::block;
  whole.source = "/dev/sdc";
  whole.bus = DiskBus::scsi;
  domain.vm.disks.push_back(whole);
  domain.vm.pci.push_back(pci_at("0000:01:00.0"));
  live.domains.push_back(domain);
  const auto inventory = build_host_inventory(host, {}, live);

  CHECK(group_of(inventory, 10).devices.at(0).claimed_by ==
        std::vector<std::string>{"domain 'nas'"});
  for (const auto& disk : inventory.disks) {
    if (disk.block.name == "sdc")
      CHECK(disk.claimed_by == std::vector<std::string>{"domain 'nas'"});
    if (disk.block.name == "sdb") CHECK(disk.claimed_by.empty());
  }
}

TEST_CASE("inventory: JSON carries the same facts", "[inventory]") {
  const auto host = read(virtform::testing::poor_apu_host());
  const auto json = nlohmann::json::parse(
      render_host_json(build_host_inventory(host, windows_guest({"0000:08:00.0"}), {})));

  CHECK(json["iommu_enabled"] == true);
  REQUIRE(json["groups"].size() == 2);
  const auto& group = json["groups"][1];
  CHECK(group["group"] == 5);
  CHECK(group["viable"] == false);
  const auto& gpu = group["devices"][2];
  CHECK(gpu["address"] == "0000:08:00.0");
  CHECK(gpu["class_name"] == "VGA compatible controller");
  CHECK(gpu["vendor"] == "1002");
  CHECK(gpu["driver"] == "amdgpu");
  CHECK(gpu["driver_override"].is_null());
  CHECK(gpu["boot_vga"] == true);
  CHECK(gpu["claimed_by"] == nlohmann::json::array({"vm.win"}));
  const auto& disk = json["disks"][0];
  CHECK(disk["name"] == "nvme0n1");
  CHECK(disk["swap"] == true);
  CHECK(disk["in_use_by_host"] == true);
  CHECK(disk["by_id"][0] == "nvme-INTEL_SSDPEKKW256G8_BTHH81234567256B");
}

TEST_CASE("inventory: without an IOMMU every function is listed as ungrouped", "[inventory]") {
  auto description = virtform::testing::discrete_gpu_host();
  description.iommu = false;
  for (auto& function : description.pci) function.group = -1;
  const auto inventory = build_host_inventory(read(description), {}, {});
  CHECK(inventory.groups.empty());
  CHECK(inventory.ungrouped.size() == 6);
  CHECK_THAT(render_host_text(inventory),
             Catch::Contains("IOMMU: OFF") && Catch::Contains("in no IOMMU group"));
}

TEST_CASE("inventory: the real host reads and renders", "[inventory]") {
  const auto host = read_host_devices("/");
  const auto inventory = build_host_inventory(host, {}, {});
  CHECK(inventory.groups.size() == host.iommu_groups.size());
  CHECK(nlohmann::json::parse(render_host_json(inventory))["disks"].size() == host.blocks.size());
  CHECK_FALSE(render_host_text(inventory).empty());
}

namespace {

// A DS918+ guest with `disks` whole disks on virtio-scsi and its loader on USB.
Vm dsm_guest(int disks) {
  Vm vm;
  vm.key = "dsm";
  vm.name = "DSM";
  vm.dsm = DsmGuest{};
  Disk loader;
  loader.source = "/images/tcrp.img";
  loader.bus = DiskBus::usb;
  loader.boot_order = 1;
  vm.disks.push_back(loader);
  for (int i = 1; i <= disks; ++i) {
    Disk disk;
    disk.kind = DiskSource::block;
    disk.source = "/dev/disk/by-id/ata-DISK_" + std::to_string(i);
    disk.bus = DiskBus::scsi;
    vm.disks.push_back(disk);
  }
  return vm;
}

}  // namespace

TEST_CASE("inventory: a declared DSM guest shows its slot map, of the live guest if any",
          "[inventory][dsm]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  Desired desired;
  desired.vms.push_back(dsm_guest(2));

  SECTION("not defined yet: the config's layout") {
    const auto inventory = build_host_inventory(host, desired, {});
    REQUIRE(inventory.dsm_guests.size() == 1);
    CHECK_FALSE(inventory.dsm_guests[0].live);
    const std::string text = render_host_text(inventory);
    CHECK_THAT(text, Catch::Contains("\nDSM guests\n  vm.dsm \"DSM\" (DS918+, apollolake), as "
                                     "configured (no such domain yet):\n    SataPortMap = \"12\", "
                                     "DiskIdxMap = \"1000\"\n"));
    const auto json = nlohmann::json::parse(render_host_json(inventory));
    CHECK(json["dsm_guests"][0]["layout"] == "config");
    CHECK(json["dsm_guests"][0]["map"]["disk_idx_map"] == "1000");
  }
  SECTION("defined: the guest's own layout, here with a third disk") {
    Live live;
    LiveDomain domain;
    domain.vm = dsm_guest(3);
    domain.vm.dsm.reset();
    live.domains.push_back(domain);
    const auto inventory = build_host_inventory(host, desired, live);
    REQUIRE(inventory.dsm_guests.size() == 1);
    CHECK(inventory.dsm_guests[0].live);
    CHECK(inventory.dsm_guests[0].report.map->sata_port_map == "13");
    CHECK_THAT(render_host_text(inventory), Catch::Contains("drive 3: /dev/disk/by-id/ata-DISK_3"));
    CHECK(nlohmann::json::parse(render_host_json(inventory))["dsm_guests"][0]["layout"] == "live");
  }
  SECTION("no DSM guest, no section") {
    CHECK(render_host_text(build_host_inventory(host, windows_guest({}), {})).find("DSM") ==
          std::string::npos);
  }
}
