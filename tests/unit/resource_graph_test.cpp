#include "engine/graph/resource_graph.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "support/temp_dir.h"

namespace virtform {
namespace {

Change vm_change(const std::string& key, Action action, std::vector<std::string> depends_on = {}) {
  Change change;
  change.address = "vm." + key;
  change.kind = ResourceKind::vm;
  change.name = key;
  change.live_name = key;
  change.action = action;
  change.depends_on = std::move(depends_on);
  if (action == Action::create || action == Action::update || action == Action::replace) {
    Vm vm;
    vm.key = key;
    vm.name = key;
    vm.state = PowerState::running;
    change.desired = vm;
  }
  // What diff records for a stopped guest: a new one is defined and started, a removed one goes.
  change.operations.define = action == Action::create;
  change.operations.undefine = action == Action::remove;
  if (action == Action::create) change.operations.power = PowerOperation::start;
  return change;
}

Change image_change(const std::string& path) {
  Change change;
  change.address = "image." + path;
  change.kind = ResourceKind::image;
  change.name = path;
  change.action = Action::create;
  return change;
}

std::size_t position(const std::vector<Step>& steps, const std::string& id) {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].id == id) return i;
  FAIL("no step " << id);
  return 0;
}

TEST_CASE("images are created before the VM is defined, and it is defined before it starts",
          "[graph]") {
  Diagnostics diagnostics;
  const auto steps =
      order_steps({vm_change("nas", Action::create, {"image./a.qcow2"}), image_change("/a.qcow2")},
                  diagnostics);
  REQUIRE(diagnostics.empty());
  REQUIRE(steps.size() == 3);
  CHECK(position(steps, "image./a.qcow2/create-image") < position(steps, "vm.nas/define"));
  CHECK(position(steps, "vm.nas/define") < position(steps, "vm.nas/start"));
  const Step& define = steps[position(steps, "vm.nas/define")];
  CHECK(define.after == std::vector<std::string>{"image./a.qcow2/create-image"});
}

TEST_CASE("a running VM is stopped before it is undefined", "[graph]") {
  Change removed = vm_change("old", Action::remove);
  removed.running = true;
  removed.operations.shut_down = true;
  Diagnostics diagnostics;
  const auto steps = order_steps({removed}, diagnostics);
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].id == "vm.old/stop");
  CHECK(steps[1].id == "vm.old/undefine");
  CHECK(steps[1].after == std::vector<std::string>{"vm.old/stop"});
}

TEST_CASE("a rename stops the guest, renames it in place, updates and starts it", "[graph]") {
  Change renamed = vm_change("nas", Action::update);
  renamed.live_name = "NAS-old";
  renamed.running = true;
  renamed.fields = {{"name", "NAS-old", "nas", Disruption::restart},
                    {"memory", "1 GiB", "2 GiB", Disruption::restart}};
  renamed.operations.shut_down = true;
  renamed.operations.rename = true;
  renamed.operations.redefine = true;
  renamed.operations.power = PowerOperation::start;
  Diagnostics diagnostics;
  const auto steps = order_steps({renamed}, diagnostics);
  REQUIRE(steps.size() == 4);
  CHECK(steps[0].id == "vm.nas/stop");
  CHECK(steps[0].target == "NAS-old");
  CHECK(steps[1].id == "vm.nas/rename");
  CHECK(steps[1].target == "NAS-old");
  CHECK(steps[2].id == "vm.nas/update");
  CHECK(steps[2].target == "nas");
  CHECK(steps[3].id == "vm.nas/start");
  CHECK(steps[3].target == "nas");

  SECTION("a stopped guest with only a new name is only renamed") {
    renamed.running = false;
    renamed.desired->state.reset();
    renamed.fields.pop_back();
    renamed.operations = {};
    renamed.operations.rename = true;
    const auto only = order_steps({renamed}, diagnostics);
    REQUIRE(only.size() == 1);
    CHECK(only[0].id == "vm.nas/rename");
  }
}

TEST_CASE("an NVRAM store is moved while the guest is shut off", "[graph]") {
  Change moved = vm_change("nas", Action::update);
  moved.running = true;
  moved.disruption = Disruption::restart;
  moved.fields = {
      {"nvram", "/a_VARS.fd", "/b_VARS.fd (a copy of the current store)", Disruption::restart}};
  moved.operations.shut_down = true;
  moved.operations.redefine = true;
  moved.operations.copy_nvram = NvramCopy{"/a_VARS.fd", "/b_VARS.fd"};
  moved.operations.power = PowerOperation::start;
  Diagnostics diagnostics;
  const auto steps = order_steps({moved}, diagnostics);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].id == "vm.nas/stop");
  CHECK(steps[1].id == "vm.nas/update");
  CHECK(steps[2].id == "vm.nas/start");
}

std::vector<std::string> ids(const std::vector<Step>& steps) {
  std::vector<std::string> result;
  for (const Step& step : steps) result.push_back(step.id);
  return result;
}

// Read by name, the fields below would mean stop, update and no start (a store that moves, a
// guest to stay stopped); the operations say update, then restart.
TEST_CASE("the steps follow the operations and never the display fields", "[graph][operations]") {
  Change change = vm_change("nas", Action::update);
  change.running = true;
  change.disruption = Disruption::restart;
  change.fields = {{"nvram", "/a_VARS.fd", "/b_VARS.fd", Disruption::restart},
                   {"state", "running", "stopped", Disruption::restart}};
  change.operations.redefine = true;
  change.operations.power = PowerOperation::restart;
  Diagnostics diagnostics;
  const auto steps = order_steps({change}, diagnostics);
  REQUIRE(diagnostics.empty());
  CHECK(ids(steps) == std::vector<std::string>{"vm.nas/update", "vm.nas/restart"});

  SECTION("fields renamed, reworded or gone give the same steps") {
    for (FieldChange& field : change.fields) {
      field.field = "shown as " + field.field;
      field.after = "reworded";
    }
    CHECK(order_steps({change}, diagnostics) == steps);
    change.fields.clear();
    CHECK(order_steps({change}, diagnostics) == steps);
  }
  SECTION("fields without operations give no steps") {
    change.operations = {};
    CHECK(order_steps({change}, diagnostics).empty());
  }
  SECTION("each operation has its step, in the order apply carries them out") {
    change.operations = {};
    change.operations.shut_down = true;
    change.operations.rename = true;
    change.operations.redefine = true;
    change.operations.set_autostart = true;
    change.operations.power = PowerOperation::start;
    change.live_name = "NAS-old";
    const auto renamed = order_steps({change}, diagnostics);
    CHECK(ids(renamed) == std::vector<std::string>{"vm.nas/stop", "vm.nas/rename", "vm.nas/update",
                                                   "vm.nas/start"});
    REQUIRE(renamed.size() == 4);
    CHECK(renamed[1].target == "NAS-old");
    CHECK(renamed[2].target == "nas");
  }
}

TEST_CASE("a missing dependency is an error naming both resources", "[graph]") {
  Diagnostics diagnostics;
  const auto steps = order_steps({vm_change("nas", Action::create, {"network.lan"})}, diagnostics);
  CHECK(steps.empty());
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].resource == "vm.nas");
  CHECK(diagnostics[0].message.find("network.lan") != std::string::npos);
}

TEST_CASE("a cycle is an error naming every resource in it", "[graph]") {
  Diagnostics diagnostics;
  const auto steps = order_steps(
      {vm_change("a", Action::create, {"vm.b"}), vm_change("b", Action::create, {"vm.c"}),
       vm_change("c", Action::create, {"vm.a"}), vm_change("d", Action::create)},
      diagnostics);
  CHECK(steps.empty());
  REQUIRE(diagnostics.size() == 1);
  const std::string& message = diagnostics[0].message;
  CHECK(message.find("vm.a, vm.b, vm.c") != std::string::npos);
  CHECK(message.find("vm.d") == std::string::npos);
}

TEST_CASE("the DOT output labels nodes with their planned action", "[graph]") {
  const std::string dot =
      to_dot({vm_change("nas", Action::create, {"image./a.qcow2"}), image_change("/a.qcow2")});
  CHECK(dot.find("digraph") != std::string::npos);
  CHECK(dot.find("\"+ vm.nas\"") != std::string::npos);
  CHECK(dot.find("1->0") != std::string::npos);
}

TEST_CASE("Graphviz's dot reads the DOT output back with every node", "[graph]") {
  testing::TempDir dir;
  const std::string path = dir / "plan.dot";
  std::ofstream(path) << to_dot({vm_change("nas", Action::create, {"image./a.qcow2"}),
                                 image_change("/a.qcow2"), vm_change("old", Action::remove)});
  // -Tplain lists "node <id> ... <label> ..." and "edge <tail> <head> ..." lines.
  FILE* pipe = popen(("dot -Tplain " + path + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("\"+ vm.nas\"") != std::string::npos);
  CHECK(output.find("\"- vm.old\"") != std::string::npos);
  CHECK(output.find("\"+ image./a.qcow2\"") != std::string::npos);
  CHECK(output.find("edge 1 0") != std::string::npos);
}

}  // namespace
}  // namespace virtform
