// Mediated devices ([[vm.X.mdev]]): what the config refuses, the devices libvirt 9 writes back
// (tests/fixtures/libvirt/qemu-mdev.xml, `virsh dumpxml --inactive` of a guest with two vGPUs,
// one showing its screen, the other's UUID given in capitals), merge and import, and plans on
// the demo host's tree with mediated devices made in it: one the host has not made, or two
// guests given one, are refused, and a change waits for the guest's next boot.

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "support/loaded_config.h"
#include "support/plan_changes.h"
#include "support/refusals.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::field_of;
using testing::formatted;
using testing::vm_change;

constexpr char kUuid[] = "4b20d080-1b54-4048-85b3-a6a62d165c01";

std::string guest(const std::string& key, const std::string& state) {
  return "[vm." + key + "]\nname = \"vfmdev" + key +
         "\"\ntype = \"qemu\"\nmemory = " + "\"128MiB\"\nstate = \"" + state + "\"\n[[vm." + key +
         ".mdev]]\nuuid = \"" + kUuid + "\"\n";
}

// The demo host with the vGPU kUuid made.
struct MdevHost : testing::DemoHostCopy {
  MdevHost() : DemoHostCopy("virtform-mdev") {
    std::filesystem::create_directories(root + "/sys/bus/mdev/devices/" + kUuid);
  }
};

}  // namespace

TEST_CASE("an mdev is a UUID, with a console to show its screen on", "[mdev]") {
  testing::check_refusals({
      {"[[vm.a.mdev]]\nmodel = \"vfio-pci\"\n", 2, "an mdev needs uuid = \"...\""},
      {"[[vm.a.mdev]]\nuuid = \"4b20d080\"\n", 3, "uuid \"4b20d080\" is not a UUID"},
      {"[[vm.a.mdev]]\nuuid = \"" + std::string(kUuid) + "\"\nmodel = \"vfio-gpu\"\n", 4,
       "model must be one of"},
      {"[[vm.a.mdev]]\nuuid = \"" + std::string(kUuid) + "\"\ndisplay = true\n", 2,
       "display = true shows mdev " + std::string(kUuid) + "'s screen on the guest's console"},
      {"[[vm.a.mdev]]\nuuid = \"" + std::string(kUuid) + "\"\n[[vm.a.mdev]]\nuuid = \"" +
           "4B20D080-1B54-4048-85B3-A6A62D165C01\"\n",
       4, "mdev " + std::string(kUuid) + " is declared at vm.toml:2:1 already"},
  });
}

TEST_CASE("mediated devices read back as libvirt 9 writes them, merge unchanged and import",
          "[mdev]") {
  const std::string xml = testing::libvirt_fixture("qemu-mdev.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  CHECK(warnings.empty());
  REQUIRE(live.vm.mdevs.size() == 2);
  CHECK(live.vm.mdevs[0].uuid == kUuid);
  CHECK(live.vm.mdevs[0].display);
  CHECK(live.vm.mdevs[1].uuid == "c1e5a3f2-0000-4a1b-9c3d-000000000002");
  CHECK_FALSE(live.vm.mdevs[1].display);
  CHECK(live.vm.pci.empty());

  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.mdevs == live.vm.mdevs);
  Vm one = live.vm;
  one.mdevs.erase(one.mdevs.begin());
  const std::string less = merge_domain_xml(xml, one);
  CHECK(parse_domain_xml(less).vm.mdevs == one.mdevs);
  CHECK(less.find(kUuid) == std::string::npos);

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[[vm.vfxmltest-mdev.mdev]]\nuuid = \"" + std::string(kUuid) +
                  "\"\ndisplay = true\n") != std::string::npos);
}

TEST_CASE("plan refuses an mdev the host has not made or two guests are given", "[mdev]") {
  MdevHost host;
  const Plan fine = host.plan_of(guest("a", "stopped"));
  INFO(formatted(fine.diagnostics));
  CHECK_FALSE(has_errors(fine.diagnostics));
  REQUIRE(field_of(vm_change(fine), std::string("mdev[") + kUuid + "]"));

  std::filesystem::remove(host.root + "/sys/bus/mdev/devices/" + kUuid);
  const Plan missing = host.plan_of(guest("a", "stopped"));
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK_THAT(missing.diagnostics[0].message,
             Catch::Contains("mediated device " + std::string(kUuid) +
                             " does not exist on the host (/sys/bus/mdev/devices): make it first"));
  CHECK(missing.diagnostics[0].where.line == 6);

  std::filesystem::create_directories(host.root + "/sys/bus/mdev/devices/" + kUuid);
  const Plan twice = host.plan_of(guest("a", "stopped") + guest("b", "stopped"));
  INFO(formatted(twice.diagnostics));
  CHECK_THAT(formatted(twice.diagnostics),
             Catch::Contains("is also claimed by vm.b") && Catch::Contains("one guest only"));
}

TEST_CASE("an mdev given to a running guest waits for its next boot", "[mdev]") {
  MdevHost host;
  const std::string plain =
      "[vm.a]\nname = \"vfmdeva\"\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"running\"\n";
  REQUIRE(host.apply(host.plan_of(plain)));
  const Plan given = host.plan_of(guest("a", "running"));
  const Change& change = vm_change(given);
  const FieldChange* field = field_of(change, std::string("mdev[") + kUuid + "]");
  REQUIRE(field);
  CHECK(field->after == "vfio-pci");
  CHECK(field->disruption == Disruption::next_boot);
}

}  // namespace virtform
