// Running guests under TCG: a change that needs a restart waits for the next boot when restarts
// are not allowed, restarts the guest gracefully (ACPI) when they are, and fails cleanly when the
// guest ignores the power button.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

// Booting Debian's kernel under TCG takes 10-20 s on this class of machine; leave room for a
// loaded CI runner.
constexpr auto kBootTimeout = 120s;

int detailed_plan_exit(const Session& session, const std::string& config) {
  ProcessResult result = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(result.describe());
  if (result.exit_code == 1) FAIL("plan failed");
  return result.exit_code;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Applies `config` and waits until the guest has booted far enough to react to the button.
void create_and_boot(Session& session, const std::string& config, const std::string& name) {
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(session.libvirt().is_running(name));
  std::string console = wait_for_console(session.libvirt(), name, kGuestReady, kBootTimeout);
  INFO("console: " << console);
  REQUIRE(console.find(kGuestReady) != std::string::npos);
}

}  // namespace

TEST_CASE("a running guest keeps running for next-boot changes and restarts when allowed",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("run");
  const std::string initrd = guest_images().initrd_acpi;
  std::string config = session.write_config(
      kernel_guest_toml("run", name, initrd, "128MiB", 1, "restart = \"never\"\n"));
  create_and_boot(session, config, name);
  const int first_id = libvirt.id(name);
  CHECK(detailed_plan_exit(session, config) == 0);

  // More memory than the guest booted with cannot be given live: next boot, since restarts
  // are not allowed.
  config = session.write_config(
      kernel_guest_toml("run", name, initrd, "160MiB", 1, "restart = \"never\"\n"));
  nlohmann::json plan = session.plan_json(config);
  std::vector<nlohmann::json> ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  INFO(ours[0].dump(2));
  CHECK(ours[0].value("action", "") == "update");
  CHECK(field_names(ours[0]) == std::vector<std::string>{"memory"});
  CHECK(field_of(ours[0], "memory").value("disruption", "") == "next-boot");
  CHECK(ours[0].value("disruption", "") == "next-boot");

  ProcessResult deferred = session.apply(config);
  INFO(deferred.describe());
  REQUIRE(deferred.exit_code == 0);
  CHECK(libvirt.id(name) == first_id);
  CHECK(memory_kib(libvirt.xml(name, true)) == 160 * 1024);
  CHECK(memory_kib(libvirt.xml(name)) == 128 * 1024);
  // The persistent definition matches the config; the running guest catches up at its next boot.
  CHECK(detailed_plan_exit(session, config) == 0);

  // Now a restart is allowed: one more vCPU makes apply shut the guest down over ACPI and start
  // it again. The memory already in the definition but not yet booted shows as pending too.
  config = session.write_config(kernel_guest_toml("run", name, initrd, "160MiB", 2,
                                                  "restart = \"allowed\"\n"
                                                  "shutdown_timeout = \"60s\"\n"));
  plan = session.plan_json(config);
  ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  INFO(ours[0].dump(2));
  // The new policy is recorded in the marker too, which the guest does not see.
  CHECK(field_names(ours[0]) ==
        std::vector<std::string>{"memory", "restart", "shutdown_timeout", "vcpus"});
  CHECK(field_of(ours[0], "restart").value("disruption", "") == "none");
  CHECK(field_of(ours[0], "shutdown_timeout").value("after", "") == "60s");
  CHECK(field_of(ours[0], "vcpus").value("disruption", "") == "restart");
  CHECK(field_of(ours[0], "memory").value("before", "") == "128 MiB");
  CHECK(field_of(ours[0], "memory").value("after", "") == "160 MiB (pending restart)");
  CHECK(ours[0].value("disruption", "") == "restart");

  ProcessResult restarted = session.apply(config);
  INFO(restarted.describe());
  REQUIRE(restarted.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  CHECK(libvirt.id(name) != first_id);
  const std::string running = libvirt.xml(name);
  CHECK(vcpu_count(running) == 2);
  CHECK(memory_kib(running) == 160 * 1024);
  std::string console = wait_for_console(libvirt, name, kGuestReady, kBootTimeout);
  INFO("console: " << console);
  CHECK(console.find(kGuestReady) != std::string::npos);
  CHECK(detailed_plan_exit(session, config) == 0);
}

TEST_CASE("a guest that ignores ACPI makes apply fail after shutdown_timeout and stay running",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("deaf");
  const std::string initrd = guest_images().initrd_ignore;
  const std::string policy =
      "restart = \"allowed\"\nshutdown_timeout = \"5s\"\nforce_stop = false\n";
  std::string config =
      session.write_config(kernel_guest_toml("deaf", name, initrd, "128MiB", 1, policy));
  create_and_boot(session, config, name);
  const int first_id = libvirt.id(name);

  config = session.write_config(kernel_guest_toml("deaf", name, initrd, "160MiB", 1, policy));
  const auto started = std::chrono::steady_clock::now();
  ProcessResult timed_out = session.apply(config);
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(timed_out.describe());
  CHECK(timed_out.exit_code == 1);
  const std::string message = lowercase(timed_out.output());
  CHECK((message.find("timed out") != std::string::npos ||
         message.find("timeout") != std::string::npos));
  CHECK(message.find(lowercase(name)) != std::string::npos);
  // It waited for the guest, but not much longer than it was told to.
  CHECK(took >= 5s);
  CHECK(took < 60s);
  // Never pulled the plug.
  CHECK(libvirt.is_running(name));
  CHECK(libvirt.id(name) == first_id);

  // The change was not carried out, so the plan still shows it.
  CHECK(detailed_plan_exit(session, config) == 2);
  std::vector<nlohmann::json> ours = changes_inside(session.plan_json(config), session.prefix());
  REQUIRE(ours.size() == 1);
  CHECK(field_of(ours[0], "memory").is_object());
}

TEST_CASE("a running guest removed from the config is stopped by the policy it last declared",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("removed");
  const std::string policy = "shutdown_timeout = \"3s\"\nforce_stop = true\n";
  const std::string config = session.write_config(
      kernel_guest_toml("removed", name, guest_images().initrd_ignore, "128MiB", 1, policy));
  create_and_boot(session, config, name);

  session.write_config("");  // the VM is no longer declared
  const auto started = std::chrono::steady_clock::now();
  ProcessResult removed = session.apply(config);
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(removed.describe());
  CHECK(removed.exit_code == 0);
  // It waited the 3 s the VM declared, then pulled the plug: not the default 120 s.
  CHECK(took >= 3s);
  CHECK(took < 60s);
  CHECK_FALSE(libvirt.exists(name));
}

}  // namespace virtform::e2e

namespace virtform::e2e {

TEST_CASE("a running transient managed domain removed from the config is stopped and is gone",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("transient");
  const std::string config = session.write_config(
      kernel_guest_toml("transient", name, guest_images().initrd_acpi, "128MiB", 1, ""));
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  // The same definition, marker and all, as a transient domain (`virsh create`).
  const std::string xml_file = (session.dir() / "transient.xml").string();
  {
    std::ofstream out(xml_file);
    out << session.libvirt().xml(name, true);
  }
  session.libvirt().remove(name);
  ProcessResult made = run_process({"virsh", "-c", uri(), "create", xml_file});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  REQUIRE(session.libvirt().is_managed(name));
  std::string console = wait_for_console(session.libvirt(), name, kGuestReady, kBootTimeout);
  INFO("console: " << console);
  REQUIRE(console.find(kGuestReady) != std::string::npos);

  const std::string empty = session.write_config("");
  ProcessResult removed = session.apply(empty);
  INFO(removed.describe());
  CHECK(removed.exit_code == 0);
  CHECK(removed.out.find("Apply complete") != std::string::npos);
  CHECK_FALSE(session.libvirt().exists(name));
}

}  // namespace virtform::e2e
