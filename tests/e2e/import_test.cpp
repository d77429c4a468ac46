// virtform import against the real libvirtd: the seed's DSM domain, defined straight from its XML
// (adapted to this host) behind virtform's back, is imported, adopted by applying the imported
// TOML, and then plans no changes; the domain keeps its UUID and what virtform does not own.

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

void replace(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
}

std::string seed_dsm_xml() {
  std::ifstream in(std::string(VIRTFORM_SOURCE_DIR) + "/tests/fixtures/libvirt/seed-dsm.xml");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The seed's DSM as this host can hold it: emulated (type qemu), 256 MiB, its two whole disks
// as loop devices, its TCRP loader a small raw file, OVMF from this machine (the seed's own
// path: Debian's ovmf has it), and the 'default' network instead of the seed's bridge when
// there is one (else no NIC). Everything else — UUID, machine type, hub, audio, SPICE on
// 0.0.0.0, PCI addresses — is the seed's.
std::string seed_dsm_for_this_host(Session& session) {
  std::string xml = seed_dsm_xml();
  replace(xml, "<domain type='kvm'>", "<domain type='qemu'>");
  replace(xml, "<name>DSM</name>", "<name>" + session.domain("dsm") + "</name>");
  // A fresh UUID: another run of this test may hold the seed's at the same time.
  replace(xml, "<uuid>186682f9-0f0b-4a9e-867b-364706339405</uuid>\n", "");
  replace(xml, "<memory unit='KiB'>4194304</memory>", "<memory unit='KiB'>262144</memory>");
  replace(xml, "<currentMemory unit='KiB'>4194304</currentMemory>",
          "<currentMemory unit='KiB'>262144</currentMemory>");
  replace(xml, "/var/lib/libvirt/qemu/nvram/DSM_VARS.fd",
          "/var/lib/libvirt/qemu/nvram/" + session.domain("dsm") + "_VARS.fd");
  replace(xml, "<source dev='/dev/sdb'/>",
          "<source dev='" + session.add_loop_device(64 * kMiB).device() + "'/>");
  replace(xml, "<source dev='/dev/sdc'/>",
          "<source dev='" + session.add_loop_device(64 * kMiB).device() + "'/>");
  replace(xml, "/image/tinycore-redpill-uefi.v0.9.2.8.img",
          session.add_raw_image("tinycore-redpill-uefi.v0.9.2.8.img", kMiB));
  if (session.libvirt().has_network("default")) {
    replace(xml, "network='host-bridge'", "network='default'");
  } else {
    const auto start = xml.find("<interface");
    const auto end = xml.find("</interface>") + std::string("</interface>").size();
    xml.erase(start, end - start);
  }
  return xml;
}

TEST_CASE("an imported seed DSM domain is adopted with no changes and keeps its UUID",
          "[e2e][import]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("dsm");
  libvirt.define(seed_dsm_for_this_host(session));
  const std::string uuid = domain_uuid(libvirt.xml(name, true));
  REQUIRE_FALSE(libvirt.is_managed(name));

  ProcessResult imported = session.virtform({"import", name, "-c", uri()});
  INFO(imported.describe());
  REQUIRE(imported.exit_code == 0);
  CHECK(imported.out.find("adopt = true") != std::string::npos);
  CHECK(imported.out.find("[vm.") != std::string::npos);
  CHECK(imported.out.find(".boot]\nloader = \"tinycore-redpill-uefi-v0-9-2-8\"") !=
        std::string::npos);
  // The usb hub has no word in virtform: told on stderr and in the TOML, and kept.
  CHECK(imported.err.find("not expressed in virtform: hub") != std::string::npos);
  CHECK(imported.out.find("# not expressed: hub") != std::string::npos);

  const std::string config = session.write_config(imported.out);
  const nlohmann::json plan = session.plan_json(config);
  const std::vector<nlohmann::json> changes = changes_inside(plan, session.prefix());
  INFO(plan.dump(2));
  REQUIRE(changes.size() == 1);
  CHECK(field_names(changes[0]) == std::vector<std::string>{"managed"});

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.is_managed(name));

  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  const std::string after = libvirt.xml(name, true);
  CHECK(domain_uuid(after) == uuid);
  CHECK(after.find("<hub type='usb'") != std::string::npos);
  CHECK(after.find("<audio") != std::string::npos);
}

}  // namespace
}  // namespace virtform::e2e
