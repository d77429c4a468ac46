// [vm.X.cpu], [vm.X.cpu.features] and vcpus_max against the real libvirtd: a TCG guest with
// libvirt's maximum CPU, a topology and features of its own starts, is given one more vCPU while
// it runs, which its live definition shows, and libvirt's read-back of the CPU is no change.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

TEST_CASE("a running guest is given another vCPU live up to vcpus_max", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("cpu");
  auto guest_toml = [&](unsigned vcpus) {
    return kernel_guest_toml("cpu", name, guest_images().initrd_ignore, "128MiB", vcpus,
                             "restart = \"never\"\nvcpus_max = 3\n") +
           "\n[vm.cpu.cpu]\nmode = \"maximum\"\nsockets = 1\ncores = 3\nthreads = 1\n"
           "\n[vm.cpu.cpu.features]\nrequire = [\"sse4.2\"]\ndisable = [\"hypervisor\"]\n";
  };
  ProcessResult created = session.apply(session.write_config(guest_toml(1)));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);
  CHECK(libvirt.xml(name).find("<vcpu placement='static' current='1'>3</vcpu>") !=
        std::string::npos);
  CHECK(libvirt.xml(name, true).find("<cpu mode='maximum' check='none'>") != std::string::npos);
  CHECK(libvirt.xml(name).find("<feature policy='disable' name='hypervisor'/>") !=
        std::string::npos);
  CHECK(libvirt.xml(name).find("<feature policy='require' name='sse4.2'/>") != std::string::npos);

  const std::string config = session.write_config(guest_toml(2));
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "vcpus").value("disruption", "") == "live");
  CHECK(change.at("operations").value("vcpus_live", 0) == 2);
  CHECK_FALSE(change.at("operations").contains("power"));

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  CHECK(libvirt.xml(name).find("<vcpu placement='static' current='2'>3</vcpu>") !=
        std::string::npos);
  CHECK(libvirt.xml(name, true).find("<vcpu placement='static' current='2'>3</vcpu>") !=
        std::string::npos);

  // Nothing left to do, and nothing waits for a boot.
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
  for (const nlohmann::json& entry : after.value("pending_next_boot", nlohmann::json::array()))
    CHECK(entry.value("name", "") != name);
}

// This machine has CPUs 0 and 1 at least: the pins swap the guest's two vCPUs between them.
TEST_CASE("a running guest's vCPUs and QEMU's threads are repinned live", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("pinned");
  auto guest_toml = [&](const std::string& vcpus, const std::string& emulator) {
    return kernel_guest_toml("pinned", name, guest_images().initrd_ignore, "128MiB", 2,
                             "restart = \"never\"\n") +
           "\n[vm.pinned.cpu.pinning]\nvcpus = " + vcpus + "\nemulator = \"" + emulator + "\"\n";
  };
  ProcessResult created = session.apply(session.write_config(guest_toml("[0, 1]", "0")));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);
  CHECK(libvirt.xml(name).find("<vcpupin vcpu='1' cpuset='1'/>") != std::string::npos);

  const std::string config = session.write_config(guest_toml("[1, 0]", "1"));
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "cpu.pinning.vcpus").value("disruption", "") == "live");
  CHECK(field_of(change, "cpu.pinning.emulator").value("disruption", "") == "live");
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  for (bool inactive : {false, true}) {
    INFO((inactive ? "persistent" : "live") << " definition");
    const std::string xml = libvirt.xml(name, inactive);
    CHECK(xml.find("<vcpupin vcpu='0' cpuset='1'/>") != std::string::npos);
    CHECK(xml.find("<vcpupin vcpu='1' cpuset='0'/>") != std::string::npos);
    CHECK(xml.find("<emulatorpin cpuset='1'/>") != std::string::npos);
  }
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
}

}  // namespace
}  // namespace virtform::e2e
