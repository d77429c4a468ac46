// merge_domain_xml patches only what virtform owns: what another tool set on the same element
// stays, so an update never undoes someone else's edit nor opens what they closed.

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "providers/libvirt/domain_xml.h"

namespace virtform {
namespace {

// A VNC console secured out of band (virsh edit): a password, a keymap, a fixed port.
const char* const kSecuredConsole = R"(<domain type='qemu'>
  <name>vfxmltest-console</name>
  <memory unit='KiB'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1' passwd='s3cret' keymap='de'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
  </devices>
</domain>
)";

pugi::xml_node graphics_of(pugi::xml_document& document, const std::string& xml) {
  REQUIRE(document.load_string(xml.c_str()));
  return document.child("domain").child("devices").child("graphics");
}

Vm console_model(GraphicsType type, const std::string& listen) {
  Vm vm = parse_domain_xml(kSecuredConsole).vm;
  vm.graphics = Graphics{type, listen, std::nullopt};
  return vm;
}

TEST_CASE("a new listen address keeps the console's password, keymap and port", "[domain_merge]") {
  pugi::xml_document merged;
  pugi::xml_node graphics = graphics_of(
      merged, merge_domain_xml(kSecuredConsole, console_model(GraphicsType::vnc, "0.0.0.0")));
  REQUIRE(graphics);
  CHECK(std::string(graphics.attribute("listen").as_string()) == "0.0.0.0");
  CHECK(std::string(graphics.child("listen").attribute("address").as_string()) == "0.0.0.0");
  CHECK(std::string(graphics.child("listen").attribute("type").as_string()) == "address");
  CHECK(std::string(graphics.attribute("passwd").as_string()) == "s3cret");
  CHECK(std::string(graphics.attribute("keymap").as_string()) == "de");
  CHECK(std::string(graphics.attribute("port").as_string()) == "5901");
  CHECK(parse_domain_xml(
            merge_domain_xml(kSecuredConsole, console_model(GraphicsType::vnc, "0.0.0.0")))
            .vm.graphics == Graphics{GraphicsType::vnc, "0.0.0.0", 5901});
}

TEST_CASE("a change of console protocol keeps its password", "[domain_merge]") {
  pugi::xml_document merged;
  pugi::xml_node graphics = graphics_of(
      merged, merge_domain_xml(kSecuredConsole, console_model(GraphicsType::spice, "127.0.0.1")));
  REQUIRE(graphics);
  CHECK(std::string(graphics.attribute("type").as_string()) == "spice");
  CHECK(std::string(graphics.attribute("passwd").as_string()) == "s3cret");
  CHECK(std::string(graphics.attribute("keymap").as_string()) == "de");
  // and its fixed port, which the config leaves alone
  CHECK(std::string(graphics.attribute("port").as_string()) == "5901");
  CHECK(std::string(graphics.attribute("autoport").as_string()) == "no");
}

TEST_CASE("a port the config fixes replaces libvirt's choice and reads back", "[domain_merge]") {
  Vm vm = console_model(GraphicsType::vnc, "127.0.0.1");
  vm.graphics->port = 5977;
  pugi::xml_document merged;
  const std::string xml = merge_domain_xml(kSecuredConsole, vm);
  pugi::xml_node graphics = graphics_of(merged, xml);
  CHECK(std::string(graphics.attribute("port").as_string()) == "5977");
  CHECK(std::string(graphics.attribute("autoport").as_string()) == "no");
  CHECK(std::string(graphics.attribute("passwd").as_string()) == "s3cret");
  CHECK(parse_domain_xml(xml).vm.graphics->port == 5977u);
  // A console left to libvirt (autoport='yes', the port it took when the guest started) has none.
  const LiveDomain automatic = parse_domain_xml(
      "<domain type='qemu'><name>a</name><devices><graphics type='vnc' port='5903' "
      "autoport='yes'/></devices></domain>");
  CHECK_FALSE(automatic.vm.graphics->port);
}

TEST_CASE("an unchanged console is left exactly as it is", "[domain_merge]") {
  const std::string merged =
      merge_domain_xml(kSecuredConsole, console_model(GraphicsType::vnc, "127.0.0.1"));
  pugi::xml_document document;
  pugi::xml_node graphics = graphics_of(document, merged);
  CHECK(std::string(graphics.attribute("autoport").as_string()) == "no");
  CHECK(std::string(graphics.attribute("passwd").as_string()) == "s3cret");
}

}  // namespace
}  // namespace virtform
