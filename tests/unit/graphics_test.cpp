// A console with no network socket, SPICE drawing with the host's GPU and virgl 3D: what the
// config refuses, the definition libvirt 9 writes back (tests/fixtures/libvirt/qemu-virgl.xml,
// `virsh dumpxml --inactive` of a SPICE console with <listen type='none'/> and <gl>, and a
// virtio display with <acceleration accel3d='yes'/>), merges into a console that had an
// address, and import.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "engine/render/plan_json.h"
#include "engine/render/plan_text.h"
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
using testing::load_vm_a;
using testing::vm_change;

constexpr char kConsoleGuest[] =
    "[vm.a]\nname = \"vfpasswordtest\"\ntype = \"qemu\"\nmemory = \"128MiB\"\n"
    "[vm.a.graphics]\ntype = \"vnc\"\n";

// kConsoleGuest, running.
std::string running_console() {
  std::string guest = kConsoleGuest;
  return guest.insert(guest.find("[vm.a.graphics]"), "state = \"running\"\n");
}

// The demo host with a password file.
struct PasswordHost : testing::DemoHostCopy {
  PasswordHost() : DemoHostCopy("virtform-password") { set_password("s3cret\n"); }
  void set_password(const std::string& text) { dir.write_file("root/etc/virtform/a.vnc", text); }
  // The console's password as libvirt keeps it (read with its secrets), or "".
  std::string live_password() {
    const auto domain = hypervisor->read_domain("vfpasswordtest");
    REQUIRE(domain);
    REQUIRE(domain->vm.graphics);
    return domain->vm.graphics->password.value_or("");
  }
};

constexpr char kVirgl[] =
    "video = \"virtio\"\nvideo_accel3d = true\n[vm.a.graphics]\ntype = \"spice\"\n"
    "listen = \"none\"\ngl = true\nrendernode = \"/dev/dri/renderD128\"\n";

}  // namespace

TEST_CASE("gl needs a local SPICE console and virgl needs gl on a virtio display", "[graphics]") {
  testing::check_refusals({
      {"[vm.a.graphics]\ntype = \"vnc\"\nlisten = \"none\"\ngl = true\n", 5,
       "gl = true needs type = \"spice\": only SPICE draws with the host's GPU"},
      {"[vm.a.graphics]\ntype = \"spice\"\nlisten = \"127.0.0.1\"\ngl = true\n", 5,
       "gl = true needs listen = \"none\": SPICE's OpenGL reaches local clients only"},
      {"[vm.a.graphics]\ntype = \"spice\"\nrendernode = \"/dev/dri/renderD128\"\n", 4,
       "rendernode picks the GPU of gl = true"},
      {"[vm.a.graphics]\ntype = \"vnc\"\nlisten = \"none\"\nport = 5901\n", 5,
       "port makes no sense with listen = \"none\""},
      {"video = \"qxl\"\nvideo_accel3d = true\n", 3,
       "video_accel3d = true needs video = \"virtio\"; a \"qxl\" display has no 3D"},
      {"video_accel3d = true\n", 2, "video_accel3d = true needs video = \"virtio\" beside it"},
      {"video = \"virtio\"\nvideo_accel3d = true\n[vm.a.graphics]\ntype = \"spice\"\n", 3,
       "video_accel3d = true draws through SPICE's OpenGL: set [vm.a.graphics] type = "
       "\"spice\", listen = \"none\" and gl = true"},
  });
  const auto loaded = load_vm_a(kVirgl);
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  REQUIRE(loaded.vm().graphics);
  CHECK(loaded.vm().graphics->listen == kListenNone);
  CHECK(loaded.vm().graphics->gl == true);
  CHECK(loaded.vm().attributes.at("video_accel3d") == "true");
}

TEST_CASE("a local SPICE console with gl and a virgl display read back as libvirt 9 writes them",
          "[graphics]") {
  const std::string xml = testing::libvirt_fixture("qemu-virgl.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  CHECK(warnings.empty());
  REQUIRE(live.vm.graphics);
  CHECK(live.vm.graphics->type == GraphicsType::spice);
  CHECK(live.vm.graphics->listen == kListenNone);
  CHECK(live.vm.graphics->gl == true);
  CHECK(live.vm.graphics->rendernode == "/dev/dri/renderD128");
  CHECK(live.vm.attributes.at("video") == "virtio");
  CHECK(live.vm.attributes.at("video_accel3d") == "true");

  // The model merged back changes nothing of them.
  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.graphics == live.vm.graphics);
  CHECK(merged.find("<listen type='none' />") != std::string::npos);
  CHECK(merged.find("<acceleration accel3d='yes' />") != std::string::npos);

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[vm.vfxmltest-virgl.graphics]\ntype = \"spice\"\nlisten = \"none\"\ngl = "
                  "true\nrendernode = \"/dev/dri/renderD128\"\n") != std::string::npos);
  CHECK(toml.find("video_accel3d = true") != std::string::npos);
}

TEST_CASE("a console with an address becomes local with gl, and gl = false takes <gl> out",
          "[graphics]") {
  Vm vm;
  vm.name = "a";
  vm.graphics = Graphics{GraphicsType::spice, "127.0.0.1", std::nullopt};
  vm.attributes["video"] = "virtio";
  const std::string xml = render_domain_xml(vm);
  CHECK(xml.find("address='127.0.0.1'") != std::string::npos);

  const auto loaded = load_vm_a(kVirgl);
  const std::string local = merge_domain_xml(xml, loaded.vm());
  INFO(local);
  const LiveDomain merged = parse_domain_xml(local);
  REQUIRE(merged.vm.graphics);
  CHECK(merged.vm.graphics->listen == kListenNone);
  CHECK(merged.vm.graphics->gl == true);
  CHECK(merged.vm.graphics->rendernode == "/dev/dri/renderD128");
  CHECK(local.find("127.0.0.1") == std::string::npos);
  CHECK(merged.vm.attributes.at("video_accel3d") == "true");

  Vm plain = loaded.vm();
  plain.graphics->gl = false;
  plain.graphics->rendernode.reset();
  plain.attributes["video_accel3d"] = "false";
  const std::string without = merge_domain_xml(local, plain);
  INFO(without);
  CHECK(without.find("<gl") == std::string::npos);
  CHECK(without.find("acceleration") == std::string::npos);
  CHECK(parse_domain_xml(without).vm.attributes.at("video_accel3d") == "false");
}

TEST_CASE("a console password comes from a file or a variable, one of them", "[graphics]") {
  testing::check_refusals({
      {"[vm.a.graphics]\ntype = \"vnc\"\npassword_file = \"/etc/a\"\npassword_env = \"A\"\n", 5,
       "password_file and password_env both give the console's password: keep one"},
      {"[vm.a.graphics]\ntype = \"none\"\npassword_env = \"A\"\n", 4,
       "a password makes no sense with type = \"none\""},
      {"[vm.a.graphics]\ntype = \"vnc\"\npassword_file = \"etc/a\"\n", 4,
       "password_file must be an absolute path"},
  });
}

TEST_CASE("a console password is written from its file, compared, and never shown", "[graphics]") {
  PasswordHost host;
  const std::string config =
      std::string(kConsoleGuest) + "password_file = \"/etc/virtform/a.vnc\"\n";
  const Plan created = host.plan_of(config);
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  REQUIRE(field_of(vm_change(created), "graphics.password"));
  CHECK(field_of(vm_change(created), "graphics.password")->after == "from /etc/virtform/a.vnc");
  // A saved plan holds where it comes from, not the password; apply reads it again.
  const std::string json = render_plan_json(created);
  CHECK(json.find("s3cret") == std::string::npos);
  CHECK(json.find("/etc/virtform/a.vnc") != std::string::npos);
  CHECK(render_plan_text(created, TextStyle{}).find("s3cret") == std::string::npos);
  REQUIRE(host.apply(parse_plan_json(json)));
  CHECK(host.live_password() == "s3cret");
  CHECK(host.hypervisor->read_domain("vfpasswordtest")->xml.find("s3cret") == std::string::npos);

  const Plan same = host.plan_of(config);
  INFO(formatted(same.diagnostics));
  CHECK(vm_change(same).fields.empty());

  // A new password in the file is a change, shown without either password.
  host.set_password("n3w-one\nignored second line\n");
  const Plan changed = host.plan_of(config);
  const FieldChange* field = field_of(vm_change(changed), "graphics.password");
  REQUIRE(field);
  CHECK(field->before == "set");
  CHECK(field->after == "from /etc/virtform/a.vnc");
  CHECK(render_plan_text(changed, TextStyle{}).find("n3w-one") == std::string::npos);
  REQUIRE(host.apply(changed));
  CHECK(host.live_password() == "n3w-one");

  // Without the file here, a change to the console keeps the password it has.
  std::filesystem::remove(host.root + "/etc/virtform/a.vnc");
  const Plan blind = host.plan_of(config + "listen = \"127.0.0.1\"\n");
  INFO(formatted(blind.diagnostics));
  REQUIRE_FALSE(has_errors(blind.diagnostics));
  CHECK_FALSE(field_of(vm_change(blind), "graphics.password"));
  REQUIRE(host.apply(blind));
  CHECK(host.live_password() == "n3w-one");

  // Another tool's console change keeps the password a config without a source leaves alone.
  REQUIRE(host.apply(host.plan_of(std::string(kConsoleGuest) + "listen = \"127.0.0.1\"\n")));
  CHECK(host.live_password() == "n3w-one");
}

TEST_CASE("the password virtform writes drops the expiry another tool gave the old one",
          "[graphics]") {
  Vm vm;
  vm.name = "a";
  vm.graphics = Graphics{GraphicsType::vnc, "", std::nullopt};
  std::string xml = render_domain_xml(vm);
  xml.replace(xml.find("<graphics type='vnc'"), 20,
              "<graphics type='vnc' passwd='old' passwdValidTo='2020-01-01T00:00:00'");
  const std::string kept = merge_domain_xml(xml, vm);
  CHECK(kept.find("passwdValidTo='2020-01-01T00:00:00'") != std::string::npos);
  vm.graphics->password = "new";
  const std::string replaced = merge_domain_xml(xml, vm);
  CHECK(replaced.find("passwd='new'") != std::string::npos);
  CHECK(replaced.find("passwdValidTo") == std::string::npos);
  vm.graphics->type = GraphicsType::spice;
  const std::string switched = merge_domain_xml(xml, vm);
  CHECK(switched.find("passwd='new'") != std::string::npos);
  CHECK(switched.find("passwdValidTo") == std::string::npos);
}

TEST_CASE("a running console started with a password takes a new one live", "[graphics]") {
  PasswordHost host;
  const std::string config = running_console() + "password_file = \"/etc/virtform/a.vnc\"\n";
  REQUIRE(host.apply(host.plan_of(config)));
  REQUIRE(host.hypervisor->read_domain("vfpasswordtest")->running);

  host.set_password("n3w-one\n");
  const Plan changed = host.plan_of(config);
  INFO(formatted(changed.diagnostics));
  const Change& change = vm_change(changed);
  const FieldChange* field = field_of(change, "graphics.password");
  REQUIRE(field);
  CHECK(field->disruption == Disruption::live);
  CHECK(change.disruption == Disruption::live);
  CHECK(change.operations.console_password);
  const std::string json = render_plan_json(changed);
  CHECK(json.find("n3w-one") == std::string::npos);
  CHECK(vm_change(parse_plan_json(json)).operations.console_password);
  // The test driver cannot change a running console (the real libvirtd can: e2e
  // graphics_test): the definition has the password, and apply says the guest has not.
  CHECK_FALSE(host.apply(changed));
  CHECK(host.live_password() == "n3w-one");
  const Plan pending = host.plan_of(config);
  INFO(render_plan_text(pending, TextStyle{}));
  const std::vector<FieldChange>& waiting = vm_change(pending).pending_boot;
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].field == "graphics.password");
  CHECK(waiting[0].before == "set");
  CHECK(waiting[0].after == "from /etc/virtform/a.vnc (pending next boot)");
}

TEST_CASE("a running console started without a password takes one at its next boot", "[graphics]") {
  PasswordHost host;
  const std::string guest = running_console();
  REQUIRE(host.apply(host.plan_of(guest)));
  const Plan added = host.plan_of(guest + "password_file = \"/etc/virtform/a.vnc\"\n");
  const Change& change = vm_change(added);
  const FieldChange* field = field_of(change, "graphics.password");
  REQUIRE(field);
  CHECK(field->before == "none");
  CHECK(field->disruption != Disruption::live);
  CHECK_FALSE(change.operations.console_password);
}

TEST_CASE("a console's new password is its running element with the password and no expiry",
          "[graphics]") {
  const std::string running =
      "<domain type='kvm'><name>a</name><devices><graphics type='vnc' port='5901' "
      "autoport='yes' listen='127.0.0.1' passwdValidTo='2020-01-01T00:00:00'><listen "
      "type='address' address='127.0.0.1'/></graphics><graphics type='spice'/></devices>"
      "</domain>";
  const std::string element = console_with_password_xml(running, "n3w");
  CHECK_THAT(element, Catch::StartsWith("<graphics type='vnc' port='5901' autoport='yes' "
                                        "listen='127.0.0.1' passwd='n3w'>") &&
                          Catch::Contains("<listen type='address' address='127.0.0.1'") &&
                          !Catch::Contains("passwdValidTo") && !Catch::Contains("spice"));
  CHECK(console_with_password_xml("<domain><devices/></domain>", "n3w").empty());
}

TEST_CASE("a console password from a variable, and a located error without one", "[graphics]") {
  PasswordHost host;
  const std::string config = std::string(kConsoleGuest) + "password_env = \"VF_TEST_VNC\"\n";
  // Not set here (a CI job's dry run, say): the plan goes on, and no guest is defined without it.
  unsetenv("VF_TEST_VNC");
  const Plan unset = host.plan_of(config);
  REQUIRE(unset.diagnostics.size() == 1);
  CHECK(unset.diagnostics[0].severity == Severity::warning);
  CHECK(unset.diagnostics[0].message ==
        "password_env names VF_TEST_VNC, which is not set here: the plan cannot tell whether the "
        "console's password changes, and apply leaves it as it is (and defines no new guest "
        "without it)");
  CHECK(unset.diagnostics[0].where.line == 1);
  CHECK_FALSE(host.apply(unset));
  CHECK_FALSE(host.hypervisor->read_domain("vfpasswordtest"));
  setenv("VF_TEST_VNC", "", 1);
  const Plan empty = host.plan_of(config);
  REQUIRE(empty.diagnostics.size() == 1);
  CHECK(empty.diagnostics[0].severity == Severity::error);
  CHECK(empty.diagnostics[0].message ==
        "password_env names VF_TEST_VNC, which is empty: the console's password comes from "
        "there, and a plan never carries it");
  setenv("VF_TEST_VNC", "longer-than-eight", 1);
  const Plan set = host.plan_of(config);
  INFO(formatted(set.diagnostics));
  REQUIRE(set.diagnostics.size() == 1);
  CHECK(set.diagnostics[0].severity == Severity::warning);
  CHECK_THAT(set.diagnostics[0].message, Catch::Contains("VNC takes only the first 8"));
  REQUIRE(host.apply(set));
  unsetenv("VF_TEST_VNC");
  CHECK(host.live_password() == "longer-than-eight");
}

}  // namespace virtform
