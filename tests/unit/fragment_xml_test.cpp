// [[vm.X.xml]] through the whole pipeline against libvirt's test driver (the demo host): a
// fragment is created, matched canonically, updated and removed, and only what virtform wrote is
// ever taken out. The fragment pass's errors, and the subset match on its own.

#include "providers/libvirt/fragment_xml.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "engine/config/config.h"
#include "providers/libvirt/domain_xml.h"
#include "support/count_of.h"
#include "support/pipeline.h"

namespace virtform {
namespace {

struct DemoHost : testing::DemoHostCopy {
  DemoHost() : DemoHostCopy("virtform-fragment") {}

  // A small guest with `fragments` ([[vm.frag.xml]] tables, already in TOML) after it.
  Plan plan_with(const std::string& fragments) {
    const std::string config = dir.write_file(
        "frag.toml",
        "[vm.frag]\nname = \"vffragtest\"\ntype = \"qemu\"\nmemory = \"1GiB\"\n\n" + fragments);
    return plan(config);
  }

  std::string persistent_xml() {
    const auto domain = hypervisor->read_domain("vffragtest");
    REQUIRE(domain);
    return domain->xml;
  }
};

std::string fragment(const std::string& xml, const std::string& parent = "") {
  std::string table = "[[vm.frag.xml]]\n";
  if (!parent.empty()) table += "parent = \"" + parent + "\"\n";
  return table + "xml = \"" + xml + "\"\n\n";
}

const Change& vm_change(const Plan& plan) {
  for (const Change& change : plan.changes)
    if (change.address == "vm.frag") return change;
  FAIL("no vm.frag in the plan");
  throw;
}

std::string errors_of(const Plan& plan) {
  std::string text;
  for (const Diagnostic& diagnostic : plan.diagnostics)
    if (diagnostic.severity == Severity::error) text += format(diagnostic) + "\n";
  return text;
}

std::vector<std::string> field_names(const Change& change) {
  std::vector<std::string> names;
  for (const FieldChange& field : change.fields) names.push_back(field.field);
  return names;
}

using test::count_of;

Diagnostics read_fragments_of(const std::string& toml, Desired& desired) {
  Diagnostics diagnostics;
  desired = load_config_text(toml, "f.toml", diagnostics);
  read_xml_fragments(desired, diagnostics);
  return diagnostics;
}

}  // namespace

TEST_CASE(
    "a fragment is created, then matched: libvirt's address and attribute order are no change",
    "[fragment]") {
  DemoHost host;
  // Attributes out of libvirt's order, and blanks between elements.
  const std::string vsock =
      fragment("<vsock model='virtio'><cid address='3' auto='no'/></vsock>", "devices");
  const std::string hyperv = fragment(
      "<features>\\n  <hyperv mode='custom'>\\n    <relaxed state='on'/>\\n  "
      "</hyperv>\\n</features>");
  const Plan created = host.plan_with(vsock + hyperv);
  REQUIRE(errors_of(created).empty());
  CHECK(vm_change(created).action == Action::create);
  const auto names = field_names(vm_change(created));
  CHECK(std::count(names.begin(), names.end(), "xml[devices/vsock]") == 1);
  CHECK(std::count(names.begin(), names.end(), "xml[features/hyperv]") == 1);
  REQUIRE(host.apply(created));

  const std::string xml = host.persistent_xml();
  CHECK(xml.find("<cid auto='no' address='3'/>") != std::string::npos);
  CHECK(xml.find("<relaxed state='on'/>") != std::string::npos);
  // The marker records what virtform wrote.
  CHECK(count_of(xml, "<virtform:xml") == 2);

  const Plan again = host.plan_with(vsock + hyperv);
  INFO(xml);
  CHECK(vm_change(again).action == Action::none);
  CHECK(vm_change(again).fields.empty());
}

TEST_CASE("a changed fragment replaces what virtform wrote, and a removed one goes", "[fragment]") {
  DemoHost host;
  const std::string random = "<backend model='random'>/dev/random</backend>";
  REQUIRE(
      host.apply(host.plan_with(fragment("<rng model='virtio'>" + random + "</rng>", "devices"))));

  const Plan updated = host.plan_with(
      fragment("<rng model='virtio'><rate bytes='1024'/>" + random + "</rng>", "devices"));
  REQUIRE(errors_of(updated).empty());
  const Change& update = vm_change(updated);
  REQUIRE(update.fields.size() == 1);
  CHECK(update.fields[0].field == "xml[devices/rng]");
  CHECK(update.fields[0].before == "<rng model='virtio'>" + random + "</rng>");
  CHECK(update.fields[0].after == "<rng model='virtio'><rate bytes='1024'/>" + random + "</rng>");
  REQUIRE(host.apply(updated));
  std::string xml = host.persistent_xml();
  CHECK(count_of(xml, "<rng ") == 1);
  CHECK(xml.find("<rate bytes='1024'/>") != std::string::npos);

  const Plan removed = host.plan_with("");
  const Change& removal = vm_change(removed);
  REQUIRE(removal.fields.size() == 1);
  CHECK(removal.fields[0].after.empty());
  REQUIRE(host.apply(removed));
  xml = host.persistent_xml();
  CHECK(xml.find("<rng ") == std::string::npos);
  CHECK(xml.find("<virtform:xml") == std::string::npos);
  CHECK(vm_change(host.plan_with("")).action == Action::none);
}

TEST_CASE("removing a fragment takes out what virtform wrote, not a hand-made twin", "[fragment]") {
  Desired desired;
  REQUIRE(read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\nparent = \"devices\"\n"
                            "xml = \"<rng model='virtio'><backend model='random'>/dev/random"
                            "</backend></rng>\"\n",
                            desired)
              .empty());
  Vm vm = desired.vms[0];
  std::string xml = render_domain_xml(vm);
  const std::string by_hand =
      "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>";
  xml.insert(xml.find("</devices>"), by_hand);
  // Read back, the hand-made one is not virtform's fragment; the declared one is in place.
  LiveDomain live = parse_domain_xml(xml);
  REQUIRE(live.vm.xml.size() == 1);

  vm.xml.clear();
  const std::string merged = merge_domain_xml(xml, vm);
  CHECK(merged.find("/dev/random") == std::string::npos);
  CHECK(merged.find("/dev/urandom") != std::string::npos);
  CHECK(merged.find("<virtform:xml") == std::string::npos);
}

TEST_CASE("an element a key owns now stays when its fragment's record goes", "[fragment]") {
  // As a virtform that had no sound key wrote it, from a declared <sound> fragment.
  Vm vm;
  vm.key = "a";
  vm.name = "vffragowned";
  vm.xml = {XmlFragment{"devices", "<sound model='ich9'/>", {}, {}}};
  const std::string older = render_domain_xml(vm);
  REQUIRE(parse_domain_xml(older).vm.xml.size() == 1);

  // The fragment is no longer declared (the reader refuses it: sound is a key's). The plan
  // compares only what no key owns, so it shows no removal; nor may apply remove it.
  vm.xml.clear();
  const std::string merged = merge_domain_xml(older, vm);
  CHECK(merged.find("<sound model='ich9'") != std::string::npos);
  CHECK(merged.find("<virtform:xml") == std::string::npos);
}

TEST_CASE("a fragment outside <devices> replaces the element virtform's skeleton wrote",
          "[fragment]") {
  DemoHost host;
  const std::string clock = fragment("<clock offset='localtime'/>");
  REQUIRE(host.apply(host.plan_with(clock)));
  const std::string xml = host.persistent_xml();
  CHECK(count_of(xml, "<clock ") == 1);
  CHECK(xml.find("<clock offset='localtime'") != std::string::npos);
  CHECK(vm_change(host.plan_with(clock)).action == Action::none);
}

TEST_CASE("a fragment is refused when malformed, owned by a key or out of place, where it is",
          "[fragment]") {
  Desired desired;
  auto errors = read_fragments_of(
      "[vm.a]\n\n[[vm.a.xml]]\nparent = \"devices\"\nxml = \"<sound model='ich9'>\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.line == 5);
  CHECK_THAT(errors[0].message, Catch::Contains("not well-formed") &&
                                    Catch::Contains("line 1, column 20 of the fragment"));
  CHECK(desired.vms[0].xml.empty());

  for (const auto& [xml, key] : std::vector<std::pair<std::string, std::string>>{
           {"<memory unit='KiB'>1024</memory>", "memory"},
           {"<vcpu>2</vcpu>", "vcpus"},
           {"<os><loader type='pflash'>/x.fd</loader></os>", "firmware"},
           {"<devices><interface type='network'><source network='default'/></interface></devices>",
            "[[vm.a.nic]]"},
           {"<devices><hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' "
            "slot='0' function='0'/></source></hostdev></devices>",
            "[[vm.a.pci]]"},
           {"<on_crash>restart</on_crash>", "on_crash"},
           // A <cpu> without a model still replaces the one the cpu key writes.
           {"<cpu><topology sockets='1' cores='2' threads='1'/></cpu>", "cpu"},
           {"<os><loader type='rom'>/x.bin</loader></os>", "firmware"},
           {"<os><nvram>/x_VARS.fd</nvram></os>", "nvram"},
           {"<os><boot dev='cdrom'/></os>", "[[vm.a.disk]] (their order is the boot order)"},
       }) {
    INFO(xml);
    errors = read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\nxml = \"" + xml + "\"\n", desired);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0].message,
               Catch::Contains("[[vm.a.xml]]") && Catch::Contains("conflicts with " + key + ","));
  }

  errors =
      read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\nxml = \"<devices><a/><b/></devices>\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("wraps 2 elements"));
  errors = read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\nxml = \"<x:thing/>\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("qemu:"));
}

TEST_CASE("a fragment cannot be a container of fragments, the metadata or a default namespace",
          "[fragment]") {
  Desired desired;
  for (const auto& [table, what] : std::vector<std::pair<std::string, std::string>>{
           {"xml = \"<os firmware='efi'><bootmenu enable='yes'/></os>\"", "<os> with attributes"},
           {"xml = \"<features foo='1'><acpi/></features>\"", "<features> with attributes"},
           {"xml = \"<domain type='kvm'><clock offset='utc'/></domain>\"",
            "<domain> with attributes"},
           {"parent = \"devices\"\nxml = \"<devices><sound model='ich9'/></devices>\"",
            "nests <devices> under 'devices'"},
           {"xml = \"<devices><devices><sound/></devices></devices>\"",
            "nests <devices> under 'devices'"},
           {"xml = \"<metadata><x/></metadata>\"", "virtform's marker"},
           {"xml = \"<thing xmlns='urn:x'/>\"", "declares xmlns='urn:x'"},
       }) {
    INFO(table);
    const auto errors = read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\n" + table + "\n", desired);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0].message, Catch::Contains("[[vm.a.xml]]") && Catch::Contains(what));
    CHECK(desired.vms[0].xml.empty());
  }
}

TEST_CASE("<smm> is secure_boot's when the VM turns Secure Boot on", "[fragment]") {
  Desired desired;
  const std::string smm = "[[vm.a.xml]]\nxml = \"<features><smm state='off'/></features>\"\n";
  auto errors =
      read_fragments_of("[vm.a]\nfirmware = \"uefi\"\nsecure_boot = true\n\n" + smm, desired);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("<smm> conflicts with secure_boot"));
  CHECK(desired.vms[0].xml.empty());
  errors = read_fragments_of("[vm.a]\n\n" + smm, desired);
  CHECK(errors.empty());
  CHECK(desired.vms[0].xml.size() == 1);
}

TEST_CASE("a removed fragment takes the element that is exactly it, not a richer twin before it",
          "[fragment]") {
  Desired desired;
  const std::string random = "<backend model='random'>/dev/random</backend>";
  REQUIRE(read_fragments_of("[vm.a]\n\n[[vm.a.xml]]\nparent = \"devices\"\n"
                            "xml = \"<rng model='virtio'>" +
                                random + "</rng>\"\n",
                            desired)
              .empty());
  Vm vm = desired.vms[0];
  std::string xml = render_domain_xml(vm);
  // Made by hand, first under <devices>: it contains the fragment too.
  const std::string by_hand = "<rng model='virtio'><rate bytes='1024'/>" + random + "</rng>";
  const std::string devices = "<devices>";
  xml.insert(xml.find(devices) + devices.size(), by_hand);
  vm.xml.clear();
  const std::string merged = merge_domain_xml(xml, vm);
  INFO(merged);
  CHECK(count_of(merged, "<rng ") == 1);
  CHECK(merged.find("<rate bytes='1024'") != std::string::npos);
}

TEST_CASE("import keeps the address inside a device's <source>, not the device's own",
          "[fragment]") {
  Desired desired;
  REQUIRE(read_fragments_of("[vm.a]\n", desired).empty());
  std::string xml = render_domain_xml(desired.vms[0]);
  xml.insert(xml.find("</devices>"),
             "<hostdev mode='subsystem' type='scsi' managed='no'><source>"
             "<adapter name='scsi_host0'/><address bus='0' target='0' unit='4'/></source>"
             "<alias name='hostdev0'/>"
             "<address type='drive' controller='0' bus='0' target='0' unit='1'/></hostdev>");
  bool found = false;
  for (const XmlFragment& fragment : importable_fragments(xml)) {
    if (fragment.element.name != "hostdev") continue;
    found = true;
    CHECK(fragment.xml.find("<address bus='0' target='0' unit='4'/></source>") !=
          std::string::npos);
    CHECK(fragment.xml.find("controller=") == std::string::npos);
    CHECK(fragment.xml.find("alias") == std::string::npos);
  }
  CHECK(found);
}

TEST_CASE("a new domain's disks keep clear of the targets its fragments' disks take",
          "[fragment]") {
  Desired desired;
  REQUIRE(read_fragments_of(
              "[vm.a]\n\n[[vm.a.disk]]\nfile = \"/x.img\"\nbus = \"sata\"\n\n"
              "[[vm.a.xml]]\nparent = \"devices\"\nxml = \"<disk type='block' device='cdrom'>"
              "<source dev='/dev/sr0'/><target dev='sda' bus='sata'/><readonly/></disk>\"\n",
              desired)
              .empty());
  const std::string xml = render_domain_xml(desired.vms[0]);
  INFO(xml);
  pugi::xml_document document;
  REQUIRE(document.load_string(xml.c_str()));
  std::set<std::string> targets;
  std::size_t disks = 0;
  for (pugi::xml_node disk : document.child("domain").child("devices").children("disk")) {
    ++disks;
    targets.insert(disk.child("target").attribute("dev").as_string());
  }
  CHECK(disks == 2);
  CHECK(targets.size() == 2);
}

TEST_CASE(
    "the host's own optical drive which no key reads may be a fragment; a wrapper names "
    "the parent",
    "[fragment]") {
  Desired desired;
  const auto errors = read_fragments_of(
      "[vm.a]\n\n[[vm.a.xml]]\nxml = \"<devices><disk type='block' device='cdrom'>"
      "<source dev='/dev/sr0'/><target dev='sda' bus='sata'/><readonly/></disk></devices>\"\n",
      desired);
  CHECK(errors.empty());
  REQUIRE(desired.vms[0].xml.size() == 1);
  CHECK(desired.vms[0].xml[0].parent == "devices");
  CHECK(desired.vms[0].xml[0].path() == "devices/disk");
}

TEST_CASE("a CD-ROM drive with an ISO as a fragment is refused and named as a disk key",
          "[fragment]") {
  Desired desired;
  const auto errors = read_fragments_of(
      "[vm.a]\n\n[[vm.a.xml]]\nxml = \"<devices><disk type='file' device='cdrom'>"
      "<source file='/x.iso'/><target dev='sda' bus='sata'/><readonly/></disk></devices>\"\n",
      desired);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::Contains("[[vm.a.disk]] device = \"cdrom\""));
}

TEST_CASE("the subset match: what the fragment states, in any order, with libvirt's additions",
          "[fragment]") {
  const XmlElement wanted{
      "sound", {{"model", "ich9"}}, "", {{"codec", {{"type", "micro"}}, "", {}}}};
  XmlElement live{"sound",
                  {{"model", "ich9"}},
                  "",
                  {{"address", {{"type", "pci"}}, "", {}},
                   {"alias", {{"name", "sound0"}}, "", {}},
                   {"codec", {{"type", "micro"}}, "", {}}}};
  CHECK(contains(live, wanted));
  live.children.pop_back();
  CHECK_FALSE(contains(live, wanted));
  CHECK_FALSE(contains(XmlElement{"sound", {{"model", "ac97"}}, "", {}}, wanted));
}

}  // namespace virtform
