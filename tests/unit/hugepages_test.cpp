// [vm.X.memory_backing] hugepages: the sizes the config takes, the <hugepages> libvirt 9 writes
// back (tests/fixtures/libvirt/qemu-paged-memory.xml, `virsh dumpxml --inactive` on qemu:///system
// of a domain defined with <page size='2' unit='M'/>), the host's pools as the sysfs reader finds
// them in a tree on disk, and the plan's check of a guest's pages against them.

#include "engine/checks/hugepages.h"

#include <catch2/catch.hpp>

#include "providers/libvirt/domain_xml.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/loaded_config.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::formatted;

Vm guest(const std::string& key, std::uint64_t memory_mib, const std::string& hugepages) {
  Vm vm;
  vm.key = key;
  vm.name = key;
  vm.memory_kib = memory_mib * 1024;
  vm.attributes["memory_backing.hugepages"] = hugepages;
  vm.attribute_places["memory_backing.hugepages"] = Location{"vm.toml", 7, 13};
  return vm;
}

// A host with 2 MiB pages (`free` of 512 free) and an empty 1 GiB pool, 2 MiB by default.
Live host_with(std::uint64_t free) {
  Live live;
  live.devices.hugepages = {{2048, 512, free}, {1048576, 0, 0}};
  live.devices.default_hugepage_kib = 2048;
  return live;
}

Diagnostics checked(const std::vector<Vm>& vms, const Live& live) {
  Desired desired;
  desired.vms = vms;
  Diagnostics diagnostics;
  check_hugepages(desired, live, diagnostics);
  return diagnostics;
}

}  // namespace

TEST_CASE("a huge page size is a power of two in its largest whole unit", "[hugepages]") {
  for (const auto& [given, canonical] :
       std::vector<std::pair<std::string, std::string>>{{"2MiB", "2MiB"},
                                                        {"2048KiB", "2MiB"},
                                                        {"1GiB", "1GiB"},
                                                        {"1048576KiB", "1GiB"},
                                                        {"64KiB", "64KiB"},
                                                        {"default", "default"},
                                                        {"none", "none"}}) {
    INFO(given);
    const auto loaded =
        testing::load_vm_a("[vm.a.memory_backing]\nhugepages = \"" + given + "\"\n");
    INFO(formatted(loaded.diagnostics));
    REQUIRE(loaded.diagnostics.empty());
    CHECK(loaded.vm().attributes.at("memory_backing.hugepages") == canonical);
  }
  for (const std::string refused : {"3MiB", "5KiB", "huge", "32GiB", "0KiB"}) {
    INFO(refused);
    const auto loaded =
        testing::load_vm_a("[vm.a.memory_backing]\nhugepages = \"" + refused + "\"\n");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK_THAT(loaded.diagnostics[0].message, Catch::Contains("a power-of-two page size"));
    CHECK(loaded.diagnostics[0].where.line == 3);
  }
}

TEST_CASE("memory must be a whole number of the guest's huge pages", "[hugepages]") {
  const auto loaded =
      testing::load_vm_a("memory = \"1536MiB\"\n[vm.a.memory_backing]\nhugepages = \"1GiB\"\n");
  REQUIRE(loaded.diagnostics.size() == 1);
  CHECK(loaded.diagnostics[0].message ==
        "memory (1536 MiB) is not a whole number of 1GiB pages, which is all the guest's memory is "
        "made of: make it a multiple of 1GiB");
  CHECK(loaded.diagnostics[0].where.line == 4);
  CHECK(testing::load_vm_a("memory = \"1536MiB\"\n[vm.a.memory_backing]\nhugepages = \"2MiB\"\n")
            .diagnostics.empty());
}

TEST_CASE("huge pages read back as libvirt 9 writes them and merge in three forms", "[hugepages]") {
  const std::string xml = testing::libvirt_fixture("qemu-paged-memory.xml");
  Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.attributes.at("memory_backing.hugepages") == "2MiB");
  CHECK(vm.attributes.at("memory_backing.locked") == "true");
  for (const auto& [value, element] : std::vector<std::pair<std::string, std::string>>{
           {"1GiB", "<page size='1048576' unit='KiB' />"},
           {"default", "<hugepages />"},
           {"none", ""}}) {
    INFO(value);
    vm.attributes["memory_backing.hugepages"] = value;
    const std::string merged = merge_domain_xml(xml, vm);
    INFO(merged);
    CHECK(parse_domain_xml(merged).vm.attributes.at("memory_backing.hugepages") == value);
    if (!element.empty()) CHECK(merged.find(element) != std::string::npos);
    // <locked/> beside them is another row's, and stays.
    CHECK(merged.find("<locked />") != std::string::npos);
  }
}

TEST_CASE("the sysfs reader finds the host's huge page pools and default size", "[hugepages]") {
  testing::TempDir tree;
  tree.write_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
  tree.write_file("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "300\n");
  tree.write_file("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
  tree.write_file("sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", "0\n");
  tree.write_file("proc/meminfo", "MemTotal:       24683472 kB\nHugepagesize:       2048 kB\n");
  const HostDevices host = read_host_devices(tree.path());
  CHECK(host.hugepages == std::vector<HugePagePool>{{2048, 512, 300}, {1048576, 0, 0}});
  CHECK(host.default_hugepage_kib == 2048);

  testing::TempDir bare;
  CHECK(read_host_devices(bare.path()).hugepages.empty());
}

TEST_CASE("plan refuses a page size the host has no pool of and warns of a short pool",
          "[hugepages]") {
  const Diagnostics none_of_size = checked({guest("a", 1024, "16MiB")}, host_with(512));
  REQUIRE(none_of_size.size() == 1);
  CHECK(none_of_size[0].severity == Severity::error);
  CHECK(none_of_size[0].message ==
        "the host has no 16MiB huge pages (it has 2MiB, 1GiB): name one of those sizes");
  CHECK(none_of_size[0].where.line == 7);
  CHECK(none_of_size[0].resource == "vm.a");

  // 1 GiB of 2 MiB pages is 512: enough when 512 are free, not when 300 are.
  CHECK(checked({guest("a", 1024, "2MiB")}, host_with(512)).empty());
  CHECK(checked({guest("a", 1024, "default")}, host_with(512)).empty());
  const Diagnostics short_pool = checked({guest("a", 1024, "2MiB")}, host_with(300));
  REQUIRE(short_pool.size() == 1);
  CHECK(short_pool[0].severity == Severity::warning);
  CHECK(short_pool[0].message ==
        "the host has 300 free 2MiB huge pages, and the guest needs 512: libvirt would not start "
        "it. Reserve more: echo 724 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages (or "
        "hugepages= on the kernel's command line, at boot)");
  const Diagnostics by_default = checked({guest("a", 1024, "default")}, host_with(300));
  REQUIRE(by_default.size() == 1);
  CHECK_THAT(by_default[0].message, Catch::Contains("300 free 2MiB huge pages"));

  // Two guests on one pool: each fits, both do not.
  const Diagnostics shared =
      checked({guest("a", 512, "2MiB"), guest("b", 512, "2MiB")}, host_with(300));
  REQUIRE(shared.size() == 2);
  CHECK_THAT(shared[0].message, Catch::Contains("the 2 guests that take them need 512"));
  CHECK(shared[1].resource == "vm.b");

  // Not known (a tree without sys/kernel/mm/hugepages): nothing to say.
  CHECK(checked({guest("a", 1024, "16MiB")}, Live{}).empty());
}

TEST_CASE("a guest already running on its huge pages needs no free ones", "[hugepages]") {
  Live live = host_with(0);
  LiveDomain domain;
  domain.vm = guest("a", 1024, "2MiB");
  domain.running = true;
  domain.booted = domain.vm;
  live.domains.push_back(domain);
  CHECK(checked({guest("a", 1024, "2MiB")}, live).empty());
  // Booted on other pages, it takes these at its next boot.
  live.domains[0].booted->attributes["memory_backing.hugepages"] = "none";
  CHECK(checked({guest("a", 1024, "2MiB")}, live).size() == 1);
}

}  // namespace virtform
