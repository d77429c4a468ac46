// DSM's disk layout on the real libvirtd: a running guest with a USB loader and two whole disks
// on virtio-scsi has its data disks at units 0 and 1 and the loader named last, in its live
// definition; the plan after apply is empty; a reordered config swaps the disks' units at the
// restart the plan announces, with a warning naming the slots.

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024;

std::string dsm_toml(const Session& session, const std::string& loader, const std::string& first,
                     const std::string& second) {
  std::string toml = "[loader.tcrp]\nimage = " + quoted(loader) +
                     "\n\n[vm.dsm]\nname = " + quoted(session.domain("dsm")) +
                     "\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"running\"\n"
                     "restart = \"allowed\"\nshutdown_timeout = \"1s\"\nforce_stop = true\n"
                     "\n[vm.dsm.boot]\nloader = \"tcrp\"\nbus = \"usb\"\n";
  for (const std::string& disk : {first, second})
    toml += "\n[[vm.dsm.disk]]\nsource = " + quoted(disk) + "\nbus = \"scsi\"\n";
  return toml;
}

// Each disk of the domain XML as "source target controller:unit".
std::vector<std::string> disk_places(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  std::vector<std::string> places;
  for (pugi::xml_node disk : document.child("domain").child("devices").children("disk")) {
    pugi::xml_node source = disk.child("source");
    pugi::xml_node address = disk.child("address");
    std::string place = std::string(address.attribute("type").as_string()) == "drive"
                            ? std::string(address.attribute("controller").value()) + ":" +
                                  address.attribute("unit").value()
                            : "-";
    places.push_back(
        std::string(source.attribute("dev").as_string(source.attribute("file").as_string())) + " " +
        disk.child("target").attribute("dev").as_string() + " " + place);
  }
  return places;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

}  // namespace

TEST_CASE("a DSM guest's data disks sit at units 0 and 1 and swap only when reordered",
          "[e2e][disk_layout]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("dsm");
  const std::string loader = session.add_raw_image("tcrp.img", 4 * kMiB);
  const std::string a = session.add_loop_device(16 * kMiB).device();
  const std::string b = session.add_loop_device(16 * kMiB).device();

  const std::string config = session.write_config(dsm_toml(session, loader, a, b));
  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  const std::vector<std::string> live = disk_places(libvirt.xml(name));
  INFO(libvirt.xml(name));
  CHECK(contains(live, a + " sda 0:0"));
  CHECK(contains(live, b + " sdb 0:1"));
  CHECK(libvirt.xml(name).find("<target dev='sdz' bus='usb'/>") != std::string::npos);
  CHECK(libvirt.xml(name).find("model='virtio-scsi'") != std::string::npos);

  const ProcessResult again =
      session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);

  session.write_config(dsm_toml(session, loader, b, a));
  const ProcessResult reordered =
      session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode", "--no-color"});
  INFO(reordered.describe());
  CHECK(reordered.exit_code == 2);
  CHECK(reordered.err.find("disks move to other slots (" + b + ": scsi 0:1 -> scsi 0:0; " + a +
                           ": scsi 0:0 -> scsi 0:1)") != std::string::npos);
  const ProcessResult swapped = session.apply(config);
  INFO(swapped.describe());
  REQUIRE(swapped.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const std::vector<std::string> booted = disk_places(libvirt.xml(name));
  INFO(libvirt.xml(name));
  CHECK(contains(booted, b + " sdb 0:0"));
  CHECK(contains(booted, a + " sda 0:1"));
  const ProcessResult settled =
      session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(settled.describe());
  CHECK(settled.exit_code == 0);
}

}  // namespace virtform::e2e
