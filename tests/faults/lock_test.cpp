// One apply per libvirt URI: of two started at once exactly one proceeds and the other fails at
// once naming it, and a lock left by a killed apply does not block the next one.

#include <signal.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/faults/fault_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

// The deaf guest keeps a restarting apply busy for its whole shutdown_timeout: long enough to
// hold the lock while another apply tries its luck. It need not have finished booting.
std::string busy_guest_toml(const std::string& name, const std::string& memory,
                            const std::string& restart, bool force_stop) {
  return kernel_guest_toml(
      "busy", name, guest_images().initrd_ignore, memory, 1,
      "restart = " + quoted(restart) +
          "\nshutdown_timeout = \"10s\"\nforce_stop = " + (force_stop ? "true" : "false") + "\n");
}

// Creates the running busy guest, then writes a config whose apply must restart it.
std::string busy_guest_needing_restart(Session& session, const std::string& name, bool force_stop) {
  std::string config = session.write_config(busy_guest_toml(name, "128MiB", "allowed", force_stop));
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(session.libvirt().is_running(name));
  config = session.write_config(busy_guest_toml(name, "160MiB", "allowed", force_stop));
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());
  return config;
}

std::unique_ptr<Process> start_apply(const std::string& config) {
  return std::make_unique<Process>(
      std::vector<std::string>{VIRTFORM_BINARY, "apply", config, "-c", uri(), "--auto-approve"},
      std::map<std::string, std::string>{{"NO_COLOR", "1"}});
}

bool lost_the_race(const ProcessResult& result) {
  return result.output().find("another apply is running") != std::string::npos;
}

}  // namespace

TEST_CASE("of two applies started at once, one proceeds and the other fails at once naming it",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("busy");
  // force_stop: the winner powers the deaf guest off after its shutdown_timeout and finishes.
  const std::string config = busy_guest_needing_restart(session, name, true);

  std::unique_ptr<Process> contenders[2] = {start_apply(config), start_apply(config)};
  const auto started = std::chrono::steady_clock::now();
  // The loser is the first to exit, long before the winner's shutdown wait is over.
  while (!has_exited(contenders[0]->pid()) && !has_exited(contenders[1]->pid()) &&
         std::chrono::steady_clock::now() - started < 2min) {
    std::this_thread::sleep_for(50ms);
  }
  const auto first_exit = std::chrono::steady_clock::now() - started;
  const int loser = has_exited(contenders[0]->pid()) ? 0 : 1;
  const int winner = 1 - loser;
  const pid_t winner_pid = contenders[winner]->pid();
  const ProcessResult lost = contenders[loser]->wait(1min);
  const ProcessResult won = contenders[winner]->wait(2min);
  INFO("loser:\n" << lost.describe() << "\nwinner:\n" << won.describe());

  CHECK(lost_the_race(lost));
  CHECK(lost.exit_code == 1);
  CHECK(lost.output().find("pid " + std::to_string(winner_pid)) != std::string::npos);
  CHECK(first_exit < 8s);  // at once: not queued behind the winner's 10 s shutdown wait
  CHECK_FALSE(lost_the_race(won));
  CHECK(won.exit_code == 0);
  REQUIRE(session.libvirt().is_running(name));
  CHECK(memory_kib(session.libvirt().xml(name)) == 160ULL * 1024);
}

TEST_CASE("a lock left by a killed apply does not block the next apply", "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("busy");
  const std::string config = busy_guest_needing_restart(session, name, false);
  std::unique_ptr<Process> holder = start_apply(config);
  // It holds the lock from before it reads the host; its restart step waits for the deaf guest.
  REQUIRE(holder->wait_for_output("vm.busy/restart: started", 60s));
  holder->kill(SIGKILL);
  ProcessResult killed = holder->wait(1min);
  REQUIRE(killed.exit_code == 128 + SIGKILL);

  // No restart now: the change is made to the definition for the next boot, at once.
  const std::string next_config =
      session.write_config(busy_guest_toml(name, "160MiB", "never", false));
  const auto started = std::chrono::steady_clock::now();
  ProcessResult next = session.apply(next_config);
  INFO(next.describe());
  CHECK(next.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  CHECK(memory_kib(session.libvirt().xml(name, true)) == 160ULL * 1024);
}

}  // namespace virtform::e2e
