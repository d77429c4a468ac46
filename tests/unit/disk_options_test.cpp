// The disk option table is the one description of its options: the docs, both JSON schemas and
// the libvirt provider's table follow it; each option goes from TOML to a <disk> and back,
// through a saved plan and out again through import; libvirt 9's read-back of them
// (tests/fixtures/libvirt/qemu-disk-options.xml, `virsh dumpxml --inactive` of a domain virtform
// defined on qemu:///system with each set) is no change; and what libvirt or QEMU refuse is
// refused at its key.

#include "engine/model/disk_options.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/dsm/slot_map.h"
#include "engine/import/importer.h"
#include "engine/plan/diff.h"
#include "engine/plan/model_json.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/disk_fields.h"
#include "providers/libvirt/domain_xml.h"
#include "support/loaded_config.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using nlohmann::json;
using testing::load_config_from;

const std::string kSource = VIRTFORM_SOURCE_DIR;

using testing::read_file;

// A value libvirt takes for each option, as TOML and as canonical text, with the bus (and the
// other keys) it needs beside it.
struct Sample {
  std::string toml;
  std::string text;
  std::string beside;
};

Sample sample(const DiskOption& option) {
  const std::string_view key = option.field.key;
  if (key == "discard") return {"\"unmap\"", "unmap", ""};
  if (key == "detect_zeroes") return {"\"unmap\"", "unmap", "discard = \"unmap\"\n"};
  if (key == "serial") return {"\"WD-WCC4N 1.2_3+4\"", "WD-WCC4N 1.2_3+4", ""};
  // libvirt keeps a WWN as written; the config's is lower case without "0x".
  if (key == "wwn") return {"\"0x5000C50015EA71AC\"", "5000c50015ea71ac", "bus = \"scsi\"\n"};
  if (key == "iothread") return {"2", "2", ""};
  if (key == "rotation_rate") return {"7200", "7200", "bus = \"sata\"\n"};
  FAIL("no sample for " << key);
  return {};
}

std::string disk_with(const std::string& lines) {
  return "[vm.a]\ntype = \"qemu\"\n[[vm.a.disk]]\nfile = \"/var/lib/libvirt/images/a.img\"\n" +
         lines;
}

// The disk's [[vm.a.disk]] table in imported TOML, up to the next table.
std::string imported_disk_table(const std::string& toml) {
  const auto start = toml.find("[[vm.a.disk]]");
  if (start == std::string::npos) return "";
  return toml.substr(start, toml.find("\n[", start + 1) - start);
}

std::string import_of(const LiveDomain& domain) {
  Diagnostics warnings;
  return render_config_toml(
      desired_from_live({ImportSource{domain, {}, {}}}, RootedHostFiles("/"), warnings), warnings);
}

std::string errors_of(const Diagnostics& diagnostics) {
  std::string text;
  for (const Diagnostic& diagnostic : diagnostics)
    if (diagnostic.severity == Severity::error) text += diagnostic.message + "\n";
  return text;
}

}  // namespace

TEST_CASE("every disk option is documented in the disk table as the option table says",
          "[disk_options]") {
  const std::string docs = read_file(kSource + "/docs/configuration.md");
  const auto section = docs.find("### `[[vm.X.disk]]`");
  REQUIRE(section != std::string::npos);
  const std::string table = docs.substr(section, docs.find("\n#", section + 1) - section);
  for (const DiskOption& option : disk_options()) {
    INFO(option.field.key);
    const std::string row = "| `" + std::string(option.field.key) + "` | left alone | " +
                            std::string(option.field.meaning) + " |";
    CHECK(table.find(row) != std::string::npos);
  }
}

TEST_CASE("both JSON schemas describe every disk option with its values", "[disk_options]") {
  const json config = json::parse(read_file(kSource + "/schemas/virtform.schema.json"));
  const json plan = json::parse(read_file(kSource + "/schemas/plan.schema.json"));
  const json& in_config = config.at(json::json_pointer("/definitions/disk/properties"));
  const json& in_plan =
      plan.at(json::json_pointer("/definitions/disk/properties/options/properties"));
  CHECK(in_plan.size() == disk_options().size());
  for (const DiskOption& option : disk_options()) {
    const std::string key(option.field.key);
    INFO(key);
    REQUIRE(in_config.contains(key));
    REQUIRE(in_plan.contains(key));
    std::string meaning(option.field.meaning);
    meaning.erase(std::remove(meaning.begin(), meaning.end(), '`'), meaning.end());
    CHECK(in_config.at(key).at("description") == meaning + " Left alone when absent.");
    const json& configured = in_config.at(key);
    if (option.field.kind == FieldKind::choice) {
      const json choices(
          std::vector<std::string>(option.field.choices.begin(), option.field.choices.end()));
      CHECK(configured.at("enum") == choices);
      CHECK(in_plan.at(key).at("enum") == choices);
    } else if (option.field.kind == FieldKind::integer) {
      CHECK(configured.at("minimum") == option.field.min);
      CHECK(configured.at("maximum") == option.field.max);
      CHECK(in_plan.at(key).at("pattern") == "^[0-9]+$");
    } else {
      CHECK(configured.at("type") == "string");
    }
  }
}

TEST_CASE("the libvirt provider has a place in a disk for every disk option", "[disk_options]") {
  CHECK(disk_fields().size() == disk_options().size());
  for (const DiskOption& option : disk_options()) {
    INFO(option.field.key);
    CHECK(std::any_of(disk_fields().begin(), disk_fields().end(),
                      [&](const DiskField& field) { return field.key == option.field.key; }));
    CHECK(option.field.timing == FieldTiming::next_boot);
  }
}

TEST_CASE("each disk option goes from TOML to a disk element and back, through a saved plan",
          "[disk_options]") {
  for (const DiskOption& option : disk_options()) {
    const std::string key(option.field.key);
    SECTION(key) {
      const Sample value = sample(option);
      const auto loaded =
          load_config_from(disk_with(value.beside + key + " = " + value.toml + "\n"), "vm.toml");
      INFO(testing::formatted(loaded.diagnostics));
      REQUIRE(loaded.diagnostics.empty());
      const Disk& disk = loaded.vm().disks.at(0);
      REQUIRE(disk.options.count(key) == 1);
      CHECK(disk.options.at(key) == value.text);

      // A new domain, and the same value merged into a domain whose disk had none.
      const std::string rendered = render_domain_xml(loaded.vm());
      CHECK(parse_domain_xml(rendered).vm.disks.at(0).options == disk.options);
      Vm bare = loaded.vm();
      bare.disks.at(0).options.clear();
      const std::string merged = merge_domain_xml(render_domain_xml(bare), loaded.vm());
      CHECK(parse_domain_xml(merged).vm.disks.at(0).options == disk.options);

      CHECK(vm_from_json(vm_to_json(loaded.vm())).disks.at(0).options == disk.options);

      // Import writes it back as its key, as the config reads it.
      const std::string imported = imported_disk_table(import_of(parse_domain_xml(rendered)));
      INFO(imported);
      const std::string written =
          option.field.kind == FieldKind::integer ? value.text : "\"" + value.text + "\"";
      CHECK(imported.find("\n" + key + " = " + written + "\n") != std::string::npos);
    }
  }
}

TEST_CASE("libvirt's read-back of the disk options and boot order is what was declared",
          "[disk_options][domain_xml]") {
  const std::string xml = read_file(kSource + "/tests/fixtures/libvirt/qemu-disk-options.xml");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  INFO(errors_of(unexpressed));
  // The fragment's <iothreads> is the only thing of the domain no key expresses.
  for (const Diagnostic& diagnostic : unexpressed)
    CHECK(diagnostic.message == "not expressed in virtform: iothreads");
  const Disk* system = live.vm.find_disk("/var/lib/libvirt/images/options-system.img");
  const Disk* data = live.vm.find_disk("/var/lib/libvirt/images/options-data.img");
  const Disk* ssd = live.vm.find_disk("/var/lib/libvirt/images/options-ssd.img");
  REQUIRE(system);
  REQUIRE(data);
  REQUIRE(ssd);
  CHECK(system->boot_order == 1u);
  CHECK(system->options == std::map<std::string, std::string>{{"discard", "unmap"},
                                                              {"detect_zeroes", "unmap"},
                                                              {"serial", "SYS-0001"},
                                                              {"iothread", "1"}});
  CHECK(data->boot_order == 2u);
  CHECK(data->options == std::map<std::string, std::string>{{"serial", "DATA 0002"},
                                                            {"wwn", "5000c50015ea71ac"},
                                                            {"rotation_rate", "7200"}});
  CHECK(ssd->options == std::map<std::string, std::string>{{"discard", "ignore"},
                                                           {"detect_zeroes", "on"},
                                                           {"rotation_rate", "1"}});

  // Declared as they were, the read-back plans nothing; import writes the same keys.
  const std::string imported = import_of(live);
  INFO(imported);
  for (const char* line :
       {"boot = 1\n", "discard = \"unmap\"\n", "detect_zeroes = \"unmap\"\n",
        "serial = \"SYS-0001\"\n", "iothread = 1\n", "boot = 2\n", "wwn = \"5000c50015ea71ac\"\n",
        "rotation_rate = 7200\n", "rotation_rate = 1\n"})
    CHECK(imported.find(line) != std::string::npos);
  Diagnostics diagnostics;
  Desired desired = load_config_text(imported, "imported.toml", diagnostics);
  INFO(errors_of(diagnostics));
  REQUIRE(errors_of(diagnostics).empty());
  Live host;
  LiveDomain domain = live;
  // The <iothreads> fragment the fixture's domain was defined with is no disk's: left out.
  domain.vm.xml.clear();
  host.domains.push_back(domain);
  for (const Disk& disk : live.vm.disks) host.existing_files.insert(disk.source);
  const std::vector<Change> changes = diff(desired, host, {}, diagnostics);
  for (const Change& change : changes)
    for (const FieldChange& field : change.fields)
      FAIL_CHECK(field.field << ": " << field.before << " -> " << field.after);
}

TEST_CASE("a changed disk option reaches a running guest at its next boot", "[disk_options]") {
  const auto loaded = load_config_from(disk_with("serial = \"NEW\"\n"), "vm.toml");
  REQUIRE(loaded.diagnostics.empty());
  LiveDomain domain;
  domain.managed = true;
  domain.running = true;
  domain.vm = loaded.vm();
  domain.vm.disks.at(0).options = {{"serial", "OLD"}, {"discard", "unmap"}};
  Live live;
  live.domains.push_back(domain);
  live.existing_files.insert(domain.vm.disks.at(0).source);
  Diagnostics diagnostics;
  const std::vector<Change> changes = diff(loaded.desired, live, {}, diagnostics);
  REQUIRE(changes.size() == 1);
  REQUIRE(changes[0].fields.size() == 1);
  const FieldChange& field = changes[0].fields[0];
  CHECK(field.field == "disk[/var/lib/libvirt/images/a.img]");
  CHECK(field.before.find("serial OLD") != std::string::npos);
  CHECK(field.after.find("serial NEW") != std::string::npos);
  CHECK(field.disruption == Disruption::next_boot);
  // An option the config leaves out (discard) is the domain's: no change for it alone.
  const auto same = load_config_from(disk_with("serial = \"OLD\"\n"), "vm.toml");
  for (const Change& change : diff(same.desired, live, {}, diagnostics))
    for (const FieldChange& other : change.fields)
      FAIL_CHECK(other.field << ": " << other.before << " -> " << other.after);
}

TEST_CASE("a disk option libvirt or QEMU would refuse is refused at its key, naming the fix",
          "[disk_options]") {
  struct Case {
    std::string lines;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"detect_zeroes = \"unmap\"\n", "needs discard = \"unmap\" on the same disk"},
      {"discard = \"ignore\"\ndetect_zeroes = \"unmap\"\n", "set discard = \"unmap\""},
      {"serial = \"a,b\"\n", "letters, digits, spaces and _ . + -"},
      {"serial = \"" + std::string(21, 'S') + "\"\n", "at most 20 characters on the virtio bus"},
      {"bus = \"scsi\"\nserial = \"" + std::string(37, 'S') + "\"\n", "at most 36 characters"},
      {"bus = \"scsi\"\nwwn = \"5000c500\"\n", "wwn must be 16 hex digits"},
      {"wwn = \"5000c50015ea71ac\"\n",
       "wwn applies to a disk on the scsi bus; this one is on virtio"},
      {"bus = \"sata\"\nwwn = \"5000c50015ea71ac\"\n", "libvirt refuses it there"},
      {"rotation_rate = 1\n", "rotation_rate applies to a disk on the scsi or sata bus"},
      {"bus = \"sata\"\nrotation_rate = 1000\n", "1 (a solid-state disk) or an RPM from 1025"},
      {"bus = \"sata\"\nrotation_rate = 70000\n", "between 1 and 65534"},
      {"bus = \"scsi\"\niothread = 1\n", "iothread applies to a disk on the virtio bus"},
      {"iothread = 0\n", "between 1 and 65535"},
      {"discard = \"trim\"\n", "discard must be one of \"unmap\", \"ignore\""},
      {"boot = 0\n", "boot must be between 1 and 9999"},
  };
  for (const Case& entry : cases) {
    INFO(entry.lines);
    const auto loaded = load_config_from(disk_with(entry.lines), "vm.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK_THAT(loaded.diagnostics[0].message, Catch::Contains(entry.message));
    // At the key it is about, the disk table's last line.
    CHECK(loaded.diagnostics[0].where.line ==
          static_cast<int>(std::count(entry.lines.begin(), entry.lines.end(), '\n')) + 4);
  }
}

TEST_CASE("two devices at one place in the boot order are refused, the loader's first",
          "[disk_options]") {
  // The config refused with one error, at line 7, naming the other holder of the place.
  const auto refused_at_line_7 = [](const std::string& config, const std::string& message) {
    const auto loaded = load_config_from(config, "vm.toml");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK_THAT(loaded.diagnostics[0].message, Catch::Contains(message));
    CHECK(loaded.diagnostics[0].where.line == 7);
  };
  refused_at_line_7(
      "[vm.a]\n[[vm.a.disk]]\nfile = \"/a.img\"\nboot = 2\n[[vm.a.disk]]\nfile = \"/b.img\"\n"
      "boot = 2\n",
      "boot = 2 is already taken by disk /a.img at vm.toml:2");
  refused_at_line_7(
      "[loader.l]\nimage = \"/l.img\"\n[vm.a.boot]\nloader = \"l\"\n[[vm.a.disk]]\n"
      "file = \"/a.img\"\nboot = 1\n",
      "the loader of [vm.a.boot], which boots first");

  // Boot orders of their own: written as per-device orders, without <os><boot dev>.
  const auto ordered = load_config_from(
      "[vm.a]\n[[vm.a.disk]]\nfile = \"/a.img\"\nboot = 2\n[[vm.a.disk]]\nfile = \"/b.img\"\n"
      "boot = 1\n",
      "vm.toml");
  REQUIRE(ordered.diagnostics.empty());
  CHECK(ordered.vm().disks.at(0).boot_order == 2u);
  CHECK(ordered.vm().disks.at(1).boot_order == 1u);
  const std::string merged = merge_domain_xml(
      "<domain type='qemu'><name>a</name><os><type arch='x86_64' machine='q35'>hvm</type><boot "
      "dev='cdrom'/></os><devices/></domain>",
      ordered.vm());
  CHECK(merged.find("<boot dev") == std::string::npos);
  const LiveDomain read = parse_domain_xml(merged);
  CHECK(read.vm.find_disk("/b.img")->boot_order == 1u);
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a DSM data disk later in the boot order is still one of its drives", "[disk_options]") {
  const auto loaded = testing::load_config_from(
      "[loader.l]\nimage = \"/l.img\"\n[vm.nas]\nprofile = \"dsm\"\n[vm.nas.boot]\nloader = \"l\"\n"
      "[[vm.nas.disk]]\nfile = \"/a.img\"\nboot = 2\n[[vm.nas.disk]]\nfile = \"/b.img\"\n",
      "vm.toml");
  INFO(testing::formatted(loaded.diagnostics));
  REQUIRE(errors_of(loaded.diagnostics).empty());
  CHECK(compute_dsm_slot_map(loaded.vm()).slots.size() == 2);
}

}  // namespace virtform
