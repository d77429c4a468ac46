// One loader image booting several guests at once, against the real libvirtd: each guest runs on
// its own qcow2 overlay, the image itself is only read, and removing the guests keeps the
// overlays.

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024;
const char* const kKeys[] = {"one", "two", "three"};

std::string guests_toml(const Session& session, const std::string& loader) {
  std::string toml = "[loader.tcrp]\nimage = " + quoted(loader) + "\n";
  for (const char* key : kKeys) {
    toml += std::string("\n[vm.") + key + "]\nname = " + quoted(session.domain(key)) +
            "\ntype = \"qemu\"\nmemory = \"64MiB\"\nstate = \"running\"\n" +
            // Nothing in the loader answers the power button: removal pulls the plug.
            "shutdown_timeout = \"1s\"\nforce_stop = true\n[vm." + key +
            ".boot]\nloader = \"tcrp\"\n";
  }
  return toml;
}

// The source file and driver type of the running guest's first disk.
std::pair<std::string, std::string> first_disk(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  const pugi::xml_node disk = document.child("domain").child("devices").child("disk");
  return {disk.child("source").attribute("file").as_string(),
          disk.child("driver").attribute("type").as_string()};
}

nlohmann::json image_info(const std::string& path) {
  // -U: the running guests hold the image's locks.
  const ProcessResult info = run_process({"qemu-img", "info", "--output=json", "-U", path});
  REQUIRE(info.exit_code == 0);
  return nlohmann::json::parse(info.out);
}

std::string sha256_of(const std::string& path) {
  const ProcessResult sum = run_process({"sha256sum", path});
  REQUIRE(sum.exit_code == 0);
  return sum.out.substr(0, 64);
}

TEST_CASE("three guests boot from one loader at once each on its own overlay", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string loader = session.add_raw_image("tcrp.img", 4 * kMiB);
  const std::string digest = sha256_of(loader);
  const std::string config = session.write_config(guests_toml(session, loader));

  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  for (const char* key : kKeys) {
    const std::string name = session.domain(key);
    INFO(name);
    // Running together: a loader attached writable to each would fail the second start on
    // QEMU's image lock.
    CHECK(libvirt.is_running(name));
    const std::string overlay =
        (session.dir() / (session.project() + "." + key + ".tcrp.qcow2")).string();
    CHECK(first_disk(libvirt.xml(name)) == std::pair<std::string, std::string>(overlay, "qcow2"));
    const nlohmann::json info = image_info(overlay);
    CHECK(info.value("format", "") == "qcow2");
    CHECK(info.value("backing-filename", "") == loader);
    CHECK(info.value("backing-filename-format", "") == "raw");
    CHECK(info.value("virtual-size", 0ULL) == 4 * kMiB);
  }
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);

  // Removed from the configuration, the guests leave their overlays, and the image is as it was.
  const std::string emptied = session.write_config("");
  const ProcessResult removed = session.apply(emptied);
  INFO(removed.describe());
  REQUIRE(removed.exit_code == 0);
  for (const char* key : kKeys) {
    CHECK_FALSE(libvirt.exists(session.domain(key)));
    CHECK(std::filesystem::exists(session.dir() / (session.project() + "." + key + ".tcrp.qcow2")));
  }
  CHECK(sha256_of(loader) == digest);
}

}  // namespace
}  // namespace virtform::e2e
