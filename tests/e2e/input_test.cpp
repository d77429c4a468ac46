// Inputs plugged into a running TCG guest by the real libvirtd: a virtio keyboard and a USB
// mouse reach the guest's live definition at once, without a restart, and the USB mouse comes
// out again the same way. (No host input device exists here for evdev: its plan is
// unit-tested against the test driver.)

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

constexpr auto kBootTimeout = 120s;

// "virtio keyboard", "usb mouse": each <input> of a definition but libvirt's own PS/2 pair.
std::vector<std::string> inputs_of(const std::string& xml) {
  pugi::xml_document document;
  document.load_string(xml.c_str());
  std::vector<std::string> inputs;
  for (pugi::xml_node input : document.child("domain").child("devices").children("input")) {
    const std::string bus = input.attribute("bus").as_string();
    if (bus != "ps2") inputs.push_back(bus + " " + input.attribute("type").as_string());
  }
  return inputs;
}

std::string input(const std::string& type, const std::string& bus) {
  return "\n[[vm.inputs.input]]\ntype = " + quoted(type) + "\nbus = " + quoted(bus) + "\n";
}

}  // namespace

TEST_CASE("virtio and USB inputs are plugged into and out of a running guest live", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("inputs");
  const std::string guest = kernel_guest_toml("inputs", name, guest_images().initrd_ignore,
                                              "128MiB", 1, "restart = \"never\"\n");

  ProcessResult created = session.apply(session.write_config(guest));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(wait_for_console(libvirt, name, kGuestReady, kBootTimeout).find(kGuestReady) !=
          std::string::npos);
  const int id = libvirt.id(name);

  const std::string plugged =
      session.write_config(guest + input("keyboard", "virtio") + input("mouse", "usb"));
  const nlohmann::json plan = session.plan_json(plugged);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "input[virtio keyboard]").value("disruption", "") == "live");
  CHECK(field_of(change, "input[usb mouse]").value("disruption", "") == "live");
  ProcessResult applied = session.apply(plugged);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  const std::vector<std::string> both{"virtio keyboard", "usb mouse"};
  CHECK(inputs_of(libvirt.xml(name)) == both);
  CHECK(inputs_of(libvirt.xml(name, true)) == both);
  const nlohmann::json after = session.plan_json(plugged);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());

  // The USB mouse out: USB needs nothing of the guest to let it go.
  const std::string fewer = session.write_config(guest + input("keyboard", "virtio"));
  ProcessResult unplugged = session.apply(fewer);
  INFO(unplugged.describe());
  REQUIRE(unplugged.exit_code == 0);
  CHECK(libvirt.id(name) == id);
  CHECK(inputs_of(libvirt.xml(name)) == std::vector<std::string>{"virtio keyboard"});
  CHECK(inputs_of(libvirt.xml(name, true)) == std::vector<std::string>{"virtio keyboard"});
}

}  // namespace virtform::e2e
