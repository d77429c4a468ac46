// LibvirtHypervisor against libvirt's in-process test driver: test:///default and the demo host
// file examples/demo-host/host.xml. Every domain gets a name unique to this process and is
// undefined at the end.

#include "providers/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>

#include "engine/plan/disk_layout.h"
#include "tests/support/owned_disks.h"

namespace virtform {
namespace {

std::string unique_name(const std::string& what) {
  return "vfhvtest-" + std::to_string(getpid()) + "-" + what;
}

std::string demo_host_uri() {
  return std::string("test://") + VIRTFORM_SOURCE_DIR + "/examples/demo-host/host.xml";
}

Vm small_vm(const std::string& key) {
  Vm vm;
  vm.key = key;
  vm.name = unique_name(key);
  vm.type = DomainType::qemu;
  vm.memory_kib = 128ULL * 1024;
  vm.vcpus = 2;
  vm.attributes["cpu.mode"] = "host-model";
  Disk boot;
  boot.source = "/var/lib/virtform/images/" + key + "-boot.img";
  boot.bus = DiskBus::usb;
  boot.boot_order = 1;
  Disk data;
  data.kind = DiskSource::block;
  data.source = "/dev/disk/by-id/ata-" + key;
  data.bus = DiskBus::scsi;
  vm.disks = {boot, data};
  Nic nic;
  nic.source = "default";
  vm.nics = {nic};
  vm.graphics = Graphics{GraphicsType::vnc, "127.0.0.1", std::nullopt};
  vm.serial = Serial{};
  return vm;
}

// Undefines the domain at the end of the test even when an assertion fails.
class Cleanup {
 public:
  Cleanup(LibvirtHypervisor& hypervisor, std::string name)
      : hypervisor_(hypervisor), name_(std::move(name)) {}
  ~Cleanup() {
    try {
      if (hypervisor_.is_running(name_)) hypervisor_.destroy(name_);
      hypervisor_.undefine(name_);
    } catch (const SystemError&) {
      // Already gone: the test undefined it itself.
    }
  }

 private:
  LibvirtHypervisor& hypervisor_;
  std::string name_;
};

const LiveDomain& require_domain(const Live& live, const std::string& name) {
  const LiveDomain* domain = live.find_domain(name);
  REQUIRE(domain != nullptr);
  return *domain;
}

void check_owned_fields(const Vm& desired, const Vm& live) {
  CHECK(live.key == desired.key);
  CHECK(live.type == desired.type);
  CHECK(live.memory_kib == desired.memory_kib);
  CHECK(live.vcpus == desired.vcpus);
  CHECK(live.machine == desired.machine);
  CHECK(live.firmware == desired.firmware);
  CHECK(live.attributes.at("cpu.mode") == "host-model");
  CHECK(test::owned_disks(live.disks, desired.disks) == desired.disks);
  REQUIRE(live.nics.size() == desired.nics.size());
  CHECK(live.nics[0].source == desired.nics[0].source);
  CHECK(live.nics[0].mac.has_value());
  CHECK(live.graphics == desired.graphics);
  CHECK(live.serial == desired.serial);
}

}  // namespace

TEST_CASE("a defined VM reads back managed with its owned fields", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  CHECK(hypervisor.uri() == "test:///default");
  Vm vm = small_vm("define");
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);

  Live live = hypervisor.read_live();
  const LiveDomain& domain = require_domain(live, vm.name);
  CHECK(domain.managed);
  CHECK_FALSE(domain.running);
  CHECK(domain.vm.state == PowerState::stopped);
  CHECK(domain.vm.autostart == false);
  CHECK(domain.uuid.size() == 36);
  check_owned_fields(vm, domain.vm);
  // The driver's own domain is there too, and not ours.
  const LiveDomain& builtin = require_domain(live, "test");
  CHECK_FALSE(builtin.managed);
  CHECK(builtin.running);
}

// Counts `needle` in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

TEST_CASE("a laid-out guest keeps its disk places in libvirt, with no controller of its choosing",
          "[libvirt][disk_layout]") {
  LibvirtHypervisor hypervisor("test:///default");
  Vm vm = small_vm("layout");
  vm.disks[0].loader = "tcrp";
  Disk pinned = vm.disks[1];
  pinned.source = "/dev/disk/by-id/ata-layout-pinned";
  pinned.controller = 2;
  pinned.unit = 3;
  vm.disks.push_back(pinned);
  vm = lay_out_disks(vm, nullptr);
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);

  const LiveDomain domain = require_domain(hypervisor.read_live(), vm.name);
  CHECK(describe_place(domain.vm.disks[0]).empty());
  CHECK(describe_place(domain.vm.disks[1]) == "scsi 0:0");
  CHECK(describe_place(domain.vm.disks[2]) == "scsi 2:3");
  // The loader takes the last name, so the first data disk is sda as in the seed's guest.
  CHECK(domain.xml.find("<target dev='sdz' bus='usb'/>") != std::string::npos);
  CHECK(domain.xml.find("<target dev='sda' bus='scsi'/>") != std::string::npos);
  // Controllers 0 to 2 are all virtio-scsi: libvirt fills no gap with lsilogic.
  CHECK(occurrences(domain.xml, "<controller type='scsi'") == 3);
  CHECK(occurrences(domain.xml, "model='virtio-scsi'") == 3);
  CHECK(domain.xml.find("lsilogic") == std::string::npos);
}

TEST_CASE("redefine patches the live definition and keeps UUID and MAC", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  Vm vm = small_vm("redefine");
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);
  LiveDomain before = require_domain(hypervisor.read_live(), vm.name);

  Vm desired = vm;
  desired.memory_kib = 256ULL * 1024;
  Disk extra;
  extra.source = "/var/lib/libvirt/images/extra.qcow2";
  extra.format = "qcow2";
  desired.disks.push_back(extra);
  hypervisor.redefine(desired, before);

  LiveDomain after = require_domain(hypervisor.read_live(), vm.name);
  CHECK(after.uuid == before.uuid);
  CHECK(after.vm.nics[0].mac == before.vm.nics[0].mac);
  check_owned_fields(desired, after.vm);
}

TEST_CASE("a console password another tool set survives a redefine", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  Vm vm = small_vm("password");
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);
  // Another tool sets it; libvirt leaves it out of every definition read without SECURE.
  virConnectPtr other = virConnectOpen("test:///default");
  REQUIRE(other != nullptr);
  auto secure_xml = [&] {
    virDomainPtr domain = virDomainLookupByName(other, vm.name.c_str());
    char* text = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    std::string xml = text ? text : "";
    free(text);
    virDomainFree(domain);
    return xml;
  };
  std::string xml = secure_xml();
  xml.replace(xml.find("<graphics type='vnc'"), 20, "<graphics type='vnc' passwd='hunter2'");
  virDomainPtr redefined = virDomainDefineXML(other, xml.c_str());
  REQUIRE(redefined != nullptr);
  virDomainFree(redefined);
  LiveDomain before = require_domain(hypervisor.read_live(), vm.name);
  CHECK(before.xml.find("hunter2") == std::string::npos);

  Vm desired = vm;
  desired.memory_kib = 256ULL * 1024;
  hypervisor.redefine(desired, before);
  CHECK(secure_xml().find("passwd='hunter2'") != std::string::npos);
  CHECK(require_domain(hypervisor.read_live(), vm.name).vm.memory_kib == 256ULL * 1024);
  // So does the mark of a restart that timed out, which is a define too.
  hypervisor.mark_start_pending(vm.name);
  CHECK(secure_xml().find("passwd='hunter2'") != std::string::npos);
  CHECK(require_domain(hypervisor.read_live(), vm.name).start_pending);
  virConnectClose(other);
}

TEST_CASE("power, autostart and undefine", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  Vm vm = small_vm("power");
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);

  hypervisor.set_autostart(vm.name, true);
  CHECK(require_domain(hypervisor.read_live(), vm.name).vm.autostart == true);
  hypervisor.set_autostart(vm.name, false);
  CHECK(require_domain(hypervisor.read_live(), vm.name).vm.autostart == false);

  hypervisor.start(vm.name);
  CHECK(hypervisor.is_running(vm.name));
  LiveDomain running = require_domain(hypervisor.read_live(), vm.name);
  CHECK(running.running);
  CHECK(running.vm.state == PowerState::running);
  hypervisor.set_memory_live(vm.name, 64ULL * 1024);
  // The test driver powers off at once on a shutdown request.
  hypervisor.request_shutdown(vm.name);
  CHECK_FALSE(hypervisor.is_running(vm.name));
  hypervisor.start(vm.name);
  hypervisor.destroy(vm.name);
  CHECK_FALSE(hypervisor.is_running(vm.name));

  hypervisor.undefine(vm.name);
  CHECK(hypervisor.read_live().find_domain(vm.name) == nullptr);
}

// The names of the domains of test:///default, in libvirt's order, through a connection of its own.
std::vector<std::string> listed_names() {
  virConnectPtr connection = virConnectOpen("test:///default");
  REQUIRE(connection != nullptr);
  virDomainPtr* listed = nullptr;
  const int count = virConnectListAllDomains(connection, &listed, 0);
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.push_back(virDomainGetName(listed[i]));
    virDomainFree(listed[i]);
  }
  free(listed);
  virConnectClose(connection);
  return names;
}

TEST_CASE("read_live returns every domain once, in libvirt's order, with one thread or many",
          "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  // Many more domains than threads, and a running one among them.
  constexpr int kCount = 150;
  std::vector<std::unique_ptr<Cleanup>> cleanups;
  for (int i = 0; i < kCount; ++i) {
    Vm vm = small_vm("many" + std::to_string(i));
    vm.memory_kib = static_cast<std::uint64_t>(128 + i) * 1024;
    hypervisor.define(vm);
    cleanups.push_back(std::make_unique<Cleanup>(hypervisor, vm.name));
  }
  hypervisor.start(unique_name("many77"));
  hypervisor.set_autostart(unique_name("many12"), true);
  const std::vector<std::string> names = listed_names();

  const Live serial = LibvirtHypervisor("test:///default", 1).read_live();
  for (std::size_t threads :
       {std::size_t{2}, LibvirtHypervisor::kDefaultReadThreads, std::size_t{64}}) {
    INFO(threads << " threads");
    const Live live = LibvirtHypervisor("test:///default", threads).read_live();
    REQUIRE(live.domains.size() == names.size());
    REQUIRE(serial.domains.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      const LiveDomain& domain = live.domains[i];
      CHECK(domain.vm.name == names[i]);
      CHECK(domain.xml == serial.domains[i].xml);
      CHECK(domain.running == serial.domains[i].running);
      CHECK(domain.vm.autostart == serial.domains[i].vm.autostart);
      CHECK(domain.booted.has_value() == serial.domains[i].booted.has_value());
    }
    for (int i = 0; i < kCount; ++i) {
      const LiveDomain& domain = require_domain(live, unique_name("many" + std::to_string(i)));
      CHECK(domain.vm.key == "many" + std::to_string(i));
      CHECK(domain.vm.memory_kib == static_cast<std::uint64_t>(128 + i) * 1024);
      CHECK(domain.running == (i == 77));
      CHECK(domain.booted.has_value() == (i == 77));
      CHECK(domain.vm.autostart == (i == 12));
    }
    REQUIRE(live.networks.size() == serial.networks.size());
    for (std::size_t i = 0; i < live.networks.size(); ++i) {
      CHECK(live.networks[i].name == serial.networks[i].name);
      CHECK(live.networks[i].active == serial.networks[i].active);
    }
  }
}

TEST_CASE("read_live tells active networks from defined ones", "[libvirt]") {
  const std::string name = unique_name("net");
  virConnectPtr raw = virConnectOpen("test:///default");
  REQUIRE(raw != nullptr);
  const std::string xml = "<network><name>" + name + "</name></network>";
  virNetworkPtr network = virNetworkDefineXML(raw, xml.c_str());
  REQUIRE(network != nullptr);

  const Live live = LibvirtHypervisor("test:///default").read_live();
  virNetworkUndefine(network);
  virNetworkFree(network);
  virConnectClose(raw);
  const LiveNetwork* defined = live.find_network(name);
  REQUIRE(defined != nullptr);
  CHECK_FALSE(defined->active);
  REQUIRE(live.find_network("default") != nullptr);
  CHECK(live.find_network("default")->active);
}

TEST_CASE("undefine refuses a domain with snapshots", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  Vm vm = small_vm("snapshots");
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);
  // A second connection to the same in-process driver, for the call virtform never makes.
  virConnectPtr raw = virConnectOpen("test:///default");
  REQUIRE(raw != nullptr);
  virDomainPtr domain = virDomainLookupByName(raw, vm.name.c_str());
  REQUIRE(domain != nullptr);
  virDomainSnapshotPtr snapshot =
      virDomainSnapshotCreateXML(domain, "<domainsnapshot><name>s1</name></domainsnapshot>", 0);
  REQUIRE(snapshot != nullptr);

  CHECK_THROWS_WITH(hypervisor.undefine(vm.name), Catch::Contains("snapshot"));
  CHECK(hypervisor.read_live().find_domain(vm.name) != nullptr);

  virDomainSnapshotDelete(snapshot, 0);
  virDomainSnapshotFree(snapshot);
  virDomainFree(domain);
  virConnectClose(raw);
}

TEST_CASE("libvirt's errors arrive as SystemError with libvirt's message", "[libvirt]") {
  LibvirtHypervisor hypervisor("test:///default");
  std::string missing = unique_name("missing");
  CHECK_THROWS_AS(hypervisor.start(missing), SystemError);
  CHECK_THROWS_WITH(hypervisor.start(missing),
                    Catch::Contains(missing) && Catch::Contains("Domain not found"));
  CHECK_THROWS_AS(LibvirtHypervisor("test:///nonexistent/virtform/host.xml"), SystemError);

  Vm clash = small_vm("clash");
  hypervisor.define(clash);
  Cleanup cleanup(hypervisor, clash.name);
  // libvirt's reason outlives the domain handle, whose release would reset it to "no error".
  CHECK_THROWS_WITH(
      hypervisor.destroy(clash.name),
      Catch::Contains(clash.name) && Catch::Contains("not running", Catch::CaseSensitive::No));
  hypervisor.start(clash.name);
  CHECK_THROWS_WITH(hypervisor.start(clash.name),
                    Catch::Contains("already running", Catch::CaseSensitive::No));
  hypervisor.destroy(clash.name);
  Vm broken = clash;
  broken.name = unique_name("broken");
  broken.disks[1].source = "";  // libvirt insists on a source for block disks
  broken.disks[1].kind = DiskSource::file;
  broken.disks[1].bus = DiskBus::usb;
  broken.disks[0].boot_order = 1;
  broken.disks[1].boot_order = 1;  // two devices with boot order 1
  CHECK_THROWS_AS(hypervisor.define(broken), SystemError);
}

TEST_CASE("the demo host has the default network, an unmanaged guest and no DSM", "[libvirt]") {
  LibvirtHypervisor hypervisor(demo_host_uri());
  Live live = hypervisor.read_live();
  const LiveNetwork* network = live.find_network("default");
  REQUIRE(network != nullptr);
  CHECK(network->active);
  const LiveDomain& homeassistant = require_domain(live, "homeassistant");
  CHECK_FALSE(homeassistant.managed);
  CHECK(homeassistant.running);
  CHECK(homeassistant.vm.key == "homeassistant");
  CHECK(homeassistant.vm.memory_kib == 2ULL * 1024 * 1024);
  REQUIRE(homeassistant.vm.disks.size() == 1);
  CHECK(homeassistant.vm.disks[0].format == "qcow2");
  CHECK(live.find_domain("DSM") == nullptr);
  CHECK(live.bridges.empty());
  CHECK(live.domains.size() == 1);
}

TEST_CASE("a VM defined on the demo host reads back like on the default host", "[libvirt]") {
  LibvirtHypervisor hypervisor(demo_host_uri());
  Vm vm = small_vm("demo");
  vm.type = DomainType::kvm;
  vm.firmware = {FirmwareKind::uefi, "/usr/share/OVMF/OVMF_CODE_4M.fd",
                 "/usr/share/OVMF/OVMF_VARS_4M.fd", "/var/lib/libvirt/qemu/nvram/demo_VARS.fd"};
  hypervisor.define(vm);
  Cleanup cleanup(hypervisor, vm.name);
  check_owned_fields(vm, require_domain(hypervisor.read_live(), vm.name).vm);
}

}  // namespace virtform
