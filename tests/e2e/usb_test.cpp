// Host USB devices in the definitions of the real libvirtd: a guest defined with devices found
// by ids and by bus and device reads back with no change to plan, and devices taken out or made
// optional leave its definition as the config says. This machine has no USB bus, so libvirtd
// starts no guest with a USB host device here (it reads /sys/bus/usb/devices first): the guest
// stays stopped, and the live plug is covered against the test driver (tests/unit/usb_test.cpp).

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// What each USB <hostdev> of a definition says: "10c4:ea60 optional", "bus 1 device 4".
std::vector<std::string> usb_of(const std::string& xml) {
  pugi::xml_document document;
  document.load_string(xml.c_str());
  std::vector<std::string> devices;
  for (pugi::xml_node hostdev : document.child("domain").child("devices").children("hostdev")) {
    if (std::string_view(hostdev.attribute("type").as_string()) != "usb") continue;
    const pugi::xml_node source = hostdev.child("source");
    std::string text;
    if (source.child("vendor"))
      text = std::string(source.child("vendor").attribute("id").as_string()).substr(2) + ":" +
             std::string(source.child("product").attribute("id").as_string()).substr(2);
    if (const pugi::xml_node address = source.child("address"))
      text += (text.empty() ? "" : " ") + std::string("bus ") +
              address.attribute("bus").as_string() + " device " +
              address.attribute("device").as_string();
    if (std::string_view(source.attribute("startupPolicy").as_string()) == "optional")
      text += " optional";
    devices.push_back(text);
  }
  return devices;
}

std::string usb(const std::string& keys) {
  return "\n[[vm.usb.usb]]\n" + keys;
}

}  // namespace

TEST_CASE("USB host devices define as declared and leave the definition with the config", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("usb");
  const std::string guest = "[vm.usb]\nname = " + quoted(name) +
                            "\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"stopped\"\n";

  const std::string first =
      session.write_config(guest + usb("vendor = \"10c4\"\nproduct = \"EA60\"\noptional = true\n") +
                           usb("bus = 1\ndevice = 4\n"));
  ProcessResult created = session.apply(first);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  // Neither is plugged in here: a guest that stays stopped is only warned.
  CHECK_THAT(created.err + created.out, Catch::Contains("is not plugged into the host"));
  CHECK(usb_of(libvirt.xml(name, true)) ==
        std::vector<std::string>{"10c4:ea60 optional", "bus 1 device 4"});
  const nlohmann::json again = session.plan_json(first);
  INFO(again.dump(2));
  CHECK_FALSE(guest_change(session, again).is_object());

  // The one by place out, the stick required, a receiver by ids and place in.
  const std::string second =
      session.write_config(guest + usb("vendor = \"10c4\"\nproduct = \"ea60\"\n") +
                           usb("vendor = \"046d\"\nproduct = \"c52b\"\nbus = 3\ndevice = 10\n"));
  const nlohmann::json plan = session.plan_json(second);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "usb[bus 1 device 4]").value("after", "?").empty());
  CHECK(field_of(change, "usb[10c4:ea60]").value("after", "") == "required");
  ProcessResult changed = session.apply(second);
  INFO(changed.describe());
  REQUIRE(changed.exit_code == 0);
  CHECK(usb_of(libvirt.xml(name, true)) ==
        std::vector<std::string>{"10c4:ea60", "046d:c52b bus 3 device 10"});
  const nlohmann::json after = session.plan_json(second);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
}

}  // namespace virtform::e2e
