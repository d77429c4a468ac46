// docs/configuration.md documents exactly the keys the loader reads, table by table: no key
// without its row, and no row for a key that does not exist.

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>

#include "engine/config/keys.h"
#include "engine/model/vm_fields.h"

namespace virtform {
namespace {

const std::string kSource = VIRTFORM_SOURCE_DIR;

// The first column's keys of each section's table, by the table name in the section's heading
// ("[vm.X]", "[[vm.X.disk]]" -> "vm", "disk").
std::map<std::string, std::set<std::string>> documented_keys() {
  std::ifstream in(kSource + "/docs/configuration.md");
  REQUIRE(in);
  std::map<std::string, std::set<std::string>> keys;
  std::string line, table;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      const auto open = line.find("`[");
      table.clear();
      if (open == std::string::npos) continue;
      std::string name = line.substr(open + 1, line.find('`', open + 1) - open - 1);
      name.erase(0, name.find_first_not_of('['));
      name.erase(name.find(']'));
      // "vm.X.disk" -> "disk", "vm.X.cpu.features" -> "cpu.features".
      table = name == "vm.X" ? "vm" : name.substr(name.find('.', name.find('.') + 1) + 1);
      if (name == "loader.X") table = "loader";
    } else if (!table.empty() && line.starts_with("| `")) {
      keys[table].insert(line.substr(3, line.find('`', 3) - 3));
    }
  }
  return keys;
}

std::set<std::string> as_set(std::span<const std::string_view> keys) {
  return {keys.begin(), keys.end()};
}

}  // namespace

TEST_CASE("docs/configuration.md has a row for each key the loader reads and no other", "[docs]") {
  std::set<std::string> vm_keys = as_set(keys::kVm);
  // Sub-tables have sections of their own.
  for (const char* table : {"boot", "disk", "nic", "graphics", "serial", "pci", "dsm", "xml",
                            "share", "usb", "input", "mdev"})
    vm_keys.erase(table);
  std::map<std::string, std::set<std::string>> expected = {
      {"loader", as_set(keys::kLoader)}, {"vm", vm_keys},
      {"boot", as_set(keys::kBoot)},     {"disk", as_set(keys::kDisk)},
      {"nic", as_set(keys::kNic)},       {"graphics", as_set(keys::kGraphics)},
      {"serial", as_set(keys::kSerial)}, {"pci", as_set(keys::kPci)},
      {"dsm", as_set(keys::kDsm)},       {"xml", as_set(keys::kXml)},
      {"share", as_set(keys::kShare)},   {"usb", as_set(keys::kUsb)},
      {"input", as_set(keys::kInput)},   {"mdev", as_set(keys::kMdev)}};
  // The attribute rows' sub-tables ([vm.X.hyperv], ...).
  for (std::string_view table : field_tables()) {
    expected["vm"].erase(std::string(table));
    expected[std::string(table)] = as_set(keys::attribute_table(table));
  }
  // So do the sub-tables' own ([vm.X.cpu.features]).
  for (std::string_view table : field_tables())
    if (const auto dot = table.rfind('.'); dot != std::string_view::npos)
      expected[std::string(table.substr(0, dot))].erase(std::string(table.substr(dot + 1)));
  CHECK(documented_keys() == expected);
}

}  // namespace virtform
