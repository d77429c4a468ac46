// Table-driven attributes on a running guest, against the real libvirtd: a live one (description)
// reaches the running guest's live definition at once; next-boot ones (on_crash, boot_menu) change
// the persistent definition and are shown as pending until the guest boots it. The device rows
// too: lifecycle actions and the rng are taken live, the agents' channels once the guest has
// the virtio-serial controller a boot gives it; libvirt's read-back of each is no change.

#include <catch2/catch.hpp>
#include <filesystem>
#include <pugixml.hpp>
#include <sstream>
#include <vector>

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

namespace virtform::e2e {
namespace {

// The elements of a domain's <devices> called `name`, as XML text each.
std::vector<std::string> devices_named(const std::string& domain_xml, const char* name) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  std::vector<std::string> found;
  for (pugi::xml_node element : document.child("domain").child("devices").children(name)) {
    std::ostringstream text;
    element.print(text, "", pugi::format_raw);
    found.push_back(text.str());
  }
  return found;
}

bool has_device(const std::string& domain_xml, const char* name, const std::string& part) {
  for (const std::string& element : devices_named(domain_xml, name))
    if (element.find(part) != std::string::npos) return true;
  return false;
}

// Removes `path` at the end of the test when it was not there at the start: a file QEMU makes
// for the guest and leaves behind.
class ShmFileCleanup {
 public:
  explicit ShmFileCleanup(std::string path)
      : path_(std::move(path)), existed_(std::filesystem::exists(path_)) {}
  ~ShmFileCleanup() {
    std::error_code ignored;
    if (!existed_) std::filesystem::remove(path_, ignored);
  }

 private:
  std::string path_;
  bool existed_;
};

// A TCG guest boots its kernel in well under this.
constexpr std::chrono::seconds kBootTimeout{120};

TEST_CASE("devices and lifecycle actions reach a running guest live or at its next boot", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("devs");
  auto guest_toml = [&](const std::string& attributes, const std::string& tables = "") {
    return kernel_guest_toml("devs", name, guest_images().initrd_ignore, "128MiB", 1,
                             "restart = \"never\"\n" + attributes) +
           tables;
  };
  // on_reboot = "destroy" first: libvirt refuses on_poweroff = "restart" beside it, so the live
  // on_poweroff below is taken only once on_reboot has changed.
  ProcessResult created =
      session.apply(session.write_config(guest_toml("on_reboot = \"destroy\"\n")));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  REQUIRE(wait_for_console(libvirt, name, kGuestReady, kBootTimeout).rfind("not found", 0) != 0);
  const int id = libvirt.id(name);

  const std::string spice = "\n[vm.devs.graphics]\ntype = \"spice\"\n";
  const std::string devices =
      "on_poweroff = \"restart\"\non_reboot = \"restart\"\nvideo = \"virtio\"\n"
      "sound = \"ich9\"\nrng = true\nguest_agent = true\nspice_agent = true\n"
      "balloon = \"none\"\nwatchdog = \"i6300esb\"\nwatchdog_action = \"poweroff\"\n"
      "tablet = true\nlooking_glass = \"1920x1080\"\n";
  // QEMU makes the Looking Glass memory as /dev/shm/looking-glass and leaves it there.
  const ShmFileCleanup looking_glass_file("/dev/shm/looking-glass");
  std::string config = session.write_config(guest_toml(devices, spice));
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const nlohmann::json guest = guest_change(session, plan);
  REQUIRE(guest.is_object());
  // The agents' channels wait: the running guest has no virtio-serial controller for them, and
  // libvirt cannot plug one.
  for (const auto& [field, disruption] :
       std::vector<std::pair<std::string, std::string>>{{"on_poweroff", "live"},
                                                        {"on_reboot", "live"},
                                                        {"rng", "live"},
                                                        {"guest_agent", "next-boot"},
                                                        {"spice_agent", "next-boot"},
                                                        {"video", "next-boot"},
                                                        {"sound", "next-boot"},
                                                        {"balloon", "next-boot"},
                                                        {"watchdog", "next-boot"},
                                                        {"watchdog_action", "next-boot"},
                                                        {"tablet", "next-boot"},
                                                        {"looking_glass", "next-boot"}}) {
    INFO(field);
    CHECK(field_of(guest, field).value("disruption", "") == disruption);
  }

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  std::string running = libvirt.xml(name);
  std::string persistent = libvirt.xml(name, true);
  INFO(persistent);
  CHECK(running.find("<on_poweroff>restart</on_poweroff>") != std::string::npos);
  CHECK(running.find("<on_reboot>restart</on_reboot>") != std::string::npos);
  CHECK(has_device(running, "rng", "/dev/urandom"));
  CHECK_FALSE(has_device(running, "channel", "org.qemu.guest_agent.0"));
  CHECK(has_device(persistent, "video", "type=\"virtio\""));
  CHECK(has_device(persistent, "sound", "model=\"ich9\""));
  CHECK(has_device(persistent, "channel", "org.qemu.guest_agent.0"));
  CHECK(has_device(persistent, "channel", "com.redhat.spice.0"));
  CHECK(has_device(persistent, "memballoon", "model=\"none\""));
  CHECK(has_device(persistent, "watchdog", "action=\"poweroff\""));
  CHECK(has_device(persistent, "input", "type=\"tablet\""));
  CHECK(has_device(persistent, "shmem", "<size unit=\"M\">32</size>"));
  CHECK_FALSE(has_device(running, "shmem", "looking-glass"));

  // libvirt's additions (vram, heads, audio, channel paths, addresses) are no change.
  CHECK_FALSE(guest_change(session, session.plan_json(config)).is_object());

  // Booted: the running guest has them all, and nothing is pending.
  libvirt.stop(name);
  libvirt.start(name);
  REQUIRE(wait_for_console(libvirt, name, kGuestReady, kBootTimeout).rfind("not found", 0) != 0);
  running = libvirt.xml(name);
  CHECK(has_device(running, "channel", "org.qemu.guest_agent.0"));
  CHECK(has_device(running, "sound", "model=\"ich9\""));
  CHECK(has_device(running, "watchdog", "model=\"i6300esb\""));
  CHECK(has_device(running, "input", "type=\"tablet\""));
  CHECK(has_device(running, "shmem", "<size unit=\"M\">32</size>"));
  const nlohmann::json booted = session.plan_json(config);
  INFO(booted.dump(2));
  CHECK_FALSE(guest_change(session, booted).is_object());
  CHECK(booted.value("pending_next_boot", nlohmann::json::array()).empty());

  // With the spice channel's controller there, the agent's channel and the rng come and go live.
  const int booted_id = libvirt.id(name);
  for (const std::string value : {"false", "true"}) {
    INFO("guest_agent and rng = " << value);
    std::string changed = devices;
    for (const std::string key : {"guest_agent", "rng"})
      changed.replace(changed.find(key + " = true"), key.size() + 7, key + " = " + value);
    config = session.write_config(guest_toml(changed, spice));
    const nlohmann::json change = guest_change(session, session.plan_json(config));
    CHECK(field_of(change, "guest_agent").value("disruption", "") == "live");
    CHECK(field_of(change, "rng").value("disruption", "") == "live");
    applied = session.apply(config);
    INFO(applied.describe());
    REQUIRE(applied.exit_code == 0);
    running = libvirt.xml(name);
    CHECK(has_device(running, "channel", "org.qemu.guest_agent.0") == (value == "true"));
    CHECK(has_device(running, "channel", "com.redhat.spice.0"));
    CHECK(has_device(running, "rng", "/dev/urandom") == (value == "true"));
    CHECK_FALSE(guest_change(session, session.plan_json(config)).is_object());
  }
  CHECK(libvirt.id(name) == booted_id);

  // Taken out, at the next boot: libvirt defines the guest without its sound card, keeping the
  // <audio> backend it added for it, and with no emulated display.
  config = session.write_config(guest_toml(
      "sound = \"none\"\nvideo = \"none\"\nwatchdog = \"none\"\nballoon = \"virtio\"\n", spice));
  applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  persistent = libvirt.xml(name, true);
  CHECK(devices_named(persistent, "sound").empty());
  CHECK(devices_named(persistent, "watchdog").empty());
  CHECK(has_device(persistent, "video", "type=\"none\""));
  CHECK(has_device(persistent, "memballoon", "model=\"virtio\""));
  CHECK_FALSE(guest_change(session, session.plan_json(config)).is_object());
}

}  // namespace
}  // namespace virtform::e2e
