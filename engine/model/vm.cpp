#include "engine/model/vm.h"

#include <algorithm>
#include <cctype>

namespace virtform {

std::string default_overlay_path(const Vm& vm, const Loader& loader) {
  const auto slash = loader.image.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : loader.image.substr(0, slash);
  const std::string project = vm.project == "default" ? "" : vm.project + ".";
  return directory + "/" + project + vm.key + "." + loader.key + ".qcow2";
}

std::uint64_t current_memory_of(const Vm& vm) {
  return std::min(vm.current_memory_kib.value_or(vm.memory_kib), vm.memory_kib);
}

bool has_balloon(const Vm& vm) {
  const auto found = vm.attributes.find("balloon");
  return found == vm.attributes.end() || found->second != "none";
}

bool shares_memory(const Vm& vm) {
  const auto found = vm.attributes.find("memory_backing.access");
  return found != vm.attributes.end() && found->second == "shared";
}

bool has_units(DiskBus bus) {
  return bus == DiskBus::sata || bus == DiskBus::scsi;
}

bool same_machine(const std::string& desired, const std::string& live) {
  if (desired == live) return true;
  if (desired == "q35") return live.starts_with("pc-q35-");
  if (desired == "pc") return live.starts_with("pc-i440fx-");
  return false;
}

bool is_q35(const std::string& machine) {
  return same_machine("q35", machine);
}

namespace {
bool same_mac(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](unsigned char x, unsigned char y) {
    return std::tolower(x) == std::tolower(y);
  });
}
}  // namespace

std::vector<int> match_nics(const std::vector<Nic>& desired, const std::vector<Nic>& live) {
  std::vector<int> match(desired.size(), -1);
  std::vector<bool> taken(live.size(), false);
  auto claim = [&](std::size_t d, auto&& fits) {
    for (std::size_t l = 0; l < live.size(); ++l) {
      if (!taken[l] && fits(live[l])) {
        taken[l] = true;
        match[d] = static_cast<int>(l);
        return;
      }
    }
  };
  for (std::size_t d = 0; d < desired.size(); ++d) {
    if (desired[d].mac)
      claim(d, [&](const Nic& l) { return l.mac && same_mac(*l.mac, *desired[d].mac); });
  }
  for (std::size_t d = 0; d < desired.size(); ++d) {
    if (desired[d].mac) continue;
    claim(d, [&](const Nic& l) {
      return l.kind == desired[d].kind && l.source == desired[d].source &&
             l.model == desired[d].model;
    });
  }
  return match;
}

std::string input_identity(const InputDevice& input) {
  return input.type == "evdev" ? "evdev " + input.source : input.bus + " " + input.type;
}

namespace {
// "bus 1 device 4", for a device whose bus and device are known.
std::string usb_address(const UsbDevice& device) {
  return "bus " + std::to_string(*device.bus) + " device " + std::to_string(*device.device);
}
}  // namespace

std::string usb_identity(const UsbDevice& device) {
  std::string ids = device.vendor.empty() ? "" : device.vendor + ":" + device.product;
  if (!device.bus) return ids;
  return ids.empty() ? usb_address(device) : ids + " at " + usb_address(device);
}

std::string usb_declared_as(const UsbDevice& device) {
  if (!is_placed_by_host(device)) return usb_identity(device);
  std::string finder = device.vendor.empty() ? "" : device.vendor + ":" + device.product;
  if (!device.serial.empty()) finder += " serial " + device.serial;
  if (!device.port.empty()) finder += (finder.empty() ? "port " : " at port ") + device.port;
  if (!device.bus) return finder;
  return finder + " (" + usb_address(device) + ")";
}

bool is_placed_by_host(const UsbDevice& device) {
  return !device.port.empty() || !device.serial.empty();
}

bool names_usb(const UsbDevice& declared, const UsbDevice& seen) {
  return (declared.vendor.empty() ||
          (declared.vendor == seen.vendor && declared.product == seen.product)) &&
         (!declared.bus || (declared.bus == seen.bus && declared.device == seen.device));
}

bool has_usb(const Vm& vm, const UsbDevice& declared) {
  return std::any_of(vm.usb.begin(), vm.usb.end(),
                     [&](const UsbDevice& seen) { return names_usb(declared, seen); });
}

bool has_input(const Vm& vm, const InputDevice& input) {
  return std::any_of(vm.inputs.begin(), vm.inputs.end(), [&](const InputDevice& other) {
    return input_identity(other) == input_identity(input);
  });
}

const Vm* Desired::find_vm(const std::string& key) const {
  auto it = std::find_if(vms.begin(), vms.end(), [&](const Vm& vm) { return vm.key == key; });
  return it == vms.end() ? nullptr : &*it;
}

const Disk* Vm::find_disk(const std::string& source) const {
  auto it = std::find_if(disks.begin(), disks.end(),
                         [&](const Disk& disk) { return disk.source == source; });
  return it == disks.end() ? nullptr : &*it;
}

Location Vm::where_set(const std::string& attribute) const {
  const auto place = attribute_places.find(attribute);
  return place == attribute_places.end() ? where : place->second;
}

const LiveDomain* Live::find_domain(const std::string& name) const {
  auto it = std::find_if(domains.begin(), domains.end(),
                         [&](const LiveDomain& d) { return d.vm.name == name; });
  return it == domains.end() ? nullptr : &*it;
}

const LiveNetwork* Live::find_network(const std::string& name) const {
  auto it = std::find_if(networks.begin(), networks.end(),
                         [&](const LiveNetwork& n) { return n.name == name; });
  return it == networks.end() ? nullptr : &*it;
}

bool Live::file_exists(const std::string& path) const {
  return existing_files.count(path) != 0;
}

std::string default_nvram_path(const std::string& name) {
  return std::string(kDefaultNvramDirectory) + "/" + name + "_VARS.fd";
}

std::string to_string(DomainType value) {
  return name_of_enum(kDomainTypeNames, value);
}
std::string to_string(FirmwareKind value) {
  return name_of_enum(kFirmwareKindNames, value);
}
std::string to_string(PowerState value) {
  return name_of_enum(kPowerStateNames, value);
}
std::string to_string(RestartPolicy value) {
  return name_of_enum(kRestartPolicyNames, value);
}
std::string to_string(DiskBus value) {
  return name_of_enum(kDiskBusNames, value);
}
std::string to_string(DiskSource value) {
  return name_of_enum(kDiskSourceNames, value);
}
std::string to_string(NicSource value) {
  return name_of_enum(kNicSourceNames, value);
}
std::string to_string(GraphicsType value) {
  return name_of_enum(kGraphicsTypeNames, value);
}

namespace {
std::string format_scaled(std::uint64_t value, const char* const* units, int count) {
  int unit = 0;
  while (unit + 1 < count && value != 0 && value % 1024 == 0) {
    value /= 1024;
    ++unit;
  }
  return std::to_string(value) + " " + units[unit];
}
}  // namespace

std::string format_kib(std::uint64_t kib) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  return format_scaled(kib, units, 4);
}

std::string format_bytes(std::uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  return format_scaled(bytes, units, 5);
}

unsigned most_vcpus(const Vm& vm) {
  return vm.vcpus_max.value_or(vm.vcpus);
}

LifecyclePolicy policy_of(const Vm& vm) {
  return {vm.restart, vm.shutdown_timeout, vm.force_stop};
}

}  // namespace virtform
