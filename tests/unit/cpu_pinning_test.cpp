// [vm.X.cpu.pinning]: the sets the config takes and refuses, the <cputune> libvirt 9 writes back
// (tests/fixtures/libvirt/qemu-pinned.xml, `virsh dumpxml --inactive` on qemu:///system), import,
// the host's CPUs as the sysfs reader finds them in a tree on disk, and the plan's check of the
// pins against them.

#include "engine/checks/cpu_pinning.h"

#include <catch2/catch.hpp>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/loaded_config.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::formatted;
using testing::load_vm_a;

// The demo host's CPUs: six cores of two threads (N and N + 6), one NUMA node; CPU 5 offline.
HostCpus six_cores() {
  HostCpus host;
  for (unsigned cpu = 0; cpu < 12; ++cpu) {
    host.present.insert(cpu);
    if (cpu != 5) host.online.insert(cpu);
    host.siblings[cpu] = {cpu % 6, cpu % 6 + 6};
    host.node[cpu] = 0;
  }
  return host;
}

Diagnostics checked(const std::string& lines, const HostCpus& host) {
  const auto loaded = load_vm_a(lines);
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  Diagnostics diagnostics;
  check_cpu_pinning(loaded.desired, host, diagnostics);
  return diagnostics;
}

constexpr char kFourThreads[] = "vcpus = 4\n[vm.a.cpu]\ncores = 2\nthreads = 2\n";

}  // namespace

TEST_CASE("pins are host CPU sets in the kernel's form, one for each vCPU or I/O thread",
          "[cpu_pinning]") {
  const auto loaded = load_vm_a(
      "vcpus = 3\niothreads = 1\n[vm.a.cpu.pinning]\nvcpus = [2, \"8,9\", \"3-5,4\"]\n"
      "emulator = \"1,0\"\niothreads = [\"6-7\"]\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  CHECK(loaded.vm().attributes.at("cpu.pinning.vcpus") == "2; 8-9; 3-5");
  CHECK(loaded.vm().attributes.at("cpu.pinning.emulator") == "0-1");
  CHECK(loaded.vm().attributes.at("cpu.pinning.iothreads") == "6-7");

  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"vcpus = 2\n[vm.a.cpu.pinning]\nvcpus = [2, 3, 4]\n",
            "cpu.pinning.vcpus pins 3 vCPUs and the guest has 2: give one set of host CPUs for "
            "each vCPU, in their order"},
           {"[vm.a.cpu.pinning]\niothreads = [1]\n",
            "cpu.pinning.iothreads pins 1 I/O threads and the guest has 0: set iothreads = 1 in "
            "[vm.a]"},
           {"[vm.a.cpu.pinning]\nvcpus = [\"2-\"]\n",
            "vcpus holds \"2-\", which is no set of host CPUs: a CPU's number, or ranges and "
            "numbers such as \"0-3,8\""},
           {"[vm.a.cpu.pinning]\nvcpus = [-1]\n",
            "vcpus must be a list of host CPUs such as [2, 8]"},
           {"[vm.a.cpu.pinning]\nvcpus = []\n", "vcpus = [] pins nothing"},
           {"[vm.a.cpu.pinning]\nemulator = \"3-1\"\n", "host CPUs such as \"0-1\" or \"0,6\""},
       }) {
    INFO(lines);
    const auto refused = load_vm_a(lines);
    INFO(formatted(refused.diagnostics));
    REQUIRE(refused.diagnostics.size() == 1);
    CHECK_THAT(refused.diagnostics[0].message, Catch::Contains(message));
  }
}

TEST_CASE("pins read back as libvirt 9 writes them, merge, and import as lists", "[cpu_pinning]") {
  const std::string xml = testing::libvirt_fixture("qemu-pinned.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  CHECK(warnings.empty());
  CHECK(live.vm.attributes.at("cpu.pinning.vcpus") == "2; 8; 3; 9");
  CHECK(live.vm.attributes.at("cpu.pinning.emulator") == "0,6");
  CHECK(live.vm.attributes.at("cpu.pinning.iothreads") == "1,7");

  Vm moved = live.vm;
  moved.attributes["cpu.pinning.vcpus"] = "4; 10";
  const std::string merged = merge_domain_xml(xml, moved);
  INFO(merged);
  CHECK(parse_domain_xml(merged).vm.attributes.at("cpu.pinning.vcpus") == "4; 10");
  CHECK(merged.find("<vcpupin vcpu='2'") == std::string::npos);
  CHECK(merged.find("<emulatorpin cpuset='0,6' />") != std::string::npos);

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[vm.vfxmltest-pinned.cpu.pinning]\nvcpus = [2, 8, 3, 9]\nemulator = \"0,6\"\n"
                  "iothreads = [\"1,7\"]\n") != std::string::npos);
}

TEST_CASE("the sysfs reader finds the host's CPUs, their SMT siblings and NUMA nodes",
          "[cpu_pinning]") {
  testing::TempDir tree;
  tree.write_file("sys/devices/system/cpu/present", "0-3\n");
  tree.write_file("sys/devices/system/cpu/online", "0-2\n");
  for (const char* cpu : {"0", "1", "2", "3"})
    tree.write_file(
        "sys/devices/system/cpu/cpu" + std::string(cpu) + "/topology/thread_siblings_list",
        std::string(cpu) == "0" || std::string(cpu) == "2" ? "0,2\n" : "1,3\n");
  tree.write_file("sys/devices/system/node/node0/cpulist", "0-1\n");
  tree.write_file("sys/devices/system/node/node1/cpulist", "2-3\n");
  const HostCpus cpus = read_host_devices(tree.path()).cpus;
  CHECK(cpus.present == std::set<unsigned>{0, 1, 2, 3});
  CHECK(cpus.online == std::set<unsigned>{0, 1, 2});
  CHECK(cpus.siblings.at(3) == std::set<unsigned>{1, 3});
  CHECK(cpus.node.at(1) == 0);
  CHECK(cpus.node.at(2) == 1);
}

TEST_CASE("plan refuses host CPUs the host lacks or has offline and warns of split siblings",
          "[cpu_pinning]") {
  const HostCpus host = six_cores();
  CHECK(checked(std::string(kFourThreads) + "[vm.a.cpu.pinning]\nvcpus = [2, 8, 3, 9]\n", host)
            .empty());

  const Diagnostics missing = checked("[vm.a.cpu.pinning]\nemulator = \"0,12\"\n", host);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].severity == Severity::error);
  CHECK(missing[0].message ==
        "cpu.pinning.emulator names host CPU 12, which the host does not have (it has 0-11)");
  CHECK(missing[0].where.line == 3);

  const Diagnostics offline = checked("[vm.a.cpu.pinning]\nvcpus = [5]\n", host);
  REQUIRE(offline.size() == 1);
  CHECK(offline[0].message ==
        "cpu.pinning.vcpus names host CPU 5, which is offline (online: 0-4,6-11): bring it "
        "online, or pin another");

  const Diagnostics split =
      checked(std::string(kFourThreads) + "[vm.a.cpu.pinning]\nvcpus = [2, 8, 3, 4]\n", host);
  REQUIRE(split.size() == 1);
  CHECK(split[0].severity == Severity::warning);
  CHECK(split[0].message ==
        "vCPUs 2 and 3 are one core's threads in the guest (cpu.threads = 2), but run on host "
        "CPUs 3-4, which are not one core's: pin them to SMT siblings, such as 3,9");

  HostCpus two_nodes = host;
  for (unsigned cpu = 3; cpu < 12; ++cpu) two_nodes.node[cpu] = cpu < 6 ? 1 : 0;
  const Diagnostics spread = checked("vcpus = 2\n[vm.a.cpu.pinning]\nvcpus = [2, 3]\n", two_nodes);
  REQUIRE(spread.size() == 1);
  CHECK_THAT(spread[0].message, Catch::Contains("NUMA nodes 0-1"));

  // A host whose CPUs are not known (a tree without sys/devices/system/cpu): nothing to say.
  CHECK(checked("[vm.a.cpu.pinning]\nvcpus = [64]\n", HostCpus{}).empty());
}

}  // namespace virtform
