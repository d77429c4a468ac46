// virtform import against the real libvirtd: the seed's DSM domain, defined straight from its XML
// (adapted to this host) behind virtform's back, is imported, adopted by applying the imported
// TOML, and then plans no changes; the domain keeps its UUID and what virtform does not own.

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

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
  CHECK(imported.err.find("not expressed in virtform: devices/hub") != std::string::npos);
  CHECK(imported.out.find("# not expressed: devices/hub") != std::string::npos);

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

// A random UUID for a domain that must be told apart from other runs' (its TPM state is kept
// under it).
std::string random_uuid() {
  std::random_device random;
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-8%03x-%04x%08x", random(), random() & 0xffff,
                random() & 0xfff, random() & 0xfff, random() & 0xffff, random());
  return text;
}

// Windows 11 as its guides define it: Secure Boot with Microsoft's keys, SMM, an emulated TPM
// 2.0, and here its firmware in a directory of its own that no descriptor names.
std::string secure_boot_guest(const std::string& name, const std::string& uuid,
                              const std::filesystem::path& firmware, const std::string& disk) {
  return "<domain type='qemu'>\n  <name>" + name + "</name>\n  <uuid>" + uuid +
         "</uuid>\n  <memory unit='MiB'>128</memory>\n  <vcpu>1</vcpu>\n"
         "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"
         "    <loader readonly='yes' secure='yes' type='pflash'>" +
         (firmware / "OVMF_CODE.secboot.fd").string() + "</loader>\n    <nvram template='" +
         (firmware / "OVMF_VARS.ms.fd").string() + "'>" + (firmware / "guest_VARS.fd").string() +
         "</nvram>\n  </os>\n  <features>\n    <acpi/>\n    <smm state='on'/>\n"
         "  </features>\n  <devices>\n    <disk type='file' device='disk'>\n"
         "      <driver name='qemu' type='raw'/>\n      <source file='" +
         disk +
         "'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
         "    <tpm model='tpm-crb'>\n      <backend type='emulator' version='2.0'/>\n"
         "    </tpm>\n  </devices>\n</domain>\n";
}

// The same guest left to libvirt's firmware choice, told to find Secure Boot with keys.
std::string autoselected_guest(const std::string& name, const std::string& uuid,
                               const std::string& disk) {
  return "<domain type='qemu'>\n  <name>" + name + "</name>\n  <uuid>" + uuid +
         "</uuid>\n  <memory unit='MiB'>128</memory>\n  <vcpu>1</vcpu>\n"
         "  <os firmware='efi'>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"
         "    <firmware>\n      <feature enabled='yes' name='enrolled-keys'/>\n"
         "      <feature enabled='yes' name='secure-boot'/>\n    </firmware>\n  </os>\n"
         "  <features>\n    <acpi/>\n  </features>\n  <devices>\n"
         "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
         "      <source file='" +
         disk +
         "'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n"
         "</domain>\n";
}

// Imports the domain into the session's project, checks that the plan only adopts it, applies
// that, and checks the next plan is empty.
void import_and_adopt(Session& session, const std::string& name, const std::string& expected_toml) {
  ProcessResult imported = session.virtform({"import", name, "-c", uri()});
  INFO(imported.describe());
  REQUIRE(imported.exit_code == 0);
  CHECK(imported.out.find(expected_toml) != std::string::npos);
  const std::string config =
      session.write_config("project = " + quoted(session.project()) + "\n" + imported.out);
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const std::vector<nlohmann::json> changes = changes_inside(plan, session.prefix());
  REQUIRE(changes.size() == 1);
  CHECK(field_names(changes[0]) == std::vector<std::string>{"managed"});
  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

TEST_CASE("an imported Secure Boot guest keeps its firmware, NVRAM and TPM state byte for byte",
          "[e2e][import]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  const std::string uuid = random_uuid();
  KeptStateRemover kept_state;
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("win11");
  kept_state.add_tpm_of(uuid, name);
  const std::filesystem::path firmware = session.dir() / "firmware";
  std::filesystem::create_directories(firmware);
  std::filesystem::copy_file("/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
                             firmware / "OVMF_CODE.secboot.fd");
  std::filesystem::copy_file("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", firmware / "OVMF_VARS.ms.fd");
  libvirt.define(secure_boot_guest(name, uuid, firmware, session.add_raw_image("win11.img", kMiB)));
  // One start makes the NVRAM store and the TPM's state; stopped, neither changes by itself.
  libvirt.start(name);
  const std::filesystem::path tpm_state =
      std::filesystem::path("/var/lib/libvirt/swtpm") / uuid / "tpm2" / "tpm2-00.permall";
  REQUIRE(wait_until([&] { return std::filesystem::exists(tpm_state); }, 30s));
  libvirt.stop(name);
  const std::vector<std::string> kept = {(firmware / "guest_VARS.fd").string(), tpm_state.string()};
  std::map<std::string, std::string> digests;
  for (const std::string& file : kept) digests[file] = sha256_of(file);

  import_and_adopt(session, name,
                   "secure_boot = true\nfirmware_code = " +
                       quoted((firmware / "OVMF_CODE.secboot.fd").string()));
  const std::string after = libvirt.xml(name, true);
  CHECK(after.find("secure='yes'") != std::string::npos);
  CHECK(after.find("<smm state='on'/>") != std::string::npos);
  CHECK(after.find("<tpm model='tpm-crb'>") != std::string::npos);

  // Removed from the configuration: the domain goes, its NVRAM store and TPM state stay.
  const ProcessResult removed =
      session.apply(session.write_config("project = " + quoted(session.project()) + "\n"));
  INFO(removed.describe());
  REQUIRE(removed.exit_code == 0);
  CHECK_FALSE(libvirt.exists(name));
  for (const std::string& file : kept) {
    INFO(file);
    REQUIRE(std::filesystem::exists(file));
    CHECK(sha256_of(file) == digests[file]);
  }
}

TEST_CASE("a running guest on libvirt's firmware choice is adopted and plans nothing",
          "[e2e][import]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  const std::string uuid = random_uuid();
  KeptStateRemover kept_state;
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("auto");
  // libvirt makes the store at the first start, at its default place.
  kept_state.paths.push_back("/var/lib/libvirt/qemu/nvram/" + name + "_VARS.fd");
  libvirt.define(autoselected_guest(name, uuid, session.add_raw_image("auto.img", kMiB)));
  libvirt.start(name);
  const int id = libvirt.id(name);
  // The running definition names the image libvirt chose; the persistent one only the features.
  CHECK(libvirt.xml(name).find("OVMF_CODE_4M.ms.fd") != std::string::npos);

  import_and_adopt(session, name, "firmware_autoselect = true\nsecure_boot = true\n");
  CHECK(libvirt.id(name) == id);  // adopted without a restart
  const std::string after = libvirt.xml(name, true);
  CHECK(after.find("<os firmware='efi'>") != std::string::npos);
  CHECK(after.find("<feature enabled='yes' name='secure-boot'/>") != std::string::npos);
}

}  // namespace
}  // namespace virtform::e2e
