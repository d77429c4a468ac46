// Loader images are content-aware: sha256 on a [loader.X] is checked against the file, recorded
// in the domain, and a new image shows in the plan of every VM that boots it.

#include <catch2/catch.hpp>

#include "engine/apply/step_runner.h"
#include "engine/config/config.h"
#include "engine/model/digest.h"
#include "engine/plan/planner.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

std::string config_text(const TempDir& dir, const std::string& name, const std::string& digest) {
  return "project = \"" + name + "\"\n[loader.tcrp]\nimage = \"" + (dir / "tcrp.img") +
         "\"\nsha256 = \"" + digest + "\"\n[vm.nas]\nname = \"" + name +
         "\"\ntype = \"qemu\"\nmemory = \"128MiB\"\n[vm.nas.boot]\nloader = \"tcrp\"\n";
}

Plan plan_of(LibvirtHypervisor& hypervisor, const std::string& config, Diagnostics& diagnostics) {
  RootedHostFiles files("/");
  Desired desired = load_config({config}, diagnostics);
  check_host_files(desired, files, diagnostics);
  const Live live = observe(hypervisor, files, HostDevices{}, desired);
  return make_plan(desired, live, {}, hypervisor.uri(), diagnostics);
}

TEST_CASE("a loader image that is not the one the config names is refused", "[loader]") {
  TempDir dir;
  dir.write_file("tcrp.img", "loader v0.9.2.9");
  const std::string config =
      dir.write_file("vm.toml", config_text(dir, "vfdigest-bad", sha256_hex("loader v0.9.2.8")));
  Diagnostics diagnostics;
  Desired desired = load_config({config}, diagnostics);
  Diagnostics host;
  check_host_files(desired, RootedHostFiles("/"), host);
  REQUIRE(has_errors(host));
  CHECK(host[0].message.find("has sha256 " + sha256_hex("loader v0.9.2.9")) != std::string::npos);
  CHECK(host[0].resource == "loader.tcrp");
}

TEST_CASE("a new loader image shows in the plan of the VM that boots it", "[loader]") {
  TempDir dir;
  LibvirtHypervisor hypervisor("test:///default");
  const std::string name = "vfdigest-" + std::to_string(getpid());
  dir.write_file("tcrp.img", "loader v0.9.2.8");
  const std::string config =
      dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.8")));
  Diagnostics diagnostics;
  const Plan first = plan_of(hypervisor, config, diagnostics);
  REQUIRE_FALSE(has_errors(diagnostics));
  RootedHostFiles files("/");
  SystemClock clock;
  const Live live = hypervisor.read_live();
  StepRunner runner(StepContext{first, live, hypervisor, files, clock, nullptr});
  REQUIRE(execute(
              first.steps, [&](const Step& s) { runner.run(s); }, 1, nullptr)
              .ok());
  CHECK_FALSE(plan_of(hypervisor, config, diagnostics).has_changes());

  // The user drops in the new loader image and names its digest.
  dir.write_file("tcrp.img", "loader v0.9.2.9");
  dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.9")));
  Diagnostics again;
  const Plan second = plan_of(hypervisor, config, again);
  REQUIRE_FALSE(has_errors(again));
  const Change* change = second.find("vm.nas");
  REQUIRE(change);
  CHECK(change->action == Action::update);
  REQUIRE(change->fields.size() == 1);
  CHECK(change->fields[0].field == "disk[" + (dir / "tcrp.img") + "]");
  CHECK(change->fields[0].after.find(sha256_hex("loader v0.9.2.9").substr(0, 12)) !=
        std::string::npos);
  hypervisor.undefine(name);
}

}  // namespace
}  // namespace virtform
