// [[vm.X.xml]] against the real libvirtd: a <qemu:commandline> and a device fragment are created,
// read back with libvirt's own additions (an <address>, its attribute order) and plan no change;
// a changed fragment replaces virtform's element, a removed one goes while an element added by
// hand stays; a fragment of an owned element is refused. Import writes the <qemu:commandline>
// back as a fragment, and the plan after it only adopts. The guest is never started.

#include <catch2/catch.hpp>
#include <string>

#include "support/count_of.h"
#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

const std::string kRng = "<rng model='virtio'><backend model='random'>/dev/random</backend></rng>";
const std::string kQemuArgs =
    "<qemu:commandline><qemu:arg value='-fw_cfg'/>"
    "<qemu:arg value='name=opt/virtform,string=1'/></qemu:commandline>";

std::string guest_toml(Session& session, const std::string& fragments) {
  return "project = " + quoted(session.project()) +
         "\n[vm.frag]\nname = " + quoted(session.domain("frag")) +
         "\ntype = \"qemu\"\nmemory = \"128MiB\"\n\n" + fragments;
}

std::string fragment(const std::string& xml, const std::string& parent = "") {
  std::string table = "[[vm.frag.xml]]\n";
  if (!parent.empty()) table += "parent = " + quoted(parent) + "\n";
  return table + "xml = " + quoted(xml) + "\n\n";
}

int detailed_plan_exit(Session& session, const std::string& config) {
  ProcessResult plan = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(plan.describe());
  return plan.exit_code;
}

using test::count_of;

}  // namespace

TEST_CASE("XML fragments are created, matched canonically, updated and removed",
          "[e2e][fragment]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("frag");

  // Created: the plan shows each fragment; libvirt adds the rng's PCI address and writes its
  // attributes in its own order, which is no change afterwards.
  std::string config =
      session.write_config(guest_toml(session, fragment(kRng, "devices") + fragment(kQemuArgs)));
  const nlohmann::json created = session.plan_json(config);
  const auto changes = changes_inside(created, session.prefix());
  REQUIRE(changes.size() == 1);
  CHECK_FALSE(field_of(changes[0], "xml[devices/rng]").is_null());
  CHECK_FALSE(field_of(changes[0], "xml[qemu:commandline]").is_null());
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  std::string xml = libvirt.xml(name, true);
  INFO(xml);
  CHECK(xml.find("<qemu:arg value='name=opt/virtform,string=1'/>") != std::string::npos);
  CHECK(xml.find("/dev/random") != std::string::npos);
  CHECK(xml.find("<address type='pci'") != std::string::npos);
  CHECK(detailed_plan_exit(session, config) == 0);

  // An rng added by hand, beside virtform's.
  const std::string by_hand =
      "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>";
  xml.insert(xml.find("</devices>"), by_hand);
  libvirt.define(xml);
  CHECK(detailed_plan_exit(session, config) == 0);

  // Updated: the arguments change; virtform's element is replaced, not duplicated.
  const std::string new_args =
      "<qemu:commandline><qemu:arg value='-fw_cfg'/>"
      "<qemu:arg value='name=opt/virtform,string=2'/></qemu:commandline>";
  config =
      session.write_config(guest_toml(session, fragment(kRng, "devices") + fragment(new_args)));
  CHECK(detailed_plan_exit(session, config) == 2);
  applied = session.apply(config);
  REQUIRE(applied.exit_code == 0);
  xml = libvirt.xml(name, true);
  CHECK(count_of(xml, "<qemu:commandline>") == 1);
  CHECK(xml.find("string=2") != std::string::npos);
  CHECK(xml.find("string=1") == std::string::npos);
  CHECK(detailed_plan_exit(session, config) == 0);

  // Removed: exactly what virtform wrote goes; the hand-made rng stays.
  config = session.write_config(guest_toml(session, ""));
  applied = session.apply(config);
  REQUIRE(applied.exit_code == 0);
  xml = libvirt.xml(name, true);
  CHECK(xml.find("qemu:commandline") == std::string::npos);
  CHECK(xml.find("/dev/random") == std::string::npos);
  CHECK(xml.find("/dev/urandom") != std::string::npos);
  CHECK(detailed_plan_exit(session, config) == 0);

  // A fragment of an element a key owns is an error naming both, and changes nothing.
  config = session.write_config(guest_toml(session, fragment("<vcpu>4</vcpu>")));
  ProcessResult refused = session.virtform({"plan", config, "-c", uri()});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("[[vm.frag.xml]] <vcpu> conflicts with vcpus") != std::string::npos);
  CHECK(libvirt.xml(name, true) == xml);
}

TEST_CASE("import writes a <qemu:commandline> as a fragment and plans only the adoption",
          "[e2e][fragment][import]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("args");
  libvirt.define(
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
      "<name>" +
      name +
      "</name><memory unit='MiB'>128</memory>"
      "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
      "<devices><sound model='ich9'/></devices>" +
      kQemuArgs + "</domain>");

  ProcessResult imported = session.virtform({"import", name, "-c", uri()});
  INFO(imported.describe());
  REQUIRE(imported.exit_code == 0);
  CHECK(imported.err.find("not expressed in virtform: qemu:commandline") != std::string::npos);
  CHECK(imported.out.find("xml = \"" + std::string("<qemu:commandline>")) != std::string::npos);
  CHECK(imported.out.find("sound = \"ich9\"") != std::string::npos);

  const std::string config =
      session.write_config("project = " + quoted(session.project()) + "\n" + imported.out);
  const nlohmann::json plan = session.plan_json(config);
  const auto changes = changes_inside(plan, session.prefix());
  INFO(plan.dump(2));
  REQUIRE(changes.size() == 1);
  CHECK(field_names(changes[0]) == std::vector<std::string>{"managed"});
  ProcessResult applied = session.apply(config);
  REQUIRE(applied.exit_code == 0);
  CHECK(detailed_plan_exit(session, config) == 0);
  const std::string xml = libvirt.xml(name, true);
  CHECK(count_of(xml, "<qemu:commandline>") == 1);
  CHECK(count_of(xml, "<sound ") == 1);
}

}  // namespace virtform::e2e
