#include "engine/config/keys.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "engine/model/disk_options.h"
#include "engine/model/vm_fields.h"

namespace virtform::keys {
namespace {

constexpr std::array<std::string_view, 3> kTopLevelKeys = {"project", "loader", "vm"};
constexpr std::array<std::string_view, 2> kLoaderKeys = {"image", "sha256"};
// `cpu` is [vm.X.cpu]'s, a table of attribute rows (or its one-string form).
constexpr std::array<std::string_view, 30> kVmKeys = {
    "name",       "type",       "memory",    "vcpus",    "vcpus_max",
    "machine",    "state",      "autostart", "restart",  "shutdown_timeout",
    "force_stop", "adopt",      "kernel",    "initrd",   "cmdline",
    "boot",       "disk",       "nic",       "graphics", "serial",
    "pci",        "profile",    "dsm",       "xml",      "share",
    "memory_max", "virtio_win", "usb",       "input",    "mdev"};
constexpr std::array<std::string_view, 6> kFirmwareKeys = {
    "firmware", "firmware_code", "firmware_vars", "nvram", "firmware_autoselect", "secure_boot"};
constexpr std::array<std::string_view, 3> kBootKeys = {"loader", "bus", "overlay"};
constexpr std::array<std::string_view, 12> kDiskKeys = {
    "device",   "source",     "file", "size",  "format", "bus",
    "readonly", "controller", "unit", "cache", "io",     "boot"};
constexpr std::array<std::string_view, 4> kNicKeys = {"bridge", "network", "model", "mac"};
constexpr std::array<std::string_view, 7> kGraphicsKeys = {
    "type", "listen", "port", "gl", "rendernode", "password_file", "password_env"};
constexpr std::array<std::string_view, 1> kSerialKeys = {"type"};
constexpr std::array<std::string_view, 2> kXmlKeys = {"xml", "parent"};
constexpr std::array<std::string_view, 8> kPciKeys = {
    "address", "vendor", "device", "rom", "managed", "bind", "rombar", "guest_address"};
constexpr std::array<std::string_view, 7> kUsbKeys = {"vendor", "product", "bus",     "device",
                                                      "port",   "serial",  "optional"};
constexpr std::array<std::string_view, 6> kInputKeys = {"type", "bus",         "source",
                                                        "grab", "grab_toggle", "repeat"};
constexpr std::array<std::string_view, 3> kMdevKeys = {"uuid", "model", "display"};
constexpr std::array<std::string_view, 3> kShareKeys = {"source", "tag", "readonly"};
constexpr std::array<std::string_view, 4> kDsmKeys = {"model", "sata_port_map", "disk_idx_map",
                                                      "acpid"};

// The keys read by hand, then those of the attribute table and its sub-tables.
std::span<const std::string_view> all_vm_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> all(kVmKeys.begin(), kVmKeys.end());
    all.insert(all.end(), kFirmwareKeys.begin(), kFirmwareKeys.end());
    for (const VmField& field : vm_fields())
      if (field_table(field).empty()) all.push_back(field.key);
    for (std::string_view table : field_tables())
      if (table.find('.') == std::string_view::npos) all.push_back(table);
    return all;
  }();
  return keys;
}

// The disk keys read by hand, then those of the disk option table.
std::span<const std::string_view> all_disk_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> all(kDiskKeys.begin(), kDiskKeys.end());
    for (const DiskOption& option : disk_options()) all.push_back(option.field.key);
    return all;
  }();
  return keys;
}

// Each sub-table's rows by their names in it, and `preset` where the table has presets.
const std::map<std::string_view, std::vector<std::string_view>>& attribute_tables() {
  static const std::map<std::string_view, std::vector<std::string_view>> tables = [] {
    std::map<std::string_view, std::vector<std::string_view>> all;
    for (const VmField& field : vm_fields())
      if (!field_table(field).empty()) all[field_table(field)].push_back(field_name(field));
    for (std::string_view table : field_tables()) {
      const auto dot = table.rfind('.');
      if (dot == std::string_view::npos) continue;
      std::vector<std::string_view>& keys = all[table.substr(0, dot)];
      if (std::find(keys.begin(), keys.end(), table.substr(dot + 1)) == keys.end())
        keys.push_back(table.substr(dot + 1));
    }
    for (const FieldPreset& preset : field_presets()) {
      std::vector<std::string_view>& keys = all[preset.table];
      if (std::find(keys.begin(), keys.end(), "preset") == keys.end()) keys.push_back("preset");
    }
    return all;
  }();
  return tables;
}

}  // namespace

const std::span<const std::string_view> kTopLevel = kTopLevelKeys;
const std::span<const std::string_view> kLoader = kLoaderKeys;
const std::span<const std::string_view> kVm = all_vm_keys();
const std::span<const std::string_view> kBoot = kBootKeys;
const std::span<const std::string_view> kDisk = all_disk_keys();
const std::span<const std::string_view> kNic = kNicKeys;
const std::span<const std::string_view> kGraphics = kGraphicsKeys;
const std::span<const std::string_view> kSerial = kSerialKeys;
const std::span<const std::string_view> kPci = kPciKeys;
const std::span<const std::string_view> kDsm = kDsmKeys;
const std::span<const std::string_view> kXml = kXmlKeys;
const std::span<const std::string_view> kShare = kShareKeys;
const std::span<const std::string_view> kUsb = kUsbKeys;
const std::span<const std::string_view> kInput = kInputKeys;
const std::span<const std::string_view> kMdev = kMdevKeys;

std::span<const std::string_view> attribute_table(std::string_view table) {
  const auto found = attribute_tables().find(table);
  if (found == attribute_tables().end()) return {};
  return found->second;
}

std::size_t edit_distance(std::string_view from, std::string_view to) {
  // Optimal string alignment: Levenshtein plus transposition, so "memroy" is one edit away.
  const std::size_t rows = from.size() + 1, columns = to.size() + 1;
  std::vector<std::size_t> d(rows * columns);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * columns + j]; };
  for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j < columns; ++j) at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < columns; ++j) {
      std::size_t cost = from[i - 1] == to[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && from[i - 1] == to[j - 2] && from[i - 2] == to[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, columns - 1);
}

std::optional<std::string> nearest(std::string_view word,
                                   std::span<const std::string_view> candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    std::size_t distance = edit_distance(word, candidate);
    // A third of the word may be wrong; beyond that a suggestion is more confusing than helpful.
    std::size_t allowed = std::max<std::size_t>(1, std::min(word.size(), candidate.size()) / 3);
    if (distance > allowed) continue;
    if (!best || distance < best_distance) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace virtform::keys
