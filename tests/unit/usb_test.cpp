// Host USB devices ([[vm.X.usb]]): what the config refuses, the devices libvirt 9 writes back
// (tests/fixtures/libvirt/qemu-usb-host.xml, `virsh dumpxml --inactive` of a guest with one by
// ids, one by bus and device, one by both and one libvirt starts only with it), the sysfs reader
// on the demo host's tree, the host check, and plans against the test driver: a device comes and
// goes live. The plug itself needs a USB device on the host, which this machine has none of; its
// XML and the unplug's lookup are checked here.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "engine/checks/usb_devices.h"
#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "engine/render/plan_json.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/loaded_config.h"
#include "support/plan_changes.h"
#include "support/refusals.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::field_of;
using testing::formatted;
using testing::load_vm_a;
using testing::vm_change;

constexpr char kGuest[] =
    "[vm.a]\nname = \"vfusbtest\"\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"running\"\n";

std::string usb(const std::string& keys) {
  return "[[vm.a.usb]]\n" + keys;
}

UsbDevice by_ids(const std::string& vendor, const std::string& product) {
  UsbDevice device;
  device.vendor = vendor;
  device.product = product;
  return device;
}

// The demo host: its Zigbee stick 10c4:ea60 is at bus 1 device 3, its receiver 046d:c52b at 1.4.
Diagnostics checked(const std::string& toml, const std::vector<UsbHostDevice>& host,
                    const std::vector<LiveDomain>& domains = {}) {
  const auto loaded = testing::load_config_from(toml, "a.toml");
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  Diagnostics diagnostics;
  Live live;
  live.devices.usb = host;
  live.domains = domains;
  check_usb_devices(loaded.desired, live, diagnostics);
  return diagnostics;
}

}  // namespace

TEST_CASE("a usb device is found by ids or by bus and device, each given whole", "[usb]") {
  testing::check_refusals({
      {usb("vendor = \"10c4\"\n"), 3,
       "vendor needs product beside it: a USB device is found by both"},
      {usb("device = 3\n"), 3, "device needs bus beside it"},
      {usb("optional = true\n"), 2,
       "a usb device needs vendor and product (lsusb shows them as ID 046d:c52b), bus and "
       "device (where it is plugged in now), or port (the socket it is plugged into)"},
      {usb("vendor = \"10c4x\"\nproduct = \"ea60\"\n"), 3,
       "vendor must be four hex digits such as \"046d\"; got \"10c4x\""},
      {usb("bus = 1\ndevice = 128\n"), 4, "device must be from 1 to 127"},
      {usb("bus = 0\ndevice = 3\n"), 3, "bus must be from 1 to 4095"},
      {usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") + usb("vendor = \"10C4\"\nproduct = "
                                                            "\"EA60\"\n"),
       5, "usb device 10c4:ea60 is declared at vm.toml:2"},
      {usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = \"x\"\nrevision = 2\n"), 6,
       "unknown key 'revision'"},
      {"usb_controller = \"none\"\n" + usb("bus = 1\ndevice = 3\n"), 2,
       "usb_controller = \"none\" leaves the host USB device bus 1 device 3 nowhere to plug "
       "in: keep a controller"},
  });

  const auto loaded =
      load_vm_a(usb("vendor = \"10C4\"\nproduct = \"EA60\"\noptional = true\n") +
                usb("bus = 1\ndevice = 4\n") +
                usb("vendor = \"046d\"\nproduct = \"c52b\"\nbus = 3\ndevice = 10\n"));
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const std::vector<UsbDevice>& devices = loaded.vm().usb;
  REQUIRE(devices.size() == 3);
  CHECK(usb_identity(devices[0]) == "10c4:ea60");
  CHECK(devices[0].optional);
  CHECK(usb_identity(devices[1]) == "bus 1 device 4");
  CHECK(usb_identity(devices[2]) == "046d:c52b at bus 3 device 10");
}

TEST_CASE("a usb device is found by port or by serial beside its ids", "[usb]") {
  testing::check_refusals({
      {usb("port = \"1-04\"\n"), 3,
       "port must be a host USB port as /sys/bus/usb/devices names it, the bus and the port on "
       "each hub such as \"1-4\" or \"1-4.2\"; got \"1-04\""},
      {usb("port = \"usb1\"\n"), 3, "got \"usb1\""},
      {usb("port = \"1-4.\"\n"), 3, "got \"1-4.\""},
      {usb("port = \"1-4\"\nbus = 1\ndevice = 4\n"), 4,
       "bus and device are found from port at each plan: leave them out"},
      {usb("serial = \"AB12\"\n"), 3,
       "serial needs vendor and product beside it: it picks one of the devices that have those "
       "ids"},
      {usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = \"\"\n"), 5,
       "serial must not be empty"},
      {usb("port = \"1-4.2\"\n") + usb("port = \"1-4.2\"\n"), 4,
       "usb device port 1-4.2 is declared at vm.toml:2"},
      {usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = \"X\"\n") +
           usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = \"X\"\n"),
       6, "usb device 10c4:ea60 serial X is declared at vm.toml:2"},
  });

  const auto loaded = load_vm_a(usb("port = \"1-4.2\"\n") +
                                usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = \"AB\"\n") +
                                usb("vendor = \"10c4\"\nproduct = \"ea60\"\nport = \"2-1\"\n"));
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const std::vector<UsbDevice>& devices = loaded.vm().usb;
  REQUIRE(devices.size() == 3);
  CHECK(usb_declared_as(devices[0]) == "port 1-4.2");
  CHECK(usb_declared_as(devices[1]) == "10c4:ea60 serial AB");
  CHECK(usb_declared_as(devices[2]) == "10c4:ea60 at port 2-1");
  CHECK(is_placed_by_host(devices[2]));
}

TEST_CASE("a usb device by port or serial is placed at the device the host has there", "[usb]") {
  const std::vector<UsbHostDevice> host = {
      {"1-3", "10c4", "ea60", 1, 3, "ITead Sonoff Zigbee", "AAA"},
      {"1-5", "0403", "6001", 1, 5, "FTDI FT232R", "A1"},
      {"3-1.2", "0403", "6001", 3, 2, "FTDI FT232R", "A1"},
  };
  auto placed = [&](const std::string& toml, Diagnostics& diagnostics) {
    const auto loaded = testing::load_config_from("[vm.a]\n" + toml, "a.toml");
    INFO(formatted(loaded.diagnostics));
    REQUIRE_FALSE(has_errors(loaded.diagnostics));
    return place_usb_devices(loaded.desired, host, diagnostics);
  };

  SECTION("a config with none declared so is left as it is") {
    Diagnostics diagnostics;
    CHECK_FALSE(placed(usb("vendor = \"10c4\"\nproduct = \"ea60\"\n"), diagnostics));
    CHECK(diagnostics.empty());
  }
  SECTION("by port, by serial and by both, each gets its bus and device") {
    Diagnostics diagnostics;
    const auto desired =
        placed(usb("port = \"3-1.2\"\n") +
                   usb("vendor = \"10c4\"\nproduct = \"ea60\"\nserial = "
                       "\"AAA\"\n") +
                   usb("vendor = \"0403\"\nproduct = \"6001\"\nserial = \"A1\"\nport = \"1-5\"\n"),
               diagnostics);
    INFO(formatted(diagnostics));
    CHECK(diagnostics.empty());
    REQUIRE(desired);
    const std::vector<UsbDevice>& devices = desired->vms.at(0).usb;
    REQUIRE(devices.size() == 3);
    CHECK(usb_identity(devices[0]) == "bus 3 device 2");
    CHECK(usb_declared_as(devices[0]) == "port 3-1.2 (bus 3 device 2)");
    CHECK(usb_identity(devices[1]) == "10c4:ea60 at bus 1 device 3");
    CHECK(usb_identity(devices[2]) == "0403:6001 at bus 1 device 5");
    CHECK(usb_declared_as(devices[2]) == "0403:6001 serial A1 at port 1-5 (bus 1 device 5)");
  }
  SECTION("an empty port, another device at it, or a shared serial is an error; it is left out") {
    Diagnostics diagnostics;
    const auto desired = placed(
        usb("port = \"1-7\"\n") + usb("vendor = \"046d\"\nproduct = \"c52b\"\nport = \"1-3\"\n") +
            usb("vendor = \"0403\"\nproduct = \"6001\"\nserial = \"A1\"\n") +
            usb("port = \"1-5\"\n"),
        diagnostics);
    REQUIRE(desired);
    REQUIRE(desired->vms.at(0).usb.size() == 1);
    CHECK(usb_identity(desired->vms.at(0).usb[0]) == "bus 1 device 5");
    REQUIRE(diagnostics.size() == 3);
    CHECK(diagnostics[0].severity == Severity::error);
    CHECK(diagnostics[0].where.line == 2);
    CHECK(diagnostics[0].resource == "vm.a");
    CHECK(diagnostics[0].message ==
          "nothing is plugged into USB port 1-7: plug the device in (lsusb -t shows the ports), "
          "or set optional = true to let the guest start without it");
    CHECK(diagnostics[1].message ==
          "USB port 1-3 holds 10c4:ea60 at bus 1 device 3 (port 1-3, ITead Sonoff Zigbee, serial "
          "AAA), not 046d:c52b: plug it into that port, or change port, or set optional = true "
          "to let the guest start without it");
    CHECK(diagnostics[2].message ==
          "the host has 2 USB devices 0403:6001 serial A1: bus 1 device 5 (port 1-5, FTDI "
          "FT232R, serial A1); bus 3 device 2 (port 3-1.2, FTDI FT232R, serial A1); add port to "
          "pick one");
  }
  SECTION("one that may be missing, or a stopped VM's, is a warning") {
    Diagnostics diagnostics;
    placed(usb("port = \"1-7\"\noptional = true\n"), diagnostics);
    placed("state = \"stopped\"\n" + usb("vendor = \"046d\"\nproduct = \"c52b\"\nserial = \"Z\"\n"),
           diagnostics);
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].severity == Severity::warning);
    CHECK(diagnostics[1].severity == Severity::warning);
    CHECK(diagnostics[1].message ==
          "USB device 046d:c52b serial Z is not plugged into the host: plug it in (lsusb -v shows "
          "serials), or set optional = true to let the guest start without it");
  }
}

TEST_CASE("USB host devices read back as libvirt 9 writes them, merge unchanged and import",
          "[usb]") {
  const std::string xml = testing::libvirt_fixture("qemu-usb-host.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  REQUIRE(live.vm.usb.size() == 3);
  CHECK(usb_identity(live.vm.usb[0]) == "10c4:ea60");
  CHECK(live.vm.usb[0].optional);
  CHECK(usb_identity(live.vm.usb[1]) == "bus 1 device 4");
  CHECK_FALSE(live.vm.usb[1].optional);
  // libvirt lower-cases the ids and writes the numbers in decimal ("0x0a" was given).
  CHECK(usb_identity(live.vm.usb[2]) == "046d:c52b at bus 3 device 10");
  // One the guest cannot start without (startupPolicy='requisite') is named, not read.
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0].message, Catch::Contains("hostdev mode='subsystem' type='usb' with "
                                                  "startupPolicy 'requisite'"));

  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.usb == live.vm.usb);
  CHECK(merged.find("startupPolicy='requisite'") != std::string::npos);
  CHECK(merged.find("<address type='usb' bus='0' port='3' />") != std::string::npos);

  ImportSource source{live, {}, importable_fragments(xml)};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[[vm.vfxmltest-usb.usb]]\nvendor = \"10c4\"\nproduct = \"ea60\"\noptional = "
                  "true\n") != std::string::npos);
  CHECK(toml.find("[[vm.vfxmltest-usb.usb]]\nbus = 1\ndevice = 4\n") != std::string::npos);
  CHECK(toml.find("[[vm.vfxmltest-usb.usb]]\nvendor = \"046d\"\nproduct = \"c52b\"\nbus = "
                  "3\ndevice = 10\n") != std::string::npos);
}

TEST_CASE("a device taken out of the config leaves the merged definition; others stay", "[usb]") {
  const std::string xml = testing::libvirt_fixture("qemu-usb-host.xml");
  Vm vm = parse_domain_xml(xml).vm;
  vm.usb.erase(vm.usb.begin() + 1);
  vm.usb[0].optional = false;
  vm.usb.push_back(by_ids("04d9", "0006"));
  const Vm merged = parse_domain_xml(merge_domain_xml(xml, vm)).vm;
  CHECK(merged.usb == vm.usb);
  CHECK(merge_domain_xml(xml, vm).find("startupPolicy='requisite'") != std::string::npos);
}

TEST_CASE("hot-plug XML names the device as declared and finds it as the guest runs it", "[usb]") {
  UsbDevice device = by_ids("10c4", "ea60");
  const std::string plugged = render_usb_xml(device);
  CHECK_THAT(plugged, Catch::Contains("<hostdev mode='subsystem' type='usb'>") &&
                          Catch::Contains("<vendor id='0x10c4' />") &&
                          Catch::Contains("<product id='0xea60' />") &&
                          !Catch::Contains("address") && !Catch::Contains("startupPolicy"));
  // The running definition adds where libvirt found it: the unplug still finds it by its ids.
  const std::string running =
      "<domain><devices><hostdev mode='subsystem' type='usb' managed='no'><source>"
      "<vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>"
      "<hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x10c4'/>"
      "<product id='0xea60'/><address bus='1' device='3'/></source><alias name='hostdev1'/>"
      "</hostdev></devices></domain>";
  CHECK_THAT(find_device_xml(running, device), Catch::Contains("hostdev1"));
  device.bus = 1;
  device.device = 3;
  CHECK_THAT(find_device_xml(running, device), Catch::Contains("hostdev1"));
  device.device = 4;
  CHECK(find_device_xml(running, device).empty());
}

TEST_CASE("the sysfs reader lists the host's USB devices and not their interfaces", "[usb]") {
  const HostDevices host =
      read_host_devices(std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host/root");
  REQUIRE(host.usb.size() == 5);
  const UsbHostDevice& stick = host.usb[0];
  CHECK(stick.port == "1-3");
  CHECK(stick.vendor == "10c4");
  CHECK(stick.product == "ea60");
  CHECK(stick.bus == 1);
  CHECK(stick.device == 3);
  CHECK(stick.name == "ITead Sonoff Zigbee 3.0 USB Dongle Plus");
  CHECK(stick.serial == "2c2a5d6e1f94ed11a4f8");
  CHECK(host.usb[2].name == "USB Keyboard");
  CHECK(host.usb[3].port == "usb1");
}

TEST_CASE("plan checks each USB device against the host's", "[usb]") {
  const std::vector<UsbHostDevice> host = {
      {"1-3", "10c4", "ea60", 1, 3, "ITead Sonoff Zigbee", "AAA"},
      {"1-5", "0403", "6001", 1, 5, "FTDI FT232R", "A1"},
      {"3-1", "0403", "6001", 3, 2, "FTDI FT232R", "B2"},
  };
  const std::string a = "[vm.a]\n";

  SECTION("a device that is plugged in, once, is fine") {
    CHECK(checked(a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") +
                      usb("bus = 3\ndevice = 2\n") +
                      usb("vendor = \"0403\"\nproduct = \"6001\"\nbus = 1\ndevice = 5\n"),
                  host)
              .empty());
  }
  SECTION("one that is not is an error, a warning when the guest may start without it") {
    const Diagnostics missing =
        checked(a + usb("vendor = \"046d\"\nproduct = \"c52b\"\n") +
                    usb("vendor = \"046d\"\nproduct = \"c52c\"\noptional = true\n"),
                host);
    REQUIRE(missing.size() == 2);
    CHECK(missing[0].severity == Severity::error);
    CHECK(missing[0].message ==
          "USB device 046d:c52b is not plugged into the host: plug it in (lsusb lists what is), "
          "or set optional = true to let the guest start without it");
    CHECK(missing[0].where.line == 2);
    CHECK(missing[0].resource == "vm.a");
    CHECK(missing[1].severity == Severity::warning);
    CHECK(checked("[vm.a]\nstate = \"stopped\"\n" + usb("bus = 2\ndevice = 9\n"), host)
              .at(0)
              .severity == Severity::warning);
  }
  SECTION("a device plugged in again has a new number: the hint names where it is now") {
    const Diagnostics moved =
        checked(a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\nbus = 1\ndevice = 2\n"), host);
    REQUIRE(moved.size() == 1);
    CHECK_THAT(moved[0].message,
               Catch::Contains("10c4:ea60 is at bus 1 device 3 (port 1-3, ITead Sonoff Zigbee, "
                               "serial AAA): a device gets a new number each time it is plugged "
                               "in, so find it by vendor and product alone"));
  }
  SECTION("ids that two devices have pick neither") {
    const Diagnostics both = checked(a + usb("vendor = \"0403\"\nproduct = \"6001\"\n"), host);
    REQUIRE(both.size() == 1);
    CHECK(both[0].severity == Severity::error);
    CHECK(both[0].message ==
          "the host has 2 USB devices 0403:6001: bus 1 device 5 (port 1-5, FTDI FT232R, serial "
          "A1); bus 3 device 2 (port 3-1, FTDI FT232R, serial B2); libvirt takes none of them by "
          "ids alone: add bus and device to pick one");
  }
  SECTION("one device given to two guests that may run, or twice to one, is an error") {
    const std::string b = "[vm.b]\n[[vm.b.usb]]\nbus = 1\ndevice = 3\n";
    const std::string two = a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") + b;
    const Diagnostics claimed = checked(two, host);
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].resource == "vm.b");
    CHECK_THAT(claimed[0].message,
               Catch::Contains("USB device bus 1 device 3 at bus 1 device 3 (port 1-3, ITead "
                               "Sonoff Zigbee, serial AAA) is given to vm.a as well"));
    CHECK(checked(a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") +
                      "[vm.b]\nstate = \"stopped\"\n[[vm.b.usb]]\nbus = 1\ndevice = 3\n",
                  host)
              .empty());
    const Diagnostics twice = checked(
        a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") + usb("bus = 1\ndevice = 3\n"), host);
    REQUIRE(twice.size() == 1);
    CHECK_THAT(twice[0].message, Catch::Contains("is given to another [[vm.a.usb]] entry"));
  }
  SECTION("one a running domain the config does not declare holds is an error") {
    LiveDomain other;
    other.vm.name = "by-hand";
    other.running = true;
    other.booted = Vm{};
    UsbDevice held;
    held.vendor = "10c4";
    held.product = "ea60";
    held.bus = 1;
    held.device = 3;
    other.booted->usb = {held};
    const std::string stick = a + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n");
    const Diagnostics taken = checked(stick, host, {other});
    REQUIRE(taken.size() == 1);
    CHECK_THAT(taken[0].message, Catch::Contains("is held by running domain 'by-hand', which this "
                                                 "config does not declare"));
    other.running = false;
    CHECK(checked(stick, host, {other}).empty());
  }
}

TEST_CASE("USB devices come and go live on a running guest; optional waits for its next boot",
          "[usb]") {
  testing::DemoHostCopy host("virtform-usb");
  const Plan created = host.plan_of(kGuest + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n"));
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  REQUIRE(field_of(vm_change(created), "usb[10c4:ea60]"));
  CHECK(field_of(vm_change(created), "usb[10c4:ea60]")->after == "required");
  REQUIRE(host.apply(created));
  const Plan again = host.plan_of(kGuest + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n"));
  INFO(formatted(again.diagnostics));
  CHECK(vm_change(again).fields.empty());

  // The receiver in, the stick out: both at once, to the running guest.
  const Plan swapped = host.plan_of(kGuest + usb("vendor = \"046d\"\nproduct = \"c52b\"\n"));
  const Change& swap = vm_change(swapped);
  REQUIRE(field_of(swap, "usb[046d:c52b]"));
  CHECK(field_of(swap, "usb[046d:c52b]")->disruption == Disruption::live);
  REQUIRE(field_of(swap, "usb[10c4:ea60]"));
  CHECK(field_of(swap, "usb[10c4:ea60]")->after.empty());
  CHECK(field_of(swap, "usb[10c4:ea60]")->disruption == Disruption::live);
  CHECK(swap.disruption == Disruption::live);
  REQUIRE(swap.operations.plug_usb.size() == 1);
  CHECK(usb_identity(swap.operations.plug_usb[0]) == "046d:c52b");
  REQUIRE(swap.operations.unplug_usb.size() == 1);
  CHECK(usb_identity(swap.operations.unplug_usb[0]) == "10c4:ea60");
  // A saved plan carries them as it carries the other plugs.
  const VmOperations loaded = vm_change(parse_plan_json(render_plan_json(swapped))).operations;
  REQUIRE(loaded.plug_usb.size() == 1);
  CHECK(usb_identity(loaded.plug_usb[0]) == "046d:c52b");
  REQUIRE(loaded.unplug_usb.size() == 1);
  CHECK(usb_identity(loaded.unplug_usb[0]) == "10c4:ea60");

  const Plan optional =
      host.plan_of(kGuest + usb("vendor = \"10c4\"\nproduct = \"ea60\"\noptional = true\n"));
  const Change& relaxed = vm_change(optional);
  REQUIRE(field_of(relaxed, "usb[10c4:ea60]"));
  CHECK(field_of(relaxed, "usb[10c4:ea60]")->before == "required");
  CHECK(field_of(relaxed, "usb[10c4:ea60]")->after == "optional");
  CHECK(field_of(relaxed, "usb[10c4:ea60]")->disruption == Disruption::next_boot);
  CHECK(relaxed.operations.plug_usb.empty());
}

TEST_CASE("a usb device by port follows the device plugged in there, live", "[usb]") {
  testing::DemoHostCopy host("virtform-usb-port");
  const std::string config = kGuest + usb("port = \"1-3\"\n");
  const Plan created = host.plan_of(config);
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  REQUIRE(field_of(vm_change(created), "usb[port 1-3 (bus 1 device 3)]"));
  REQUIRE(host.apply(created));
  CHECK(vm_change(host.plan_of(config)).fields.empty());
  const std::optional<LiveDomain> running = host.hypervisor->read_domain("vfusbtest");
  REQUIRE(running);
  REQUIRE(running->booted);
  REQUIRE(running->booted->usb.size() == 1);
  CHECK(usb_identity(running->booted->usb[0]) == "bus 1 device 3");

  // Plugged in again, the stick has a new number: the running guest is moved to it.
  std::ofstream(host.root + "/sys/bus/usb/devices/1-3/devnum") << "9\n";
  const Plan replugged = host.plan_of(config);
  INFO(formatted(replugged.diagnostics));
  REQUIRE_FALSE(has_errors(replugged.diagnostics));
  const Change& moved = vm_change(replugged);
  CHECK(moved.disruption == Disruption::live);
  REQUIRE(moved.operations.plug_usb.size() == 1);
  CHECK(usb_identity(moved.operations.plug_usb[0]) == "bus 1 device 9");
  REQUIRE(moved.operations.unplug_usb.size() == 1);
  CHECK(usb_identity(moved.operations.unplug_usb[0]) == "bus 1 device 3");
  const VmOperations loaded = vm_change(parse_plan_json(render_plan_json(replugged))).operations;
  REQUIRE(loaded.plug_usb.size() == 1);
  CHECK(loaded.plug_usb[0].port == "1-3");
  CHECK(usb_identity(loaded.plug_usb[0]) == "bus 1 device 9");

  // Something else in that port is not the stick: nothing is planned for the guest.
  std::ofstream(host.root + "/sys/bus/usb/devices/1-3/idProduct") << "ea61\n";
  const Plan other = host.plan_of(kGuest + usb("vendor = \"10c4\"\nproduct = \"ea60\"\nport = "
                                               "\"1-3\"\n"));
  CHECK(other.steps.empty());
  CHECK_THAT(formatted(other.diagnostics), Catch::Contains("USB port 1-3 holds 10c4:ea61"));
}

TEST_CASE("the TOML writer keeps a port or serial and leaves out the numbers found from it",
          "[usb]") {
  Desired desired;
  Vm vm;
  vm.key = vm.name = "ha";
  UsbDevice stick = by_ids("10c4", "ea60");
  stick.serial = "AB";
  stick.bus = 1;
  stick.device = 3;
  UsbDevice by_port;
  by_port.port = "1-4.2";
  by_port.bus = 1;
  by_port.device = 7;
  vm.usb = {stick, by_port};
  desired.vms.push_back(vm);
  Diagnostics warnings;
  const std::string toml = render_config_toml(desired, warnings);
  INFO(toml);
  CHECK_THAT(toml, Catch::Contains("[[vm.ha.usb]]\nvendor = \"10c4\"\nproduct = \"ea60\"\nserial = "
                                   "\"AB\"\n\n[[vm.ha.usb]]\nport = \"1-4.2\"\n") &&
                       !Catch::Contains("bus ="));
}

}  // namespace virtform
