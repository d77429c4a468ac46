// Saved plans: written as JSON, read back as the same plan, and refused once the host moved on.

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/config/config.h"
#include "engine/plan/planner.h"
#include "engine/render/plan_json.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

const std::string kSource = VIRTFORM_SOURCE_DIR;

struct DemoPlan {
  LibvirtHypervisor hypervisor{"test://" + kSource + "/examples/demo-host/host.xml"};
  RootedHostFiles files{kSource + "/examples/demo-host/root"};
  Desired desired;

  explicit DemoPlan(const std::string& example) {
    Diagnostics diagnostics;
    desired = load_config({kSource + "/examples/" + example}, diagnostics);
    resolve_firmware(desired, files, diagnostics);
    REQUIRE_FALSE(has_errors(diagnostics));
  }

  Live live() {
    return observe(hypervisor, files, read_host_devices(kSource + "/examples/demo-host/root"),
                   desired);
  }
  Plan plan() {
    const Live now = live();
    Plan made = make_plan(desired, now, {}, hypervisor.uri(), {});
    seal(made, desired, now);
    return made;
  }
};

TEST_CASE("a saved plan reads back as the same plan", "[saved-plan]") {
  for (const std::string example : {"dsm", "passthrough"}) {
    DemoPlan demo(example);
    const Plan plan = demo.plan();
    REQUIRE(plan.has_changes());
    const std::string saved = render_plan_json(plan);
    const Plan loaded = parse_plan_json(saved);
    CHECK(render_plan_json(loaded) == saved);
    CHECK(loaded.steps == plan.steps);
    CHECK(loaded.fingerprint == plan.fingerprint);
    const Change* vm = loaded.find(example == "dsm" ? "vm.dsm" : "vm.win");
    REQUIRE(vm);
    REQUIRE(vm->desired);
    CHECK(vm->desired->disks.size() == plan.find(vm->address)->desired->disks.size());
  }
}

TEST_CASE("a plan is stale once a domain it looked at changes", "[saved-plan]") {
  DemoPlan demo("dsm");
  const Plan plan = demo.plan();
  CHECK(staleness(plan.fingerprint, fingerprint(demo.desired, demo.live())).empty());

  demo.hypervisor.define(demo.desired.vms.front());  // someone else defines DSM meanwhile
  const auto reasons = staleness(plan.fingerprint, fingerprint(demo.desired, demo.live()));
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0] == "domain DSM appeared");
}

TEST_CASE("the fingerprint follows files and networks the config names", "[saved-plan]") {
  Fingerprint then = {{"file /var/lib/a.qcow2", "absent"}, {"network default", "active"}};
  Fingerprint now = {{"file /var/lib/a.qcow2", "present"}, {"network default", "active"}};
  CHECK(staleness(then, now) ==
        std::vector<std::string>{"file /var/lib/a.qcow2: absent -> present"});
  now.erase("network default");
  CHECK(staleness(then, now).back() == "network default is gone");
}

TEST_CASE("a file that is not a plan, or of another version, is refused clearly", "[saved-plan]") {
  CHECK_THROWS_WITH(parse_plan_json("{ not json"), Catch::StartsWith("not a virtform plan"));
  DemoPlan demo("dsm");
  std::string saved = render_plan_json(demo.plan());
  const std::string version = "\"format_version\": \"1\"";
  saved.replace(saved.find(version), version.size(), "\"format_version\": \"9\"");
  CHECK_THROWS_WITH(parse_plan_json(saved), Catch::Contains("format version 9 is not supported"));
}

TEST_CASE("the config digest ignores layout but not content", "[saved-plan]") {
  testing::TempDir dir;
  auto digest_of = [&](const std::string& toml) {
    dir.write_file("vm.toml", toml);
    Diagnostics diagnostics;
    return config_digest(load_config({dir / "vm.toml"}, diagnostics));
  };
  const std::string a = digest_of("[vm.a]\nmemory = \"1GiB\"\n");
  CHECK(digest_of("# a comment\n[vm.a]\nmemory = 1024\n") == a);
  CHECK(digest_of("[vm.a]\nmemory = \"2GiB\"\n") != a);
}

}  // namespace
}  // namespace virtform
