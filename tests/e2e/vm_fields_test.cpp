// Table-driven attributes on a running guest, against the real libvirtd: a live one (description)
// reaches the running guest's live definition at once; next-boot ones (on_crash, boot_menu) change
// the persistent definition and are shown as pending until the guest boots it.

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

std::string description_of(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("description").text().as_string();
}

std::string on_crash_of(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  return document.child("domain").child("on_crash").text().as_string();
}

TEST_CASE("a description reaches the running guest live and on_crash waits for its next boot",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("attrs");
  auto guest_toml = [&](const std::string& attributes) {
    return kernel_guest_toml("attrs", name, guest_images().initrd_ignore, "128MiB", 1,
                             "restart = \"never\"\n" + attributes);
  };
  ProcessResult created = session.apply(session.write_config(guest_toml("")));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);

  const std::string config =
      session.write_config(guest_toml("title = \"NAS\"\ndescription = \"NAS: 4 bays\"\non_crash = "
                                      "\"preserve\"\nboot_menu = true\n"));
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  nlohmann::json guest;
  for (const nlohmann::json& change : changes_inside(plan, session.prefix())) guest = change;
  REQUIRE(guest.is_object());
  CHECK(field_of(guest, "description").value("disruption", "") == "live");
  CHECK(field_of(guest, "title").value("disruption", "") == "live");
  CHECK(field_of(guest, "on_crash").value("disruption", "") == "next-boot");
  CHECK(field_of(guest, "boot_menu").value("disruption", "") == "next-boot");

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  CHECK(description_of(libvirt.xml(name)) == "NAS: 4 bays");
  CHECK(description_of(libvirt.xml(name, true)) == "NAS: 4 bays");
  CHECK(libvirt.xml(name).find("<title>NAS</title>") != std::string::npos);
  CHECK(on_crash_of(libvirt.xml(name, true)) == "preserve");
  CHECK(on_crash_of(libvirt.xml(name)) == "destroy");  // the running guest keeps what it booted
  CHECK(libvirt.xml(name, true).find("<bootmenu enable='yes'/>") != std::string::npos);

  // Nothing to do, but the next boot's changes are shown as pending.
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  nlohmann::json settled;
  for (const nlohmann::json& change : changes_inside(after, session.prefix())) settled = change;
  CHECK_FALSE(settled.is_object());
  std::string pending;
  for (const nlohmann::json& entry : after.value("pending_next_boot", nlohmann::json::array()))
    if (entry.value("name", "") == name) pending = entry.at("fields").dump();
  CHECK(pending.find("on_crash") != std::string::npos);
  CHECK(pending.find("boot_menu") != std::string::npos);
  CHECK(pending.find("description") == std::string::npos);
}

}  // namespace
}  // namespace virtform::e2e
