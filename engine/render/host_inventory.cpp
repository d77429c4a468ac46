#include "engine/render/host_inventory.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/model/text.h"
#include "engine/render/dsm_render.h"

namespace virtform {

namespace {

// Columns padded to their widest cell; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

std::string or_dash(const std::string& text) {
  return text.empty() ? "-" : text;
}

std::vector<std::string> device_row(const InventoryDevice& device) {
  const PciFunction& function = device.function;
  std::string notes;
  if (function.boot_vga) notes = "boot VGA";
  if (!function.driver_override.empty()) {
    notes += (notes.empty() ? "" : ", ") + std::string("override ") + function.driver_override;
  }
  return {function.address,
          device.class_name,
          function.ids(),
          or_dash(function.driver),
          or_dash(join(device.claimed_by, ", ")),
          notes};
}

std::string disk_use(const BlockDevice& block) {
  std::vector<std::string> uses;
  if (!block.mountpoints.empty()) uses.push_back("mounted " + join(block.mountpoints, ","));
  if (block.swap) uses.push_back("swap");
  if (!block.holders.empty()) uses.push_back("held by " + join(block.holders, ","));
  return or_dash(join(uses, "; "));
}

std::string render_disks(const HostInventory& inventory) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "SIZE", "MODEL", "BY-ID", "CONTROLLER", "USE", "CLAIMED BY"}};
  for (const auto& disk : inventory.disks) {
    const BlockDevice& block = disk.block;
    const std::string by_id = block.preferred_by_id_path();
    rows.push_back({block.name, format_disk_size(block.size_bytes), or_dash(block.model),
                    or_dash(by_id.empty() ? "" : by_id.substr(16)), or_dash(block.controller),
                    disk_use(block), or_dash(join(disk.claimed_by, ", "))});
  }
  return "Disks\n" + table(rows, "  ");
}

nlohmann::json optional_string(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json device_json(const InventoryDevice& device) {
  const PciFunction& function = device.function;
  nlohmann::json json{{"address", function.address},
                      {"class", function.class_code},
                      {"class_name", device.class_name},
                      {"vendor", function.vendor},
                      {"device", function.device},
                      {"subsystem_vendor", function.subsystem_vendor},
                      {"subsystem_device", function.subsystem_device},
                      {"driver", optional_string(function.driver)},
                      {"driver_override", optional_string(function.driver_override)},
                      {"boot_vga", function.boot_vga},
                      {"bridge", function.is_bridge},
                      {"claimed_by", device.claimed_by}};
  json["iommu_group"] = function.iommu_group ? nlohmann::json(*function.iommu_group) : nullptr;
  return json;
}

nlohmann::json disk_json(const InventoryDisk& disk) {
  const BlockDevice& block = disk.block;
  return {{"name", block.name},
          {"path", "/dev/" + block.name},
          {"size_bytes", block.size_bytes},
          {"model", block.model},
          {"by_id", block.by_id},
          {"partitions", block.partitions},
          {"mountpoints", block.mountpoints},
          {"holders", block.holders},
          {"swap", block.swap},
          {"removable", block.removable},
          {"controller", optional_string(block.controller)},
          {"in_use_by_host", block.in_use_by_host()},
          {"claimed_by", disk.claimed_by}};
}

std::string render_dsm_guests(const HostInventory& inventory) {
  if (inventory.dsm_guests.empty()) return "";
  std::string out = "\nDSM guests\n";
  for (const InventoryDsmGuest& guest : inventory.dsm_guests) {
    out += "  " + guest.address + " \"" + guest.name + "\" (" + guest.report.model + ", " +
           guest.report.architecture + "), " +
           (guest.live ? "as the guest is now" : "as configured (no such domain yet)") + ":\n";
    out += render_dsm_report_text(guest.report, "    ");
  }
  return out;
}

}  // namespace

std::string render_host_text(const HostInventory& inventory) {
  std::string out = std::string("IOMMU: ") + (inventory.iommu_enabled ? "on" : "OFF") +
                    "    vfio-pci: " +
                    (inventory.vfio_loaded      ? "loaded"
                     : inventory.vfio_available ? "available (not loaded)"
                                                : "MISSING") +
                    "    bridges: " + or_dash(join(inventory.bridges, ", ")) + "\n";
  for (const auto& group : inventory.groups) {
    out += "\nIOMMU group " + std::to_string(group.number) + "  " + group.verdict + "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& device : group.devices) rows.push_back(device_row(device));
    out += table(rows, "  ");
  }
  if (!inventory.ungrouped.empty()) {
    out += "\nPCI devices in no IOMMU group (the IOMMU is off: none can be passed)\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& device : inventory.ungrouped) rows.push_back(device_row(device));
    out += table(rows, "  ");
  }
  return out + "\n" + render_disks(inventory) + render_dsm_guests(inventory);
}

std::string render_host_json(const HostInventory& inventory) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : inventory.groups) {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& device : group.devices) devices.push_back(device_json(device));
    groups.push_back({{"group", group.number},
                      {"viable", group.viable},
                      {"verdict", group.verdict},
                      {"devices", devices}});
  }
  nlohmann::json ungrouped = nlohmann::json::array();
  for (const auto& device : inventory.ungrouped) ungrouped.push_back(device_json(device));
  nlohmann::json disks = nlohmann::json::array();
  for (const auto& disk : inventory.disks) disks.push_back(disk_json(disk));
  nlohmann::json guests = nlohmann::json::array();
  for (const auto& guest : inventory.dsm_guests) {
    nlohmann::json entry = dsm_report_json(guest.report);
    entry["address"] = guest.address;
    entry["name"] = guest.name;
    entry["layout"] = guest.live ? "live" : "config";
    guests.push_back(entry);
  }
  const nlohmann::json json{{"iommu_enabled", inventory.iommu_enabled},
                            {"vfio_loaded", inventory.vfio_loaded},
                            {"vfio_available", inventory.vfio_available},
                            {"groups", groups},
                            {"ungrouped", ungrouped},
                            {"disks", disks},
                            {"bridges", inventory.bridges},
                            {"dsm_guests", guests}};
  return json.dump(2) + "\n";
}

}  // namespace virtform
