// The DSM example as a TCG guest on the real libvirtd: the DSM defaults (UEFI, data disks on
// virtio-scsi, a serial console, the boot menu) reach the definition, plan shows the seed's slot
// map with the loader line, the applied guest plans no change, and `virtform host` shows the map
// of the guest as libvirt has it.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024;

std::string dsm_toml(const Session& session, const std::string& loader,
                     const std::vector<std::string>& disks) {
  std::string toml = "[loader.tcrp]\nimage = " + quoted(loader) +
                     "\n\n[vm.dsm]\nname = " + quoted(session.domain("dsm")) +
                     "\ntype = \"qemu\"\nmemory = \"256MiB\"\nvcpus = 2\ncpu = \"max\"\n"
                     "state = \"stopped\"\n\n[vm.dsm.dsm]\nmodel = \"DS918+\"\n"
                     "sata_port_map = \"12\"\ndisk_idx_map = \"1000\"\nacpid = true\n\n"
                     "[vm.dsm.boot]\nloader = \"tcrp\"\n";
  for (const std::string& disk : disks)
    toml += "\n[[vm.dsm.disk]]\nsource = " + quoted(disk) + "\n";
  return toml;
}

// The buses of the definition's disks, in document order.
std::vector<std::string> disk_buses(const pugi::xml_node& domain) {
  std::vector<std::string> buses;
  for (const pugi::xml_node& disk : domain.child("devices").children("disk"))
    buses.push_back(disk.child("target").attribute("bus").as_string());
  return buses;
}

// The units of the definition's scsi disks, in document order.
std::vector<std::string> scsi_units(const pugi::xml_node& domain) {
  std::vector<std::string> units;
  for (const pugi::xml_node& disk : domain.child("devices").children("disk"))
    if (std::string(disk.child("target").attribute("bus").as_string()) == "scsi")
      units.push_back(disk.child("address").attribute("unit").as_string());
  return units;
}

}  // namespace

TEST_CASE("the DSM example applies with its defaults and shows the seed's slot map", "[e2e][dsm]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("dsm");
  const std::string loader = session.add_raw_image("tcrp.img", 4 * kMiB);
  const std::vector<std::string> disks = {session.add_loop_device(64 * kMiB).device(),
                                          session.add_loop_device(64 * kMiB).device()};
  const std::string config = session.write_config(dsm_toml(session, loader, disks));

  const ProcessResult planned = session.virtform({"plan", config, "-c", uri(), "--no-color"});
  INFO(planned.describe());
  REQUIRE(planned.exit_code == 0);
  CHECK(planned.out.find("SataPortMap = \"12\", DiskIdxMap = \"1000\"\n") != std::string::npos);
  CHECK(planned.out.find("drive 2: " + disks[1] + " (scsi0 unit 1)") != std::string::npos);
  CHECK(planned.out.find("jq '.extra_cmdline.SataPortMap = \"12\" | .extra_cmdline.DiskIdxMap = "
                         "\"1000\"' user_config.json") != std::string::npos);

  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  const std::string xml = session.libvirt().xml(name, /*inactive=*/true);
  INFO(xml);
  // The NVRAM store libvirt made goes with the test, as the session keeps NVRAM.
  struct RemovedAtEnd {
    std::string path;
    ~RemovedAtEnd() { std::filesystem::remove(path); }
  } nvram{"/var/lib/libvirt/qemu/nvram/" + name + "_VARS.fd"};
  pugi::xml_document document;
  REQUIRE(document.load_string(xml.c_str()));
  const pugi::xml_node domain = document.child("domain");
  CHECK(std::string(domain.child("os").child("type").attribute("machine").as_string())
            .starts_with("pc-q35-"));
  CHECK_FALSE(domain.child("os").child("loader").text().empty());
  CHECK(std::string(domain.child("os").child("bootmenu").attribute("enable").as_string()) == "yes");
  CHECK(std::string(domain.child("devices").child("serial").attribute("type").as_string()) ==
        "pty");
  std::vector<std::string> buses = disk_buses(domain);
  std::sort(buses.begin(), buses.end());
  CHECK(buses == std::vector<std::string>{"scsi", "scsi", "usb"});
  // DSM's drives 1 and 2: units 0 and 1 of virtio-scsi, whatever the loader's place.
  CHECK(scsi_units(domain) == std::vector<std::string>{"0", "1"});

  const ProcessResult again =
      session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode", "--no-color"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("No changes.") == 0);
  CHECK(again.out.find("SataPortMap = \"12\", DiskIdxMap = \"1000\"") != std::string::npos);

  const ProcessResult host = session.virtform({"host", config, "-c", uri()});
  INFO(host.describe());
  REQUIRE(host.exit_code == 0);
  CHECK(host.out.find("vm.dsm \"" + name + "\" (DS918+, apollolake), as the guest is now:\n") !=
        std::string::npos);
  CHECK(host.out.find("    SataPortMap = \"12\", DiskIdxMap = \"1000\"\n") != std::string::npos);
}

}  // namespace virtform::e2e
