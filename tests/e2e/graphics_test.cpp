// A console's password on a running TCG guest, against the real libvirtd: a new password in its
// file reaches the running VNC console at once (libvirt's live definition, read with its
// secrets, shows it, and the guest was not restarted), and never appears in a plan.

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// The passwd of a definition's first console, or "".
std::string console_password(const std::string& xml) {
  pugi::xml_document document;
  document.load_string(xml.c_str());
  return document.child("domain")
      .child("devices")
      .child("graphics")
      .attribute("passwd")
      .as_string();
}

}  // namespace

TEST_CASE("a new console password reaches the running guest's console live", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("console");
  const std::string password_file = (session.dir() / "console.vnc").string();
  const std::string config = session.write_config(
      kernel_guest_toml("console", name, guest_images().initrd_ignore, "128MiB", 1,
                        "restart = \"never\"\n") +
      "\n[vm.console.graphics]\ntype = \"vnc\"\nlisten = \"127.0.0.1\"\npassword_file = " +
      quoted(password_file) + "\n");
  std::ofstream(password_file) << "first-1\n";

  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  CHECK(console_password(libvirt.xml_with_secrets(name)) == "first-1");
  const int id = libvirt.id(name);

  std::ofstream(password_file) << "second2\n";
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  CHECK(plan.dump().find("second2") == std::string::npos);
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "graphics.password").value("disruption", "") == "live");
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(applied.output().find("second2") == std::string::npos);
  CHECK(libvirt.id(name) == id);  // not restarted
  CHECK(console_password(libvirt.xml_with_secrets(name)) == "second2");
  CHECK(console_password(libvirt.xml_with_secrets(name, true)) == "second2");
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
}

}  // namespace virtform::e2e
