// Guest memory: `memory` alone, or `memory` as the balloon's size under `memory_max`; the rules
// between them and the balloon, the domain XML libvirt 9 writes back (tests/fixtures/libvirt/
// qemu-memory.xml, `virsh dumpxml --inactive` on qemu:///system of a domain defined with 512 MiB
// and a 384 MiB balloon), the merge, and import.

#include <catch2/catch.hpp>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "support/loaded_config.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::formatted;

}  // namespace

TEST_CASE("memory alone is the maximum and with memory_max it is the balloon's size", "[memory]") {
  const auto alone = testing::load_vm_a("memory = \"2GiB\"\n");
  REQUIRE(alone.diagnostics.empty());
  CHECK(alone.vm().memory_kib == 2 * 1024 * 1024);
  CHECK_FALSE(alone.vm().current_memory_kib);

  const auto both = testing::load_vm_a("memory = \"2GiB\"\nmemory_max = \"8GiB\"\n");
  INFO(formatted(both.diagnostics));
  REQUIRE(both.diagnostics.empty());
  CHECK(both.vm().memory_kib == 8 * 1024 * 1024);
  CHECK(both.vm().current_memory_kib == 2 * 1024 * 1024);

  // The maximum alone leaves the balloon to the guest's owner, as memory alone does.
  const auto maximum = testing::load_vm_a("memory_max = 4096\n");
  REQUIRE(maximum.diagnostics.empty());
  CHECK(maximum.vm().memory_kib == 4 * 1024 * 1024);
  CHECK_FALSE(maximum.vm().current_memory_kib);
}

TEST_CASE("memory past memory_max or below it without a balloon is refused at memory", "[memory]") {
  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"memory = \"8GiB\"\nmemory_max = \"4GiB\"\n",
            "memory (8 GiB) is more than memory_max (4 GiB): the balloon cannot give the guest "
            "more than its maximum; lower memory or raise memory_max"},
           {"memory = \"2GiB\"\nmemory_max = \"4GiB\"\nballoon = \"none\"\n",
            "memory (2 GiB) below memory_max needs a balloon to hold the rest back, and balloon "
            "is \"none\": set memory = memory_max, or a balloon model"},
       }) {
    INFO(lines);
    const auto loaded = testing::load_vm_a(lines);
    INFO(formatted(loaded.diagnostics));
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message == message);
    CHECK(loaded.diagnostics[0].where.line == 2);
  }
  // At the maximum nothing is held back.
  CHECK(testing::load_vm_a("memory = \"4GiB\"\nmemory_max = \"4GiB\"\nballoon = \"none\"\n")
            .diagnostics.empty());
}

TEST_CASE("the maximum and the balloon read back from libvirt's KiB", "[memory]") {
  const LiveDomain live = parse_domain_xml(testing::libvirt_fixture("qemu-memory.xml"));
  CHECK(live.vm.memory_kib == 512 * 1024);
  CHECK(live.vm.current_memory_kib == 384 * 1024);
  CHECK(current_memory_of(live.vm) == 384 * 1024);

  // A balloon past the maximum holds no more than the maximum.
  Vm over;
  over.memory_kib = 1024;
  over.current_memory_kib = 2048;
  CHECK(current_memory_of(over) == 1024);
}

TEST_CASE("a declared balloon is written as currentMemory and an undeclared one is kept",
          "[memory]") {
  const std::string xml = testing::libvirt_fixture("qemu-memory.xml");
  Vm vm = parse_domain_xml(xml).vm;
  auto balloon_after = [&](const Vm& desired) {
    return parse_domain_xml(merge_domain_xml(xml, desired)).vm.current_memory_kib;
  };
  vm.current_memory_kib = 448 * 1024;
  CHECK(balloon_after(vm) == 448 * 1024);
  vm.memory_kib = 1024 * 1024;
  vm.current_memory_kib = 1024 * 1024;
  CHECK(balloon_after(vm) == 1024 * 1024);
  // Without memory_max: kept below the new maximum.
  vm.current_memory_kib.reset();
  CHECK(balloon_after(vm) == 384 * 1024);
  const std::string merged = merge_domain_xml(xml, vm);
  CHECK(merged.find("<memory unit='KiB'>1048576</memory>") != std::string::npos);
}

TEST_CASE("a balloon below the maximum imports as memory under memory_max", "[memory]") {
  const std::string xml = testing::libvirt_fixture("qemu-memory.xml");
  const LiveDomain live = parse_domain_xml(xml);
  ImportSource source{live, {}, importable_fragments(xml)};
  Diagnostics warnings;
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("memory = \"384MiB\"\nmemory_max = \"512MiB\"\n") != std::string::npos);
  CHECK(toml.find("# not expressed") == std::string::npos);

  SECTION("without a balloon the maximum alone, which the config takes") {
    ImportSource without{live, {}, {}};
    without.domain.vm.attributes["balloon"] = "none";
    const std::string text =
        render_config_toml(desired_from_live({without}, RootedHostFiles("/"), warnings), warnings);
    INFO(text);
    CHECK(text.find("memory = \"512MiB\"\n") != std::string::npos);
    CHECK(text.find("memory_max") == std::string::npos);
  }
}

}  // namespace virtform

namespace virtform {

TEST_CASE("memory_backing reads back from libvirt 9 and imports as keys", "[memory]") {
  const std::string xml = testing::libvirt_fixture("qemu-memory.xml");
  const LiveDomain live = parse_domain_xml(xml);
  CHECK(live.vm.attributes.at("memory_backing.source") == "memfd");
  CHECK(live.vm.attributes.at("memory_backing.access") == "shared");
  CHECK(live.vm.attributes.at("memory_backing.locked") == "true");
  CHECK(shares_memory(live.vm));
  for (const XmlFragment& fragment : importable_fragments(xml))
    CHECK(fragment.element.name != "memoryBacking");
  ImportSource source{live, {}, importable_fragments(xml)};
  Diagnostics warnings;
  const std::string toml =
      render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
  INFO(toml);
  CHECK(toml.find("[vm.vfxmltest-memory.memory_backing]\nsource = \"memfd\"\naccess = \"shared\"\n"
                  "locked = true\n") != std::string::npos);
  CHECK(toml.find("# not expressed") == std::string::npos);
}

TEST_CASE("memory_backing is written in place and an empty one goes", "[memory]") {
  const std::string xml = testing::libvirt_fixture("qemu-memory.xml");
  Vm vm = parse_domain_xml(xml).vm;
  vm.attributes["memory_backing.source"] = "anonymous";
  vm.attributes["memory_backing.access"] = "private";
  vm.attributes["memory_backing.locked"] = "false";
  const std::string merged = merge_domain_xml(xml, vm);
  INFO(merged);
  CHECK(merged.find("<source type='anonymous'") != std::string::npos);
  CHECK(merged.find("<access mode='private'") != std::string::npos);
  CHECK(merged.find("<locked") == std::string::npos);
  CHECK(parse_domain_xml(merged).vm.attributes == vm.attributes);
  CHECK_FALSE(shares_memory(vm));

  // Where there was none, it goes after <currentMemory>, where libvirt keeps it.
  Vm plain = parse_domain_xml(testing::libvirt_fixture("qemu-minimal.xml")).vm;
  plain.attributes["memory_backing.locked"] = "true";
  const std::string locked = merge_domain_xml(testing::libvirt_fixture("qemu-minimal.xml"), plain);
  INFO(locked);
  const auto backing = locked.find("<memoryBacking>");
  CHECK(locked.find("</currentMemory>") < backing);
  CHECK(backing < locked.find("<vcpu"));
  CHECK(parse_domain_xml(locked).vm.attributes.at("memory_backing.locked") == "true");
  plain.attributes["memory_backing.locked"] = "false";
  CHECK(merge_domain_xml(locked, plain).find("memoryBacking") == std::string::npos);
}

}  // namespace virtform
