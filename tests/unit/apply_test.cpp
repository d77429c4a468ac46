// The whole pipeline (config -> plan -> apply -> plan) against libvirt's real test driver.

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <functional>

#include "engine/apply/step_runner.h"
#include "engine/checks/host_check.h"
#include "engine/config/config.h"
#include "engine/passes.h"
#include "engine/render/plan_json.h"
#include "providers/host/apply_lock.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/apply_helpers.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::GuestIgnoringAcpi;
using testing::ManualClock;
using testing::TempDir;

struct Host {
  explicit Host(const std::string& uri = "test:///default") : hypervisor(uri) {}
  LibvirtHypervisor hypervisor;
  RootedHostFiles files{"/"};
};

Plan plan_for(Host& host, const std::vector<std::string>& paths, DiffOptions options = {}) {
  Diagnostics diagnostics;
  Desired desired = load_config(paths, diagnostics);
  check_host_files(desired, host.files, diagnostics);
  REQUIRE_FALSE(has_errors(diagnostics));
  const Live live = observe(host.hypervisor, host.files, HostDevices{}, desired);
  return make_plan(desired, live, options, host.hypervisor.uri(), diagnostics);
}

ApplyResult apply_plan(Host& host, Hypervisor& hypervisor, const Plan& plan, Clock& clock) {
  const Live live = hypervisor.read_live();
  StepRunner runner(StepContext{plan, live, hypervisor, host.files, clock, nullptr});
  return execute(
      plan.steps, [&](const Step& step) { runner.run(step); }, 2, nullptr);
}

ApplyResult apply_plan(Host& host, const Plan& plan) {
  SystemClock clock;
  return apply_plan(host, host.hypervisor, plan, clock);
}

const Change* vm_change(const Plan& plan, const std::string& key) {
  return plan.find("vm." + key);
}

std::string unique_name(const std::string& stem) {
  return "vfunit-" + std::to_string(getpid()) + "-" + stem;
}

std::string vm_toml(const TempDir& dir, const std::string& name, const std::string& memory,
                    const std::string& extra = "") {
  return "project = \"" + name + "\"\n[vm.guest]\nname = \"" + name +
         "\"\ntype = \"qemu\"\nmemory = \"" + memory +
         "\"\nstate = \"running\"\nautostart = true\n[[vm.guest.disk]]\nfile = \"" +
         (dir / "data.qcow2") + "\"\nsize = \"64MiB\"\n" + extra;
}

TEST_CASE("apply then plan shows no changes; removal keeps the images", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("cycle");
  const std::string config = dir.write_file("vm.toml", vm_toml(dir, name, "128MiB"));

  const Plan first = plan_for(host, {config});
  REQUIRE(first.has_changes());
  CHECK(vm_change(first, "guest")->action == Action::create);
  REQUIRE(first.find("image." + (dir / "data.qcow2")));
  REQUIRE(apply_plan(host, first).ok());
  CHECK(std::filesystem::exists(dir / "data.qcow2"));
  CHECK(host.hypervisor.is_running(name));

  const Plan second = plan_for(host, {config});
  CHECK_FALSE(second.has_changes());

  dir.write_file("vm.toml", vm_toml(dir, name, "256MiB"));
  const Plan grown = plan_for(host, {config});
  const Change* change = vm_change(grown, "guest");
  REQUIRE(change);
  CHECK(change->action == Action::update);
  REQUIRE(change->fields.size() == 1);
  CHECK(change->fields[0].field == "memory");
  CHECK(change->disruption == Disruption::next_boot);
  REQUIRE(apply_plan(host, grown).ok());
  CHECK_FALSE(plan_for(host, {config}).has_changes());

  dir.write_file("vm.toml", "project = \"" + name + "\"\n");
  const Plan removal = plan_for(host, {config});
  REQUIRE(vm_change(removal, "guest"));
  CHECK(vm_change(removal, "guest")->action == Action::remove);
  REQUIRE(apply_plan(host, removal).ok());
  CHECK_FALSE(host.hypervisor.read_live().find_domain(name));
  CHECK(std::filesystem::exists(dir / "data.qcow2"));
  CHECK_FALSE(plan_for(host, {config}).has_changes());
}

TEST_CASE("a restart that times out fails clearly and leaves the guest running",
          "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("stubborn");
  const std::string config = dir.write_file("vm.toml", vm_toml(dir, name, "128MiB"));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());

  std::string text = vm_toml(dir, name, "256MiB");
  text.insert(text.find("state ="), "restart = \"allowed\"\nshutdown_timeout = \"20s\"\n");
  dir.write_file("vm.toml", text);
  const Plan plan = plan_for(host, {config});
  REQUIRE(vm_change(plan, "guest")->disruption == Disruption::restart);
  REQUIRE(plan.find_step("vm.guest/restart"));

  GuestIgnoringAcpi stubborn("test:///default");
  ManualClock clock;
  const ApplyResult result = apply_plan(host, stubborn, plan, clock);
  CHECK_FALSE(result.ok());
  bool reported = false;
  for (const StepResult& step : result.steps) {
    if (step.id == "vm.guest/restart") {
      CHECK(step.status == StepStatus::failed);
      CHECK(step.message.find("did not shut down within 20s") != std::string::npos);
      // Its update step already saved the new definition: "unchanged" would be untrue.
      CHECK(step.message.find("it is still running its old definition (the new one is saved") !=
            std::string::npos);
      reported = true;
    }
  }
  CHECK(reported);
  CHECK(host.hypervisor.is_running(name));

  // The definition already has the new memory; the running guest does not. The plan says so.
  const Plan after = plan_for(host, {config});
  const Change* pending = vm_change(after, "guest");
  REQUIRE(pending);
  CHECK(pending->action == Action::update);
  CHECK(pending->disruption == Disruption::restart);
  REQUIRE(after.find_step("vm.guest/restart"));

  SECTION("with force_stop it is powered off after the timeout and started again") {
    text.insert(text.find("state ="), "force_stop = true\n");
    dir.write_file("vm.toml", text);
    const Plan forced = plan_for(host, {config});
    CHECK(apply_plan(host, stubborn, forced, clock).ok());
    CHECK(host.hypervisor.is_running(name));
  }
  host.hypervisor.destroy(name);
  host.hypervisor.undefine(name);
}

// A process that takes the apply lock in `hold` and writes a byte to `ready` once it holds it;
// the constructor returns when that byte arrives. kill_now() (or the destructor) ends it with
// SIGKILL, as a crash would, releasing nothing by itself.
class LockHolder {
 public:
  explicit LockHolder(const std::function<void(int ready)>& hold) {
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid_ = fork();
    if (pid_ == 0) {
      hold(ready[1]);
      _exit(0);
    }
    char byte = 0;
    const bool holding = read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    close(ready[1]);
    REQUIRE(holding);
  }
  ~LockHolder() { kill_now(); }
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;

  pid_t pid() const { return pid_; }
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

TEST_CASE("a second apply on the same URI is refused at once, naming the holder", "[apply]") {
  TempDir dir;
  setenv("VIRTFORM_LOCK_DIR", dir.path().c_str(), 1);
  const std::string uri = "test:///lock-" + std::to_string(getpid());
  {
    auto held = ApplyLock::acquire(uri, "virtform apply");
    try {
      ApplyLock::acquire(uri, "virtform apply");
      FAIL("the second apply got the lock");
    } catch (const SystemError& error) {
      CHECK(std::string(error.what()).find("pid " + std::to_string(getpid())) != std::string::npos);
    }
  }
  CHECK_NOTHROW(ApplyLock::acquire(uri, "virtform apply"));

  SECTION("a lock left by a killed apply does not block the next one") {
    LockHolder holder([&](int ready) {
      auto lock = ApplyLock::acquire(uri, "virtform apply");
      (void)!write(ready, "x", 1);
      pause();
    });
    CHECK_THROWS_WITH(ApplyLock::acquire(uri, "virtform apply"),
                      Catch::Contains("pid " + std::to_string(holder.pid())));
    holder.kill_now();
    CHECK_NOTHROW(ApplyLock::acquire(uri, "virtform apply"));
  }

  SECTION("a contender that looks before the holder wrote its record waits for the record") {
    const std::string path = ApplyLock::acquire(uri, "virtform apply")->path();
    // The file still names an earlier holder, long gone.
    const pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, nullptr, 0);
    const std::string stale = "pid " + std::to_string(gone) + " (virtform apply) since then\n";
    dir.write_file(std::filesystem::path(path).filename().string(), stale);
    // Takes the lock as acquire does, but writes its record only a moment later.
    LockHolder holder([&](int ready) {
      const int fd = open(path.c_str(), O_RDWR);
      flock(fd, LOCK_EX);
      (void)!write(ready, "x", 1);
      usleep(100 * 1000);
      const std::string record = "pid " + std::to_string(getpid()) + " (virtform apply)\n";
      (void)!pwrite(fd, record.data(), record.size(), 0);
      (void)!ftruncate(fd, static_cast<off_t>(record.size()));
      pause();
    });
    CHECK_THROWS_WITH(ApplyLock::acquire(uri, "virtform apply"),
                      Catch::Contains("pid " + std::to_string(holder.pid())));
  }

  SECTION("a record naming a process it cannot see is still shown") {
    // As from an apply in another PID namespace that shares the lock directory.
    const std::string path = ApplyLock::acquire(uri, "virtform apply")->path();
    const std::string record = "pid 2147483646 (virtform apply) since 2026-12-01T08:00:00Z";
    LockHolder holder([&](int ready) {
      const int fd = open(path.c_str(), O_RDWR);
      flock(fd, LOCK_EX);
      const std::string line = record + "\n";
      (void)!pwrite(fd, line.data(), line.size(), 0);
      (void)!ftruncate(fd, static_cast<off_t>(line.size()));
      (void)!write(ready, "x", 1);
      pause();
    });
    CHECK_THROWS_WITH(ApplyLock::acquire(uri, "virtform apply"), Catch::Contains(record));
  }
  unsetenv("VIRTFORM_LOCK_DIR");
}

// A VM of its own project with no disks, so that a copy of it shares nothing with it.
std::string bare_vm_toml(const std::string& project, const std::string& name,
                         const std::string& extra = "") {
  return "project = \"" + project + "\"\n[vm.guest]\nname = \"" + name +
         "\"\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"running\"\n" + extra;
}

TEST_CASE("a removed VM is stopped by the policy its marker recorded", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("policy");
  const std::string config = dir.write_file(
      "vm.toml", bare_vm_toml(name, name, "force_stop = true\nshutdown_timeout = \"3s\"\n"));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());
  REQUIRE(host.hypervisor.is_running(name));
  REQUIRE(host.hypervisor.read_live().find_domain(name));

  dir.write_file("vm.toml", "project = \"" + name + "\"\n");
  // As `apply --plan` would: through the saved plan's JSON.
  const Plan removal = parse_plan_json(render_plan_json(plan_for(host, {config})));
  const Change* change = vm_change(removal, "guest");
  REQUIRE(change);
  CHECK(change->action == Action::remove);
  REQUIRE(change->live_policy);
  CHECK(change->live_policy->force_stop);
  CHECK(change->live_policy->shutdown_timeout == std::chrono::seconds(3));

  // A guest that ignores the power button is powered off once the recorded 3 s are up.
  GuestIgnoringAcpi stubborn("test:///default");
  ManualClock clock;
  const auto started = clock.now();
  const ApplyResult result = apply_plan(host, stubborn, removal, clock);
  for (const StepResult& step : result.steps) INFO(step.id << ": " << step.message);
  CHECK(result.ok());
  CHECK(clock.now() - started >= std::chrono::seconds(3));
  CHECK(clock.now() - started < std::chrono::seconds(10));
  CHECK_FALSE(host.hypervisor.read_live().find_domain(name));
}

TEST_CASE("a changed policy is recorded in the marker", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("repolicy");
  const std::string config = dir.write_file("vm.toml", bare_vm_toml(name, name));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());
  CHECK_FALSE(plan_for(host, {config}).has_changes());

  dir.write_file("vm.toml", bare_vm_toml(name, name, "force_stop = true\n"));
  const Plan plan = plan_for(host, {config});
  const Change* change = vm_change(plan, "guest");
  REQUIRE(change);
  REQUIRE(change->fields.size() == 1);
  CHECK(change->fields[0].field == "force_stop");
  CHECK(change->disruption == Disruption::none);
  REQUIRE(apply_plan(host, plan).ok());
  CHECK_FALSE(plan_for(host, {config}).has_changes());
  const Live now = host.hypervisor.read_live();
  const LiveDomain* live = now.find_domain(name);
  REQUIRE(live);
  REQUIRE(live->recorded_policy);
  CHECK(live->recorded_policy->force_stop);
  host.hypervisor.destroy(name);
  host.hypervisor.undefine(name);
}

// Defines `xml` with `from` renamed to `to` and a new UUID, as a copy made from a dumpxml would.
void define_copy(const std::string& xml, const std::string& from, const std::string& to,
                 const std::string& uuid) {
  std::string copy = xml;
  copy.replace(copy.find("<name>" + from + "</name>"), from.size() + 13, "<name>" + to + "</name>");
  const auto start = copy.find("<uuid>") + 6;
  copy.replace(start, copy.find("</uuid>") - start, uuid);
  virConnectPtr connection = virConnectOpen("test:///default");
  REQUIRE(connection);
  virDomainPtr domain = virDomainDefineXML(connection, copy.c_str());
  CHECK(domain);
  if (domain) virDomainFree(domain);
  virConnectClose(connection);
}

TEST_CASE("a copy of a managed domain is not virtform's", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("original");
  const std::string clone = unique_name("clone");
  const std::string config = dir.write_file("vm.toml", bare_vm_toml(name, name));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());
  const Live defined = host.hypervisor.read_live();
  const LiveDomain* original = defined.find_domain(name);
  REQUIRE(original);
  CHECK(original->managed);
  CHECK(original->xml.find("uuid=\"" + original->uuid + "\"") != std::string::npos);
  define_copy(original->xml, name, clone, "7d2c51a4-0f2b-4c9e-9a61-3b8f1e2d4c05");

  auto touches_clone = [&](const Plan& plan) {
    for (const Change& change : plan.changes)
      if (change.action != Action::none && (change.live_name == clone || change.name == clone))
        return true;
    return false;
  };
  auto warns_of_copy = [&](const Plan& plan) {
    for (const Diagnostic& diagnostic : plan.diagnostics)
      if (diagnostic.severity == Severity::warning &&
          diagnostic.message.find("domain '" + clone + "'") != std::string::npos &&
          diagnostic.message.find("copied") != std::string::npos &&
          diagnostic.message.find("adopt = true") != std::string::npos)
        return true;
    return false;
  };

  // Declared: the copy is not an orphan of this project.
  const Plan unchanged = plan_for(host, {config});
  CHECK(warns_of_copy(unchanged));
  CHECK_FALSE(touches_clone(unchanged));
  CHECK_FALSE(unchanged.has_changes());

  // Renamed: the original is renamed, never the copy.
  const std::string renamed = unique_name("renamed");
  dir.write_file("vm.toml", bare_vm_toml(name, renamed, "restart = \"allowed\"\n"));
  const Plan rename = plan_for(host, {config});
  CHECK_FALSE(touches_clone(rename));
  const Change* renaming = vm_change(rename, "guest");
  REQUIRE(renaming);
  CHECK(renaming->action == Action::update);  // renamed in place
  CHECK(renaming->live_name == name);

  // Removed: only the original goes.
  dir.write_file("vm.toml", "project = \"" + name + "\"\n");
  const Plan removal = plan_for(host, {config});
  CHECK(warns_of_copy(removal));
  CHECK_FALSE(touches_clone(removal));
  REQUIRE(apply_plan(host, removal).ok());
  const Live after = host.hypervisor.read_live();
  CHECK_FALSE(after.find_domain(name));
  REQUIRE(after.find_domain(clone));
  CHECK_FALSE(after.find_domain(clone)->managed);
  host.hypervisor.undefine(clone);
}

// The running guest's balloon, in KiB, as libvirt reports it.
unsigned long live_balloon_kib(const std::string& name) {
  virConnectPtr connection = virConnectOpen("test:///default");
  REQUIRE(connection);
  virDomainPtr domain = virDomainLookupByName(connection, name.c_str());
  REQUIRE(domain);
  virDomainInfo info;
  REQUIRE(virDomainGetInfo(domain, &info) == 0);
  virDomainFree(domain);
  virConnectClose(connection);
  return info.memory;
}

TEST_CASE("a smaller memory never raises a running guest's lower balloon", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("balloon");
  const std::string config = dir.write_file("vm.toml", vm_toml(dir, name, "256MiB"));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());
  host.hypervisor.set_memory_live(name, 64 * 1024);
  REQUIRE(live_balloon_kib(name) == 64 * 1024);

  dir.write_file("vm.toml", vm_toml(dir, name, "128MiB"));
  const Plan shrink = plan_for(host, {config});
  REQUIRE(vm_change(shrink, "guest"));
  CHECK(vm_change(shrink, "guest")->disruption == Disruption::live);
  REQUIRE(apply_plan(host, shrink).ok());
  CHECK(live_balloon_kib(name) == 64 * 1024);

  host.hypervisor.destroy(name);
  host.hypervisor.undefine(name);
}

TEST_CASE("memory under memory_max sets a running guest's balloon both ways", "[apply][libvirt]") {
  TempDir dir;
  Host host;
  const std::string name = unique_name("declared-balloon");
  // memory = "<memory>" with memory_max = "512MiB" beside it in [vm.guest].
  auto under_max = [&](const std::string& memory) {
    return vm_toml(dir, name, memory + "\"\nmemory_max = \"512MiB");
  };
  const std::string config = dir.write_file("vm.toml", under_max("256MiB"));
  REQUIRE(apply_plan(host, plan_for(host, {config})).ok());
  REQUIRE(live_balloon_kib(name) == 256 * 1024);
  for (const char* memory : {"128MiB", "384MiB"}) {
    INFO(memory);
    dir.write_file("vm.toml", under_max(memory));
    const Plan plan = plan_for(host, {config});
    REQUIRE(vm_change(plan, "guest"));
    CHECK(vm_change(plan, "guest")->disruption == Disruption::live);
    const ApplyResult applied = apply_plan(host, plan);
    std::string messages;
    for (const StepResult& step : applied.steps) messages += step.message + "\n";
    INFO(messages);
    REQUIRE(applied.ok());
    const std::uint64_t kib = (memory == std::string("128MiB") ? 128 : 384) * 1024;
    CHECK(live_balloon_kib(name) == kib);
    CHECK(host.hypervisor.read_domain(name)->vm.current_memory_kib == kib);
    CHECK_FALSE(plan_for(host, {config}).has_changes());
  }
  host.hypervisor.destroy(name);
  host.hypervisor.undefine(name);
}

}  // namespace
}  // namespace virtform
