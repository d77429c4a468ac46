// Saved plans: written as JSON, read back as the same plan, and refused once the host moved on.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/config/config.h"
#include "engine/passes.h"
#include "engine/render/plan_json.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/temp_dir.h"
#include "tests/support/examples.h"

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
  for (const std::string& example : testing::example_names()) {
    DemoPlan demo(example);
    const Plan plan = demo.plan();
    REQUIRE(plan.has_changes());
    const std::string saved = render_plan_json(plan);
    const Plan loaded = parse_plan_json(saved);
    CHECK(render_plan_json(loaded) == saved);
    CHECK(loaded.steps == plan.steps);
    CHECK(loaded.fingerprint == plan.fingerprint);
    const auto vm =
        std::find_if(loaded.changes.begin(), loaded.changes.end(),
                     [](const Change& change) { return change.kind == ResourceKind::vm; });
    REQUIRE(vm != loaded.changes.end());
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
  const std::string version = "\"format_version\": \"2\"";
  saved.replace(saved.find(version), version.size(), "\"format_version\": \"9\"");
  CHECK_THROWS_WITH(parse_plan_json(saved), Catch::Contains("format version 9 is not supported"));
}

TEST_CASE("every operation survives a saved plan", "[saved-plan][operations]") {
  Vm vm;
  vm.key = "a";
  vm.name = "a";
  Disk disk;
  disk.source = "/images/b.qcow2";
  disk.format = "qcow2";
  Nic nic;
  nic.kind = NicSource::bridge;
  nic.source = "br0";
  Nic unplugged = nic;
  unplugged.mac = "52:54:00:00:00:01";
  Change change;
  change.address = "vm.a";
  change.name = "a";
  change.live_name = "old";
  change.action = Action::update;
  change.desired = vm;
  VmOperations& operations = change.operations;
  operations.shut_down = true;
  operations.undefine = true;
  operations.rename = true;
  operations.define = true;
  operations.redefine = true;
  operations.copy_nvram = NvramCopy{"/nvram/old_VARS.fd", "/nvram/a_VARS.fd"};
  operations.set_autostart = false;
  operations.unplug_disks = {disk};
  operations.unplug_nics = {unplugged};
  operations.plug_disks = {disk};
  operations.plug_nics = {nic};
  operations.live_attributes = {{"description", "a note"}};
  operations.balloon_kib = 262144;
  operations.power = PowerOperation::restart;
  Plan plan;
  plan.uri = "test:///default";
  plan.changes.push_back(change);
  const Plan loaded = parse_plan_json(render_plan_json(plan));
  REQUIRE(loaded.find("vm.a"));
  CHECK(loaded.find("vm.a")->operations == change.operations);
}

TEST_CASE("a saved plan's operations are checked as it is read", "[saved-plan][operations]") {
  DemoPlan demo("dsm");
  const nlohmann::json saved = nlohmann::json::parse(render_plan_json(demo.plan()));
  auto dsm_at = [](nlohmann::json& plan) -> nlohmann::json& {
    for (nlohmann::json& change : plan["changes"])
      if (change["address"] == "vm.dsm") return change;
    FAIL("no change for vm.dsm");
    throw std::logic_error("unreachable");
  };
  nlohmann::json edited = saved;
  REQUIRE(dsm_at(edited)["operations"]["define"] == true);

  dsm_at(edited)["operations"]["reboot"] = true;
  CHECK_THROWS_WITH(parse_plan_json(edited.dump()),
                    Catch::Contains("unknown operation 'reboot' in vm.dsm"));
  edited = saved;
  dsm_at(edited)["operations"]["power"] = "suspend";
  CHECK_THROWS_WITH(parse_plan_json(edited.dump()),
                    Catch::Contains("unknown power operation 'suspend'"));
  edited = saved;
  dsm_at(edited)["operations"]["live_attributes"] = {{"on_crash", "restart"}};
  CHECK_THROWS_WITH(parse_plan_json(edited.dump()),
                    Catch::Contains("'on_crash' in vm.dsm is not an attribute a running guest "
                                    "takes live"));
  edited = saved;
  dsm_at(edited).erase("operations");
  CHECK_THROWS_AS(parse_plan_json(edited.dump()), PlanFileError);
  edited = saved;
  dsm_at(edited)["action"] = "delete";
  CHECK_THROWS_WITH(parse_plan_json(edited.dump()),
                    Catch::Contains("vm.dsm is deleted, yet its operations define"));
}

TEST_CASE("a plan of format version 1 has no operations and is refused", "[saved-plan]") {
  DemoPlan demo("dsm");
  nlohmann::json saved = nlohmann::json::parse(render_plan_json(demo.plan()));
  saved["format_version"] = "1";
  for (nlohmann::json& change : saved["changes"]) change.erase("operations");
  CHECK_THROWS_WITH(parse_plan_json(saved.dump()),
                    "plan format version 1 is not supported (this virtform reads version 2)");
}

// The fuzzer starts from these: were they refused as a whole, it would never reach the readers
// of their parts.
TEST_CASE("the plan-file fuzzer's well-formed seeds read as plans of this version",
          "[saved-plan][operations]") {
  for (const std::string seed : {"minimal", "dsm", "passthrough", "update-remove"}) {
    INFO(seed);
    std::ifstream in(kSource + "/fuzz/corpus/plan_file/" + seed + ".json");
    REQUIRE(in);
    const Plan plan = parse_plan_json({std::istreambuf_iterator<char>(in), {}});
    for (const Change& change : plan.changes)
      if (change.action != Action::none && change.kind == ResourceKind::vm)
        CHECK_FALSE(change.operations.empty());
  }
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
