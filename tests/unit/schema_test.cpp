// The JSON Schemas agree with the code they describe. schemas/virtform.schema.json has exactly
// the keys the loader accepts, table by table, and it and the loader accept and refuse the same
// values; schemas/plan.schema.json describes the JSON that `virtform plan --json` prints for
// real plans made on the demo host.

#include <toml++/toml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <sstream>

#include "engine/apply/executor.h"
#include "engine/apply/step_runner.h"
#include "engine/config/config.h"
#include "engine/config/keys.h"
#include "engine/passes.h"
#include "engine/render/plan_json.h"
#include "engine/system/clock.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/json_schema.h"
#include "support/pipeline.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::schema_violations;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;

json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);
}

const json& config_schema() {
  static const json schema = read_json(kSource + "/schemas/virtform.schema.json");
  return schema;
}

const json& plan_schema() {
  static const json schema = read_json(kSource + "/schemas/plan.schema.json");
  return schema;
}

std::string lines(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += item + "\n";
  return text;
}

// A TOML document as the JSON that Taplo validates: the same tables, arrays and values.
json toml_as_json(const std::string& toml_text) {
  std::ostringstream out;
  out << toml::json_formatter(toml::parse(toml_text));
  return json::parse(out.str());
}

// A TOML configuration written to a file and read by the loader; its error messages.
std::vector<std::string> loader_errors(const std::string& toml_text) {
  TempDir dir;
  const std::string file = dir.write_file("config.toml", toml_text);
  Diagnostics diagnostics;
  load_config({file}, diagnostics);
  std::vector<std::string> errors;
  for (const Diagnostic& diagnostic : diagnostics)
    if (diagnostic.severity == Severity::error) errors.push_back(format(diagnostic));
  return errors;
}

// ---- the config schema and the loader's key lists ----

// Each table of the configuration: where the schema describes it, the loader's keys for it, and
// a document that holds it with everything it requires, `{}` standing for one more key line.
struct TableKind {
  std::string pointer;
  std::span<const std::string_view> loader_keys;
  std::string document;
};

const std::map<std::string, TableKind>& table_kinds() {
  static const std::map<std::string, TableKind> kinds = {
      {"top level", {"/properties", keys::kTopLevel, "{}\n"}},
      {"loader",
       {"/definitions/loader/properties", keys::kLoader, "[loader.l]\nimage = \"/l.img\"\n{}\n"}},
      {"vm", {"/definitions/vm/properties", keys::kVm, "[vm.t]\n{}\n"}},
      {"boot",
       {"/definitions/boot/properties", keys::kBoot,
        "[loader.l]\nimage = \"/l.img\"\n[vm.t.boot]\nloader = \"l\"\n{}\n"}},
      {"disk",
       {"/definitions/disk/properties", keys::kDisk,
        "[vm.t]\nmachine = \"pc\"\n[[vm.t.disk]]\nfile = \"/t.img\"\n{}\n"}},
      {"nic", {"/definitions/nic/properties", keys::kNic, "[[vm.t.nic]]\nbridge = \"br0\"\n{}\n"}},
      {"graphics", {"/definitions/graphics/properties", keys::kGraphics, "[vm.t.graphics]\n{}\n"}},
      {"serial", {"/definitions/serial/properties", keys::kSerial, "[vm.t.serial]\n{}\n"}},
      {"dsm", {"/definitions/dsm/properties", keys::kDsm, "[vm.t.dsm]\n{}\n"}},
      {"pci",
       {"/definitions/pci/properties", keys::kPci,
        "[[vm.t.pci]]\naddress = \"0000:08:00.0\"\n{}\n"}},
      {"usb",
       {"/definitions/usb/properties", keys::kUsb,
        "[[vm.t.usb]]\nvendor = \"10c4\"\nproduct = \"ea60\"\n{}\n"}},
      {"input", {"/definitions/input/properties", keys::kInput, "[[vm.t.input]]\n{}\n"}},
      {"xml",
       {"/definitions/xml/properties", keys::kXml, "[[vm.t.xml]]\nxml = \"<sound/>\"\n{}\n"}},
      {"cpu",
       {"/definitions/vm/properties/cpu/properties", keys::attribute_table("cpu"),
        "[vm.t.cpu]\n{}\n"}},
      {"cpu.features",
       {"/definitions/vm/properties/cpu/properties/features/properties",
        keys::attribute_table("cpu.features"), "[vm.t.cpu.features]\n{}\n"}},
      {"hyperv",
       {"/definitions/vm/properties/hyperv/properties", keys::attribute_table("hyperv"),
        "[vm.t.hyperv]\n{}\n"}},
      {"clock",
       {"/definitions/vm/properties/clock/properties", keys::attribute_table("clock"),
        "[vm.t.clock]\n{}\n"}},
      {"pm",
       {"/definitions/vm/properties/pm/properties", keys::attribute_table("pm"),
        "[vm.t.pm]\n{}\n"}},
      {"tpm",
       {"/definitions/vm/properties/tpm/properties", keys::attribute_table("tpm"),
        "[vm.t.tpm]\n{}\n"}},
      {"memory_backing",
       {"/definitions/vm/properties/memory_backing/properties",
        keys::attribute_table("memory_backing"), "[vm.t.memory_backing]\n{}\n"}},
      {"share",
       {"/definitions/share/properties", keys::kShare,
        "[vm.t.memory_backing]\naccess = \"shared\"\n[[vm.t.share]]\nsource = \"/srv\"\n"
        "tag = \"t\"\n{}\n"}},
  };
  return kinds;
}

std::string with_line(const TableKind& kind, const std::string& line) {
  std::string document = kind.document;
  return document.replace(document.find("{}"), 2, line);
}

std::set<std::string> schema_keys(const std::string& pointer) {
  std::set<std::string> names;
  for (const auto& [name, property] : config_schema().at(json::json_pointer(pointer)).items())
    names.insert(name);
  return names;
}

std::set<std::string> difference(const std::set<std::string>& from,
                                 const std::set<std::string>& without) {
  std::set<std::string> rest;
  std::set_difference(from.begin(), from.end(), without.begin(), without.end(),
                      std::inserter(rest, rest.end()));
  return rest;
}

std::string joined(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

TEST_CASE("the config schema has exactly the keys the loader accepts, table by table", "[schema]") {
  for (const auto& [table, kind] : table_kinds()) {
    const std::set<std::string> in_schema = schema_keys(kind.pointer);
    const std::set<std::string> in_loader(kind.loader_keys.begin(), kind.loader_keys.end());
    INFO("table " << table);
    INFO("only in the loader: " << joined(difference(in_loader, in_schema)));
    INFO("only in the schema: " << joined(difference(in_schema, in_loader)));
    CHECK(in_schema == in_loader);
  }
}

TEST_CASE("the config schema refuses unknown keys in every table, as the loader does", "[schema]") {
  for (const auto& [table, kind] : table_kinds()) {
    const std::string document = with_line(kind, "not_a_key = 1");
    INFO("table " << table << ":\n" << document);
    CHECK_FALSE(loader_errors(document).empty());
    CHECK_FALSE(schema_violations(config_schema(), toml_as_json(document)).empty());
  }
}

// ---- enums ----

struct EnumKey {
  std::string table;
  std::string key;
  json values;
};

std::vector<EnumKey> enum_keys() {
  std::vector<EnumKey> found;
  for (const auto& [table, kind] : table_kinds()) {
    for (const auto& [key, property] : config_schema().at(json::json_pointer(kind.pointer)).items())
      if (property.contains("enum")) found.push_back({table, key, property["enum"]});
  }
  return found;
}

// A key whose values need another key beside them: io = "native" bypasses the page cache only
// with cache = "none"; a watchdog's action needs the watchdog; a passed-through TPM its device,
// TPM 1.2 the TIS interface, a custom CPU its model; zeroes are freed only where
// discards pass; the IDE bus takes CD-ROM drives only; an input needs its type, a host one its
// device.
std::string with_companion(const EnumKey& entry, const json& value) {
  if (entry.table == "input" && entry.key == "bus") return "\ntype = \"keyboard\"";
  if (entry.table == "input" && (entry.key == "grab_toggle" || value == "evdev"))
    return std::string(entry.key == "type" ? "" : "\ntype = \"evdev\"") +
           "\nsource = \"/dev/input/event3\"";
  if (entry.table == "vm" && entry.key == "watchdog_action") return "\nwatchdog = \"ib700\"";
  if (entry.table == "tpm" && value == "passthrough") return "\ndevice = \"/dev/tpm0\"";
  if (entry.table == "tpm" && value == "1.2") return "\nmodel = \"tpm-tis\"";
  if (entry.table == "cpu" && value == "custom") return "\nmodel = \"EPYC\"";
  if (entry.table == "disk" && entry.key == "detect_zeroes") return "\ndiscard = \"unmap\"";
  if (entry.table == "disk" && value == "ide") return "\ndevice = \"cdrom\"";
  return entry.table == "disk" && entry.key == "io" ? "\ncache = \"none\"" : "";
}

TEST_CASE("every enum value in the config schema is accepted by the loader", "[schema]") {
  const std::vector<EnumKey> enums = enum_keys();
  // type, firmware, state, restart, boot.bus, disk.format, disk.bus, graphics.type,
  // serial.type, pci.bind at least: an empty list would make this test pass vacuously.
  REQUIRE(enums.size() >= 10);
  for (const EnumKey& entry : enums) {
    for (const json& value : entry.values) {
      const std::string document =
          with_line(table_kinds().at(entry.table),
                    entry.key + " = " + value.dump() + with_companion(entry, value));
      INFO(entry.table << "." << entry.key << " = " << value.dump() << ":\n" << document);
      CHECK(lines(loader_errors(document)).empty());
      CHECK(lines(schema_violations(config_schema(), toml_as_json(document))).empty());
    }
  }
}

TEST_CASE("a value outside an enum is refused by both the loader and the schema", "[schema]") {
  for (const EnumKey& entry : enum_keys()) {
    const std::string document =
        with_line(table_kinds().at(entry.table),
                  entry.key + " = \"not-a-" + entry.key + "\"" + with_companion(entry, ""));
    INFO(entry.table << "." << entry.key << ":\n" << document);
    const std::vector<std::string> errors = loader_errors(document);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors.front(), Catch::Contains(entry.key + " must be one of"));
    CHECK_FALSE(schema_violations(config_schema(), toml_as_json(document)).empty());
  }
}

// ---- values and combinations ----

TEST_CASE("the loader and the config schema accept the same well-written values", "[schema]") {
  const std::string documents[] = {
      "project = \"home-lab_2\"\n",
      "[vm.t]\nmemory = \"4GiB\"\n",
      "[vm.t]\nmemory = \"512 MiB\"\n",
      "[vm.t]\nmemory = 4096\n",
      "[vm.t]\nmemory = \"2048KiB\"\n",
      "[vm.t]\nshutdown_timeout = \"90s\"\n",
      "[vm.t]\nshutdown_timeout = 120\n",
      "[vm.t]\nvcpus = 4096\n",
      "[vm.t]\nfirmware = \"uefi\"\nfirmware_code = \"/c.fd\"\nfirmware_vars = \"/v.fd\"\n",
      "[vm.t]\nkernel = \"/vmlinuz\"\ninitrd = \"/initrd\"\ncmdline = \"console=ttyS0\"\n",
      "[[vm.t.nic]]\nnetwork = \"default\"\nmac = \"52:54:00:AB:cd:01\"\n",
      "[[vm.t.pci]]\naddress = \"08:00.1\"\nvendor = \"10DE\"\nbind = \"vfio-pci\"\n",
      "[[vm.t.disk]]\nsource = \"/dev/disk/by-id/ata-X\"\nformat = \"raw\"\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nboot = 2\ndiscard = \"unmap\"\ndetect_zeroes = \"unmap\"\n"
      "serial = \"WD 1.2_3+4-5\"\niothread = 1\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nbus = \"scsi\"\nwwn = \"0x5000C50015EA71AC\"\n"
      "rotation_rate = 1\n",
      "[loader.l]\nimage = \"/l.img\"\nsha256 = \"" + std::string(64, 'A') + "\"\n",
      "[vm.t]\nkvm_hidden = true\n[vm.t.hyperv]\npreset = \"windows\"\nspinlocks = 4095\n"
      "vendor_id = \"KVMKVMKVM\"\n",
      "[vm.t.clock]\noffset = \"localtime\"\nrtc_tickpolicy = \"catchup\"\nhpet = false\n",
      "[vm.t.pm]\nsuspend_to_mem = false\nsuspend_to_disk = true\n",
  };
  for (const std::string& document : documents) {
    INFO(document);
    CHECK(lines(loader_errors(document)).empty());
    CHECK(lines(schema_violations(config_schema(), toml_as_json(document))).empty());
  }
}

TEST_CASE("the loader and the config schema refuse the same badly written values", "[schema]") {
  const std::string documents[] = {
      "project = \"home lab\"\n",
      "[vm.\"a.b\"]\n",
      "[vm.t]\nmemory = \"4GB\"\n",
      "[vm.t]\nmemory = \"0GiB\"\n",
      "[vm.t]\nmemory = 0\n",
      "[vm.t]\nmemory = true\n",
      "[vm.t]\nshutdown_timeout = \"2d\"\n",
      "[vm.t]\nvcpus = 0\n",
      "[vm.t]\nvcpus = \"2\"\n",
      "[vm.t]\nname = \"a/b\"\n",
      "[vm.t]\nname = \"\"\n",
      "[vm.t]\nautostart = \"yes\"\n",
      "[vm.t]\nkernel = \"vmlinuz\"\n",
      "[vm.t]\ninitrd = \"/initrd\"\n",
      "[vm.t]\nnvram = \"/n.fd\"\n",
      "[vm.t]\nfirmware = \"uefi\"\nfirmware_vars = \"/v.fd\"\n",
      "[loader.l]\nimage = \"/l.img\"\n[vm.t]\nkernel = \"/k\"\n[vm.t.boot]\nloader = \"l\"\n",
      "[loader.l]\nimage = \"/l.img\"\nsha256 = \"abc\"\n",
      "[loader.l]\nsha256 = \"" + std::string(64, 'a') + "\"\n",
      "[vm.t.boot]\nbus = \"usb\"\n",
      "[[vm.t.disk]]\nbus = \"virtio\"\n",
      "[[vm.t.disk]]\nsource = \"/dev/sdb\"\nfile = \"/t.img\"\n",
      "[[vm.t.disk]]\nsource = \"/dev/sdb\"\nformat = \"qcow2\"\n",
      "[[vm.t.disk]]\nsource = \"/dev/sdb\"\nsize = \"1GiB\"\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\ndetect_zeroes = \"unmap\"\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nserial = \"a,b\"\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nbus = \"scsi\"\nwwn = \"5000c500\"\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nboot = 0\n",
      "[[vm.t.disk]]\nfile = \"/t.img\"\nbus = \"sata\"\nrotation_rate = 70000\n",
      "[[vm.t.nic]]\nmodel = \"virtio\"\n",
      "[[vm.t.nic]]\nbridge = \"br0\"\nnetwork = \"default\"\n",
      "[[vm.t.nic]]\nbridge = \"br0\"\nmac = \"01:00:5e:00:00:01\"\n",
      "[[vm.t.nic]]\nbridge = \"br0\"\nmac = \"52-54-00-12-34-56\"\n",
      "[vm.t.graphics]\nlisten = \"127.0.0.1\"\n",
      "[vm.t.graphics]\ntype = \"none\"\nlisten = \"127.0.0.1\"\n",
      "[[vm.t.pci]]\nvendor = \"1002\"\n",
      "[[vm.t.pci]]\naddress = \"0000:08:20.0\"\n",
      "[[vm.t.pci]]\naddress = \"0000:08:00.8\"\n",
      "[[vm.t.pci]]\naddress = \"0000:08:00.0\"\nvendor = \"100\"\n",
      "[[vm.t.pci]]\naddress = \"0000:08:00.0\"\nbind = \"vfio-pci\"\nmanaged = true\n",
      "[vm.t]\ndisk = \"/dev/sdb\"\n",
      "[vm.t.hyperv]\nspinlocks = 4094\n",
      "[vm.t.hyperv]\nvendor_id = \"thirteen-char\"\n",
      "[vm.t.hyperv]\nvendor_id = \"KVM,KVM\"\n",
      "[vm.t.hyperv]\npreset = \"linux\"\n",
      "[vm.t.clock]\noffset = \"variable\"\n",
      "[vm.t.pm]\nsuspend_to_mem = \"no\"\n",
  };
  for (const std::string& document : documents) {
    INFO(document);
    CHECK_FALSE(loader_errors(document).empty());
    CHECK_FALSE(schema_violations(config_schema(), toml_as_json(document)).empty());
  }
}

TEST_CASE("every example configuration validates against the config schema", "[schema]") {
  int examples = 0;
  for (const auto& entry : fs::directory_iterator(kSource + "/examples")) {
    for (const auto& file : fs::directory_iterator(entry.path())) {
      if (file.path().extension() != ".toml") continue;
      ++examples;
      std::ifstream in(file.path());
      const std::string text{std::istreambuf_iterator<char>(in), {}};
      INFO(file.path().string());
      CHECK(lines(schema_violations(config_schema(), toml_as_json(text))).empty());
    }
  }
  CHECK(examples >= 2);
}

// ---- the plan schema ----

// The demo host copied aside, as apply creates image files under its root.
struct DemoHost : testing::DemoHostCopy {
  DemoHost() : DemoHostCopy("virtform-schema") {}
};

std::string example(const std::string& name) {
  return kSource + "/examples/" + name;
}

// Plans made on the demo host that between them show every part of the format: creates with
// steps and dependencies, an update with before/after fields, a delete, and warnings.
std::vector<json> demo_plans() {
  DemoHost host;
  std::vector<json> plans;
  const Plan create = host.plan(example("dsm"));
  plans.push_back(json::parse(render_plan_json(create)));
  REQUIRE(host.apply(create));

  TempDir dir;
  std::ifstream in(example("dsm/dsm.toml"));
  std::string text{std::istreambuf_iterator<char>(in), {}};
  text.replace(text.find("memory = \"4GiB\""), 15, "memory = \"6GiB\"");
  plans.push_back(json::parse(render_plan_json(host.plan(dir.write_file("dsm.toml", text)))));

  // A third disk for DSM, the loader rebuilt for it: the map the live guest has shows too.
  std::string grown = text;
  grown.replace(grown.find("sata_port_map = \"12\""), 20, "sata_port_map = \"13\"");
  grown += "[[vm.dsm.disk]]\nfile = \"/var/lib/virtform/images/extra.img\"\nsize = \"1GiB\"\n";
  plans.push_back(json::parse(render_plan_json(host.plan(dir.write_file("grown.toml", grown)))));

  // The passthrough example in the same (default) project: DSM goes, the Windows guest comes.
  plans.push_back(json::parse(render_plan_json(host.plan(example("passthrough")))));
  return plans;
}

bool has_change(const json& plan, const std::string& action, bool with_fields) {
  for (const json& change : plan["changes"])
    if (change["action"] == action && (!with_fields || !change["fields"].empty())) return true;
  return false;
}

TEST_CASE("plans of the demo host validate against the plan schema", "[schema]") {
  const std::vector<json> plans = demo_plans();
  for (const json& plan : plans) {
    INFO(plan.dump(2));
    CHECK(lines(schema_violations(plan_schema(), plan)).empty());
  }
  // The plans above exercise the whole format, or this test proves less than it says.
  CHECK(has_change(plans[0], "create", true));
  CHECK_FALSE(plans[0]["steps"].empty());
  CHECK(has_change(plans[1], "update", true));
  REQUIRE(plans[1]["dsm_guests"].size() == 1);
  CHECK(plans[1]["dsm_guests"][0]["map"]["sata_port_map"] == "12");
  REQUIRE(plans[2]["dsm_guests"].size() == 1);
  CHECK(plans[2]["dsm_guests"][0]["live_map"]["sata_port_map"] == "12");
  CHECK(plans[2]["dsm_guests"][0]["map"]["sata_port_map"] == "13");
  CHECK(has_change(plans[3], "delete", false));
  CHECK_FALSE(plans[3]["diagnostics"].empty());
}

TEST_CASE("the plan schema refuses what the plan format does not have", "[schema]") {
  const json plan = demo_plans().front();
  REQUIRE(schema_violations(plan_schema(), plan).empty());
  const std::map<std::string, std::function<void(json&)>> breakages = {
      {"an unknown top-level member", [](json& p) { p["state"] = "x"; }},
      {"no format_version", [](json& p) { p.erase("format_version"); }},
      {"another format_version", [](json& p) { p["format_version"] = "1"; }},
      {"an unknown action", [](json& p) { p["changes"][0]["action"] = "destroy"; }},
      {"an unknown disruption", [](json& p) { p["changes"][0]["disruption"] = "next_boot"; }},
      {"a change without reason", [](json& p) { p["changes"][0].erase("reason"); }},
      {"an unknown step kind", [](json& p) { p["steps"][0]["kind"] = "reboot"; }},
      {"a step without after", [](json& p) { p["steps"][0].erase("after"); }},
      {"a negative count", [](json& p) { p["summary"]["add"] = -1; }},
      {"a count as text", [](json& p) { p["summary"]["change"] = "1"; }},
      {"an unknown member of a declared VM", [](json& p) { p["declared"][0]["memory"] = 1; }},
      {"a fingerprint entry that is not text", [](json& p) { p["fingerprint"]["file /x"] = 1; }},
      {"a diagnostic of unknown severity",
       [](json& p) {
         p["diagnostics"] = {{{"severity", "info"}, {"message", "m"}}};
       }},
  };
  for (const auto& [name, breakage] : breakages) {
    json broken = plan;
    breakage(broken);
    INFO(name);
    CHECK_FALSE(schema_violations(plan_schema(), broken).empty());
  }
}

TEST_CASE("the schema validator reports keywords it does not support", "[schema]") {
  const json schema = {{"type", "string"}, {"format", "uri"}};
  const std::vector<std::string> problems = schema_violations(schema, "x");
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems.front(), Catch::Contains("\"format\""));
}

}  // namespace
}  // namespace virtform
