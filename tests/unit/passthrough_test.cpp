#include "engine/checks/passthrough.h"

#include <catch2/catch.hpp>

#include "engine/config/config.h"
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

PciDevice pci(const std::string& address, int line = 10) {
  PciDevice device;
  device.address = address;
  device.where = {"win.toml", line, 1};
  return device;
}

Disk whole_disk(const std::string& source, int line = 20) {
  Disk disk;
  disk.kind = DiskSource::block;
  disk.source = source;
  disk.where = {"dsm.toml", line, 1};
  return disk;
}

Vm vm(const std::string& key, std::vector<PciDevice> devices, std::vector<Disk> disks = {}) {
  Vm result;
  result.key = key;
  result.name = key;
  result.pci = std::move(devices);
  result.disks = std::move(disks);
  return result;
}

Diagnostics check(const HostDevices& host, std::vector<Vm> vms, const Live& live = {}) {
  Desired desired;
  desired.vms = std::move(vms);
  Diagnostics diagnostics;
  check_passthrough(desired, live, host, diagnostics);
  return diagnostics;
}

std::vector<std::string> messages(const Diagnostics& diagnostics, Severity severity) {
  std::vector<std::string> found;
  for (const auto& diagnostic : diagnostics) {
    if (diagnostic.severity == severity) found.push_back(diagnostic.message);
  }
  return found;
}

// The one message of `severity` containing `needle`; fails the test if there is not exactly one.
Diagnostic the_one(const Diagnostics& diagnostics, Severity severity, const std::string& needle) {
  std::vector<Diagnostic> found;
  for (const auto& diagnostic : diagnostics) {
    if (diagnostic.severity == severity && diagnostic.message.find(needle) != std::string::npos) {
      found.push_back(diagnostic);
    }
  }
  std::string all;
  for (const auto& diagnostic : diagnostics) all += format(diagnostic) + "\n";
  INFO("looking for \"" << needle << "\" in:\n" << all);
  REQUIRE(found.size() == 1);
  return found.front();
}

std::vector<PciDevice> apu_gpu_and_audio() {
  auto gpu = pci("0000:08:00.0", 3);
  gpu.vendor = "1002";
  gpu.device = "1638";
  gpu.rom = "/var/lib/virtform/rom/vbios_1002_1638.bin";
  return {gpu, pci("0000:08:00.1", 9)};
}

}  // namespace

TEST_CASE("passthrough: the seed's APU guest on the seed host only warns about boot VGA",
          "[passthrough]") {
  const auto diagnostics =
      check(read(virtform::testing::seed_ryzen_host()), {vm("win", apu_gpu_and_audio())});
  CHECK(messages(diagnostics, Severity::error).empty());
  const auto warning = the_one(diagnostics, Severity::warning, "boot GPU");
  CHECK(warning.resource == "vm.win");
  CHECK(warning.where == Location{"win.toml", 3, 1});
  CHECK(messages(diagnostics, Severity::warning).size() == 1);
}

TEST_CASE("passthrough: IOMMU off and vfio-pci missing are errors", "[passthrough]") {
  auto description = virtform::testing::seed_ryzen_host();
  description.iommu = false;
  description.vfio_loaded = false;
  for (auto& function : description.pci) function.group = -1;
  const auto diagnostics =
      check(read(description), {vm("win", apu_gpu_and_audio()), vm("nas", {})});

  CHECK(the_one(diagnostics, Severity::error, "IOMMU is off").resource == "vm.win");
  CHECK(the_one(diagnostics, Severity::error, "vfio-pci driver cannot be found").where.line == 3);
}

TEST_CASE("passthrough: bind = vfio-pci needs the module loaded", "[passthrough]") {
  auto description = virtform::testing::seed_ryzen_host();
  description.vfio_loaded = false;
  auto host = read(description);
  host.vfio_available = true;  // installed, not loaded
  auto devices = apu_gpu_and_audio();
  devices[1].bind = "vfio-pci";
  devices[1].managed = false;
  const auto diagnostics = check(host, {vm("win", devices)});
  CHECK(the_one(diagnostics, Severity::error, "modprobe vfio-pci").where.line == 9);
}

TEST_CASE("passthrough: a missing device names where the expected ids are now", "[passthrough]") {
  auto description = virtform::testing::seed_ryzen_host();
  // After a BIOS update the APU's bus number moved from 08 to 0a.
  for (auto& function : description.pci) {
    if (function.address.starts_with("0000:08:")) function.address.replace(5, 2, "0a");
  }
  const auto diagnostics = check(read(description), {vm("win", apu_gpu_and_audio())});
  const auto error = the_one(diagnostics, Severity::error, "no PCI device at 0000:08:00.0");
  CHECK_THAT(error.message, Catch::Contains("1002:1638 device is now at 0000:0a:00.0"));
  CHECK_THAT(the_one(diagnostics, Severity::error, "no PCI device at 0000:08:00.1").message,
             Catch::Contains("virtform host"));
}

TEST_CASE("passthrough: ids that do not match are an error", "[passthrough]") {
  auto devices = apu_gpu_and_audio();
  devices[0].address = "0000:07:00.0";  // the NVMe drive
  const auto diagnostics = check(read(virtform::testing::seed_ryzen_host()), {vm("win", devices)});
  const auto error = the_one(diagnostics, Severity::error, "not the expected 1002:1638");
  CHECK_THAT(error.message, Catch::Contains("Non-Volatile memory controller, 8086:f1a6"));
  CHECK_THAT(error.message, Catch::Contains("now at 0000:08:00.0"));
}

TEST_CASE("passthrough: a poorly isolated APU group is not viable", "[passthrough]") {
  const auto host = read(virtform::testing::poor_apu_host());
  const auto diagnostics = check(host, {vm("win", apu_gpu_and_audio())});
  const auto error = the_one(diagnostics, Severity::error, "IOMMU group 5 of 0000:08:00.0");
  CHECK_THAT(error.message, Catch::Contains("0000:08:00.2 (Encryption controller, 1022:15df) on "
                                            "host driver ccp"));
  CHECK_THAT(error.message, Catch::Contains("0000:08:00.3 (USB controller, 1022:1639) on host "
                                            "driver xhci_hcd"));
  CHECK_THAT(error.message, Catch::Contains("0000:08:00.6"));
  // Bridges are fine; the GPU's own audio is passed along.
  CHECK_THAT(error.message, !Catch::Contains("0000:00:08.1") && !Catch::Contains("0000:00:08.0") &&
                                !Catch::Contains("0000:08:00.1"));
  // One message per group, not one per device.
  CHECK(messages(diagnostics, Severity::error).size() == 1);
}

TEST_CASE("passthrough: a group is viable when the rest is unbound, on vfio-pci or pci-stub",
          "[passthrough]") {
  auto description = virtform::testing::poor_apu_host();
  description.extra_drivers = {"pci-stub"};
  for (auto& function : description.pci) {
    if (function.address == "0000:08:00.2") function.driver = "";
    if (function.address == "0000:08:00.3") function.driver = "vfio-pci";
    if (function.address == "0000:08:00.4") function.driver = "pci-stub";
  }
  auto devices = apu_gpu_and_audio();
  devices.push_back(pci("0000:08:00.6", 12));
  const auto diagnostics = check(read(description), {vm("win", devices)});
  CHECK(messages(diagnostics, Severity::error).empty());
}

TEST_CASE("passthrough: a discrete GPU behind its root port needs its audio function",
          "[passthrough]") {
  const auto host = read(virtform::testing::discrete_gpu_host());

  const auto gpu_only = check(host, {vm("win", {pci("0000:01:00.0")})});
  CHECK_THAT(the_one(gpu_only, Severity::error, "IOMMU group 2").message,
             Catch::Contains("0000:01:00.1 (Audio device, 10de:10f0) on host driver "
                             "snd_hda_intel") &&
                 !Catch::Contains("0000:00:01.0"));
  CHECK_THAT(the_one(gpu_only, Severity::warning, "sibling").message,
             Catch::Contains("0000:01:00.1 (Audio device, 10de:10f0) is not passed to vm.win"));

  const auto both = check(host, {vm("win", {pci("0000:01:00.0"), pci("0000:01:00.1")})});
  CHECK(both.empty());  // not the boot GPU either: the iGPU is
}

TEST_CASE("passthrough: the APU's audio left behind is named", "[passthrough]") {
  auto devices = apu_gpu_and_audio();
  devices.pop_back();
  const auto diagnostics = check(read(virtform::testing::seed_ryzen_host()), {vm("win", devices)});
  const auto warning = the_one(diagnostics, Severity::warning, "sibling");
  CHECK_THAT(warning.message, Catch::Contains("0000:08:00.1 (Audio device, 1002:1637)"));
  CHECK_THAT(warning.message, Catch::Contains("Error 43"));
  // The APU's PSP and USB functions are separate AMD devices, not GPU functions.
  CHECK_THAT(warning.message, !Catch::Contains("0000:08:00.2"));
}

TEST_CASE("passthrough: a device claimed by two VMs", "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  const auto diagnostics =
      check(host, {vm("win", apu_gpu_and_audio()), vm("linux", {pci("0000:08:00.1", 30)})});
  CHECK(the_one(diagnostics, Severity::error, "also claimed by vm.linux").where.line == 9);
  CHECK(the_one(diagnostics, Severity::error, "also claimed by vm.win").where.line == 30);
}

TEST_CASE("passthrough: a device claimed by a live domain virtform does not manage",
          "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  Live live;
  LiveDomain other;
  other.vm = vm("gaming", {pci("0000:08:00.0")});
  live.domains.push_back(other);
  const auto diagnostics = check(host, {vm("win", apu_gpu_and_audio())}, live);
  the_one(diagnostics, Severity::error, "also claimed by domain 'gaming'");

  // An undeclared domain carrying virtform's marker is about to be removed: no conflict.
  live.domains.front().managed = true;
  CHECK(messages(check(host, {vm("win", apu_gpu_and_audio())}, live), Severity::error).empty());
  // The declared VM's own live domain is no rival either.
  live.domains.front().managed = false;
  live.domains.front().vm.name = "win";
  CHECK(messages(check(host, {vm("win", apu_gpu_and_audio())}, live), Severity::error).empty());
}

TEST_CASE("passthrough: a storage controller whose disks the host uses is refused",
          "[passthrough]") {
  const auto host = read(virtform::testing::sas_hba_host());
  const auto diagnostics = check(host, {vm("nas", {pci("0000:01:00.0")})});
  const auto error = the_one(diagnostics, Severity::error, "controls disks still in use");
  CHECK_THAT(error.message, Catch::Contains("sdb mounted at /srv/tank"));
  CHECK_THAT(error.message, Catch::Contains("sdc held by md0"));
  CHECK_THAT(error.message, !Catch::Contains("sdd"));
  CHECK_THAT(error.message, Catch::Contains("Serial Attached SCSI controller"));
}

TEST_CASE("passthrough: the seed's HBA with free disks passes; its SATA with media does not",
          "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  CHECK(check(host, {vm("nas", {pci("0000:01:00.0")})}).empty());
  CHECK_THAT(
      the_one(check(host, {vm("nas", {pci("0000:09:00.0")})}), Severity::error, "controls disks")
          .message,
      Catch::Contains("sda mounted at /srv/media"));
  // A disk under the controller given to another guest as a whole disk.
  const auto both =
      check(host, {vm("nas", {pci("0000:01:00.0")}), vm("dsm", {}, {whole_disk("/dev/sdb")})});
  CHECK_THAT(the_one(both, Severity::error, "controls disks").message,
             Catch::Contains("sdb given as a whole disk to vm.dsm"));
}

TEST_CASE("passthrough: whole disks that are mounted, swap or held are refused", "[passthrough]") {
  const auto sas = read(virtform::testing::sas_hba_host());
  const auto diagnostics =
      check(sas, {vm("dsm", {},
                     {whole_disk("/dev/disk/by-id/ata-HGST_HUH728080ALE600_VKGA1111", 21),
                      whole_disk("/dev/disk/by-id/ata-HGST_HUH728080ALE600_VKGA2222", 22),
                      whole_disk("/dev/disk/by-id/ata-HGST_HUH728080ALE600_VKGA3333", 23)})});
  CHECK(the_one(diagnostics, Severity::error, "mounted at /srv/tank").where.line == 21);
  CHECK(the_one(diagnostics, Severity::error, "held by md0").where.line == 22);
  CHECK(messages(diagnostics, Severity::error).size() == 2);

  const auto seed = read(virtform::testing::seed_ryzen_host());
  const auto root_disk = check(seed, {vm("dsm", {}, {whole_disk("/dev/nvme0n1")})});
  CHECK_THAT(the_one(root_disk, Severity::error, "in use on the host").message,
             Catch::Contains("active swap") && Catch::Contains("mounted at /boot/efi, /"));
}

TEST_CASE("passthrough: a disk given to two guests, under different names", "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  Live live;
  LiveDomain other;
  other.vm = vm("old-nas", {}, {whole_disk("/dev/sdc")});
  live.domains.push_back(other);
  const auto diagnostics =
      check(host,
            {vm("dsm", {},
                {whole_disk("/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN", 21),
                 whole_disk("/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A2BN", 22)}),
             vm("backup", {}, {whole_disk("/dev/sdb", 40)})},
            live);
  CHECK(the_one(diagnostics, Severity::error, "also given to vm.backup").where.line == 21);
  CHECK(the_one(diagnostics, Severity::error, "also given to vm.dsm").where.line == 40);
  CHECK(the_one(diagnostics, Severity::error, "also given to domain 'old-nas'").where.line == 22);
}

TEST_CASE("passthrough: /dev/sdX is accepted with a warning naming its by-id path",
          "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  const auto diagnostics = check(host, {vm("dsm", {}, {whole_disk("/dev/sdb")})});
  CHECK(messages(diagnostics, Severity::error).empty());
  CHECK_THAT(the_one(diagnostics, Severity::warning, "/dev/sdb").message,
             Catch::Contains("source = \"/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN\""));
  CHECK(check(host,
              {vm("dsm", {}, {whole_disk("/dev/disk/by-id/ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN")})})
            .empty());
}

TEST_CASE("passthrough: the inventory's claims include undeclared managed domains",
          "[passthrough]") {
  const auto host = read(virtform::testing::seed_ryzen_host());
  Live live;
  LiveDomain orphan;
  orphan.managed = true;
  orphan.vm = vm("old", {pci("0000:08:00.0")});
  live.domains.push_back(orphan);
  CHECK(collect_claims({}, live, host, true).pci_labels("0000:08:00.0") ==
        std::vector<std::string>{"domain 'old'"});
  CHECK(collect_claims({}, live, host, false).pci_labels("0000:08:00.0").empty());
}

TEST_CASE("passthrough: the examples check clean against the demo host", "[passthrough]") {
  const auto host = read_host_devices(VIRTFORM_SOURCE_DIR "/examples/demo-host/root");
  Diagnostics config_diagnostics;
  const Desired desired = load_config(
      {VIRTFORM_SOURCE_DIR "/examples/passthrough", VIRTFORM_SOURCE_DIR "/examples/dsm"},
      config_diagnostics);
  REQUIRE_FALSE(has_errors(config_diagnostics));
  REQUIRE(desired.find_vm("win") != nullptr);
  REQUIRE(desired.find_vm("win")->pci.size() == 2);

  Diagnostics diagnostics;
  check_passthrough(desired, {}, host, diagnostics);
  std::string all;
  for (const auto& diagnostic : diagnostics) all += format(diagnostic) + "\n";
  INFO(all);
  CHECK_FALSE(has_errors(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK_THAT(diagnostics.front().message, Catch::Contains("boot GPU"));
}

namespace {

Disk image(const std::string& file, bool readonly = false, int line = 40) {
  Disk disk;
  disk.kind = DiskSource::file;
  disk.source = file;
  disk.readonly = readonly;
  disk.where = {"vms.toml", line, 1};
  return disk;
}

}  // namespace

TEST_CASE("passthrough: an image file used by a live domain virtform does not manage",
          "[passthrough]") {
  const HostDevices host;
  Live live;
  LiveDomain other;
  other.vm = vm("legacy", {}, {image("/var/lib/libvirt/images/win.qcow2")});
  live.domains.push_back(other);
  const auto diagnostics =
      check(host, {vm("win", {}, {image("/var/lib/libvirt/images//win.qcow2", false, 12)})}, live);
  const Diagnostic error = the_one(diagnostics, Severity::error, "also used by domain 'legacy'");
  CHECK(error.where.line == 12);
  CHECK(error.resource == "vm.win");

  // A domain virtform manages but no longer declares is about to be removed: no conflict.
  live.domains.front().managed = true;
  CHECK(messages(check(host, {vm("win", {}, {image("/var/lib/libvirt/images/win.qcow2")})}, live),
                 Severity::error)
            .empty());
}

TEST_CASE("passthrough: an image both guests only read may be shared", "[passthrough]") {
  const HostDevices host;
  const std::string iso = "/var/lib/libvirt/images/debian.iso";
  Live live;
  LiveDomain installer;
  installer.vm = vm("installer", {}, {image(iso, true)});
  live.domains.push_back(installer);
  CHECK(messages(check(host, {vm("a", {}, {image(iso, true)})}, live), Severity::error).empty());
  the_one(check(host, {vm("a", {}, {image(iso, false)})}, live), Severity::error,
          "also used by domain 'installer'");

  live.domains.front().vm.disks.front().readonly = false;
  the_one(check(host, {vm("a", {}, {image(iso, true)})}, live), Severity::error,
          "also used by domain 'installer'");

  // A loader image beneath an overlay is only read: it may be shared with readers, not writers.
  Disk overlay = image("/var/lib/libvirt/images/a.tcrp.qcow2");
  overlay.loader = "tcrp";
  overlay.backing = iso;
  the_one(check(host, {vm("a", {}, {overlay})}, live), Severity::error,
          iso + " is also used by domain 'installer'");
  live.domains.front().vm.disks.front().readonly = true;
  CHECK(messages(check(host, {vm("a", {}, {overlay})}, live), Severity::error).empty());

  // Attached itself (boot.overlay = false), it is written, as any image.
  Disk whole = image(iso);
  whole.loader = "tcrp";
  the_one(check(host, {vm("a", {}, {whole})}, live), Severity::error,
          "give this VM an overlay (remove boot.overlay = false)");
}

TEST_CASE("passthrough: another project's guest claims its image and this one's orphans do not",
          "[passthrough]") {
  const HostDevices host;
  const std::string overlay = "/var/lib/libvirt/images/dsm.tcrp.qcow2";
  Live live;
  LiveDomain theirs;
  theirs.managed = true;
  theirs.vm = vm("nas", {}, {image(overlay)});
  theirs.vm.project = "other";  // never removed by this configuration's plans
  live.domains.push_back(theirs);
  the_one(check(host, {vm("dsm", {}, {image(overlay)})}, live), Severity::error,
          overlay + " is also used by domain 'nas'");

  // An undeclared domain of this project is removed by the plan: no claim.
  live.domains.front().vm.project = "default";
  CHECK(messages(check(host, {vm("dsm", {}, {image(overlay)})}, live), Severity::error).empty());
}

TEST_CASE("passthrough: a disk virtform cannot express still claims its storage", "[passthrough]") {
  const HostDevices host;
  Live live;
  LiveDomain legacy;
  legacy.vm = vm("legacy", {});
  legacy.unexpressed_disks = {image("/var/lib/libvirt/images/win.qcow2")};  // an IDE hda
  live.domains.push_back(legacy);
  the_one(check(host, {vm("win", {}, {image("/var/lib/libvirt/images/win.qcow2")})}, live),
          Severity::error, "also used by domain 'legacy'");
}
