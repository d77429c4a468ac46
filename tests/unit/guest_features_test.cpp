// The attribute rows of [vm.X.hyperv], [vm.X.clock] and [vm.X.pm] and kvm_hidden, beyond what
// vm_fields_test.cpp holds every row to: the windows preset and what a key beside it does, the
// checks across enlightenments, the domain XML libvirt 9 writes back (tests/fixtures/libvirt/
// qemu-windows.xml, `virsh dumpxml --inactive` of such a guest on qemu:///system), what is left
// alone when unset, and import of a definition using them.

#include <catch2/catch.hpp>

#include "engine/config/config.h"
#include "engine/import/importer.h"
#include "engine/model/vm_fields.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::read_file;
using testing::TempDir;

Desired load(const std::string& toml, Diagnostics& diagnostics) {
  return load_config_text(toml, "win.toml", diagnostics);
}

Vm load_vm(const std::string& toml) {
  Diagnostics diagnostics;
  const Desired desired = load(toml, diagnostics);
  INFO(toml);
  for (const Diagnostic& d : diagnostics) INFO(d.message);
  REQUIRE(diagnostics.empty());
  REQUIRE(desired.vms.size() == 1);
  return desired.vms[0];
}

const Diagnostic& at_line(const Diagnostics& diagnostics, int line) {
  for (const Diagnostic& d : diagnostics)
    if (d.where.line == line) return d;
  FAIL("no diagnostic on line " << line);
  throw std::logic_error("unreachable");
}

// What the fixture's guest declares (the config it was applied from).
const std::map<std::string, std::string> kFixtureAttributes = {
    {"kvm_hidden", "true"},
    {"vmport", "false"},
    {"ioapic", "kvm"},
    {"hyperv.relaxed", "true"},
    {"hyperv.vapic", "true"},
    {"hyperv.spinlocks", "8191"},
    {"hyperv.vpindex", "true"},
    {"hyperv.runtime", "true"},
    {"hyperv.synic", "true"},
    {"hyperv.stimer", "true"},
    {"hyperv.reset", "true"},
    {"hyperv.vendor_id", "KVMKVMKVM"},
    {"hyperv.frequencies", "true"},
    {"hyperv.reenlightenment", "true"},
    {"hyperv.tlbflush", "true"},
    {"hyperv.ipi", "true"},
    {"clock.offset", "localtime"},
    {"clock.rtc_tickpolicy", "catchup"},
    {"clock.pit_tickpolicy", "delay"},
    {"clock.hpet", "false"},
    {"clock.hypervclock", "true"},
    {"pm.suspend_to_mem", "false"},
    {"pm.suspend_to_disk", "false"},
    {"cpu.mode", "host-model"},
};

}  // namespace

TEST_CASE("the windows preset turns on its set as defaults that a key beside it overrides",
          "[features]") {
  const Vm vm = load_vm(
      "[vm.win]\n"
      "[vm.win.hyperv]\npreset = \"windows\"\nspinlocks = 4096\nreset = false\n"
      "[vm.win.clock]\nhpet = false\n");
  for (const FieldPreset& preset : field_presets()) {
    if (preset.name != "windows") continue;
    for (const auto& [key, value] : preset.values) {
      INFO(key);
      REQUIRE(vm.attributes.count(std::string(key)) == 1);
      const bool own = key == "hyperv.spinlocks" || key == "hyperv.reset";
      CHECK(vm.attribute_origins.count(std::string(key)) == (own ? 0 : 1));
      if (!own) CHECK(vm.attributes.at(std::string(key)) == value);
    }
  }
  CHECK(vm.attributes.at("hyperv.spinlocks") == "4096");
  CHECK(vm.attributes.at("hyperv.reset") == "false");
  CHECK(vm.attributes.at("hyperv.stimer") == "true");
  CHECK(vm.attribute_origins.at("hyperv.stimer") == "preset windows");
  // Neither in the preset nor set: left alone.
  CHECK(vm.attributes.count("hyperv.vendor_id") == 0);
  CHECK(vm.attributes.count("hyperv.reenlightenment") == 0);
  CHECK(vm.attributes.at("clock.hpet") == "false");
  CHECK(vm.attribute_origins.count("clock.hpet") == 0);
}

TEST_CASE("a plan shows the values a preset contributed as the preset's", "[features]") {
  testing::DemoHostCopy host("virtform-features");
  const std::string config =
      host.dir.write_file("win.toml",
                          "[vm.win]\nname = \"vffeattest\"\ntype = \"qemu\"\nmemory = \"1GiB\"\n"
                          "[vm.win.hyperv]\npreset = \"windows\"\nrelaxed = false\n");
  const Plan created = host.plan(config);
  REQUIRE_FALSE(has_errors(created.diagnostics));
  std::map<std::string, std::string> after;
  for (const Change& change : created.changes)
    for (const FieldChange& field : change.fields) after[field.field] = field.after;
  CHECK(after.at("hyperv.vapic") == "true (preset windows)");
  CHECK(after.at("hyperv.spinlocks") == "8191 (preset windows)");
  CHECK(after.at("clock.hypervclock") == "true (preset windows)");
  CHECK(after.at("hyperv.relaxed") == "false");
  REQUIRE(host.apply(created));

  // Applied, the preset's values are in the domain and nothing is left to do.
  const auto domain = host.hypervisor->read_domain("vffeattest");
  REQUIRE(domain);
  CHECK(domain->xml.find("<vapic state='on'/>") != std::string::npos);
  CHECK(domain->xml.find("<relaxed state='off'/>") != std::string::npos);
  CHECK(domain->xml.find("<spinlocks state='on' retries='8191'/>") != std::string::npos);
  const Plan again = host.plan(config);
  for (const Change& change : again.changes) {
    INFO(change.address);
    CHECK(change.fields.empty());
  }
}

TEST_CASE("an enlightenment without the ones it needs is refused where it is set", "[features]") {
  Diagnostics diagnostics;
  load(
      "[vm.win]\n"
      "[vm.win.hyperv]\n"
      "stimer = true\n"  // line 3
      "synic = true\n"   // line 4
      "tlbflush = true\n"
      "[vm.win.clock]\nhypervclock = true\n",
      diagnostics);
  REQUIRE(diagnostics.size() == 3);
  CHECK(at_line(diagnostics, 3).message ==
        "stimer = true needs vpindex = true in [vm.win.hyperv]: QEMU refuses to start a KVM "
        "guest without it");
  CHECK(at_line(diagnostics, 4).message ==
        "synic = true needs vpindex = true in [vm.win.hyperv]: QEMU refuses to start a KVM guest "
        "without it");
  CHECK(at_line(diagnostics, 5).message.starts_with("tlbflush = true needs vpindex = true"));
  for (const Diagnostic& d : diagnostics) CHECK(d.where.file == "win.toml");

  // One the preset turned on, with a key beside it turning off what it needs: at the preset.
  diagnostics.clear();
  load(
      "[vm.win]\n[vm.win.hyperv]\npreset = \"windows\"\n"
      "[vm.win.clock]\nhypervclock = false\n",
      diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].where.line == 3);
  CHECK(diagnostics[0].message ==
        "stimer = true (from preset windows) needs hypervclock = true in [vm.win.clock]: QEMU "
        "refuses to start a KVM guest without it");
}

TEST_CASE("wrong values and unknown keys in the sub-tables are refused at their place",
          "[features]") {
  Diagnostics diagnostics;
  const Desired desired = load(
      "[vm.win]\n"
      "kvm_hidden = \"on\"\n"  // line 2
      "[vm.win.hyperv]\n"
      "relaxd = true\n"                  // line 4
      "spinlocks = 4094\n"               // line 5
      "vendor_id = \"thirteen-char\"\n"  // line 6
      "preset = \"linux\"\n"             // line 7
      "[vm.win.clock]\n"
      "offset = \"variable\"\n"  // line 9
      "rtc_tickpolicy = \"catch-up\"\n"
      "[vm.win.pm]\n"
      "suspend_to_ram = false\n"  // line 12
      "[vm.win.hyperv.extra]\n",
      diagnostics);
  INFO([&] {
    std::string all;
    for (const Diagnostic& d : diagnostics) all += format(d) + "\n";
    return all;
  }());
  CHECK(at_line(diagnostics, 2).message == "kvm_hidden must be true or false (got a string)");
  CHECK(at_line(diagnostics, 4).message ==
        "unknown key 'relaxd' in [vm.win.hyperv]; did you mean 'relaxed'?");
  CHECK(at_line(diagnostics, 5).message ==
        "spinlocks must be between 4095 and 4294967295; got 4094");
  CHECK(at_line(diagnostics, 6).message == "vendor_id must be at most 12 characters; got 13");
  CHECK(at_line(diagnostics, 7).message == "preset must be one of \"windows\"; got \"linux\"");
  CHECK(at_line(diagnostics, 9).message ==
        "offset must be one of \"utc\", \"localtime\"; got \"variable\"");
  CHECK(at_line(diagnostics, 10).message.starts_with("rtc_tickpolicy must be one of \"delay\""));
  CHECK(at_line(diagnostics, 12).message ==
        "unknown key 'suspend_to_ram' in [vm.win.pm]; did you mean 'suspend_to_mem'?");
  CHECK(at_line(diagnostics, 13).message.find("'extra' in [vm.win.hyperv]") != std::string::npos);
  // Nothing wrong is kept.
  CHECK(desired.vms.at(0).attributes.empty());

  diagnostics.clear();
  load("[vm.win]\n[vm.win.hyperv]\nvendor_id = \"KVM,KVM\"\n", diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message == "vendor_id must not hold ',': libvirt refuses it");
}

TEST_CASE("the definition libvirt 9 writes back reads as the keys that made it", "[features]") {
  const std::string xml = testing::libvirt_fixture("qemu-windows.xml");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  std::map<std::string, std::string> read;
  for (const auto& [key, value] : live.vm.attributes)
    if (kFixtureAttributes.count(key) ||
        (key.find('.') != std::string::npos && !key.starts_with("memory_backing.")))
      read[key] = value;
  CHECK(read == kFixtureAttributes);
  // Nothing of <hyperv>, <kvm>, <clock> or <pm> is left unexpressed.
  for (const Diagnostic& warning : unexpressed) {
    INFO(warning.message);
    for (const char* part : {"hyperv", "kvm", "clock", "pm", "timer"})
      CHECK(warning.message.find(part) == std::string::npos);
  }
  // And none of them becomes a fragment.
  for (const XmlFragment& fragment : importable_fragments(xml)) {
    INFO(fragment.xml);
    CHECK(fragment.element.name != "hyperv");
    CHECK(fragment.element.name != "kvm");
    CHECK(fragment.element.name != "clock");
    CHECK(fragment.element.name != "pm");
  }
}

TEST_CASE("import writes the sub-tables, which read back to the same attributes", "[features]") {
  const std::string xml = testing::libvirt_fixture("qemu-windows.xml");
  ImportSource source{parse_domain_xml(xml), {}, importable_fragments(xml)};
  parse_domain_xml(xml, &source.unexpressed);
  Diagnostics warnings;
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  const std::string table = "[vm." + imported.vms.at(0).key;
  CHECK(toml.find("kvm_hidden = true\n") != std::string::npos);
  CHECK(toml.find(table + ".hyperv]\nrelaxed = true\nvapic = true\nspinlocks = 8191\n") !=
        std::string::npos);
  CHECK(toml.find("vendor_id = \"KVMKVMKVM\"\n") != std::string::npos);
  CHECK(toml.find(table + ".clock]\noffset = \"localtime\"\nrtc_tickpolicy = \"catchup\"\n") !=
        std::string::npos);
  CHECK(toml.find(table + ".pm]\nsuspend_to_mem = false\nsuspend_to_disk = false\n") !=
        std::string::npos);
  CHECK(toml.find("# not expressed") == std::string::npos);

  Diagnostics diagnostics;
  const Desired read = load_config_text(toml, "imported.toml", diagnostics);
  REQUIRE_FALSE(has_errors(diagnostics));
  // All but what a domain has when nothing sets it, which import leaves out.
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : imported.vms.at(0).attributes)
    if (value != find_vm_field(key)->unset) expected[key] = value;
  CHECK(read.vms.at(0).attributes == expected);
}

TEST_CASE("what a key does not set stays in the domain, and import names what no key says",
          "[features]") {
  const std::string by_hand =
      "<domain type='kvm'><name>win</name><memory unit='KiB'>1048576</memory>"
      "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
      "<features><acpi/><hyperv mode='custom'><relaxed state='on'/><evmcs state='on'/></hyperv>"
      "</features><clock offset='utc'><timer name='tsc' frequency='3000000000'/>"
      "<timer name='rtc' tickpolicy='catchup' track='guest'/></clock>"
      "<devices/></domain>";
  Vm vm = parse_domain_xml(by_hand).vm;
  vm.attributes = {{"hyperv.vapic", "true"}, {"clock.hpet", "false"}};
  std::string merged = merge_domain_xml(by_hand, vm);
  // As libvirt writes empty elements.
  for (auto at = merged.find(" />"); at != std::string::npos; at = merged.find(" />"))
    merged.replace(at, 3, "/>");
  INFO(merged);
  CHECK(merged.find("<relaxed state='on'/>") != std::string::npos);
  CHECK(merged.find("<evmcs state='on'/>") != std::string::npos);
  CHECK(merged.find("<vapic state='on'/>") != std::string::npos);
  CHECK(merged.find("<timer name='tsc' frequency='3000000000'/>") != std::string::npos);
  CHECK(merged.find("<timer name='rtc' tickpolicy='catchup' track='guest'/>") != std::string::npos);
  CHECK(merged.find("<timer name='hpet' present='no'/>") != std::string::npos);

  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(merged, &unexpressed);
  CHECK(live.vm.attributes.at("hyperv.relaxed") == "true");
  CHECK(live.vm.attributes.at("clock.rtc_tickpolicy") == "catchup");
  std::string named;
  for (const Diagnostic& warning : unexpressed) named += warning.message + "\n";
  CHECK_THAT(named, Catch::Contains("hyperv: <evmcs>") || Catch::Contains("hyperv: <evmcs "));
  CHECK_THAT(named, Catch::Contains("clock: <timer name='tsc'>"));
  CHECK_THAT(named, Catch::Contains("clock: timer name='rtc' track='guest'"));
}

TEST_CASE("a passthrough <hyperv> and a variable clock are no keys' and import as fragments",
          "[features]") {
  const std::string xml =
      "<domain type='kvm'><name>win</name><memory unit='KiB'>1048576</memory>"
      "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
      "<features><acpi/><hyperv mode='passthrough'><relaxed state='on'/></hyperv></features>"
      "<clock offset='variable' adjustment='3600' basis='utc'/><devices/></domain>";
  const LiveDomain live = parse_domain_xml(xml);
  CHECK(live.vm.attributes.count("hyperv.relaxed") == 0);
  CHECK(live.vm.attributes.count("clock.offset") == 0);
  std::set<std::string> names;
  for (const XmlFragment& fragment : importable_fragments(xml)) names.insert(fragment.element.name);
  CHECK(names.count("hyperv") == 1);
  CHECK(names.count("clock") == 1);

  // A key set on it takes the domain to libvirt's custom mode, the one that lists.
  Vm vm = live.vm;
  vm.attributes = {{"hyperv.vapic", "true"}};
  const LiveDomain merged = parse_domain_xml(merge_domain_xml(xml, vm));
  CHECK(merged.vm.attributes.at("hyperv.vapic") == "true");
  CHECK(merged.vm.attributes.at("hyperv.relaxed") == "true");
}

TEST_CASE("a fragment may declare <hyperv> or <clock> only while no key of its table is set",
          "[features]") {
  const std::string hyperv_fragment =
      "\n[[vm.win.xml]]\nxml = \"<features><hyperv><relaxed state='on'/></hyperv></features>\"\n";
  const std::string clock_fragment = "\n[[vm.win.xml]]\nxml = \"<clock offset='localtime'/>\"\n";
  for (const auto& [config, refused] : std::vector<std::pair<std::string, bool>>{
           {"[vm.win]\n" + hyperv_fragment, false},
           {"[vm.win]\n[vm.win.clock]\nhpet = false\n" + hyperv_fragment, false},
           {"[vm.win]\n[vm.win.hyperv]\nvapic = true\n" + hyperv_fragment, true},
           {"[vm.win]\n" + clock_fragment, false},
           // Not a clock the keys read, yet the keys would write into it.
           {"[vm.win]\n[vm.win.clock]\nhpet = false\n\n[[vm.win.xml]]\n"
            "xml = \"<clock offset='variable' basis='utc'/>\"\n",
            true},
           {"[vm.win]\n[vm.win.clock]\nhpet = false\n" + clock_fragment, true},
       }) {
    INFO(config);
    Diagnostics diagnostics;
    Desired desired = load_config_text(config, "win.toml", diagnostics);
    REQUIRE(diagnostics.empty());
    read_xml_fragments(desired, diagnostics);
    CHECK(diagnostics.size() == (refused ? 1u : 0u));
    if (refused)
      CHECK_THAT(diagnostics[0].message, Catch::Contains("conflicts with ") &&
                                             Catch::Contains(" in [vm.win.") &&
                                             Catch::Contains("which owns part of it"));
  }
}

}  // namespace virtform

namespace virtform {

// As virt-manager writes a new guest's <features> and libvirt 9 gives them back
// (`virsh dumpxml --inactive` on qemu:///system).
TEST_CASE("vmport and ioapic import as keys rather than fragments", "[features]") {
  const std::string xml =
      "<domain type='kvm'><name>vm</name><memory unit='KiB'>1048576</memory>"
      "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
      "<features>\n    <acpi/>\n    <apic/>\n    <vmport state='off'/>\n"
      "    <ioapic driver='kvm'/>\n  </features><devices/></domain>";
  const LiveDomain live = parse_domain_xml(xml);
  CHECK(live.vm.attributes.at("vmport") == "false");
  CHECK(live.vm.attributes.at("ioapic") == "kvm");
  for (const XmlFragment& fragment : importable_fragments(xml)) {
    INFO(fragment.xml);
    CHECK(fragment.element.name != "vmport");
    CHECK(fragment.element.name != "ioapic");
  }
  ImportSource source{live, {}, importable_fragments(xml)};
  Diagnostics warnings;
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("vmport = false\n") != std::string::npos);
  CHECK(toml.find("ioapic = \"kvm\"\n") != std::string::npos);
  CHECK(toml.find("# not expressed") == std::string::npos);

  // Declared the other way, both change in place and the rest of <features> stays.
  Vm vm = live.vm;
  vm.attributes["vmport"] = "true";
  vm.attributes["ioapic"] = "qemu";
  const std::string merged = merge_domain_xml(xml, vm);
  INFO(merged);
  CHECK(merged.find("<vmport state='on'") != std::string::npos);
  CHECK(merged.find("<ioapic driver='qemu'") != std::string::npos);
  CHECK(merged.find("<acpi") != std::string::npos);
  CHECK(parse_domain_xml(merged).vm.attributes == vm.attributes);
}

}  // namespace virtform
