#include "engine/config/dsm_reader.h"

#include <vector>

#include "engine/config/keys.h"
#include "engine/dsm/platforms.h"
#include "engine/model/profiles.h"
#include "engine/model/values.h"

namespace virtform {
namespace {

bool is_port_map(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '0' + 26) return false;  // a digit, or satamap's characters past '9'
  return true;
}

bool is_index_map(const std::string& text) {
  return !text.empty() && text.size() % 2 == 0 && is_hex(text, text.size());
}

void read_model(TableReader& reader, DsmGuest& dsm) {
  const auto model = reader.string("model");
  if (!model) return;
  if (find_dsm_platform(*model)) {
    dsm.model = *model;
    return;
  }
  std::vector<std::string_view> names;
  std::string listed;
  for (const DsmPlatform& platform : dsm_platforms()) {
    names.push_back(platform.model);
    listed += (listed.empty() ? "\"" : ", \"") + std::string(platform.model) + "\"";
  }
  std::string message = "model must be one of " + listed + "; got \"" + *model + "\"";
  if (auto suggestion = keys::nearest(*model, names))
    message += "; did you mean \"" + *suggestion + "\"?";
  reader.error("model", message);
}

// What the loader's user_config.json holds, checked for its form here and against the disk
// layout at plan time.
void read_loader_values(TableReader& reader, DsmGuest& dsm) {
  if (auto ports = reader.string("sata_port_map")) {
    if (is_port_map(*ports)) {
      dsm.sata_port_map = *ports;
      dsm.sata_port_map_where = reader.where("sata_port_map");
    } else {
      reader.error(
          "sata_port_map",
          "sata_port_map must hold one port count per controller (\"12\"); got \"" + *ports + "\"");
    }
  }
  if (auto indices = reader.string("disk_idx_map")) {
    if (is_index_map(*indices)) {
      dsm.disk_idx_map = *indices;
      dsm.disk_idx_map_where = reader.where("disk_idx_map");
    } else {
      reader.error("disk_idx_map",
                   "disk_idx_map must hold two hex digits per controller (\"1000\"); got \"" +
                       *indices + "\"");
    }
  }
}

// "host-passthrough" does not exist without KVM; TCG's "max" shows every feature it emulates.
std::string cpu_fix(const Vm& vm) {
  return vm.type == DomainType::qemu ? "cpu = \"max\"" : "cpu = \"host-passthrough\"";
}

// The guest's CPU as `cpu = "..."` says it: the mode, or the custom mode's model.
std::optional<std::string> cpu_of(const Vm& vm) {
  const auto mode = vm.attributes.find("cpu.mode");
  if (mode == vm.attributes.end()) return std::nullopt;
  if (mode->second != "custom") return mode->second;
  const auto model = vm.attributes.find("cpu.model");
  if (model == vm.attributes.end()) return std::nullopt;
  return model->second;
}

}  // namespace

void read_dsm(TableReader& vm_reader, Vm& vm) {
  const bool profile = vm.profile == kDsmProfile;
  const toml::table* table = vm_reader.table("dsm");
  if (!table && !profile) return;
  DsmGuest dsm;
  dsm.where = vm_reader.where(table ? "dsm" : "profile");
  if (table) {
    TableReader reader = vm_reader.child(*table, "dsm");
    reader.reject_unknown_keys(keys::kDsm);
    dsm.where = reader.where();
    read_model(reader, dsm);
    read_loader_values(reader, dsm);
    dsm.acpid = reader.boolean("acpid").value_or(false);
  }
  vm.dsm = dsm;
}

DiskBus default_data_disk_bus(const Vm& vm) {
  return vm.dsm ? DiskBus::scsi : DiskBus::virtio;
}

void apply_dsm_defaults(TableReader& vm_reader, Vm& vm) {
  if (!vm.dsm) return;
  // `virsh console` shows the loader's menu and DSM's kernel messages.
  if (!vm_reader.has("serial")) vm.serial = Serial{"pty"};
  // The loader's image offers several boot entries (USB, SATA, recovery).
  vm.attributes.try_emplace("boot_menu", "true");
  // A whole disk passed raw: no host page cache between DSM's RAID and the platters.
  for (Disk& disk : vm.disks) {
    if (disk.kind != DiskSource::block || disk.format != "raw") continue;
    if (!disk.cache) disk.cache = "none";
    // QEMU takes native I/O only past the host's page cache.
    const bool uncached = disk.cache == "none" || disk.cache == "directsync";
    if (!disk.io && uncached) disk.io = "native";
  }
}

void check_dsm_platform(TableReader& vm_reader, const Vm& vm) {
  if (!vm.dsm) return;
  const DsmPlatform* platform = find_dsm_platform(vm.dsm->model);
  if (!platform) return;
  const std::string model(platform->model);
  // The most the guest can have: vCPUs plugged in later count as the booted ones do.
  if (most_vcpus(vm) > platform->max_threads) {
    const std::string key = vm.vcpus_max ? "vcpus_max" : "vcpus";
    vm_reader.error(key, key + " = " + std::to_string(most_vcpus(vm)) + " is more than the " +
                             std::to_string(platform->max_threads) + " CPU threads a " + model +
                             " runs; set " + key + " = " + std::to_string(platform->max_threads) +
                             " or fewer, or choose a larger model");
  }
  const std::optional<std::string> cpu = cpu_of(vm);
  if (cpu_surely_older_than(cpu, platform->oldest_cpu)) {
    const std::string shown = cpu ? "cpu = \"" + *cpu + "\"" : "QEMU's default CPU model (qemu64)";
    vm_reader.warning("cpu", "a " + model + " (" + std::string(platform->architecture) +
                                 ") needs a " + to_string(platform->oldest_cpu) +
                                 " or newer CPU, which " + shown +
                                 " does not show the guest; set " + cpu_fix(vm));
  }
}

}  // namespace virtform
