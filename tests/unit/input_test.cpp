// Inputs ([[vm.X.input]]): what the config refuses, the inputs libvirt 9 writes back
// (tests/fixtures/libvirt/qemu-inputs.xml, `virsh dumpxml --inactive` of a guest with a virtio
// keyboard and tablet, a USB mouse and two host devices passed through, one grabbing with a
// toggle and repeat), merge and import, and plans against the test driver: virtio and USB
// inputs come and go live, a host device at the next boot. The plug itself needs
// virDomainAttachDeviceFlags, which only a real libvirtd has: tests/e2e/input_test.cpp.

#include <catch2/catch.hpp>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "support/loaded_config.h"
#include "support/plan_changes.h"
#include "support/refusals.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::field_of;
using testing::formatted;
using testing::vm_change;

constexpr char kGuest[] =
    "[vm.a]\nname = \"vfinputtest\"\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"running\"\n";
constexpr char kKeyboard[] = "/dev/input/by-id/usb-Logitech_G513-event-kbd";

std::string input(const std::string& keys) {
  return "[[vm.a.input]]\n" + keys;
}

struct InputHost : testing::DemoHostCopy {
  InputHost() : DemoHostCopy("virtform-input") {
    dir.write_file(std::string("root") + kKeyboard, "");
  }
};

}  // namespace

TEST_CASE("an input is an emulated one on virtio or USB, or a host device with its own keys",
          "[input]") {
  testing::check_refusals({
      {input("bus = \"usb\"\n"), 2,
       "an input needs type = \"keyboard\", \"mouse\", \"tablet\" or \"evdev\""},
      {input("type = \"joystick\"\n"), 3, "type must be one of"},
      {input("type = \"mouse\"\nbus = \"ps2\"\n"), 4,
       "libvirt gives every x86 guest a PS/2 keyboard and mouse of its own"},
      {input("type = \"tablet\"\nbus = \"usb\"\n"), 4, "a USB tablet is tablet = true in [vm.X]"},
      {input("type = \"keyboard\"\ngrab = true\n"), 4, "grab applies to type = \"evdev\" only"},
      {input("type = \"evdev\"\n"), 2, "type = \"evdev\" needs source ="},
      {input("type = \"evdev\"\nsource = \"/dev/input/event3\"\nbus = \"usb\"\n"), 5,
       "bus does not apply to type = \"evdev\""},
      {input("type = \"evdev\"\nsource = \"/dev/input/event3\"\ngrab_toggle = \"f12\"\n"), 5,
       "grab_toggle must be one of"},
      {input("type = \"keyboard\"\n") + input("type = \"keyboard\"\nbus = \"virtio\"\n"), 4,
       "input virtio keyboard is declared at vm.toml:2:1 already"},
      {"usb_controller = \"none\"\n" + input("type = \"mouse\"\nbus = \"usb\"\n"), 2,
       "usb_controller = \"none\" leaves the USB mouse nowhere to plug in"},
  });
}

TEST_CASE("inputs read back as libvirt 9 writes them, merge unchanged and import", "[input]") {
  const std::string xml = testing::libvirt_fixture("qemu-inputs.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  CHECK(warnings.empty());
  std::vector<std::string> identities;
  for (const InputDevice& read : live.vm.inputs) identities.push_back(input_identity(read));
  // libvirt's own PS/2 keyboard and mouse are not among them.
  CHECK(identities ==
        std::vector<std::string>{"virtio keyboard", "usb mouse", "virtio tablet",
                                 std::string("evdev ") + kKeyboard,
                                 "evdev /dev/input/by-id/usb-Logitech_G502-event-mouse"});
  const InputDevice& keyboard = live.vm.inputs[3];
  CHECK(keyboard.grab);
  CHECK(keyboard.grab_toggle == "ctrl-ctrl");
  CHECK(keyboard.repeat);
  CHECK_FALSE(live.vm.inputs[4].grab);

  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.inputs == live.vm.inputs);
  CHECK(merged.find("<input type='mouse' bus='ps2' />") != std::string::npos);

  // Out of the config: the USB mouse goes, the keyboard stops grabbing.
  Vm changed = live.vm;
  changed.inputs.erase(changed.inputs.begin() + 1);
  changed.inputs[2].grab = false;
  changed.inputs[2].grab_toggle.clear();
  const std::string less = merge_domain_xml(xml, changed);
  CHECK(parse_domain_xml(less).vm.inputs == changed.inputs);
  CHECK(less.find("grab") == std::string::npos);
  CHECK(less.find("<input type='keyboard' bus='ps2' />") != std::string::npos);

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[[vm.vfxmltest-inputs.input]]\ntype = \"keyboard\"\nbus = \"virtio\"\n") !=
        std::string::npos);
  CHECK(toml.find("[[vm.vfxmltest-inputs.input]]\ntype = \"evdev\"\nsource = \"" +
                  std::string(kKeyboard) +
                  "\"\ngrab = true\ngrab_toggle = \"ctrl-ctrl\"\nrepeat = true\n") !=
        std::string::npos);
}

TEST_CASE("virtio and USB inputs come and go live on a running guest; a host device at its boot",
          "[input]") {
  InputHost host;
  const std::string keyboard = input("type = \"keyboard\"\n");
  const Plan created = host.plan_of(kGuest + keyboard);
  INFO(formatted(created.diagnostics));
  REQUIRE(host.apply(created));
  CHECK(vm_change(host.plan_of(kGuest + keyboard)).fields.empty());

  const std::string evdev =
      input("type = \"evdev\"\nsource = \"" + std::string(kKeyboard) + "\"\n");
  const Plan grown = host.plan_of(kGuest + input("type = \"mouse\"\nbus = \"usb\"\n") + evdev);
  INFO(formatted(grown.diagnostics));
  REQUIRE_FALSE(has_errors(grown.diagnostics));
  const Change& grow = vm_change(grown);
  REQUIRE(field_of(grow, "input[usb mouse]"));
  CHECK(field_of(grow, "input[usb mouse]")->disruption == Disruption::live);
  REQUIRE(field_of(grow, "input[virtio keyboard]"));
  CHECK(field_of(grow, "input[virtio keyboard]")->after.empty());
  CHECK(field_of(grow, "input[virtio keyboard]")->disruption == Disruption::live);
  const std::string evdev_field = std::string("input[evdev ") + kKeyboard + "]";
  REQUIRE(field_of(grow, evdev_field));
  CHECK(field_of(grow, evdev_field)->after == "passed through");
  CHECK(field_of(grow, evdev_field)->disruption == Disruption::next_boot);
  REQUIRE(grow.operations.plug_inputs.size() == 1);
  CHECK(input_identity(grow.operations.plug_inputs[0]) == "usb mouse");
  REQUIRE(grow.operations.unplug_inputs.size() == 1);
  CHECK(input_identity(grow.operations.unplug_inputs[0]) == "virtio keyboard");
}

TEST_CASE("a host input device must be on the host", "[input]") {
  InputHost host;
  const Plan plan = host.plan_of(std::string(kGuest) +
                                 input("type = \"evdev\"\nsource = \"/dev/input/event9\"\n"));
  REQUIRE(plan.diagnostics.size() == 1);
  CHECK(plan.diagnostics[0].message == "input device /dev/input/event9 does not exist");
  CHECK(plan.diagnostics[0].where.line == 6);
}

}  // namespace virtform
