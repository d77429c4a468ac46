// One apply per libvirt URI: a second one fails at once naming the holder, and a lock left by a
// killed apply does not block the next one.

#include <signal.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

// The deaf guest keeps a restarting apply busy for its whole shutdown_timeout: long enough to
// hold the lock while a second apply tries its luck. It need not have finished booting.
std::string busy_guest_toml(const std::string& name, const std::string& memory,
                            const std::string& restart) {
  return kernel_guest_toml(
      "busy", name, guest_images().initrd_ignore, memory, 1,
      "restart = " + quoted(restart) + "\nshutdown_timeout = \"20s\"\nforce_stop = false\n");
}

// Starts an apply that will sit in the graceful-shutdown wait of the busy guest.
std::unique_ptr<Process> start_busy_apply(Session& session, const std::string& name) {
  std::string config = session.write_config(busy_guest_toml(name, "128MiB", "allowed"));
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(session.libvirt().is_running(name));

  config = session.write_config(busy_guest_toml(name, "160MiB", "allowed"));
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());
  auto holder = std::make_unique<Process>(
      std::vector<std::string>{VIRTFORM_BINARY, "apply", config, "-c", uri(), "--auto-approve"},
      std::map<std::string, std::string>{{"NO_COLOR", "1"}});
  // Reading the host and sending the power button takes well under this.
  std::this_thread::sleep_for(3s);
  return holder;
}

}  // namespace

TEST_CASE("a second concurrent apply fails at once and names the lock holder", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("busy");
  std::unique_ptr<Process> holder = start_busy_apply(session, name);
  const std::string config = (session.dir() / "config").string();

  const auto started = std::chrono::steady_clock::now();
  ProcessResult second = session.virtform({"apply", config, "-c", uri(), "--auto-approve"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(second.describe());
  CHECK(second.exit_code == 1);
  CHECK(second.output().find(std::to_string(holder->pid())) != std::string::npos);
  // At once: it did not queue behind the holder's 20 s shutdown wait.
  CHECK(took < 10s);

  ProcessResult first = holder->wait(2min);
  INFO(first.describe());
  CHECK(first.exit_code == 1);  // the deaf guest timed out
  CHECK(session.libvirt().is_running(name));
}

TEST_CASE("a lock left by a killed apply does not block the next apply", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("busy");
  std::unique_ptr<Process> holder = start_busy_apply(session, name);
  holder->kill(SIGKILL);
  ProcessResult killed = holder->wait(1min);
  REQUIRE(killed.exit_code == 128 + SIGKILL);

  // No restart now: the change is made to the definition for the next boot, at once.
  const std::string config = session.write_config(busy_guest_toml(name, "160MiB", "never"));
  const auto started = std::chrono::steady_clock::now();
  ProcessResult next = session.apply(config);
  INFO(next.describe());
  CHECK(next.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  CHECK(memory_kib(session.libvirt().xml(name, true)) == 160 * 1024);
}

}  // namespace virtform::e2e
