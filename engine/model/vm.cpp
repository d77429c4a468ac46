#include "engine/model/vm.h"

#include <algorithm>

namespace virtform {

std::string default_overlay_path(const Vm& vm, const Loader& loader) {
  const auto slash = loader.image.rfind('/');
  const std::string directory = slash == std::string::npos ? "" : loader.image.substr(0, slash);
  const std::string project = vm.project == "default" ? "" : vm.project + ".";
  return directory + "/" + project + vm.key + "." + loader.key + ".qcow2";
}

bool has_units(DiskBus bus) {
  return bus == DiskBus::sata || bus == DiskBus::scsi;
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

std::string to_string(DomainType value) {
  return value == DomainType::kvm ? "kvm" : "qemu";
}
std::string default_nvram_path(const std::string& name) {
  return std::string(kDefaultNvramDirectory) + "/" + name + "_VARS.fd";
}

std::string to_string(FirmwareKind value) {
  return value == FirmwareKind::bios ? "bios" : "uefi";
}
std::string to_string(PowerState value) {
  return value == PowerState::running ? "running" : "stopped";
}
std::string to_string(RestartPolicy value) {
  return value == RestartPolicy::never ? "never" : "allowed";
}
std::string to_string(DiskBus value) {
  switch (value) {
    case DiskBus::virtio:
      return "virtio";
    case DiskBus::scsi:
      return "scsi";
    case DiskBus::sata:
      return "sata";
    case DiskBus::usb:
      return "usb";
  }
  return "";
}
std::string to_string(DiskSource value) {
  return value == DiskSource::block ? "block" : "file";
}
std::string to_string(NicSource value) {
  return value == NicSource::bridge ? "bridge" : "network";
}
std::string to_string(GraphicsType value) {
  switch (value) {
    case GraphicsType::none:
      return "none";
    case GraphicsType::spice:
      return "spice";
    case GraphicsType::vnc:
      return "vnc";
  }
  return "";
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

LifecyclePolicy policy_of(const Vm& vm) {
  return {vm.restart, vm.shutdown_timeout, vm.force_stop};
}

}  // namespace virtform
