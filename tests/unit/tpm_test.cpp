// [vm.X.tpm], beyond what vm_fields_test.cpp holds every row to: the TPM libvirt 9 writes back
// (tests/fixtures/libvirt/qemu-extras.xml, and a running guest's with its alias), the TPM a new
// key adds, the checks across its keys and against the host, and that the TPM goes only when
// virtform wrote it, with its state left on the host and the plan saying so.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "support/loaded_config.h"
#include "support/plan_changes.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::field_of;
using testing::formatted;
using testing::load_config_from;
using testing::read_file;
using testing::vm_change;

std::string domain_with(const std::string& devices) {
  return "<domain type='qemu'><name>vm</name><memory unit='KiB'>1048576</memory>"
         "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>" +
         devices + "</devices></domain>";
}

std::map<std::string, std::string> tpm_attributes(const Vm& vm) {
  std::map<std::string, std::string> tpm;
  for (const auto& [key, value] : vm.attributes)
    if (key.starts_with("tpm.")) tpm[key] = value;
  return tpm;
}

}  // namespace

TEST_CASE("a TPM reads back as libvirt 9 writes it and imports as keys", "[tpm]") {
  const std::string xml = testing::libvirt_fixture("qemu-extras.xml");
  const LiveDomain live = parse_domain_xml(xml);
  CHECK(tpm_attributes(live.vm) == std::map<std::string, std::string>{
                                       {"tpm.model", "tpm-crb"},
                                       {"tpm.backend", "emulator"},
                                       {"tpm.version", "2.0"},
                                   });
  // The running definition's alias is libvirt's, and a passthrough TPM has no version.
  const LiveDomain running = parse_domain_xml(
      domain_with("<tpm model='tpm-crb'>\n  <backend type='emulator' version='2.0'/>\n"
                  "  <alias name='tpm0'/>\n</tpm>"));
  CHECK(tpm_attributes(running.vm) == tpm_attributes(live.vm));
  const LiveDomain passthrough = parse_domain_xml(domain_with(
      "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend>"
      "</tpm>"));
  CHECK(tpm_attributes(passthrough.vm) == std::map<std::string, std::string>{
                                              {"tpm.model", "tpm-tis"},
                                              {"tpm.backend", "passthrough"},
                                              {"tpm.device", "/dev/tpm0"},
                                          });

  Diagnostics warnings;
  ImportSource source{parse_domain_xml(xml, &warnings), {}, {}};
  const std::string toml =
      render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
  INFO(toml);
  CHECK(toml.find("[vm.vfxmltest-extras.tpm]\nmodel = \"tpm-crb\"\nbackend = \"emulator\"\n"
                  "version = \"2.0\"\n") != std::string::npos);
  CHECK(toml.find("devices/tpm") == std::string::npos);
}

TEST_CASE("a TPM virtform adds is an emulated 2.0 one on the CRB interface", "[tpm]") {
  Vm vm = load_config_from("[vm.a]\n[vm.a.tpm]\nmodel = \"tpm-crb\"\n", "a.toml").vm();
  const std::string rendered = render_domain_xml(vm);
  INFO(rendered);
  const LiveDomain defined = parse_domain_xml(rendered);
  CHECK(tpm_attributes(defined.vm) == std::map<std::string, std::string>{
                                          {"tpm.model", "tpm-crb"},
                                          {"tpm.backend", "emulator"},
                                          {"tpm.version", "2.0"},
                                      });
  CHECK(rendered.find("<virtform:tpm") != std::string::npos);
  CHECK(defined.recorded_tpm);

  // Passed through instead: the emulator's version goes, the device comes.
  vm.attributes["tpm.backend"] = "passthrough";
  vm.attributes["tpm.device"] = "/dev/tpm0";
  const std::string merged = merge_domain_xml(rendered, vm);
  INFO(merged);
  CHECK(merged.find("version=") == std::string::npos);
  CHECK(tpm_attributes(parse_domain_xml(merged).vm) == tpm_attributes(vm));

  // A 1.2 TPM on TIS, and back to the CRB interface, which is 2.0's only.
  Vm old = vm;
  old.attributes = {{"tpm.model", "tpm-tis"}, {"tpm.version", "1.2"}};
  const std::string tis = merge_domain_xml(rendered, old);
  CHECK(parse_domain_xml(tis).vm.attributes.at("tpm.version") == "1.2");
  old.attributes = {{"tpm.model", "tpm-crb"}};
  CHECK(parse_domain_xml(merge_domain_xml(tis, old)).vm.attributes.at("tpm.version") == "2.0");
}

TEST_CASE("TPM keys that do not go together are refused at their key", "[tpm]") {
  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"version = \"1.2\"\n",
            "version = \"1.2\" needs model = \"tpm-tis\" in [vm.a.tpm]: the CRB interface exists "
            "only in TPM 2.0"},
           {"backend = \"passthrough\"\n",
            "backend = \"passthrough\" needs the host's TPM: set device = \"/dev/tpm0\""},
           {"device = \"/dev/tpm0\"\n",
            "device is the host TPM a passed-through TPM uses: set backend = \"passthrough\""},
           {"device = \"tpm0\"\n", "device must be an absolute path on the host"},
           {"version = \"2.0\"\nbackend = \"passthrough\"\ndevice = \"/dev/tpm0\"\n",
            "version is the emulator's"},
           {"model = \"tpm-spapr\"\n", "model must be one of \"tpm-crb\", \"tpm-tis\""},
       }) {
    INFO(lines);
    const auto loaded = load_config_from("[vm.a]\n[vm.a.tpm]\n" + lines, "a.toml");
    INFO(formatted(loaded.diagnostics));
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message.find(message) != std::string::npos);
    CHECK(loaded.diagnostics[0].where.line == 3);
  }
}

TEST_CASE("a passed-through TPM must be on the host", "[tpm]") {
  testing::DemoHostCopy host("virtform-tpm");
  const std::string config = host.dir.write_file(
      "a.toml",
      "[vm.a]\nname = \"vftpmtest\"\ntype = \"qemu\"\n[vm.a.tpm]\nbackend = \"passthrough\"\n"
      "device = \"/dev/tpm0\"\n");
  const Plan missing = host.plan(config);
  INFO(formatted(missing.diagnostics));
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(missing.diagnostics[0].message.starts_with("TPM device /dev/tpm0 does not exist"));
  CHECK(missing.diagnostics[0].where.line == 6);

  std::filesystem::create_directories(host.root + "/dev");
  std::ofstream(host.root + "/dev/tpm0").put('\0');
  const Plan present = host.plan(config);
  INFO(formatted(present.diagnostics));
  CHECK_FALSE(has_errors(present.diagnostics));
}

TEST_CASE("a TPM virtform wrote goes with its table and its state stays", "[tpm]") {
  testing::DemoHostCopy host("virtform-tpm");
  const std::string base = "[vm.a]\nname = \"vftpmtest\"\ntype = \"qemu\"\n";
  const std::string with_tpm =
      host.dir.write_file("a.toml", base + "[vm.a.tpm]\nmodel = \"tpm-crb\"\n");
  const Plan created = host.plan(with_tpm);
  REQUIRE_FALSE(has_errors(created.diagnostics));
  REQUIRE(host.apply(created));
  for (const Change& change : host.plan(with_tpm).changes) CHECK(change.fields.empty());

  const std::string without = host.dir.write_file("a.toml", base);
  const Plan removal = host.plan(without);
  const Change& change = vm_change(removal);
  const FieldChange* tpm = field_of(change, "tpm");
  REQUIRE(tpm);
  CHECK(tpm->before == "tpm-crb, emulator 2.0");
  CHECK(tpm->after.empty());
  const auto domain = host.hypervisor->read_domain("vftpmtest");
  REQUIRE(domain);
  CHECK(change.reason.find("the TPM's state stays on the host in /var/lib/libvirt/swtpm/" +
                           domain->uuid) != std::string::npos);
  REQUIRE(host.apply(removal));
  const auto after = host.hypervisor->read_domain("vftpmtest");
  REQUIRE(after);
  CHECK(after->xml.find("<tpm") == std::string::npos);
  CHECK_FALSE(after->recorded_tpm);
  for (const Change& again : host.plan(without).changes) CHECK(again.fields.empty());

  // Declared again, it comes back.
  host.dir.write_file("a.toml", base + "[vm.a.tpm]\nmodel = \"tpm-crb\"\n");
  const Plan again = host.plan(with_tpm);
  CHECK(field_of(vm_change(again), "tpm.model"));
  REQUIRE(host.apply(again));
  CHECK(host.hypervisor->read_domain("vftpmtest")->xml.find("<tpm") != std::string::npos);
}

TEST_CASE("a TPM the domain had before virtform stays while no key is set", "[tpm]") {
  const std::string xml = testing::libvirt_fixture("qemu-extras.xml");
  Vm adopted = parse_domain_xml(xml).vm;
  adopted.attributes.erase("tpm.model");
  adopted.attributes.erase("tpm.backend");
  adopted.attributes.erase("tpm.version");
  const std::string merged = merge_domain_xml(xml, adopted);
  CHECK(merged.find("<tpm model='tpm-crb'>") != std::string::npos);
  CHECK_FALSE(parse_domain_xml(merged).recorded_tpm);
}

}  // namespace virtform
