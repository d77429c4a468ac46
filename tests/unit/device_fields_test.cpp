// The device and lifecycle rows of the attribute table against domain XML as libvirt 9 writes
// it back (tests/fixtures/libvirt/qemu-with-devices.xml is `virsh dumpxml --inactive` of a domain
// virtform defined on qemu:///system with each of them set), what each owns of the elements it
// shares a name with, and the rules across keys that libvirt would otherwise refuse at define.

#include <catch2/catch.hpp>
#include <pugixml.hpp>
#include <sstream>

#include "engine/config/config.h"
#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "support/count_of.h"
#include "support/loaded_config.h"
#include "support/refusals.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

// What the fixture's domain was declared with.
const std::map<std::string, std::string> kDeclared = {
    {"on_poweroff", "restart"}, {"on_reboot", "restart"}, {"video", "qxl"},
    {"sound", "ich9"},          {"rng", "true"},          {"guest_agent", "true"},
    {"spice_agent", "true"},    {"tablet", "true"},       {"looking_glass", "32MiB"},
    {"balloon", "none"},        {"watchdog", "i6300esb"}, {"watchdog_action", "poweroff"},
};

// The domain's <devices> and lifecycle actions as text, to tell whether a merge touched them.
std::string devices_and_actions(const std::string& domain_xml) {
  pugi::xml_document document;
  REQUIRE(document.load_string(domain_xml.c_str()));
  const pugi::xml_node domain = document.child("domain");
  std::ostringstream text;
  for (const char* name : {"on_poweroff", "on_reboot", "on_crash", "devices"})
    domain.child(name).print(text, "  ", pugi::format_indent);
  return text.str();
}

using test::count_of;

Diagnostics load(const std::string& toml, Desired& desired) {
  TempDir dir;
  Diagnostics diagnostics;
  desired = load_config({dir.write_file("vm.toml", toml)}, diagnostics);
  return diagnostics;
}

}  // namespace

TEST_CASE("libvirt's read-back of the device rows is what was declared, and no change",
          "[vm_fields][domain_xml]") {
  const std::string xml = testing::libvirt_fixture("qemu-with-devices.xml");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  for (const auto& [key, value] : kDeclared) {
    INFO(key);
    REQUIRE(live.vm.attributes.count(key) == 1);
    CHECK(live.vm.attributes.at(key) == value);
  }
  // qxl's sizes, the <audio> SPICE brings, the channels' sockets and their virtio-serial
  // controller are libvirt's additions: import names none of them.
  std::string named;
  for (const Diagnostic& diagnostic : unexpressed) named += diagnostic.message + "\n";
  INFO(named);
  for (const char* part :
       {"video", "sound", "audio", "rng", "channel", "memballoon", "virtio-serial",
        "pcie-to-pci-bridge", "watchdog", "on_poweroff", "on_reboot", "shmem"})
    CHECK(named.find(part) == std::string::npos);

  // Merged with the same values, nothing of it changes.
  Vm desired = live.vm;
  desired.attributes = kDeclared;
  CHECK(devices_and_actions(merge_domain_xml(xml, desired)) == devices_and_actions(xml));

  // Import writes each as its key.
  ImportSource source{live, {}, {}};
  Diagnostics warnings;
  const std::string imported =
      render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
  INFO(imported);
  CHECK(imported.find("video = \"qxl\"\n") != std::string::npos);
  CHECK(imported.find("sound = \"ich9\"\n") != std::string::npos);
  CHECK(imported.find("guest_agent = true\n") != std::string::npos);
  CHECK(imported.find("balloon = \"none\"\n") != std::string::npos);
  CHECK(imported.find("tablet = true\n") != std::string::npos);
  CHECK(imported.find("looking_glass = \"32MiB\"\n") != std::string::npos);
}

TEST_CASE("a device row takes out only what it owns", "[vm_fields][domain_xml]") {
  std::string xml = testing::libvirt_fixture("qemu-with-devices.xml");
  // Beside the rows' own: a second video, an rng on /dev/random and a serial-port channel.
  const std::string others =
      "<video><model type='vga'/></video>"
      "<rng model='virtio'><backend model='random'>/dev/random</backend></rng>"
      "<channel type='pty'><target type='virtio' name='org.example.port'/></channel>";
  xml.insert(xml.find("</devices>"), others);
  Vm desired = parse_domain_xml(xml).vm;
  desired.attributes = {{"rng", "false"},           {"guest_agent", "false"},
                        {"spice_agent", "false"},   {"sound", "none"},
                        {"video", "virtio"},        {"balloon", "virtio"},
                        {"on_poweroff", "destroy"}, {"watchdog", "ib700"}};
  const std::string merged = merge_domain_xml(xml, desired);
  INFO(merged);
  CHECK(merged.find("/dev/urandom") == std::string::npos);
  CHECK(merged.find("/dev/random") != std::string::npos);
  CHECK(merged.find("org.qemu.guest_agent.0") == std::string::npos);
  CHECK(merged.find("com.redhat.spice.0") == std::string::npos);
  CHECK(merged.find("org.example.port") != std::string::npos);
  CHECK(merged.find("<sound") == std::string::npos);
  // The first video is the row's, its qxl sizes and address gone with qxl; the second stays.
  CHECK(count_of(merged, "<video>") == 2);
  CHECK(merged.find("<model type='virtio'") != std::string::npos);
  CHECK(merged.find("<model type='vga'") != std::string::npos);
  CHECK(merged.find("vgamem") == std::string::npos);
  CHECK(merged.find("<memballoon model='virtio'") != std::string::npos);
  CHECK(merged.find("<on_poweroff>destroy</on_poweroff>") != std::string::npos);
  // A new watchdog model keeps the action.
  CHECK(merged.find("<watchdog model='ib700' action='poweroff'") != std::string::npos);
  const LiveDomain after = parse_domain_xml(merged);
  for (const auto& [key, value] : desired.attributes) {
    INFO(key);
    CHECK(after.vm.attributes.at(key) == value);
  }
}

TEST_CASE("a second sound card is the guest's: kept by the sound key, named by import",
          "[vm_fields][domain_xml]") {
  std::string xml = testing::libvirt_fixture("qemu-with-devices.xml");
  xml.insert(xml.find("</devices>"), "<sound model='usb'/>");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  REQUIRE(live.vm.attributes.at("sound") == "ich9");
  std::string named;
  for (const Diagnostic& diagnostic : unexpressed) named += diagnostic.message + "\n";
  INFO(named);
  CHECK(named.find("sound") != std::string::npos);

  Vm desired = live.vm;
  desired.attributes = {{"sound", "ac97"}};
  const std::string merged = merge_domain_xml(xml, desired);
  INFO(merged);
  CHECK(merged.find("<sound model='ac97'") != std::string::npos);
  CHECK(merged.find("<sound model='usb'") != std::string::npos);
  desired.attributes = {{"sound", "none"}};  // no sound at all
  CHECK(merge_domain_xml(xml, desired).find("<sound") == std::string::npos);
}

TEST_CASE("the device rows' rules across keys are refused at the key, naming the fix",
          "[vm_fields][config]") {
  Desired desired;
  Diagnostics errors =
      load("[vm.a]\nspice_agent = true\n\n[vm.a.graphics]\ntype = \"vnc\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.line == 2);
  CHECK(errors[0].message ==
        "spice_agent = true needs SPICE graphics: set [vm.a.graphics] type = \"spice\", or leave "
        "spice_agent out");
  CHECK(load("[vm.a]\nspice_agent = false\n", desired).empty());
  CHECK(load("[vm.a]\nspice_agent = true\n[vm.a.graphics]\ntype = \"spice\"\n", desired).empty());

  errors = load("[vm.a]\non_reboot = \"destroy\"\non_poweroff = \"restart\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.line == 3);
  CHECK_THAT(errors[0].message, Catch::StartsWith("on_poweroff = \"restart\" with on_reboot = "
                                                  "\"destroy\" is refused by libvirt's QEMU"));
  CHECK(load("[vm.a]\non_poweroff = \"restart\"\n", desired).empty());

  errors = load("[vm.a]\nwatchdog_action = \"poweroff\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.line == 2);
  CHECK(errors[0].message ==
        "watchdog_action needs a watchdog: set watchdog = \"i6300esb\" or "
        "\"ib700\", or leave watchdog_action out");
  CHECK(load("[vm.a]\nwatchdog_action = \"poweroff\"\nwatchdog = \"ib700\"\n", desired).empty());

  // The QEMU driver's lifecycle actions only.
  errors = load("[vm.a]\non_poweroff = \"preserve\"\n", desired);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0].message, Catch::StartsWith("on_poweroff must be one of \"destroy\", "
                                                  "\"restart\""));
}

TEST_CASE("looking_glass takes a resolution and sizes the shared memory as Looking Glass does",
          "[vm_fields][config]") {
  const std::map<std::string, std::string> sizes = {
      {"1920x1080", "32MiB"},  {"2560x1440", "64MiB"}, {"3440x1440", "64MiB"},
      {"3840x2160", "128MiB"}, {"64MiB", "64MiB"},     {"none", "none"},
  };
  for (const auto& [given, size] : sizes) {
    INFO(given);
    Desired desired;
    CHECK(load("[vm.a]\nlooking_glass = \"" + given + "\"\n", desired).empty());
    CHECK(desired.vms.at(0).attributes.at("looking_glass") == size);
  }
  for (const char* wrong : {"1920*1080", "0x1080", "48MiB", "64M", "1920x", "x1080", "8192MiB"}) {
    INFO(wrong);
    Desired desired;
    const Diagnostics errors =
        load("[vm.a]\nlooking_glass = \"" + std::string(wrong) + "\"\n", desired);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.line == 2);
    CHECK(errors[0].message ==
          "looking_glass must be a resolution such as \"2560x1440\", a "
          "power-of-two size such as \"64MiB\" (at most 4096MiB), or "
          "\"none\"; got \"" +
              std::string(wrong) + "\"");
  }
}

TEST_CASE("a new looking_glass size keeps the device and its address; none takes it out",
          "[vm_fields][domain_xml]") {
  const std::string xml = testing::libvirt_fixture("qemu-with-devices.xml");
  Vm desired = parse_domain_xml(xml).vm;
  desired.attributes = {{"looking_glass", "64MiB"}};
  const std::string grown = merge_domain_xml(xml, desired);
  CHECK(count_of(grown, "<shmem name='looking-glass'>") == 1);
  CHECK(grown.find("<size unit='M'>64</size>") != std::string::npos);
  CHECK(grown.find("bus='0x09' slot='0x02'") != std::string::npos);
  CHECK(parse_domain_xml(grown).vm.attributes.at("looking_glass") == "64MiB");
  desired.attributes = {{"looking_glass", "none"}};
  CHECK(merge_domain_xml(xml, desired).find("<shmem") == std::string::npos);
}

TEST_CASE("no USB controller is refused beside a USB tablet or disk and read as the first one",
          "[device_fields]") {
  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"usb_controller = \"none\"\ntablet = true\n",
            "usb_controller = \"none\" leaves the USB tablet nowhere to plug in: set tablet = "
            "false, or keep a controller"},
           {"usb_controller = \"none\"\n[[vm.a.disk]]\nfile = \"/a.img\"\nbus = \"usb\"\n",
            "usb_controller = \"none\" leaves the USB disk /a.img nowhere to plug in: put it on "
            "another bus, or keep a controller"},
       }) {
    INFO(lines);
    const auto loaded = testing::load_vm_a(lines);
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message == message);
    CHECK(loaded.diagnostics[0].where.line == 2);
  }
  const std::string xml = testing::libvirt_fixture("qemu-install-media.xml");
  Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.attributes.at("usb_controller") == "qemu-xhci");
  vm.attributes["usb_controller"] = "ich9-ehci1";
  const std::string merged = merge_domain_xml(xml, vm);
  CHECK(parse_domain_xml(merged).vm.attributes.at("usb_controller") == "ich9-ehci1");
  CHECK(count_of(merged, "<controller type='usb'") == 1);
}

TEST_CASE("video memory and heads go where the video model has them", "[device_fields]") {
  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"video = \"virtio\"\nvideo_vram = \"64MiB\"\n",
            "video_vram sizes the memory of a qxl, vga, cirrus, vmvga or bochs display; video = "
            "\"virtio\" has none"},
           {"video = \"vga\"\nvideo_heads = 2\n",
            "video_heads = 2 needs video = \"qxl\" or \"virtio\"; a \"vga\" display has one head"},
           {"video = \"qxl\"\nvideo_vram = \"3KiB\"\n", "a size from \"1MiB\" to \"1GiB\""},
       }) {
    INFO(lines);
    const auto loaded = testing::load_vm_a(lines);
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK_THAT(loaded.diagnostics[0].message, Catch::Contains(message));
    CHECK(loaded.diagnostics[0].where.line == 3);
  }
  const auto qxl =
      testing::load_vm_a("video = \"qxl\"\nvideo_vram = \"131072KiB\"\nvideo_heads = 2\n");
  REQUIRE(qxl.diagnostics.empty());
  CHECK(qxl.vm().attributes.at("video_vram") == "128MiB");
  const std::string xml = testing::libvirt_fixture("qemu-extras.xml");
  Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.attributes.at("video_vram") == "16MiB");
  vm.attributes = qxl.vm().attributes;
  const std::string merged = merge_domain_xml(xml, vm);
  INFO(merged);
  const LiveDomain read = parse_domain_xml(merged);
  CHECK(read.vm.attributes.at("video") == "qxl");
  CHECK(read.vm.attributes.at("video_vram") == "128MiB");
  CHECK(read.vm.attributes.at("video_heads") == "2");
  CHECK(merged.find("vram='131072'") != std::string::npos);
}

TEST_CASE("usb_redirect counts SPICE's redirection channels and keeps the first ones",
          "[device_fields]") {
  testing::check_refusals({
      {"usb_redirect = 2\n[vm.a.graphics]\ntype = \"vnc\"\n", 2,
       "usb_redirect = 2 redirects USB devices over SPICE: set [vm.a.graphics] type = \"spice\""},
      {"usb_redirect = 17\n", 2, "usb_redirect must be"},
      {"usb_controller = \"none\"\nusb_redirect = 1\n", 2,
       "leaves the redirected USB devices (usb_redirect) nowhere to plug in"},
  });
  const std::string xml = testing::libvirt_fixture("qemu-usb-redirect.xml");
  Vm vm = parse_domain_xml(xml).vm;
  CHECK(vm.attributes.at("usb_redirect") == "2");
  vm.attributes["usb_redirect"] = "1";
  const std::string fewer = merge_domain_xml(xml, vm);
  INFO(fewer);
  CHECK(count_of(fewer, "<redirdev ") == 1);
  CHECK(fewer.find("port='1'") != std::string::npos);
  CHECK(fewer.find("port='2'") == std::string::npos);
  vm.attributes["usb_redirect"] = "3";
  const std::string more = merge_domain_xml(fewer, vm);
  CHECK(count_of(more, "<redirdev ") == 3);
  CHECK(parse_domain_xml(more).vm.attributes.at("usb_redirect") == "3");
  vm.attributes["usb_redirect"] = "0";
  CHECK(count_of(merge_domain_xml(more, vm), "<redirdev") == 0);
}

}  // namespace virtform
