// virtform capture: a recording reads back as the host it was made from. The host files side
// is recorded from sysfs fixture trees and the demo host's tree; the libvirt side from
// libvirt's test:///default, loaded back through the test driver from the written host.xml.

#include "providers/capture/capture.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "providers/capture/host_file_recorder.h"
#include "providers/capture/libvirt_recorder.h"
#include "providers/host/recorded_host.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "tests/support/sysfs_fixture.h"
#include "tests/support/temp_dir.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using testing::FixtureTree;
using testing::read_file;
using testing::TempDir;

void check_same_devices(const HostDevices& recorded, const HostDevices& original) {
  CHECK(recorded.iommu_enabled == original.iommu_enabled);
  CHECK(recorded.vfio_loaded == original.vfio_loaded);
  CHECK(recorded.vfio_available == original.vfio_available);
  CHECK(recorded.pci == original.pci);
  CHECK(recorded.iommu_groups == original.iommu_groups);
  CHECK(recorded.blocks == original.blocks);
  CHECK(recorded.bridges == original.bridges);
  CHECK(recorded.hugepages == original.hugepages);
  CHECK(recorded.cpus == original.cpus);
  CHECK(recorded.usb == original.usb);
}

std::string record_tree(const std::string& host_root, const TempDir& out) {
  HostFileRecording request;
  request.host_root = host_root;
  request.snapshot_root = out / "root";
  record_host_files(request);
  return request.snapshot_root;
}

// Every entry of a tree with its kind, link target or content: two equal listings are two
// equal trees.
std::string describe_tree(const fs::path& root) {
  std::ostringstream out;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root)) entries.push_back(entry.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& path : entries) {
    out << path.lexically_relative(root).string() << " ";
    if (fs::is_symlink(path)) {
      out << "-> " << fs::read_symlink(path).string();
    } else if (fs::is_regular_file(path)) {
      out << "= " << read_file(path);
    } else {
      out << "/";
    }
    out << "\n";
  }
  return out.str();
}

std::string unique_name(const std::string& what) {
  return "vfcapture-" + std::to_string(getpid()) + "-" + what;
}

Vm managed_vm(const std::string& key) {
  Vm vm;
  vm.key = key;
  vm.name = unique_name(key);
  vm.project = "capture";
  vm.type = DomainType::qemu;
  vm.memory_kib = 256 * 1024;
  vm.vcpus = 2;
  Disk disk;
  disk.source = "/var/lib/virtform/images/" + key + ".img";
  disk.bus = DiskBus::virtio;
  vm.disks = {disk};
  Nic nic;
  nic.source = "default";
  vm.nics = {nic};
  vm.graphics = Graphics{GraphicsType::vnc, "127.0.0.1", std::nullopt};
  return vm;
}

// A domain virtform does not manage, with things a recording must not carry.
std::string unmanaged_xml_with_secrets(const std::string& name) {
  return "<domain type='test'><name>" + name +
         "</name><memory>131072</memory><os><type>hvm</type></os><devices>"
         "<disk type='network' device='disk'><source protocol='rbd' name='pool/image'>"
         "<host name='ceph.example'/><auth username='admin'><secret type='ceph' "
         "usage='client.admin secret'/></auth></source><target dev='vda' bus='virtio'/></disk>"
         "<graphics type='vnc' port='-1' passwd='hunter2'/></devices></domain>";
}

// Removes the domains at the end of the test, even when an assertion fails.
struct Undefine {
  LibvirtHypervisor& hypervisor;
  std::vector<std::string> names;
  ~Undefine() {
    for (const auto& name : names) {
      try {
        if (hypervisor.is_running(name)) hypervisor.destroy(name);
        hypervisor.undefine(name);
      } catch (const SystemError&) {
        // Already gone.
      }
    }
  }
};

}  // namespace

TEST_CASE("a recorded sysfs tree reads back as the same host devices", "[capture]") {
  const auto host =
      GENERATE(testing::seed_ryzen_host(), testing::poor_apu_host(), testing::discrete_gpu_host(),
               testing::sas_hba_host(), testing::generated_host(40));
  FixtureTree tree(host);
  TempDir out("capture");
  const std::string recorded = record_tree(tree.root(), out);
  const HostDevices original = read_host_devices(tree.root());
  REQUIRE_FALSE(original.pci.empty());
  check_same_devices(read_host_devices(recorded), original);
}

TEST_CASE("the demo host's tree records with the same devices and firmware", "[capture]") {
  const std::string demo = std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host/root";
  TempDir out("capture");
  const std::string recorded = record_tree(demo, out);
  REQUIRE(read_host_devices(demo).usb.size() == 5);
  check_same_devices(read_host_devices(recorded), read_host_devices(demo));
  // The firmware descriptor is copied; the images it names are empty placeholders.
  const std::string descriptor = "/usr/share/qemu/firmware/60-edk2-x86_64.json";
  CHECK(read_file(recorded + descriptor) == read_file(demo + descriptor));
  CHECK(fs::file_size(recorded + "/usr/share/OVMF/OVMF_CODE_4M.fd") == 0);
  // By-id links keep the kernel's relative form and lead to placeholders inside the recording.
  const fs::path link = recorded + "/dev/disk/by-id/ata-EXAMPLE_SERIAL_1";
  CHECK(fs::read_symlink(link) == fs::read_symlink(demo + "/dev/disk/by-id/ata-EXAMPLE_SERIAL_1"));
  CHECK(fs::is_regular_file(link));
  CHECK(fs::canonical(link).string().starts_with(fs::canonical(recorded).string()));
}

TEST_CASE("a link the host has with an absolute target is recorded relative, inside the recording",
          "[capture]") {
  TempDir host("capture-host");
  host.write_file("dev/sdb", "");
  host.symlink("dev/disk/by-id/ata-ABSOLUTE", "/dev/sdb");
  TempDir out("capture");
  out.write_file("host.xml", "<node/>\n");
  HostFileRecording request;
  request.host_root = host.path();
  request.snapshot_root = out / "root";
  record_host_files(request);
  const fs::path link = out / "root/dev/disk/by-id/ata-ABSOLUTE";
  CHECK(fs::read_symlink(link) == "../../sdb");
  CHECK(fs::is_regular_file(link));
  CHECK_NOTHROW(check_recorded_host(out.path(), out / "host.xml", out / "root"));
}

TEST_CASE("named files become empty placeholders only when they exist", "[capture]") {
  TempDir host("capture-host");
  host.write_file("var/lib/images/disk.img", "guest data that must not be copied");
  host.write_file("var/lib/pool/volume.qcow2", "more guest data");
  TempDir out("capture");
  HostFileRecording request;
  request.host_root = host.path();
  request.snapshot_root = out / "root";
  request.files = {"/var/lib/images/disk.img", "/var/lib/images/missing.img"};
  request.listings = {"/var/lib/pool"};
  record_host_files(request);
  CHECK(fs::is_regular_file(out / "root/var/lib/images/disk.img"));
  CHECK(fs::file_size(out / "root/var/lib/images/disk.img") == 0);
  CHECK_FALSE(fs::exists(out / "root/var/lib/images/missing.img"));
  CHECK(fs::file_size(out / "root/var/lib/pool/volume.qcow2") == 0);
}

TEST_CASE("recorded domains load in the test driver as they were", "[capture]") {
  // test:///default is shared by the connections open at the same time in this process: the
  // hypervisor changes it, the recorder reads the same state.
  LibvirtHypervisor original("test:///default");
  const Connection connection("test:///default");
  Vm running = managed_vm("running");
  Vm stopped = managed_vm("stopped");
  const std::string unmanaged = unique_name("unmanaged");
  Undefine cleanup{original, {running.name, stopped.name, unmanaged}};
  original.define(running);
  original.define(stopped);
  original.set_autostart(running.name, true);
  original.start(running.name);
  virDomainPtr raw =
      virDomainDefineXML(connection.get(), unmanaged_xml_with_secrets(unmanaged).c_str());
  REQUIRE(raw != nullptr);
  virDomainFree(raw);

  const LibvirtRecording recording = record_libvirt(connection);
  CHECK(recording.host_xml.find("hunter2") == std::string::npos);
  CHECK(recording.host_xml.find("<auth") == std::string::npos);
  CHECK(recording.host_xml.find("<secret") == std::string::npos);
  const auto& files = recording.referenced_files;
  CHECK(std::find(files.begin(), files.end(), running.disks[0].source) != files.end());

  TempDir out("capture");
  const std::string file = out.write_file("host.xml", recording.host_xml);
  const Live before = original.read_live();
  const Live after = LibvirtHypervisor("test://" + file).read_live();
  REQUIRE(after.domains.size() == before.domains.size());
  CHECK(recording.domains == before.domains.size());
  for (const LiveDomain& domain : before.domains) {
    INFO(domain.vm.name);
    const LiveDomain* recorded = after.find_domain(domain.vm.name);
    REQUIRE(recorded != nullptr);
    CHECK(recorded->managed == domain.managed);
    CHECK(recorded->running == domain.running);
    CHECK(recorded->uuid == domain.uuid);
    // The recording keeps no console password: the rest of the VM is as it was.
    CHECK_FALSE((recorded->vm.graphics && recorded->vm.graphics->password));
    Vm without_password = domain.vm;
    if (without_password.graphics) without_password.graphics->password.reset();
    CHECK(recorded->vm == without_password);
    CHECK(recorded->booted.has_value() == domain.booted.has_value());
  }
  CHECK(after.find_domain(running.name)->vm.autostart);
  CHECK_FALSE(after.find_domain(stopped.name)->running);
  REQUIRE(after.networks.size() == before.networks.size());
  CHECK(after.networks[0].name == before.networks[0].name);
}

TEST_CASE("a network disk's URL query is not recorded", "[capture]") {
  const Connection connection("test:///default");
  LibvirtHypervisor hypervisor("test:///default");
  const std::string name = unique_name("http");
  Undefine cleanup{hypervisor, {name}};
  const std::string xml =
      "<domain type='test'><name>" + name +
      "</name><memory>131072</memory><os><type>hvm</type></os><devices>"
      "<disk type='network' device='cdrom'><source protocol='https' name='/boot.iso' "
      "query='token=TOKENSECRET'><host name='images.example' port='443'/></source>"
      "<target dev='sda' bus='sata'/><readonly/></disk></devices></domain>";
  virDomainPtr raw = virDomainDefineXML(connection.get(), xml.c_str());
  REQUIRE(raw != nullptr);
  virDomainFree(raw);
  const std::string original = hypervisor.read_live().find_domain(name)->xml;
  REQUIRE(original.find("TOKENSECRET") != std::string::npos);

  const LibvirtRecording recording = record_libvirt(connection);
  CHECK(recording.host_xml.find("TOKENSECRET") == std::string::npos);
  CHECK(recording.host_xml.find("name='/boot.iso'") != std::string::npos);
}

TEST_CASE("capture refuses a foreign directory and repeats identically", "[capture]") {
  FixtureTree tree(testing::seed_ryzen_host());
  TempDir out("capture");
  CaptureRequest request;
  request.uri = "test:///default";
  request.host_root = tree.root();

  request.directory = out.make_dir("someone-else");
  out.write_file("someone-else/notes.txt", "keep me");
  CHECK_THROWS_WITH(capture_host(request), Catch::Contains("no previous capture"));
  CHECK(read_file(out / "someone-else/notes.txt") == "keep me");

  request.directory = out / "snapshot";
  const CaptureSummary summary = capture_host(request);
  CHECK(summary.domains >= 1);
  const std::string first = describe_tree(request.directory);
  capture_host(request);
  CHECK(describe_tree(request.directory) == first);
  check_same_devices(read_host_devices(request.directory + "/root"),
                     read_host_devices(tree.root()));
}

}  // namespace virtform
