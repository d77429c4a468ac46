// [vm.X.cpu] and vcpus_max beyond what vm_fields_test.cpp holds every row to: the checks across
// keys, the one-string `cpu`, the domain XML libvirt 9 writes back (tests/fixtures/libvirt/
// qemu-cpu.xml, `virsh dumpxml --inactive` of such a guest on qemu:///system), and import.

#include <catch2/catch.hpp>

#include "engine/config/config.h"
#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::read_file;

Vm load_vm(const std::string& toml) {
  Diagnostics diagnostics;
  const Desired desired = load_config_text(toml, "cpu.toml", diagnostics);
  INFO(toml);
  for (const Diagnostic& d : diagnostics) INFO(d.message);
  REQUIRE(diagnostics.empty());
  REQUIRE(desired.vms.size() == 1);
  return desired.vms[0];
}

// The one diagnostic the text gets.
Diagnostic refusal(const std::string& toml) {
  Diagnostics diagnostics;
  load_config_text(toml, "cpu.toml", diagnostics);
  INFO(toml);
  for (const Diagnostic& d : diagnostics) INFO(d.message);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].severity == Severity::error);
  return diagnostics[0];
}

std::string imported_toml(const std::string& xml) {
  ImportSource source{parse_domain_xml(xml), {}, {}};
  Diagnostics warnings;
  return render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
}

// The fixture's guest with `rows` set, and the fixture with them merged in.
std::pair<Vm, std::string> fixture_with(const std::map<std::string, std::string>& rows) {
  const std::string xml = testing::libvirt_fixture("qemu-cpu.xml");
  Vm vm = parse_domain_xml(xml).vm;
  for (const auto& [key, value] : rows) vm.attributes[key] = value;
  return {vm, merge_domain_xml(xml, vm)};
}

}  // namespace

TEST_CASE("a topology fills the keys it leaves out with 1 and must hold the guest's vCPUs",
          "[cpu]") {
  const Vm vm = load_vm(
      "[vm.g]\nvcpus = 8\n[vm.g.cpu]\nmode = \"host-passthrough\"\n"
      "cores = 4\nthreads = 2\n");
  CHECK(vm.attributes == std::map<std::string, std::string>{{"cpu.mode", "host-passthrough"},
                                                            {"cpu.sockets", "1"},
                                                            {"cpu.dies", "1"},
                                                            {"cpu.cores", "4"},
                                                            {"cpu.threads", "2"}});

  const Diagnostic wrong = refusal("[vm.g]\nvcpus = 6\n[vm.g.cpu]\ncores = 4\nthreads = 2\n");
  CHECK(wrong.message ==
        "the CPU topology holds sockets × dies × cores × threads = 1 × 1 × 4 × 2 = 8 vCPUs, but "
        "vcpus = 6: set vcpus = 8, or a topology in [vm.g.cpu] whose product is 6");
  CHECK(wrong.where.line == 4);  // at cores, the first key of the topology set

  const Diagnostic against_max =
      refusal("[vm.g]\nvcpus = 2\nvcpus_max = 4\n[vm.g.cpu]\nsockets = 2\ncores = 1\n");
  CHECK(against_max.message.find("= 2 vCPUs, but vcpus_max = 4: set vcpus_max = 2") !=
        std::string::npos);
  CHECK(against_max.where.line == 5);
}

TEST_CASE("a custom mode needs its model and a model needs the custom mode", "[cpu]") {
  CHECK(refusal("[vm.g.cpu]\nmode = \"custom\"\n").message ==
        "mode = \"custom\" needs the model it names: set model = \"...\" in [vm.g.cpu] "
        "(\"Haswell-noTSX\", \"EPYC\", ...), or another mode");
  const Diagnostic model = refusal("[vm.g.cpu]\nmode = \"host-model\"\nmodel = \"EPYC\"\n");
  CHECK(model.message ==
        "model = \"EPYC\" is the CPU of mode = \"custom\", not of \"host-model\": set mode = "
        "\"custom\" in [vm.g.cpu], or leave model out");
  CHECK(model.where.line == 3);
  CHECK(refusal("[vm.g.cpu]\nmode = \"host\"\n").message.starts_with("mode must be one of"));
  CHECK(refusal("[vm.g.cpu]\nsockets = 0\n").message ==
        "sockets must be between 1 and 4096; got 0");
}

TEST_CASE("cpu as one string is the mode, or a custom model", "[cpu]") {
  CHECK(load_vm("[vm.g]\ncpu = \"maximum\"\n").attributes ==
        std::map<std::string, std::string>{{"cpu.mode", "maximum"}});
  CHECK(load_vm("[vm.g]\ncpu = \"Haswell-noTSX\"\n").attributes ==
        std::map<std::string, std::string>{{"cpu.mode", "custom"}, {"cpu.model", "Haswell-noTSX"}});
  CHECK(refusal("[vm.g]\ncpu = 4\n").message.find("cpu") != std::string::npos);
  // An empty or broken string is refused at the key, as any text key is.
  const Diagnostic empty = refusal("[vm.g]\ncpu = \"\"\n");
  CHECK(empty.message == "cpu must not be empty");
  CHECK(empty.where.line == 2);
  CHECK(refusal("[vm.g]\ncpu = \"host-passthrough\\nx\"\n").message == "cpu must be one line");
}

TEST_CASE("vcpus_max is at least vcpus", "[cpu]") {
  const Vm vm = load_vm("[vm.g]\nvcpus = 2\nvcpus_max = 4\n");
  CHECK(vm.vcpus == 2);
  CHECK(vm.vcpus_max == 4u);
  const Diagnostic fewer = refusal("[vm.g]\nvcpus = 4\nvcpus_max = 2\n");
  CHECK(fewer.message ==
        "vcpus_max = 2 is less than vcpus = 4: set vcpus_max = 4 or more, or fewer vcpus");
  CHECK(fewer.where.line == 3);
}

TEST_CASE("the CPU libvirt 9 writes back reads as its keys and imports as them", "[cpu]") {
  const std::string xml = testing::libvirt_fixture("qemu-cpu.xml");
  const Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.vcpus == 4);
  CHECK(vm.vcpus_max == 8u);
  CHECK(vm.attributes.at("cpu.mode") == "host-passthrough");
  CHECK(vm.attributes.at("cpu.sockets") == "1");
  CHECK(vm.attributes.at("cpu.dies") == "1");
  CHECK(vm.attributes.at("cpu.cores") == "4");
  CHECK(vm.attributes.at("cpu.threads") == "2");
  CHECK(vm.attributes.count("cpu.model") == 0);

  const std::string toml = imported_toml(xml);
  INFO(toml);
  CHECK(toml.find("vcpus = 4\nvcpus_max = 8\n") != std::string::npos);
  CHECK(toml.find("\niothreads = 2\n") != std::string::npos);
  CHECK(toml.find("<iothreads>") == std::string::npos);  // a key, not a fragment
  CHECK(
      toml.find("[vm.vfxmltest-cpu.cpu]\nmode = \"host-passthrough\"\ncores = 4\nthreads = 2\n") !=
      std::string::npos);
  // check='none' and migratable='on' are libvirt's own for host-passthrough.
  CHECK(toml.find("check=") == std::string::npos);
  CHECK(toml.find("migratable") == std::string::npos);

  // What import wrote is what the domain has: merged back, nothing in <cpu> or <vcpu> changes.
  const Vm declared = load_vm(toml);
  const std::string merged = merge_domain_xml(xml, declared);
  INFO(merged);
  CHECK(merged.find("<cpu mode='host-passthrough' check='none' migratable='on'>") !=
        std::string::npos);
  CHECK(merged.find("<vcpu placement='static' current='4'>8</vcpu>") != std::string::npos);
  CHECK(parse_domain_xml(merged).vm.attributes == vm.attributes);
}

TEST_CASE("a new mode takes what the old one had beside it away", "[cpu]") {
  auto [vm, custom] = fixture_with({{"cpu.mode", "custom"}, {"cpu.model", "EPYC"}});
  INFO(custom);
  CHECK(custom.find("<cpu mode='custom' match='exact'>") != std::string::npos);
  CHECK(custom.find("<model fallback='allow'>EPYC</model>") != std::string::npos);
  CHECK(custom.find("<topology sockets='1' dies='1' cores='4' threads='2' />") !=
        std::string::npos);
  CHECK(parse_domain_xml(custom).vm.attributes == vm.attributes);

  vm.attributes["cpu.mode"] = "maximum";
  vm.attributes.erase("cpu.model");
  const std::string maximum = merge_domain_xml(custom, vm);
  INFO(maximum);
  CHECK(maximum.find("<cpu mode='maximum' check='none'>") != std::string::npos);
  CHECK(maximum.find("<model fallback") == std::string::npos);
  CHECK(parse_domain_xml(maximum).vm.attributes == vm.attributes);
}

TEST_CASE("a topology without a model reads as no mode", "[cpu]") {
  const Vm vm = parse_domain_xml(
                    "<domain type='qemu'><name>t</name><vcpu>4</vcpu>"
                    "<cpu mode='custom' match='exact' check='none'>"
                    "<topology sockets='1' dies='1' cores='4' threads='1'/></cpu></domain>")
                    .vm;
  CHECK(vm.attributes.count("cpu.mode") == 0);
  CHECK(vm.attributes.at("cpu.cores") == "4");
}

}  // namespace virtform

namespace virtform {

TEST_CASE("feature lists are kept sorted and a name in both is refused", "[cpu]") {
  const Vm vm = load_vm(
      "[vm.g.cpu.features]\nrequire = [\"topoext\", \"invtsc\"]\ndisable = [\"hypervisor\"]\n");
  CHECK(vm.attributes.at("cpu.features.require") == "invtsc, topoext");
  CHECK(vm.attributes.at("cpu.features.disable") == "hypervisor");

  const Diagnostic both = refusal(
      "[vm.g.cpu.features]\nrequire = [\"svm\", \"topoext\"]\ndisable = [\"svm\", "
      "\"hypervisor\"]\n");
  CHECK(both.message ==
        "disable names svm, which require names too: take each out of one of the lists in "
        "[vm.g.cpu.features]");
  CHECK(both.where.line == 3);
  CHECK(refusal("[vm.g.cpu.features]\nrequire = []\n").message ==
        "require = [] names nothing: name one, or leave require out");
  CHECK(refusal("[vm.g.cpu.features]\nrequire = [\"svm\", \"svm\"]\n").message ==
        "require names \"svm\" twice");
  CHECK(
      refusal("[vm.g.cpu.features]\nrequire = [\"SVM\"]\n")
          .message.starts_with("require holds \"SVM\", which is no name libvirt gives a feature"));
  CHECK(refusal("[vm.g.cpu.features]\nrequire = \"svm\"\n").message ==
        "require must be a list of names such as [\"topoext\"] (got a string)");
  CHECK(refusal("[vm.g.cpu.features]\nrequires = [\"svm\"]\n")
            .message.find("did you mean 'require'?") != std::string::npos);
}

TEST_CASE("the features libvirt 9 writes back read in any order and import as the lists", "[cpu]") {
  const std::string xml = testing::libvirt_fixture("qemu-cpu.xml");
  const Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.attributes.at("cpu.features.require") == "invtsc, topoext");
  CHECK(vm.attributes.at("cpu.features.disable") == "hypervisor");

  const std::string toml = imported_toml(xml);
  INFO(toml);
  CHECK(toml.find("[vm.vfxmltest-cpu.cpu.features]\nrequire = [\"invtsc\", \"topoext\"]\n"
                  "disable = [\"hypervisor\"]\n") != std::string::npos);
  CHECK(toml.find("# not expressed") == std::string::npos);
  const Vm declared = load_vm(toml);
  for (const char* key : {"cpu.features.require", "cpu.features.disable"})
    CHECK(declared.attributes.at(key) == vm.attributes.at(key));
}

TEST_CASE("a feature list owns its policy's features and moves one from another policy", "[cpu]") {
  const auto [vm, merged] = fixture_with(
      {{"cpu.features.require", "svm, topoext"}, {"cpu.features.disable", "hypervisor, invtsc"}});
  INFO(merged);
  CHECK(parse_domain_xml(merged).vm.attributes == vm.attributes);
  CHECK(merged.find("<feature policy='disable' name='invtsc' />") != std::string::npos);
  CHECK(merged.find("name='invtsc'") == merged.rfind("name='invtsc'"));

  // A feature of a policy no list has is the guest's to keep.
  const std::string forced = merge_domain_xml(
      "<domain type='qemu'><name>t</name><vcpu>1</vcpu><cpu mode='host-passthrough'>"
      "<feature policy='force' name='pcid'/><feature policy='require' name='svm'/></cpu></domain>",
      vm);
  INFO(forced);
  CHECK(forced.find("<feature policy='force' name='pcid' />") != std::string::npos);
  CHECK(forced.find("<feature policy='require' name='svm' />") != std::string::npos);
}

}  // namespace virtform
