#include "providers/sysfs/driver_binder.h"

#include <catch2/catch.hpp>

#include "engine/system/hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/simulated_kernel.h"
#include "support/sysfs_fixture.h"

using namespace virtform;
using virtform::testing::FixtureTree;
using virtform::testing::SimulatedKernel;
using Writes = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("binder: GPU moves from amdgpu to vfio-pci in the kernel's order", "[binder]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());

  binder.bind("0000:08:00.0");

  CHECK(kernel.writes() == Writes{{"/sys/bus/pci/devices/0000:08:00.0/driver_override", "vfio-pci"},
                                  {"/sys/bus/pci/drivers/amdgpu/unbind", "0000:08:00.0"},
                                  {"/sys/bus/pci/drivers_probe", "0000:08:00.0"}});
  const HostDevices host = read_host_devices(tree.root());
  CHECK(host.find_pci("0000:08:00.0")->driver == "vfio-pci");
  CHECK(host.find_pci("0000:08:00.0")->driver_override == "vfio-pci");
  // Only the GPU moved.
  CHECK(host.find_pci("0000:08:00.1")->driver == "snd_hda_intel");
}

TEST_CASE("binder: a function already on vfio-pci is left alone", "[binder]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());
  binder.bind("0000:08:00.1");
  const auto writes_after_first = kernel.writes().size();

  binder.bind("0000:08:00.1");
  CHECK(kernel.writes().size() == writes_after_first);
}

TEST_CASE("binder: an unbound function is probed without an unbind", "[binder]") {
  const FixtureTree tree(virtform::testing::seed_ryzen_host());
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());

  binder.bind("0000:00:14.3");
  CHECK(kernel.writes() == Writes{{"/sys/bus/pci/devices/0000:00:14.3/driver_override", "vfio-pci"},
                                  {"/sys/bus/pci/drivers_probe", "0000:00:14.3"}});
  CHECK(binder.current_driver("0000:00:14.3") == "vfio-pci");
}

TEST_CASE("binder: verification fails clearly when vfio-pci is not loaded", "[binder]") {
  auto description = virtform::testing::seed_ryzen_host();
  description.vfio_loaded = false;
  const FixtureTree tree(description);
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());

  REQUIRE_THROWS_WITH(binder.bind("0000:08:00.0"),
                      Catch::Contains("still unbound") && Catch::Contains("modprobe vfio-pci"));
  // The kernel really left it unbound: the GPU lost its host driver and gained nothing.
  CHECK(binder.current_driver("0000:08:00.0").empty());

  // Loading the module and binding again succeeds.
  kernel.load_driver("vfio-pci");
  binder.bind("0000:08:00.0");
  CHECK(binder.current_driver("0000:08:00.0") == "vfio-pci");
}

TEST_CASE("binder: restore gives the function back to its host driver", "[binder]") {
  const FixtureTree tree(virtform::testing::discrete_gpu_host());
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());
  binder.bind("0000:01:00.0");
  const auto bind_writes = kernel.writes().size();

  CHECK(binder.restore("0000:01:00.0") == "nouveau");

  const Writes restore_writes(kernel.writes().begin() + static_cast<long>(bind_writes),
                              kernel.writes().end());
  CHECK(restore_writes == Writes{{"/sys/bus/pci/devices/0000:01:00.0/driver_override", "\n"},
                                 {"/sys/bus/pci/drivers/vfio-pci/unbind", "0000:01:00.0"},
                                 {"/sys/bus/pci/drivers_probe", "0000:01:00.0"}});
  CHECK(read_host_devices(tree.root()).find_pci("0000:01:00.0")->driver_override.empty());
}

TEST_CASE("binder: binding to a driver the override forbids fails in the kernel", "[binder]") {
  const FixtureTree tree(virtform::testing::discrete_gpu_host());
  SimulatedKernel kernel(tree.root());
  kernel.write("/sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci");
  kernel.write("/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1");

  CHECK_THROWS_AS(kernel.write("/sys/bus/pci/drivers/pci-stub/bind", "0000:01:00.1"), SystemError);
  CHECK_THROWS_AS(kernel.write("/sys/bus/pci/drivers/snd_hda_intel/bind", "0000:01:00.1"),
                  SystemError);
  kernel.write("/sys/bus/pci/drivers/vfio-pci/bind", "0000:01:00.1");
  DriverBinder binder(kernel, tree.root());
  CHECK(binder.current_driver("0000:01:00.1") == "vfio-pci");
  // Unbinding from a driver it is not bound to fails as well.
  CHECK_THROWS_AS(kernel.write("/sys/bus/pci/drivers/nouveau/unbind", "0000:01:00.1"), SystemError);
}

TEST_CASE("binder: addresses that are not PCI addresses are refused", "[binder]") {
  const FixtureTree tree(virtform::testing::discrete_gpu_host());
  SimulatedKernel kernel(tree.root());
  DriverBinder binder(kernel, tree.root());
  CHECK_THROWS_AS(binder.bind("../../../etc"), SystemError);
  CHECK_THROWS_WITH(binder.bind("0000:0f:00.0"), Catch::Contains("no PCI device at 0000:0f:00.0"));
  CHECK(kernel.writes().empty());
}

TEST_CASE("rooted writer: refuses the real /sys and writes under a tree", "[binder]") {
  CHECK_THROWS_WITH(RootedSysfsWriter("/"), Catch::Contains("allow_real_sysfs"));
  CHECK_THROWS_AS(RootedSysfsWriter("/tmp/.."), SystemError);

  const FixtureTree tree(virtform::testing::discrete_gpu_host());
  RootedSysfsWriter writer(tree.root());
  writer.write("/sys/bus/pci/devices/0000:01:00.0/driver_override", "vfio-pci");
  CHECK(read_host_devices(tree.root()).find_pci("0000:01:00.0")->driver_override == "vfio-pci");
  // Attributes are never created.
  CHECK_THROWS_AS(writer.write("/sys/bus/pci/devices/0000:01:00.0/no_such_attribute", "1"),
                  SystemError);
}
