// bind = "vfio-pci" in the plan: the function is taken from its host driver before the guest is
// defined, and given back after the guest lets go of it.

#include <catch2/catch.hpp>

#include "engine/graph/resource_graph.h"
#include "engine/plan/diff.h"

namespace virtform {
namespace {

constexpr const char* kGpu = "0000:08:00.0";

Vm guest_with_gpu() {
  Vm vm;
  vm.key = "win";
  vm.name = "win";
  PciDevice gpu;
  gpu.address = kGpu;
  gpu.managed = false;
  gpu.bind = "vfio-pci";
  vm.pci.push_back(gpu);
  return vm;
}

Live host_with_gpu_on(const std::string& driver) {
  Live live;
  PciFunction function;
  function.address = kGpu;
  function.driver = driver;
  live.devices.pci.push_back(function);
  return live;
}

std::size_t position(const std::vector<Step>& steps, const std::string& id) {
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].id == id) return i;
  FAIL("no step " << id);
  return 0;
}

TEST_CASE("a function to bind is moved to vfio-pci before its guest is defined", "[pci]") {
  Desired desired;
  desired.vms.push_back(guest_with_gpu());
  Diagnostics diagnostics;
  const auto changes = diff(desired, host_with_gpu_on("amdgpu"), {}, diagnostics);
  const Change* binding = nullptr;
  for (const Change& change : changes)
    if (change.address == std::string("pci.") + kGpu) binding = &change;
  REQUIRE(binding);
  CHECK(binding->action == Action::update);
  REQUIRE(binding->fields.size() == 1);
  CHECK(binding->fields[0].before == "amdgpu");
  CHECK(binding->fields[0].after == "vfio-pci");

  const auto steps = order_steps(changes, diagnostics);
  REQUIRE(diagnostics.empty());
  CHECK(position(steps, std::string("pci.") + kGpu + "/bind-driver") <
        position(steps, "vm.win/define"));
}

TEST_CASE("a function already on vfio-pci needs nothing", "[pci]") {
  Desired desired;
  desired.vms.push_back(guest_with_gpu());
  Diagnostics diagnostics;
  const auto changes = diff(desired, host_with_gpu_on("vfio-pci"), {}, diagnostics);
  for (const Change& change : changes)
    if (change.kind == ResourceKind::pci) CHECK(change.action == Action::none);
  CHECK(diagnostics.empty());
}

TEST_CASE("a function no longer declared goes back to the host after its guest drops it", "[pci]") {
  Live live = host_with_gpu_on("vfio-pci");
  LiveDomain domain;
  domain.managed = true;
  domain.vm = guest_with_gpu();
  domain.vm.machine = "pc-q35-7.2";
  live.domains.push_back(domain);
  Vm without = guest_with_gpu();
  without.pci.clear();
  Desired desired;
  desired.vms.push_back(without);
  Diagnostics diagnostics;
  const auto changes = diff(desired, live, {}, diagnostics);
  const auto steps = order_steps(changes, diagnostics);
  REQUIRE(diagnostics.empty());
  CHECK(position(steps, "vm.win/update") <
        position(steps, std::string("pci.") + kGpu + "/restore-driver"));

  SECTION("also when the guest itself is removed") {
    const auto removal = diff(Desired{}, live, {}, diagnostics);
    const auto removal_steps = order_steps(removal, diagnostics);
    REQUIRE(diagnostics.empty());
    CHECK(position(removal_steps, "vm.win/undefine") <
          position(removal_steps, std::string("pci.") + kGpu + "/restore-driver"));
  }
}

}  // namespace
}  // namespace virtform
