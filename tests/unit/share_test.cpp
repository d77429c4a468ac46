// [[vm.X.share]] and [vm.X.memory_backing]: what the config refuses, the <filesystem> libvirt 9
// writes back (tests/fixtures/libvirt/qemu-shares.xml, `virsh dumpxml --inactive` of such a
// guest on qemu:///system), the list owned as a collection, and import of such a guest.

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
using testing::read_file;
using testing::vm_change;

constexpr char kSharedMemory[] = "[vm.a.memory_backing]\nsource = \"memfd\"\naccess = \"shared\"\n";

}  // namespace

TEST_CASE("a share needs shared memory and a tag of its own", "[share]") {
  testing::check_refusals({
      {"[[vm.a.share]]\nsource = \"/srv\"\ntag = \"srv\"\n", 2,
       "a virtiofs share needs the guest's memory shared with virtiofsd: set source = "
       "\"memfd\" and access = \"shared\" in [vm.a.memory_backing]"},
      {std::string(kSharedMemory) + "[[vm.a.share]]\nsource = \"/srv\"\ntag = \"srv\"\n" +
           "[[vm.a.share]]\nsource = \"/home\"\ntag = \"srv\"\n",
       8,
       "the share tag \"srv\" is declared at vm.toml:5:1 already: give each share a tag of its "
       "own"},
      {std::string(kSharedMemory) + "[[vm.a.share]]\nsource = \"srv\"\ntag = \"srv\"\n", 6,
       "source must be an absolute path on the host"},
      {std::string(kSharedMemory) + "[[vm.a.share]]\nsource = \"/srv\"\n", 5,
       "needs tag = \"...\", the name the guest mounts it by"},
      {std::string(kSharedMemory) + "[[vm.a.share]]\nsource = \"/srv\"\ntag = \"" +
           std::string(37, 't') + "\"\n",
       7, "tag must be at most 36 bytes"},
      {std::string(kSharedMemory) +
           "[[vm.a.share]]\nsource = \"/srv\"\ntag = \"srv\"\nreadonly = true\n",
       8, "readonly = true is refused by libvirt 9.0"},
  });
}

TEST_CASE("a share reads back as libvirt 9 writes it and imports as a share", "[share]") {
  const std::string xml = testing::libvirt_fixture("qemu-shares.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  REQUIRE(live.vm.shares.size() == 1);
  CHECK(live.vm.shares[0].source == "/srv/media");
  CHECK(live.vm.shares[0].tag == "media");
  CHECK_FALSE(live.vm.shares[0].readonly);
  CHECK(live.vm.attributes.at("memory_backing.source") == "memfd");
  CHECK(live.vm.attributes.at("memory_backing.access") == "shared");
  INFO(formatted(warnings));
  // The 9p filesystem beside it is no share: named, and left in the domain.
  CHECK(formatted(warnings).find("devices/filesystem type='mount' with driver 'path'") !=
        std::string::npos);

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[[vm.vfxmltest-shares.share]]\nsource = \"/srv/media\"\ntag = \"media\"\n") !=
        std::string::npos);
  CHECK(toml.find("[vm.vfxmltest-shares.memory_backing]\nsource = \"memfd\"\naccess = "
                  "\"shared\"\n") != std::string::npos);

  // Merged back unchanged, the 9p filesystem stays and so does the share's address.
  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.shares == live.vm.shares);
  CHECK(merged.find("/srv/9p") != std::string::npos);
  CHECK(merged.find("0x07") != std::string::npos);
}

TEST_CASE("shares are a list owned as a whole and change at the next boot", "[share]") {
  testing::DemoHostCopy host("virtform-share");
  std::filesystem::create_directories(host.root + "/srv/media");
  std::filesystem::create_directories(host.root + "/srv/photos");
  const std::string base =
      "[vm.a]\nname = \"vfsharetest\"\ntype = \"qemu\"\n" + std::string(kSharedMemory);
  const std::string share = "[[vm.a.share]]\nsource = \"/srv/media\"\ntag = \"media\"\n";
  const std::string config = host.dir.write_file("a.toml", base + share);
  const Plan created = host.plan(config);
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  REQUIRE(host.apply(created));
  for (const Change& change : host.plan(config).changes) CHECK(change.fields.empty());

  // Pointed elsewhere, and a second one.
  const std::string moved = host.dir.write_file(
      "a.toml", base + "[[vm.a.share]]\nsource = \"/srv/photos\"\ntag = \"media\"\n" +
                    "[[vm.a.share]]\nsource = \"/srv/media\"\ntag = \"other\"\n");
  const Plan changed = host.plan(moved);
  const Change& change = vm_change(changed);
  REQUIRE(field_of(change, "share[media]"));
  CHECK(field_of(change, "share[media]")->before == "/srv/media");
  CHECK(field_of(change, "share[media]")->after == "/srv/photos");
  REQUIRE(field_of(change, "share[other]"));
  REQUIRE(host.apply(changed));
  const auto domain = host.hypervisor->read_domain("vfsharetest");
  REQUIRE(domain);
  REQUIRE(domain->vm.shares.size() == 2);
  CHECK(domain->vm.shares[0].source == "/srv/photos");

  // Taken out of the config, shares leave the definition.
  const std::string none = host.dir.write_file("a.toml", base);
  const Plan removal = host.plan(none);
  CHECK(field_of(vm_change(removal), "share[other]"));
  REQUIRE(host.apply(removal));
  CHECK(host.hypervisor->read_domain("vfsharetest")->vm.shares.empty());
}

TEST_CASE("a share's source must be a directory on the host", "[share]") {
  testing::DemoHostCopy host("virtform-share");
  const std::string config = host.dir.write_file(
      "a.toml", "[vm.a]\nname = \"vfsharetest\"\ntype = \"qemu\"\n" + std::string(kSharedMemory) +
                    "[[vm.a.share]]\nsource = \"/srv/missing\"\ntag = \"media\"\n");
  const Plan plan = host.plan(config);
  INFO(formatted(plan.diagnostics));
  REQUIRE(plan.diagnostics.size() == 1);
  CHECK(plan.diagnostics[0].message ==
        "share source /srv/missing does not exist; create the directory first");
  CHECK(plan.diagnostics[0].where.line == 7);
}

}  // namespace virtform
