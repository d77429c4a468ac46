// The attribute table is the one description of its attributes: the docs, both JSON schemas and
// the libvirt provider's table follow it, and each attribute goes from TOML to domain XML and
// back, through a saved plan, and out again through import.

#include "engine/model/vm_fields.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/config/config.h"
#include "engine/import/importer.h"
#include "engine/plan/model_json.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_xml.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using nlohmann::json;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json read_json(const std::string& path) {
  return json::parse(read_text(path));
}

// A value of the row's kind that is not what an unset domain has, as TOML and as canonical text.
std::pair<std::string, std::string> sample(const VmField& field) {
  if (field.key == "tpm.device") return {"\"/dev/tpm0\"", "/dev/tpm0"};  // a host path
  switch (field.kind) {
    case FieldKind::boolean:
      return {"true", "true"};
    case FieldKind::choice: {
      const std::string value(field.choices.back());
      return {"\"" + value + "\"", value};
    }
    case FieldKind::integer: {
      const std::string value = std::to_string(field.min * 2 + 1);
      return {value, value};
    }
    case FieldKind::names:
      return {"[\"topoext\"]", "topoext"};
    case FieldKind::cpusets:
      return {"[1, \"0,2\"]", "1; 0,2"};
    case FieldKind::text:
    case FieldKind::line:
      if (field.key == "looking_glass") return {"\"64MiB\"", "64MiB"};  // canonical
      if (field.key == "memory_backing.hugepages") return {"\"2MiB\"", "2MiB"};
      if (field.key == "cpu.pinning.emulator") return {"\"0-1\"", "0-1"};
      if (field.key == "video_vram") return {"\"32MiB\"", "32MiB"};
      // Within a length limit too.
      if (field.max > 0) return {"\"50% & <ok>\"", "50% & <ok>"};
      return {"\"a note: 50% & <ok>\"", "a note: 50% & <ok>"};
  }
  return {};
}

// What a row's rules across keys need beside it in [vm.a], as TOML tables after it.
std::string companions(const std::string& key) {
  if (key == "spice_agent") return "\n[vm.a.graphics]\ntype = \"spice\"\n";
  if (key == "watchdog_action") return "watchdog = \"i6300esb\"\n";
  if (key == "video_accel3d") return "video = \"virtio\"\n";
  if (key == "boot_menu_timeout") return "boot_menu = true\n";
  if (key == "tpm.backend") return "tpm.device = \"/dev/tpm0\"\n";
  if (key == "tpm.version") return "tpm.model = \"tpm-tis\"\n";
  if (key == "tpm.device") return "tpm.backend = \"passthrough\"\n";
  if (key == "cpu.model") return "cpu.mode = \"custom\"\n";
  if (key == "cpu.pinning.iothreads") return "iothreads = 2\n";
  // The sample topology's product.
  if (key.starts_with("cpu.") && key != "cpu.mode") return "vcpus = 3\n";
  return "";
}

// The rows the row needs on (vm_fields.h's FieldNeed), and what those need.
void add_needs(std::string_view key, std::set<std::string>& needed) {
  for (const FieldNeed& need : field_needs())
    if (need.key == key && needed.insert(std::string(need.needs)).second)
      add_needs(need.needs, needed);
}

// The TOML lines turning them on.
std::string needed_by(const VmField& field) {
  std::set<std::string> needed;
  add_needs(field.key, needed);
  std::string lines;
  for (const std::string& key : needed) lines += key + " = true\n";
  return lines;
}

// A TCG guest, as the e2e tests run, unless the row (or one it needs) asks for KVM: QEMU sets
// Hyper-V's VP index only through it, and plan warns otherwise.
std::string type_for(const VmField& field) {
  std::set<std::string> needed;
  add_needs(field.key, needed);
  const bool vp_index = field.key == "hyperv.vpindex" || needed.count("hyperv.vpindex");
  return vp_index ? "kvm" : "qemu";
}

// docs/configuration.md's section of the row's table: "### `[vm.X.hyperv]`" up to the next
// heading; the whole document for a key of [vm.X] itself.
std::string section_of(const std::string& docs, std::string_view table) {
  if (table.empty()) return docs;
  const auto start = docs.find("### `[vm.X." + std::string(table) + "]`");
  if (start == std::string::npos) return "";
  const auto end = docs.find("\n#", start + 1);
  return docs.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The config schema's properties of the row's table ("cpu.features": in cpu's).
const json& config_properties(const json& vm, std::string_view table) {
  if (table.empty()) return vm;
  const auto dot = table.rfind('.');
  if (dot == std::string_view::npos) return vm.at(std::string(table)).at("properties");
  return config_properties(vm, table.substr(0, dot))
      .at(std::string(table.substr(dot + 1)))
      .at("properties");
}

}  // namespace

TEST_CASE("every attribute row is documented in docs/configuration.md as the table says",
          "[vm_fields]") {
  const std::string docs = read_text(kSource + "/docs/configuration.md");
  for (const VmField& field : vm_fields()) {
    INFO(field.key);
    const std::string row = "| `" + std::string(field_name(field)) + "` | left alone | " +
                            std::string(field.meaning) + " |";
    CHECK(section_of(docs, field_table(field)).find(row) != std::string::npos);
  }
  for (const FieldPreset& preset : field_presets()) {
    INFO(preset.table << " " << preset.name);
    const std::string row = "| `preset` | none | " + std::string(preset.meaning) + " |";
    CHECK(section_of(docs, preset.table).find(row) != std::string::npos);
  }
}

TEST_CASE("the sub-tables are those the rows name, and each preset sets rows it may",
          "[vm_fields]") {
  std::vector<std::string_view> named;
  for (const VmField& field : vm_fields()) {
    const std::string_view table = field_table(field);
    if (!table.empty() && std::find(named.begin(), named.end(), table) == named.end())
      named.push_back(table);
  }
  CHECK(std::vector<std::string_view>(field_tables().begin(), field_tables().end()) == named);
  for (const FieldPreset& preset : field_presets())
    for (const auto& [key, value] : preset.values) {
      INFO(key);
      REQUIRE(find_vm_field(key));
      CHECK(find_vm_field(key)->timing == FieldTiming::next_boot);
    }
  for (const FieldNeed& need : field_needs()) {
    REQUIRE(find_vm_field(need.key));
    REQUIRE(find_vm_field(need.needs));
    CHECK(find_vm_field(need.needs)->kind == FieldKind::boolean);
  }
}

TEST_CASE("both JSON schemas describe every attribute row with its values", "[vm_fields]") {
  const json config = read_json(kSource + "/schemas/virtform.schema.json");
  const json plan = read_json(kSource + "/schemas/plan.schema.json");
  const json& in_config = config.at("definitions").at("vm").at("properties");
  const json& in_plan =
      plan.at(json::json_pointer("/definitions/declared_vm/properties/attributes/properties"));
  CHECK(in_plan.size() == vm_fields().size());
  for (const VmField& field : vm_fields()) {
    const std::string key(field.key);
    INFO(key);
    const json& in_table = config_properties(in_config, field_table(field));
    const std::string name(field_name(field));
    REQUIRE(in_table.contains(name));
    REQUIRE(in_plan.contains(key));
    const json& configured = in_table.at(name);
    switch (field.kind) {
      case FieldKind::boolean:
        CHECK(configured.at("type") == "boolean");
        CHECK(in_plan.at(key).at("enum") == json({"true", "false"}));
        break;
      case FieldKind::choice: {
        const json choices(std::vector<std::string>(field.choices.begin(), field.choices.end()));
        CHECK(configured.at("enum") == choices);
        CHECK(in_plan.at(key).at("enum") == choices);
        break;
      }
      case FieldKind::integer:
        CHECK(configured.at("type") == "integer");
        CHECK(configured.at("minimum") == field.min);
        CHECK(configured.at("maximum") == field.max);
        CHECK(in_plan.at(key).at("pattern") == "^[0-9]+$");
        break;
      case FieldKind::text:
        CHECK(configured.at("type") == "string");
        CHECK(in_plan.at(key).at("type") == "string");
        break;
      case FieldKind::names:
        CHECK(configured.at("type") == "array");
        CHECK(configured.at("items").at("pattern") == "^[a-z0-9_.-]+$");
        CHECK(in_plan.at(key).at("pattern") == "^[a-z0-9_.-]+(, [a-z0-9_.-]+)*$");
        break;
      case FieldKind::cpusets:
        CHECK(configured.at("type") == "array");
        CHECK(configured.at("items").at("type") == json({"integer", "string"}));
        CHECK(in_plan.at(key).at("pattern") == "^[0-9,-]+(; [0-9,-]+)*$");
        break;
      case FieldKind::line: {
        if (field.canonical) {  // a form of its own, which its pattern describes
          CHECK(configured.contains("pattern"));
          CHECK(in_plan.at(key).contains("pattern"));
          break;
        }
        const std::string pattern = "^[^\\r\\n" + std::string(field.refused) + "]+$";
        CHECK(configured.at("pattern") == pattern);
        CHECK(in_plan.at(key).at("pattern") == pattern);
        break;
      }
    }
    if (field.max > 0 && field.kind == FieldKind::line) {
      CHECK(configured.at("maxLength") == field.max);
      CHECK(in_plan.at(key).at("maxLength") == field.max);
    }
  }
  for (std::string_view table : field_tables()) {
    const auto dot = table.rfind('.');
    const json& parent = dot == std::string_view::npos
                             ? in_config
                             : config_properties(in_config, table.substr(0, dot));
    CHECK(parent.at(std::string(table.substr(dot + 1))).at("additionalProperties") == false);
  }
}

TEST_CASE("the libvirt provider knows every attribute row and can set each live one",
          "[vm_fields]") {
  CHECK(domain_fields().size() == vm_fields().size());
  for (const VmField& field : vm_fields()) {
    INFO(field.key);
    const DomainField* xml = find_domain_field(field.key);
    REQUIRE(xml);
    CHECK((xml->set_live != nullptr) == (field.timing == FieldTiming::live));
  }
}

TEST_CASE("each attribute goes from TOML to domain XML and back, and through a saved plan",
          "[vm_fields]") {
  for (const VmField& field : vm_fields()) {
    const std::string key(field.key);
    SECTION(key) {
      const auto [toml_value, text] = sample(field);
      TempDir dir;
      const std::string file =
          dir.write_file("vm.toml", "[vm.a]\ntype = \"" + type_for(field) + "\"\n" + key + " = " +
                                        toml_value + "\n" + needed_by(field) + companions(key));
      Diagnostics diagnostics;
      const Desired desired = load_config({file}, diagnostics);
      REQUIRE(diagnostics.empty());
      const Vm& vm = desired.vms.at(0);
      REQUIRE(vm.attributes.count(key) == 1);
      CHECK(vm.attributes.at(key) == text);

      // A new domain, and the same value merged into a domain that had another.
      const std::string rendered = render_domain_xml(vm);
      CHECK(parse_domain_xml(rendered).vm.attributes.at(key) == text);
      Vm other = vm;
      other.attributes.clear();
      const std::string merged = merge_domain_xml(render_domain_xml(other), vm);
      CHECK(parse_domain_xml(merged).vm.attributes.at(key) == text);

      CHECK(vm_from_json(vm_to_json(vm)).attributes == vm.attributes);

      // Import writes it back as the key it came from.
      ImportSource source{parse_domain_xml(rendered), {}, {}};
      Diagnostics warnings;
      const std::string imported =
          render_config_toml(desired_from_live({source}, RootedHostFiles("/"), warnings), warnings);
      INFO(imported);
      const std::string table(field_table(field));
      const auto heading = imported.find(table.empty() ? "[vm.a]\n" : "[vm.a." + table + "]\n");
      REQUIRE(heading != std::string::npos);
      CHECK(imported.find("\n" + std::string(field_name(field)) + " = " + toml_value + "\n",
                          heading) != std::string::npos);
    }
  }
}

TEST_CASE("a wrong attribute value is refused at its place", "[vm_fields]") {
  TempDir dir;
  const std::string file =
      dir.write_file("vm.toml",
                     "[vm.a]\non_crash = \"reboot\"\nboot_menu = \"yes\"\ndescription = \"\"\n"
                     "title = \"two\\nlines\"\n");
  Diagnostics diagnostics;
  load_config({file}, diagnostics);
  REQUIRE(diagnostics.size() == 4);
  auto at_line = [&](int line) -> const Diagnostic& {
    for (const Diagnostic& d : diagnostics)
      if (d.where.line == line) return d;
    FAIL("no diagnostic on line " << line);
    throw std::logic_error("unreachable");
  };
  CHECK(at_line(2).message.starts_with("on_crash must be one of \"destroy\", \"restart\""));
  CHECK(at_line(3).message == "boot_menu must be true or false (got a string)");
  CHECK(at_line(4).message == "description must not be empty");
  CHECK(at_line(5).message == "title must be one line");
}

TEST_CASE("attribute text that would not read back from domain XML is refused", "[vm_fields]") {
  TempDir dir;
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"\"  \"", "description must not be only blanks"},
           {"\"a\\r\\nb\"", "description must not hold control characters but tab and line feed"},
           {"\"bell\\u0007\"",
            "description must not hold control characters but tab and line feed"},
       }) {
    INFO(value);
    const std::string file = dir.write_file("vm.toml", "[vm.a]\ndescription = " + value + "\n");
    Diagnostics diagnostics;
    load_config({file}, diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message == message);
    CHECK(diagnostics[0].where.line == 2);
  }
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a boot menu timeout without the boot menu, or past 65535 ms, is refused at its key",
          "[vm_fields]") {
  TempDir dir;
  for (const auto& [lines, message] : std::vector<std::pair<std::string, std::string>>{
           {"boot_menu_timeout = 3000\n",
            "boot_menu_timeout needs the boot menu: set boot_menu = true, or leave "
            "boot_menu_timeout out"},
           {"boot_menu_timeout = 70000\nboot_menu = true\n", "65535"},
       }) {
    INFO(lines);
    const std::string file = dir.write_file("vm.toml", "[vm.a]\n" + lines);
    Diagnostics diagnostics;
    const Desired desired = load_config({file}, diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message.find(message) != std::string::npos);
    CHECK(diagnostics[0].where.line == 2);
  }
}

TEST_CASE("a hidden boot menu's timeout is not read, so import never writes one it refuses",
          "[vm_fields]") {
  const auto domain = [](const std::string& menu) {
    return "<domain type='qemu'><name>a</name><memory>65536</memory><vcpu>1</vcpu><os><type "
           "arch='x86_64' machine='q35'>hvm</type>" +
           menu + "</os></domain>";
  };
  const Vm shown = parse_domain_xml(domain("<bootmenu enable='yes' timeout='3000'/>")).vm;
  CHECK(shown.attributes.at("boot_menu_timeout") == "3000");
  const Vm hidden = parse_domain_xml(domain("<bootmenu enable='no' timeout='3000'/>")).vm;
  CHECK(hidden.attributes.at("boot_menu") == "false");
  CHECK(hidden.attributes.count("boot_menu_timeout") == 0);
}

}  // namespace virtform
