// Optimistic concurrency in apply: a step that writes a domain refuses when another tool changed
// the domain after the plan was made, and leaves that tool's edit in place. libvirt's test
// driver, shared by every connection of this process, plays both virtform and the other tool.

#include "engine/apply/step_runner.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/checks/host_check.h"
#include "engine/config/config.h"
#include "engine/passes.h"
#include "engine/render/plan_json.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/connection.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/apply_helpers.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using namespace std::chrono_literals;
using testing::GuestIgnoringAcpi;
using testing::ManualClock;
using testing::TempDir;

constexpr const char* kUri = "test:///default";

struct Planned {
  Plan plan;
  Live live;  // what the plan was made from
};

Planned plan_for(LibvirtHypervisor& hypervisor, const HostFiles& files, const std::string& config) {
  Diagnostics diagnostics;
  Desired desired = load_config({config}, diagnostics);
  check_host_files(desired, files, diagnostics);
  REQUIRE_FALSE(has_errors(diagnostics));
  Live live = observe(hypervisor, files, HostDevices{}, desired);
  Plan plan = make_plan(desired, live, DiffOptions{}, hypervisor.uri(), diagnostics);
  return {std::move(plan), std::move(live)};
}

ApplyResult apply(LibvirtHypervisor& hypervisor, HostFiles& files, const Planned& planned,
                  Clock& clock) {
  StepRunner runner(StepContext{planned.plan, planned.live, hypervisor, files, clock, nullptr});
  return execute(
      planned.plan.steps, [&](const Step& step) { runner.run(step); }, 2, nullptr);
}

ApplyResult apply(LibvirtHypervisor& hypervisor, HostFiles& files, const Planned& planned) {
  SystemClock clock;
  return apply(hypervisor, files, planned, clock);
}

const StepResult* result_of(const ApplyResult& result, const std::string& id) {
  for (const StepResult& step : result.steps)
    if (step.id == id) return &step;
  return nullptr;
}

// Another tool's connection, making the edits `virsh desc --config`, `virsh start` or
// `virsh define` would.
class OtherTool {
 public:
  void describe(const std::string& name, const std::string& text) {
    REQUIRE(try_describe(name, text));
  }
  // The same without an assertion, for a thread other than the test's.
  bool try_describe(const std::string& name, const std::string& text) {
    DomainHandle domain(virDomainLookupByName(connection_.get(), name.c_str()));
    return domain &&
           virDomainSetMetadata(domain.get(), VIR_DOMAIN_METADATA_DESCRIPTION, text.c_str(),
                                nullptr, nullptr, VIR_DOMAIN_AFFECT_CONFIG) == 0;
  }
  void start(const std::string& name) {
    REQUIRE(virDomainCreate(connection_.domain(name).get()) == 0);
  }
  std::string inactive_xml(const std::string& name) {
    char* xml = virDomainGetXMLDesc(connection_.domain(name).get(), VIR_DOMAIN_XML_INACTIVE);
    std::string text = xml ? xml : "";
    free(xml);
    return text;
  }
  void define(const std::string& xml) {
    DomainHandle domain(virDomainDefineXML(connection_.get(), xml.c_str()));
    REQUIRE(domain);
  }
  void remove(const std::string& name) {
    DomainHandle domain(virDomainLookupByName(connection_.get(), name.c_str()));
    if (!domain) return;
    if (virDomainIsActive(domain.get()) == 1) virDomainDestroy(domain.get());
    virDomainUndefine(domain.get());
  }

 private:
  Connection connection_{kUri};
};

std::string guest_toml(const TempDir& dir, const std::string& name, const std::string& memory,
                       const std::string& state) {
  return "project = \"" + name + "\"\n[vm.guest]\nname = \"" + name +
         "\"\ntype = \"qemu\"\nmemory = \"" + memory + "\"\nstate = \"" + state +
         "\"\nrestart = \"allowed\"\n[[vm.guest.disk]]\nfile = \"" + (dir / "data.qcow2") +
         "\"\nsize = \"64MiB\"\n";
}

TEST_CASE("an edit made by another tool after the plan is refused, never overwritten",
          "[apply][libvirt]") {
  TempDir dir;
  LibvirtHypervisor hypervisor(kUri);
  RootedHostFiles files("/");
  OtherTool other;
  const std::string name = "vfunit-" + std::to_string(getpid()) + "-concurrent";
  const std::string config = dir.write_file("vm.toml", guest_toml(dir, name, "128MiB", "running"));
  REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());

  SECTION("a definition edited while apply waited: the update fails, its restart is skipped") {
    dir.write_file("vm.toml", guest_toml(dir, name, "256MiB", "running"));
    const Planned grown = plan_for(hypervisor, files, config);
    REQUIRE(grown.plan.find_step("vm.guest/update"));
    REQUIRE(grown.plan.find_step("vm.guest/restart"));

    other.describe(name, "edited by hand");
    const ApplyResult result = apply(hypervisor, files, grown);
    CHECK_FALSE(result.ok());
    const StepResult* update = result_of(result, "vm.guest/update");
    REQUIRE(update);
    CHECK(update->status == StepStatus::failed);
    CHECK(update->message == "domain '" + name +
                                 "' changed since the plan (its definition was edited); run "
                                 "`virtform plan` again");
    const StepResult* restart = result_of(result, "vm.guest/restart");
    REQUIRE(restart);
    CHECK(restart->status == StepStatus::skipped);

    const std::string xml = other.inactive_xml(name);
    CHECK(xml.find("<description>edited by hand</description>") != std::string::npos);
    CHECK(xml.find("<memory unit='KiB'>131072</memory>") != std::string::npos);

    // Planned again, the edit is the baseline, and it survives the update.
    REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());
    const std::string updated = other.inactive_xml(name);
    CHECK(updated.find("<description>edited by hand</description>") != std::string::npos);
    CHECK(updated.find("<memory unit='KiB'>262144</memory>") != std::string::npos);
  }

  SECTION("a guest started by another tool is not changed as if it were stopped") {
    hypervisor.destroy(name);
    dir.write_file("vm.toml", guest_toml(dir, name, "256MiB", "stopped"));
    const Planned grown = plan_for(hypervisor, files, config);
    REQUIRE(grown.plan.find_step("vm.guest/update"));
    other.start(name);
    const ApplyResult result = apply(hypervisor, files, grown);
    const StepResult* update = result_of(result, "vm.guest/update");
    REQUIRE(update);
    CHECK(update->status == StepStatus::failed);
    CHECK(update->message.find("(it was started)") != std::string::npos);
    CHECK(hypervisor.is_running(name));
  }

  SECTION("a domain defined under the name after the plan is not redefined") {
    const std::string newcomer = name + "-new";
    std::string toml = guest_toml(dir, name, "128MiB", "running");
    toml += "[vm.second]\nname = \"" + newcomer + "\"\ntype = \"qemu\"\nmemory = \"64MiB\"\n";
    dir.write_file("vm.toml", toml);
    const Planned planned = plan_for(hypervisor, files, config);
    REQUIRE(planned.plan.find_step("vm.second/define"));
    other.define("<domain type='test'><name>" + newcomer +
                 "</name><memory>32768</memory><os><type>hvm</type></os></domain>");
    const ApplyResult result = apply(hypervisor, files, planned);
    const StepResult* define = result_of(result, "vm.second/define");
    REQUIRE(define);
    CHECK(define->status == StepStatus::failed);
    CHECK(define->message.find("(a domain of that name was defined)") != std::string::npos);
    const std::string xml = other.inactive_xml(newcomer);
    CHECK(xml.find("virtform.dev") == std::string::npos);
    CHECK(xml.find("<memory unit='KiB'>32768</memory>") != std::string::npos);
    other.remove(newcomer);
  }

  SECTION("the steps of one apply do not take each other's changes for outside edits") {
    dir.write_file("vm.toml", guest_toml(dir, name, "256MiB", "running"));
    const Planned grown = plan_for(hypervisor, files, config);
    const ApplyResult result = apply(hypervisor, files, grown);
    CHECK(result.ok());
    CHECK(result.count(StepStatus::done) == 2);  // update, then restart of the updated guest
  }
  other.remove(name);
}

TEST_CASE("a rename is made in place and checks both names", "[apply][libvirt]") {
  TempDir dir;
  LibvirtHypervisor hypervisor(kUri);
  RootedHostFiles files("/");
  OtherTool other;
  const std::string name = "vfunit-" + std::to_string(getpid()) + "-rename";
  const std::string renamed = name + "-new";
  const std::string config = dir.write_file("vm.toml", guest_toml(dir, name, "128MiB", "stopped"));
  REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());
  const std::string uuid = hypervisor.read_domain(name)->uuid;
  other.describe(name, "kept across the rename");

  // The same project: only a VM of this config's own project is renamed rather than created.
  std::string toml = guest_toml(dir, renamed, "128MiB", "stopped");
  toml.replace(0, toml.find('\n'), "project = \"" + name + "\"");
  dir.write_file("vm.toml", toml);
  const Planned planned = plan_for(hypervisor, files, config);
  REQUIRE(planned.plan.steps.size() == 1);
  CHECK(planned.plan.steps[0].kind == StepKind::rename);

  SECTION("renamed, it keeps its UUID and what virtform does not own") {
    REQUIRE(apply(hypervisor, files, planned).ok());
    CHECK_FALSE(hypervisor.read_domain(name));
    const std::optional<LiveDomain> now = hypervisor.read_domain(renamed);
    REQUIRE(now);
    CHECK(now->uuid == uuid);
    CHECK(now->xml.find("<description>kept across the rename</description>") != std::string::npos);
    CHECK_FALSE(plan_for(hypervisor, files, config).plan.has_changes());
    other.remove(renamed);
  }

  SECTION("a domain that took the new name meanwhile is not touched") {
    other.define("<domain type='test'><name>" + renamed +
                 "</name><memory>32768</memory><os><type>hvm</type></os></domain>");
    const ApplyResult result = apply(hypervisor, files, planned);
    const StepResult* rename = result_of(result, "vm.guest/rename");
    REQUIRE(rename);
    CHECK(rename->status == StepStatus::failed);
    CHECK(rename->message == "domain '" + renamed +
                                 "' changed since the plan (a domain of that name was defined); "
                                 "run `virtform plan` again");
    CHECK(hypervisor.read_domain(name));
    other.remove(renamed);
  }
  other.remove(name);
}

TEST_CASE("a guest whose restart timed out is started again once it shuts down",
          "[apply][libvirt]") {
  TempDir dir;
  LibvirtHypervisor hypervisor(kUri);
  RootedHostFiles files("/");
  OtherTool other;
  const std::string name = "vfunit-" + std::to_string(getpid()) + "-pending";
  // No state declared: the guest is to stay as it was, running.
  auto toml = [&](const std::string& memory) {
    return "project = \"" + name + "\"\n[vm.guest]\nname = \"" + name +
           "\"\ntype = \"qemu\"\nmemory = \"" + memory +
           "\"\nrestart = \"allowed\"\nshutdown_timeout = \"5s\"\n";
  };
  const std::string config = dir.write_file("vm.toml", toml("128MiB"));
  REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());
  hypervisor.start(name);

  dir.write_file("vm.toml", toml("256MiB"));
  const Planned grown = plan_for(hypervisor, files, config);
  REQUIRE(grown.plan.find_step("vm.guest/restart"));
  GuestIgnoringAcpi stubborn(kUri);
  ManualClock clock;
  const ApplyResult timed_out = apply(stubborn, files, grown, clock);
  const StepResult* restart = result_of(timed_out, "vm.guest/restart");
  REQUIRE(restart);
  CHECK(restart->status == StepStatus::failed);
  CHECK(restart->message.find("(if it does, the next `virtform apply` starts it again)") !=
        std::string::npos);
  CHECK(other.inactive_xml(name).find("start-pending=\"yes\"") != std::string::npos);

  hypervisor.destroy(name);  // the pending button press, acted on after apply gave up
  const Planned again = plan_for(hypervisor, files, config);
  REQUIRE(again.plan.find_step("vm.guest/start"));
  REQUIRE(apply(hypervisor, files, again).ok());
  CHECK(hypervisor.is_running(name));
  CHECK(other.inactive_xml(name).find("start-pending") == std::string::npos);
  CHECK_FALSE(plan_for(hypervisor, files, config).plan.has_changes());
  other.remove(name);
}

// Its first redefine runs alone, as libvirt's first validating define of a process does, and
// takes a moment, during which `meanwhile` edits another domain: once a step has read that one,
// or after 300 ms (a step waiting for its turn reads nothing).
class SlowFirstRedefine : public LibvirtHypervisor {
 public:
  explicit SlowFirstRedefine(std::function<std::string(const std::string& defined)> meanwhile)
      : LibvirtHypervisor(kUri), meanwhile_(std::move(meanwhile)) {}

  std::optional<LiveDomain> read_domain(const std::string& name) override {
    std::optional<LiveDomain> domain = LibvirtHypervisor::read_domain(name);
    std::lock_guard lock(reads_mutex_);
    ++reads_[name];
    read_.notify_all();
    return domain;
  }

  void redefine(const Vm& desired, const LiveDomain& live) override {
    std::unique_lock first(first_mutex_);
    if (!redefined_) {
      std::unique_lock lock(reads_mutex_);
      read_.wait_for(lock, 300ms, [&] {
        return std::any_of(reads_.begin(), reads_.end(),
                           [&](const auto& read) { return read.first != desired.name; });
      });
      lock.unlock();
      edited_ = meanwhile_(desired.name);
      redefined_ = true;
    } else {
      first.unlock();
    }
    LibvirtHypervisor::redefine(desired, live);
  }

  // The domain `meanwhile` edited.
  std::string edited() {
    std::lock_guard first(first_mutex_);
    return edited_;
  }

 private:
  std::function<std::string(const std::string&)> meanwhile_;
  std::mutex first_mutex_;
  bool redefined_ = false;
  std::string edited_;
  std::mutex reads_mutex_;
  std::condition_variable read_;
  std::map<std::string, int> reads_;
};

TEST_CASE("an edit made while an apply writes its first definition is not lost to a step behind it",
          "[apply][libvirt]") {
  TempDir dir;
  LibvirtHypervisor hypervisor(kUri);
  RootedHostFiles files("/");
  OtherTool other;
  const std::string prefix = "vfunit-" + std::to_string(getpid()) + "-turns";
  auto toml = [&](const std::string& memory) {
    std::string text = "project = \"" + prefix + "\"\n";
    for (const char* key : {"one", "two"})
      text += std::string("[vm.") + key + "]\nname = \"" + prefix + "-" + key +
              "\"\ntype = \"qemu\"\nmemory = \"" + memory + "\"\nstate = \"stopped\"\n";
    return text;
  };
  const std::string config = dir.write_file("vm.toml", toml("128MiB"));
  REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());
  dir.write_file("vm.toml", toml("256MiB"));
  const Planned grown = plan_for(hypervisor, files, config);
  REQUIRE(grown.plan.steps.size() == 2);

  SlowFirstRedefine slow([&](const std::string& defined) {
    const std::string edited = defined == prefix + "-one" ? prefix + "-two" : prefix + "-one";
    return other.try_describe(edited, "edited meanwhile") ? edited : "";
  });
  const ApplyResult result = apply(slow, files, grown);
  const std::string edited = slow.edited();
  REQUIRE_FALSE(edited.empty());
  const std::string key = edited.substr(prefix.size() + 1);
  const StepResult* refused = result_of(result, "vm." + key + "/update");
  REQUIRE(refused);
  CHECK(refused->status == StepStatus::failed);
  CHECK(refused->message == "domain '" + edited +
                                "' changed since the plan (its definition was edited); run "
                                "`virtform plan` again");
  CHECK(result.count(StepStatus::done) == 1);
  CHECK(other.inactive_xml(edited).find("<description>edited meanwhile</description>") !=
        std::string::npos);
  other.remove(prefix + "-one");
  other.remove(prefix + "-two");
}

// The plan's display fields and its operations are edited apart: apply follows the operations
// alone, and never compares the configuration with the host again.
TEST_CASE("a saved plan is carried out by its operations, without the diff",
          "[apply][libvirt][operations]") {
  TempDir dir;
  LibvirtHypervisor hypervisor(kUri);
  RootedHostFiles files("/");
  OtherTool other;
  const std::string name = "vfunit-" + std::to_string(getpid()) + "-operations";
  auto toml = [&](const std::string& autostart) {
    return "project = \"" + name + "\"\n[vm.guest]\nname = \"" + name +
           "\"\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"stopped\"\nautostart = " +
           autostart + "\n";
  };
  const std::string config = dir.write_file("vm.toml", toml("false"));
  REQUIRE(apply(hypervisor, files, plan_for(hypervisor, files, config)).ok());
  CHECK(hypervisor.read_domain(name)->vm.autostart == false);

  dir.write_file("vm.toml", toml("true"));
  const Planned planned = plan_for(hypervisor, files, config);
  REQUIRE(planned.plan.find("vm.guest"));
  REQUIRE(planned.plan.find("vm.guest")->operations.set_autostart == true);
  nlohmann::json saved = nlohmann::json::parse(render_plan_json(planned.plan));
  REQUIRE(saved["changes"].size() == 1);
  nlohmann::json& change = saved["changes"][0];
  auto carried_out = [&] {
    return apply(hypervisor, files, {parse_plan_json(saved.dump()), planned.live}).ok();
  };

  SECTION("fields renamed, reworded or gone change nothing") {
    for (nlohmann::json& field : change["fields"]) {
      field["field"] = "shown as " + field["field"].get<std::string>();
      field["after"] = "reworded";
    }
    REQUIRE(carried_out());
    CHECK(hypervisor.read_domain(name)->vm.autostart == true);
  }
  SECTION("an operation taken out is not done, though its field is still shown") {
    change["operations"].erase("set_autostart");
    REQUIRE(change["fields"].dump().find("autostart") != std::string::npos);
    REQUIRE(carried_out());
    CHECK(hypervisor.read_domain(name)->vm.autostart == false);
    CHECK(plan_for(hypervisor, files, config).plan.has_changes());
  }
  other.remove(name);
}

}  // namespace
}  // namespace virtform
