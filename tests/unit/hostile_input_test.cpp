// Inputs the fuzzers (fuzz/) found, minimised, and the neighbouring limits: each reader of
// untrusted text must answer with its documented clean error (a diagnostic, SystemError,
// PlanFileError), never a stray exception, a crash or undefined behaviour.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/config/config.h"
#include "engine/render/plan_json.h"
#include "engine/system/hypervisor.h"
#include "providers/libvirt/domain_xml.h"
#include "tests/support/loaded_config.h"

namespace virtform {
namespace {

using testing::formatted;

using nlohmann::json;

// ---- Config -----------------------------------------------------------------------------------

TEST_CASE("config text is read like a file and its diagnostics name the source", "[hostile]") {
  Diagnostics diagnostics;
  const Desired desired =
      load_config_text("[vm.a]\nmemory = \"2GiB\"\nmemroy = 1\n", "inline.toml", diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].where.file == "inline.toml");
  CHECK(diagnostics[0].where.line == 3);
  REQUIRE(desired.vms.size() == 1);
  CHECK(desired.vms[0].memory_kib == 2ULL * 1024 * 1024);
}

TEST_CASE("a shutdown_timeout too long for apply's clock is refused", "[hostile]") {
  // apply adds the timeout to a clock counting nanoseconds: 2^63 s would overflow it.
  Diagnostics diagnostics;
  const Desired desired = load_config_text("[vm.a]\nshutdown_timeout = 9223372036854775807\n",
                                           "limits.toml", diagnostics);
  INFO(formatted(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message.find("is not a duration") != std::string::npos);
  CHECK(desired.vms.at(0).shutdown_timeout == Vm{}.shutdown_timeout);

  diagnostics.clear();
  const Desired longest =
      load_config_text("[vm.a]\nshutdown_timeout = 2147483647\n", "limits.toml", diagnostics);
  CHECK(diagnostics.empty());
  CHECK(longest.vms.at(0).shutdown_timeout == std::chrono::seconds(2147483647));
}

TEST_CASE("an image size that does not fit in bytes is refused, not wrapped", "[hostile]") {
  // 2^24 TiB is 2^54 KiB, which fits; in bytes it is 2^64, which wrapped to an empty image.
  Diagnostics diagnostics;
  const Desired desired =
      load_config_text("[vm.a]\n[[vm.a.disk]]\nfile = \"/i/a.img\"\nsize = \"16777216TiB\"\n",
                       "size.toml", diagnostics);
  INFO(formatted(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message == "size must be less than 16 EiB");
  CHECK_FALSE(desired.vms.at(0).disks.at(0).size);

  diagnostics.clear();
  const Desired largest =
      load_config_text("[vm.a]\n[[vm.a.disk]]\nfile = \"/i/a.img\"\nsize = \"16777215TiB\"\n",
                       "size.toml", diagnostics);
  CHECK(diagnostics.empty());
  CHECK(largest.vms.at(0).disks.at(0).size == 16777215ull << 40);
}

TEST_CASE("a non-ASCII character in a bare key is refused before toml++ sees it", "[hostile]") {
  // toml++ 3.3.0 reaches an "unreachable" branch (undefined behaviour) classifying U+035B in a
  // bare key; built from its headers with clang's UBSan, the fuzzer stops on it.
  Diagnostics diagnostics;
  load_config_text("[[vm\xcd\x9bx]]\n", "header.toml", diagnostics);
  INFO(formatted(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].where.line == 1);
  CHECK(diagnostics[0].where.column == 5);
  CHECK(diagnostics[0].message.find("non-ASCII character outside a string") != std::string::npos);

  // Columns count characters, not bytes.
  diagnostics.clear();
  load_config_text("[vm.a]\nname = \"\xc3\xa9t\xc3\xa9\" n\xc3\xa4me = 1\n", "key.toml",
                   diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].where.line == 2);
  CHECK(diagnostics[0].where.column == 15);

  // A bare value runs to white space, ',', ']', '}' or '#': toml++ reads on over quotes and
  // brackets in it as bare text.
  for (const char* glued :
       {"shutdown_timeout = 844\"\xc3\xa9\"\n", "project =0e9XU00601[vm.\"\xc3\xa9\"]\n"}) {
    INFO(glued);
    diagnostics.clear();
    load_config_text(glued, "glued.toml", diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message.find("non-ASCII character outside a string") != std::string::npos);
  }

  // In a """ string, toml++ asks whether the character after a backslash, or the first after a
  // line-ending backslash's white space, is white space.
  for (const char* escaped : {"project = \"\"\"\n00e9\\\xc3\xa9\"\"\"\n",
                              "project = \"\"\"a \\  \n\n   \xc3\xa9\"\"\"\n"}) {
    INFO(escaped);
    diagnostics.clear();
    load_config_text(escaped, "escaped.toml", diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].where.line ==
          (std::string(escaped).find("00e9") != std::string::npos ? 2 : 3));
    CHECK(diagnostics[0].message.find("just after a backslash") != std::string::npos);
  }

  // In strings, comments and quoted keys they are TOML like any other character; so is a
  // leading byte-order mark.
  diagnostics.clear();
  const Desired desired = load_config_text(
      "\xef\xbb\xbf# caf\xc3\xa9\n[vm.a]\nname = \"caf\xc3\xa9\"  # \xcd\x9b\n"
      "[vm.b]\nname = '\xcd\x9b'\ncmdline = "
      "[\"\xc3\xa9\",\"\xc3\xa9\"]\n\"k\xc3\xa9y\".\"\xc3\xa9\" = 1\n",
      "strings.toml", diagnostics);
  INFO(formatted(diagnostics));
  REQUIRE(desired.vms.size() == 2);
  CHECK(desired.vms[0].name == "caf\xc3\xa9");
  for (const Diagnostic& diagnostic : diagnostics)
    CHECK(diagnostic.message.find("non-ASCII") == std::string::npos);
}

TEST_CASE("a key nested deeper than any virtform key is refused before it can overflow the stack",
          "[hostile]") {
  // toml++ recurses once per dotted part: 40,000 parts crashed with SIGSEGV.
  std::string deep = "[vm.a]\n[";
  for (int i = 0; i < 40000; ++i) deep += "a.";
  deep += "a]\n";
  Diagnostics diagnostics;
  load_config_text(deep, "deep.toml", diagnostics);
  INFO(formatted(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].where.line == 2);
  CHECK(diagnostics[0].message.find("nested this deep") != std::string::npos);

  // Dots in strings and comments are not keys: a long dotted cmdline is fine.
  std::string dotted_cmdline = "[vm.a]\nkernel = \"/boot/k\"\ncmdline = \"";
  for (int i = 0; i < 100; ++i) dotted_cmdline += "ip=10.0.0.1 ";
  dotted_cmdline += "\" # ....................................................................\n";
  diagnostics.clear();
  const Desired desired = load_config_text(dotted_cmdline, "cmdline.toml", diagnostics);
  INFO(formatted(diagnostics));
  CHECK(diagnostics.empty());
  REQUIRE(desired.vms.size() == 1);
  CHECK(desired.vms[0].kernel->cmdline.size() == 1200);
}

// ---- Domain XML ------------------------------------------------------------------------------

TEST_CASE("a memory size beyond 2^64 KiB is not read, without undefined behaviour", "[hostile]") {
  const LiveDomain huge = parse_domain_xml(
      "<domain type='kvm'><name>m</name>"
      "<memory unit='GB'>18446744073709551615</memory></domain>");
  CHECK(huge.vm.memory_kib == Vm{}.memory_kib);

  const LiveDomain largest = parse_domain_xml(
      "<domain type='kvm'><name>m</name><memory unit='TiB'>16777216</memory></domain>");
  CHECK(largest.vm.memory_kib == 1ull << 54);
}

TEST_CASE("a host device whose address is not a number is reported, not thrown", "[hostile]") {
  const std::string xml =
      "<domain type='kvm'><name>h</name><devices>"
      "<hostdev mode='subsystem' type='pci'><source><address bus='zz'/></source></hostdev>"
      "<hostdev mode='subsystem' type='pci'><source>"
      "<address domain='0x1ffffffff' bus='0x08' slot='0x00' function='0x0'/></source></hostdev>"
      "<hostdev mode='subsystem' type='pci'><source>"
      "<address domain='0x0000' bus='0x08zz' slot='0x00' function='0x2'/></source></hostdev>"
      "<hostdev mode='subsystem' type='pci'><source>"
      "<address domain='0x0000' bus='0x08' slot='0x00' function='0x1'/></source></hostdev>"
      "</devices></domain>";
  Diagnostics unexpressed;
  LiveDomain live;
  REQUIRE_NOTHROW(live = parse_domain_xml(xml, &unexpressed));
  REQUIRE(live.vm.pci.size() == 1);
  CHECK(live.vm.pci[0].address == "0000:08:00.1");
  REQUIRE(unexpressed.size() == 3);
  CHECK(unexpressed[0].message.find("PCI address") != std::string::npos);
}

TEST_CASE("XML that is not well-formed is refused with SystemError", "[hostile]") {
  CHECK_THROWS_AS(parse_domain_xml("<domain><memory unit='TB'>9"), SystemError);
}

// ---- Plan file -------------------------------------------------------------------------------

// A saved plan that creates one VM, as JSON to be damaged by each test.
json saved_plan() {
  Vm vm;
  vm.key = "a";
  vm.name = "a";
  Change change;
  change.address = "vm.a";
  change.name = "a";
  change.action = Action::create;
  change.desired = vm;
  Plan plan;
  plan.uri = "test:///default";
  plan.changes.push_back(change);
  return json::parse(render_plan_json(plan));
}

TEST_CASE("a plan with numbers its fields cannot hold is refused", "[hostile]") {
  const json good = saved_plan();
  REQUIRE(parse_plan_json(good.dump()).find("vm.a"));

  auto refused = [&](const char* key, const json& value) {
    json bad = good;
    bad["declared"][0][key] = value;
    INFO(key << " = " << value.dump());
    CHECK_THROWS_AS(parse_plan_json(bad.dump()), PlanFileError);
    CHECK_THROWS_WITH(parse_plan_json(bad.dump()), Catch::Contains(key));
  };
  refused("memory_kib", 1e300);  // was converted with undefined behaviour
  refused("memory_kib", -1);     // was wrapped to 2^64 - 1
  refused("vcpus", 4294967296);  // was wrapped to 0
  refused("shutdown_timeout_s", 9223372036854775807);

  json bad = good;
  bad["diagnostics"] =
      json::array({{{"severity", "warning"},
                    {"message", "m"},
                    {"location", {{"file", "f"}, {"line", 1e30}, {"column", 1}}}}});
  CHECK_THROWS_AS(parse_plan_json(bad.dump()), PlanFileError);
  CHECK_THROWS_WITH(parse_plan_json(bad.dump()),
                    Catch::Contains("line must be a whole number from"));

  json largest = good;
  largest["declared"][0]["memory_kib"] = 18446744073709551615ull;
  CHECK(parse_plan_json(largest.dump()).find("vm.a")->desired->memory_kib ==
        18446744073709551615ull);
}

}  // namespace
}  // namespace virtform
