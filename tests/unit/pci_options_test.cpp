// [[vm.X.pci]]'s rombar and guest_address: a GPU and its audio function placed at one guest slot
// as on the card, read back as libvirt writes them (tests/fixtures/libvirt/test-gpu-slot.xml),
// imported as keys, and applied to libvirt's test driver with nothing left to plan.

#include <catch2/catch.hpp>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "tests/support/loaded_config.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::formatted;

// The host's I350 ports (each in an IOMMU group of its own on the demo host) at one guest slot.
std::string two_ports(const std::string& first_extra, const std::string& second_extra) {
  return "[vm.fw]\nname = \"vfpcioptest\"\ntype = \"qemu\"\nmemory = \"1GiB\"\nmachine = \"q35\"\n"
         "[[vm.fw.pci]]\naddress = \"0000:0c:00.0\"\n" +
         first_extra + "\n[[vm.fw.pci]]\naddress = \"0000:0c:00.1\"\n" + second_extra + "\n";
}

std::map<std::string, std::string> fields_of(const Plan& plan) {
  std::map<std::string, std::string> after;
  for (const Change& change : plan.changes)
    for (const FieldChange& field : change.fields) after[field.field] = field.after;
  return after;
}

}  // namespace

TEST_CASE("functions at one guest slot are placed together with function 0 multifunction",
          "[pci]") {
  const testing::LoadedConfig loaded = testing::load_config_from(
      two_ports("guest_address = \"06:00.0\"", "guest_address = \"0000:06:00.1\"\nrombar = false"),
      "fw.toml");
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const std::vector<PciDevice>& pci = loaded.vm().pci;
  REQUIRE(pci.size() == 2);
  CHECK(pci[0].guest_address == "0000:06:00.0");
  CHECK(pci[0].multifunction);
  CHECK_FALSE(pci[0].rombar);
  CHECK(pci[1].guest_address == "0000:06:00.1");
  CHECK_FALSE(pci[1].multifunction);
  CHECK(pci[1].rombar == false);

  // One device alone at its slot is no multifunction device.
  const testing::LoadedConfig alone =
      testing::load_config_from(two_ports("guest_address = \"06:00.0\"", ""), "fw.toml");
  CHECK_FALSE(alone.vm().pci[0].multifunction);
}

TEST_CASE("guest addresses that cannot be placed are refused at the device", "[pci]") {
  SECTION("two devices at one address") {
    const testing::LoadedConfig loaded = testing::load_config_from(
        two_ports("guest_address = \"06:00.0\"", "guest_address = \"06:00.0\""), "fw.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message ==
          "guest_address \"0000:06:00.0\" is another pci device's too: give each its own "
          "function (.0, .1, ...)");
    CHECK(loaded.diagnostics[0].where.line == 9);  // the second device's table
  }
  SECTION("a shared slot without function 0") {
    const testing::LoadedConfig loaded = testing::load_config_from(
        two_ports("guest_address = \"06:00.1\"", "guest_address = \"06:00.2\""), "fw.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message ==
          "pci devices share guest slot 0000:06:00 without one at function 0: put the first "
          "function (the GPU) at 0000:06:00.0");
  }
  SECTION("not an address") {
    const testing::LoadedConfig loaded =
        testing::load_config_from(two_ports("guest_address = \"slot 6\"", ""), "fw.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(
        loaded.diagnostics[0].message.starts_with("guest_address \"slot 6\" is not a PCI address"));
    CHECK(loaded.diagnostics[0].where.line == 8);
  }
  SECTION("rombar that is not a boolean") {
    const testing::LoadedConfig loaded =
        testing::load_config_from(two_ports("rombar = \"off\"", ""), "fw.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].where.line == 8);
  }
}

TEST_CASE("libvirt's placement of a GPU and its audio reads back and imports as keys", "[pci]") {
  const std::string xml = testing::libvirt_fixture("test-gpu-slot.xml");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  REQUIRE(live.vm.pci.size() == 2);
  CHECK(live.vm.pci[0].guest_address == "0000:06:00.0");
  CHECK(live.vm.pci[0].multifunction);
  CHECK_FALSE(live.vm.pci[0].rombar);
  CHECK(live.vm.pci[1].rombar == false);
  for (const Diagnostic& warning : unexpressed) {
    INFO(warning.message);
    CHECK(warning.message.find("hostdev") == std::string::npos);
  }

  ImportSource source{live, {}, {}};
  Diagnostics warnings;
  const std::string toml =
      render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
  INFO(toml);
  CHECK(toml.find("guest_address = \"0000:06:00.0\"\n") != std::string::npos);
  CHECK(toml.find("rombar = false\nguest_address = \"0000:06:00.1\"\n") != std::string::npos);
}

TEST_CASE("import leaves a device alone at its slot to libvirt's placement", "[pci]") {
  const LiveDomain live = parse_domain_xml(testing::libvirt_fixture("qemu-gpu.xml"));
  ImportSource source{live, {}, {}};
  Diagnostics warnings;
  const std::string toml =
      render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
  INFO(toml);
  CHECK(toml.find("guest_address") == std::string::npos);
}

TEST_CASE("rombar and guest_address are applied and then plan nothing; a change waits for a boot",
          "[pci]") {
  testing::DemoHostCopy host("virtform-pci");
  const std::string placed =
      two_ports("guest_address = \"06:00.0\"", "guest_address = \"06:00.1\"\nrombar = false");
  const std::string config = host.dir.write_file("fw.toml", placed);
  const Plan created = host.plan(config);
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  const auto fields = fields_of(created);
  CHECK(fields.at("pci[0000:0c:00.0]") == "managed, at guest 0000:06:00.0 (multifunction)");
  CHECK(fields.at("pci[0000:0c:00.1]") == "managed, rom bar off, at guest 0000:06:00.1");
  REQUIRE(host.apply(created));

  const auto domain = host.hypervisor->read_domain("vfpcioptest");
  REQUIRE(domain);
  INFO(domain->xml);
  CHECK(domain->xml.find("<address type='pci' domain='0x0000' bus='0x06' slot='0x00' "
                         "function='0x0' multifunction='on'/>") != std::string::npos);
  CHECK(domain->xml.find("<rom bar='off'/>") != std::string::npos);
  const Plan again = host.plan(config);
  for (const Change& change : again.changes) {
    INFO(change.address);
    CHECK(change.fields.empty());
  }

  // The ROM BAR shown again: a change the guest takes at its next boot.
  host.dir.write_file("fw.toml", two_ports("guest_address = \"06:00.0\"",
                                           "guest_address = \"06:00.1\"\nrombar = true"));
  const Plan shown = host.plan(config);
  const auto changed = fields_of(shown);
  REQUIRE(changed.count("pci[0000:0c:00.1]"));
  CHECK(changed.at("pci[0000:0c:00.1]") == "managed, rom bar on, at guest 0000:06:00.1");
}

}  // namespace virtform
