#include "engine/model/host.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

namespace virtform {

namespace {

// Names as lspci prints them, for the classes a passthrough host typically shows.
constexpr std::array<std::pair<std::string_view, std::string_view>, 36> kClassNames{{
    {"0000", "Non-VGA unclassified device"},
    {"0100", "SCSI storage controller"},
    {"0101", "IDE interface"},
    {"0104", "RAID bus controller"},
    {"0106", "SATA controller"},
    {"0107", "Serial Attached SCSI controller"},
    {"0108", "Non-Volatile memory controller"},
    {"0180", "Mass storage controller"},
    {"0200", "Ethernet controller"},
    {"0207", "Infiniband controller"},
    {"0280", "Network controller"},
    {"0300", "VGA compatible controller"},
    {"0302", "3D controller"},
    {"0380", "Display controller"},
    {"0401", "Multimedia audio controller"},
    {"0403", "Audio device"},
    {"0480", "Multimedia controller"},
    {"0500", "RAM memory"},
    {"0580", "Memory controller"},
    {"0600", "Host bridge"},
    {"0601", "ISA bridge"},
    {"0604", "PCI bridge"},
    {"0680", "Bridge"},
    {"0700", "Serial controller"},
    {"0780", "Communication controller"},
    {"0806", "IOMMU"},
    {"0880", "System peripheral"},
    {"0c03", "USB controller"},
    {"0c05", "SMBus"},
    {"0c80", "Serial bus controller"},
    {"0d11", "Bluetooth"},
    {"0d80", "Wireless controller"},
    {"1080", "Encryption controller"},
    {"1101", "Performance counters"},
    {"1180", "Signal processing controller"},
    {"1300", "Non-Essential Instrumentation"},
}};

// Base classes, for subclasses not in the table above.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kBaseClassNames{{
    {"01", "Mass storage controller"},
    {"02", "Network controller"},
    {"03", "Display controller"},
    {"04", "Multimedia controller"},
    {"05", "Memory controller"},
    {"06", "Bridge"},
    {"07", "Communication controller"},
    {"08", "Generic system peripheral"},
    {"09", "Input device controller"},
    {"0c", "Serial bus controller"},
    {"0d", "Wireless controller"},
    {"10", "Encryption controller"},
    {"11", "Signal processing controller"},
    {"ff", "Unassigned class"},
}};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string PciFunction::slot() const {
  const auto dot = address.rfind('.');
  return dot == std::string::npos ? address : address.substr(0, dot);
}

std::string BlockDevice::preferred_by_id_path() const {
  // wwn- and nvme-eui. names are stable too, but the vendor/model/serial names are the ones a
  // person can match against the label on the drive.
  for (const std::string_view prefix : {"ata-", "nvme-", "scsi-", "usb-", ""}) {
    for (const auto& id : by_id) {
      if (id.starts_with(prefix) && !id.starts_with("nvme-eui.")) {
        return "/dev/disk/by-id/" + id;
      }
    }
  }
  return by_id.empty() ? "" : "/dev/disk/by-id/" + by_id.front();
}

const PciFunction* HostDevices::find_pci(const std::string& address) const {
  const auto it =
      std::lower_bound(pci.begin(), pci.end(), address,
                       [](const PciFunction& f, const std::string& a) { return f.address < a; });
  if (it != pci.end() && it->address == address) return &*it;
  // Not sorted (built by hand): fall back to a scan.
  for (const auto& function : pci) {
    if (function.address == address) return &function;
  }
  return nullptr;
}

std::vector<const PciFunction*> HostDevices::find_pci_by_ids(const std::string& vendor_id,
                                                             const std::string& device_id) const {
  std::vector<const PciFunction*> found;
  for (const auto& function : pci) {
    if (function.vendor == lower(vendor_id) && function.device == lower(device_id)) {
      found.push_back(&function);
    }
  }
  return found;
}

const BlockDevice* HostDevices::find_block(const std::string& name) const {
  for (const auto& block : blocks) {
    if (block.name == name) return &block;
  }
  return nullptr;
}

const BlockDevice* HostDevices::resolve_block(const std::string& path) const {
  constexpr std::string_view kById = "/dev/disk/by-id/";
  if (path.starts_with(kById)) {
    const std::string id = path.substr(kById.size());
    for (const auto& block : blocks) {
      if (std::find(block.by_id.begin(), block.by_id.end(), id) != block.by_id.end()) {
        return &block;
      }
    }
    return nullptr;
  }
  constexpr std::string_view kDev = "/dev/";
  return find_block(path.starts_with(kDev) ? path.substr(kDev.size()) : path);
}

std::vector<const PciFunction*> HostDevices::siblings(const std::string& address) const {
  std::vector<const PciFunction*> found;
  const PciFunction* self = find_pci(address);
  if (self == nullptr) return found;
  // "0000:08:00." — compared as a prefix, so the scan builds no strings.
  const std::string slot_prefix = self->slot() + ".";
  for (const auto& function : pci) {
    if (function.address != address && function.address.starts_with(slot_prefix)) {
      found.push_back(&function);
    }
  }
  return found;
}

std::string pci_class_name(const std::string& class_code) {
  const std::string code = lower(class_code);
  if (code.size() < 4) return "Class 0x" + code;
  const std::string_view sub = std::string_view(code).substr(0, 4);
  for (const auto& [key, name] : kClassNames) {
    if (key == sub) return std::string(name);
  }
  for (const auto& [key, name] : kBaseClassNames) {
    if (key == sub.substr(0, 2)) return std::string(name);
  }
  return "Class 0x" + std::string(sub);
}

std::string format_disk_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  const bool whole = value == static_cast<double>(static_cast<std::uint64_t>(value));
  std::snprintf(text, sizeof text, whole ? "%.0f %s" : "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace virtform
