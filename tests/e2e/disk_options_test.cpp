// Disk options against the real libvirtd: a TCG guest made with a virtio, a SCSI and a SATA disk
// carrying every option the buses take, and boot orders of their own, runs with them in its
// running definition; libvirt's read-back is what was declared, so the plan after is empty, and a
// changed serial waits for the guest's next boot.

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

std::string disks_toml(const std::string& key, const std::string& dir,
                       const std::string& data_serial) {
  const std::string table = "\n[[vm." + key + ".disk]]\n";
  return table + "file = " + quoted(dir + "/system.img") +
         "\nsize = \"16MiB\"\nbus = \"virtio\"\nboot = 1\ndiscard = \"unmap\"\n"
         "detect_zeroes = \"unmap\"\nserial = \"SYS-0001\"\n" +
         table + "file = " + quoted(dir + "/data.img") +
         "\nsize = \"16MiB\"\nbus = \"scsi\"\nboot = 2\nserial = " + quoted(data_serial) +
         "\nwwn = \"0x5000C50015EA71AC\"\nrotation_rate = 7200\n" +  //
         table + "file = " + quoted(dir + "/ssd.img") +
         "\nsize = \"16MiB\"\nbus = \"sata\"\ndiscard = \"ignore\"\ndetect_zeroes = \"on\"\n"
         "rotation_rate = 1\n";
}

// The <disk> of `xml` whose source is `file`.
pugi::xml_node disk_of(const pugi::xml_document& document, const std::string& file) {
  const std::string xpath = "/domain/devices/disk[source/@file='" + file + "']";
  return document.select_node(xpath.c_str()).node();
}

TEST_CASE("disk options reach a TCG guest as libvirt reads them back and plan nothing after",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("opts");
  const std::string dir = session.dir().string();
  const std::string guest = kernel_guest_toml("opts", name, guest_images().initrd_ignore, "128MiB",
                                              1, "restart = \"never\"\n");
  const std::string config = session.write_config(guest + disks_toml("opts", dir, "DATA 0002"));
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);

  // What the guest runs with: its live definition, as QEMU was started.
  pugi::xml_document running;
  REQUIRE(running.load_string(libvirt.xml(name).c_str()));
  const pugi::xml_node system = disk_of(running, dir + "/system.img");
  const pugi::xml_node data = disk_of(running, dir + "/data.img");
  const pugi::xml_node ssd = disk_of(running, dir + "/ssd.img");
  REQUIRE(system);
  REQUIRE(data);
  REQUIRE(ssd);
  CHECK(std::string(system.child("driver").attribute("discard").as_string()) == "unmap");
  CHECK(std::string(system.child("driver").attribute("detect_zeroes").as_string()) == "unmap");
  CHECK(std::string(system.child("serial").text().as_string()) == "SYS-0001");
  CHECK(system.child("boot").attribute("order").as_uint() == 1);
  CHECK(std::string(data.child("serial").text().as_string()) == "DATA 0002");
  CHECK(std::string(data.child("wwn").text().as_string()) == "5000c50015ea71ac");
  CHECK(data.child("target").attribute("rotation_rate").as_uint() == 7200);
  CHECK(data.child("boot").attribute("order").as_uint() == 2);
  CHECK(std::string(ssd.child("driver").attribute("discard").as_string()) == "ignore");
  CHECK(std::string(ssd.child("driver").attribute("detect_zeroes").as_string()) == "on");
  CHECK(ssd.child("target").attribute("rotation_rate").as_uint() == 1);
  CHECK_FALSE(running.select_node("/domain/os/boot[@dev]"));

  const nlohmann::json settled = session.plan_json(config);
  INFO(settled.dump(2));
  CHECK(changes_inside(settled, session.prefix()).empty());

  // Another serial is a change to the definition that the running guest takes at its next boot.
  const std::string renamed = session.write_config(guest + disks_toml("opts", dir, "DATA 0003"));
  const nlohmann::json plan = session.plan_json(renamed);
  INFO(plan.dump(2));
  const std::vector<nlohmann::json> changes = changes_inside(plan, session.prefix());
  REQUIRE(changes.size() == 1);
  const nlohmann::json field = field_of(changes[0], "disk[" + dir + "/data.img]");
  CHECK(field.value("disruption", "") == "next-boot");
  CHECK(field.value("after", "").find("serial DATA 0003") != std::string::npos);
  ProcessResult applied = session.apply(renamed);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  CHECK(libvirt.xml(name, true).find("<serial>DATA 0003</serial>") != std::string::npos);
  CHECK(libvirt.xml(name).find("<serial>DATA 0002</serial>") != std::string::npos);
  CHECK(changes_inside(session.plan_json(renamed), session.prefix()).empty());
}

}  // namespace
}  // namespace virtform::e2e
