// A renamed VM is renamed in place: the domain keeps its UUID and what virtform does not own (a
// description set with virsh), and its NVRAM store moves to the new name's byte for byte: a UEFI
// guest's boot entries and Secure Boot keys live there. The old file stays.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

std::string uefi_guest_toml(const Session& session, const std::string& name) {
  return "project = " + quoted(session.project()) + "\n[vm.named]\nname = " + quoted(name) +
         "\ntype = \"qemu\"\nmemory = \"128MiB\"\nfirmware = \"uefi\"\nstate = \"stopped\"\n";
}

// The <nvram> path of a domain definition.
std::string nvram_of(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("os").child("nvram").text().as_string();
}

TEST_CASE("a rename keeps the domain's UUID and unowned parts and NVRAM contents", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string before = session.domain("before");
  const std::string after = session.domain("after");
  ProcessResult created = session.apply(session.write_config(uefi_guest_toml(session, before)));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);

  const std::string xml = libvirt.xml(before, /*inactive=*/true);
  const std::string uuid = domain_uuid(xml);
  const std::string nvram = nvram_of(xml);
  REQUIRE_FALSE(nvram.empty());
  const std::string moved = std::filesystem::path(nvram).parent_path() / (after + "_VARS.fd");
  // The session removes domains but keeps their NVRAM, as virtform does; this test's goes too.
  struct RemovedAtEnd {
    std::vector<std::string> paths;
    ~RemovedAtEnd() {
      for (const std::string& path : paths) std::filesystem::remove(path);
    }
  } removed_at_end{{nvram, moved}};
  // libvirt makes the store from its template when the guest first starts; stand in for what a
  // guest's firmware would have written there.
  {
    std::ofstream store(nvram, std::ios::binary | std::ios::trunc);
    store << "boot entries and Secure Boot keys of " << before;
  }
  const std::string contents = sha256_of(nvram);
  ProcessResult described =
      run_process({"virsh", "-c", uri(), "desc", before, "--config", "set by hand"});
  REQUIRE(described.exit_code == 0);

  const std::string config = session.write_config(uefi_guest_toml(session, after));
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  REQUIRE(plan["changes"].size() == 1);
  CHECK(plan["changes"][0]["action"] == "update");
  REQUIRE(plan["steps"].size() == 2);
  CHECK(plan["steps"][0]["kind"] == "rename");
  CHECK(plan["steps"][1]["kind"] == "update");
  CHECK(field_of(plan["changes"][0], "nvram").value("after", "") ==
        moved + " (a copy of the current store)");

  ProcessResult renamed = session.apply(config);
  INFO(renamed.describe());
  REQUIRE(renamed.exit_code == 0);
  CHECK_FALSE(libvirt.exists(before));
  REQUIRE(libvirt.exists(after));
  const std::string renamed_xml = libvirt.xml(after, /*inactive=*/true);
  CHECK(domain_uuid(renamed_xml) == uuid);
  CHECK(renamed_xml.find("<description>set by hand</description>") != std::string::npos);
  CHECK(nvram_of(renamed_xml) == moved);
  CHECK(sha256_of(moved) == contents);
  CHECK(sha256_of(nvram) == contents);  // the old store is kept

  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

}  // namespace
}  // namespace virtform::e2e
