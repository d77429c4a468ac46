// Loader images are content-aware: sha256 on a [loader.X] is checked against the file, recorded
// in the domain, and a new image shows in the plan of every VM that boots it.

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/apply/step_runner.h"
#include "engine/checks/host_check.h"
#include "engine/config/config.h"
#include "engine/model/digest.h"
#include "engine/passes.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/pipeline.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

// `boot` is added to [vm.nas.boot].
std::string config_text(const TempDir& dir, const std::string& name, const std::string& digest,
                        const std::string& boot = "") {
  return "project = \"" + name + "\"\n[loader.tcrp]\nimage = \"" + (dir / "tcrp.img") +
         "\"\nsha256 = \"" + digest + "\"\n[vm.nas]\nname = \"" + name +
         "\"\ntype = \"qemu\"\nmemory = \"128MiB\"\n[vm.nas.boot]\nloader = \"tcrp\"\n" + boot;
}

bool apply(LibvirtHypervisor& hypervisor, const Plan& plan) {
  return testing::apply_in_process(hypervisor, "/", plan);
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
  const std::string whole = "overlay = false\n";  // the image itself, written by this VM only
  const std::string config =
      dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.8"), whole));
  Diagnostics diagnostics;
  REQUIRE(apply(hypervisor, plan_of(hypervisor, config, diagnostics)));
  CHECK_FALSE(plan_of(hypervisor, config, diagnostics).has_changes());

  // The user drops in the new loader image and names its digest.
  dir.write_file("tcrp.img", "loader v0.9.2.9");
  dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.9"), whole));
  Diagnostics again;
  const Plan second = plan_of(hypervisor, config, again);
  REQUIRE_FALSE(has_errors(second.diagnostics));
  const Change* change = second.find("vm.nas");
  REQUIRE(change);
  CHECK(change->action == Action::update);
  REQUIRE(change->fields.size() == 1);
  CHECK(change->fields[0].field == "disk[" + (dir / "tcrp.img") + "]");
  CHECK(change->fields[0].after.find(sha256_hex("loader v0.9.2.9").substr(0, 12)) !=
        std::string::npos);
  hypervisor.undefine(name);
}

TEST_CASE("a new loader image under an overlay is refused until the overlay is moved away",
          "[loader]") {
  TempDir dir;
  LibvirtHypervisor hypervisor("test:///default");
  const std::string name = "vfdigest-" + std::to_string(getpid());
  dir.write_file("tcrp.img", "loader v0.9.2.8");
  const std::string config =
      dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.8")));
  Diagnostics diagnostics;
  REQUIRE(apply(hypervisor, plan_of(hypervisor, config, diagnostics)));
  const std::string overlay = dir / (name + ".nas.tcrp.qcow2");  // in the project's name
  REQUIRE(std::filesystem::exists(overlay));

  dir.write_file("tcrp.img", "loader v0.9.2.9");
  dir.write_file("vm.toml", config_text(dir, name, sha256_hex("loader v0.9.2.9")));
  Diagnostics again;
  const Plan refused = plan_of(hypervisor, config, again);
  REQUIRE(has_errors(refused.diagnostics));
  const Diagnostic& error = refused.diagnostics.front();
  CHECK(error.resource == "vm.nas");
  CHECK(error.message.starts_with("loader.tcrp's image changed (sha256 " +
                                  sha256_hex("loader v0.9.2.8").substr(0, 12) + " when " + overlay +
                                  " was made over it"));
  CHECK(refused.steps.empty());

  // Moved away, the old overlay is the user's to keep; the plan makes a new one.
  std::filesystem::rename(overlay, overlay + ".old");
  const Plan renewed = plan_of(hypervisor, config, again);
  REQUIRE_FALSE(has_errors(renewed.diagnostics));
  const Change* image = renewed.find("image." + overlay);
  REQUIRE(image);
  CHECK(image->action == Action::create);
  const Change* vm = renewed.find("vm.nas");
  REQUIRE(vm);
  CHECK(vm->action == Action::update);
  REQUIRE(apply(hypervisor, renewed));
  CHECK_FALSE(plan_of(hypervisor, config, again).has_changes());
  CHECK(std::filesystem::exists(overlay + ".old"));
  hypervisor.undefine(name);
}

}  // namespace
}  // namespace virtform
