#include "engine/config/profile_reader.h"

#include <vector>

#include "engine/model/profiles.h"
#include "engine/model/values.h"
#include "engine/model/vm_fields.h"

namespace virtform {
namespace {

void set_attribute(Vm& vm, std::string_view key, std::string_view value,
                   const std::string& origin) {
  if (vm.attributes.try_emplace(std::string(key), value).second)
    vm.attribute_origins[std::string(key)] = origin;
}

void set_preset(Vm& vm, std::string_view table, std::string_view name, const std::string& origin) {
  for (const FieldPreset& preset : field_presets()) {
    if (preset.table != table || preset.name != name) continue;
    for (const auto& [key, value] : preset.values) set_attribute(vm, key, value, origin);
  }
}

bool is_on(const Vm& vm, std::string_view key) {
  const auto found = vm.attributes.find(std::string(key));
  return found != vm.attributes.end() && found->second == "true";
}

// A value the guest could not have: one its row's rules refuse beside the VM's own keys (a TPM
// version beside a passed-through TPM), one QEMU would not start the guest with, or a switch on
// without the one it needs.
bool is_unstartable(const Vm& vm, const VmField& field, const std::string& value) {
  if (field.conflict && !field.conflict(vm, value).empty()) return true;
  if (field.caution && !field.caution(vm, value).empty()) return true;
  for (const FieldNeed& need : field_needs())
    if (need.key == field.key && value == "true" && !is_on(vm, need.needs)) return true;
  return false;
}

// A profile's values are defaults for any guest of its kind, so it leaves out those this guest
// could not start with (vpindex on a TCG guest, and the switches that need it) rather than turn
// a default into an error; a value the user set is checked and reported as usual.
void drop_unstartable(Vm& vm, const std::string& origin) {
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (const VmField& field : vm_fields()) {
      const std::string key(field.key);
      const auto found = vm.attributes.find(key);
      const auto given_by = vm.attribute_origins.find(key);
      if (found == vm.attributes.end() || given_by == vm.attribute_origins.end() ||
          given_by->second != origin)
        continue;
      if (!is_unstartable(vm, field, found->second)) continue;
      vm.attributes.erase(found);
      vm.attribute_origins.erase(given_by);
      dropped = true;
    }
  }
}

}  // namespace

void read_profile(TableReader& vm_reader, Vm& vm) {
  std::vector<std::string_view> names{kDsmProfile};
  for (const VmProfile& profile : vm_profiles()) names.push_back(profile.name);
  const auto name = vm_reader.one_of("profile", names);
  if (!name) return;
  vm.profile = *name;
  if (vm.profile != kDsmProfile && vm_reader.table("dsm"))
    vm_reader.error("profile", "profile = \"" + vm.profile + "\" and [vm." + vm.key +
                                   ".dsm] describe two kinds of guest: keep one of them");
}

FirmwareKind default_firmware(const Vm& vm) {
  if (vm.dsm) return FirmwareKind::uefi;
  const VmProfile* profile = find_vm_profile(vm.profile);
  return profile && profile->firmware ? *profile->firmware : FirmwareKind::bios;
}

// `virtio_win`: Windows sees no virtio disk or NIC until it has these drivers, so its installer
// needs them in a drive of its own beside the installer's.
void read_driver_iso(TableReader& vm_reader, const VmProfile* profile, Vm& vm) {
  const auto iso = vm_reader.path("virtio_win");
  if (!vm_reader.has("virtio_win")) return;
  if (!profile || !profile->driver_iso) {
    vm_reader.error("virtio_win",
                    "virtio_win is the windows11 profile's: set profile = \"windows11\", or "
                    "declare the ISO as a [[vm." +
                        vm.key + ".disk]] with device = \"cdrom\"");
    return;
  }
  if (!iso) return;
  Disk drive;
  drive.source = *iso;
  drive.bus = DiskBus::sata;
  drive.readonly = true;
  drive.where = vm_reader.where("virtio_win");
  vm.cdroms.push_back(std::move(drive));
}

void apply_profile_defaults(TableReader& vm_reader, Vm& vm) {
  const VmProfile* profile = find_vm_profile(vm.profile);
  read_driver_iso(vm_reader, profile, vm);
  if (!profile) return;
  const std::string origin = profile_origin(profile->name);
  if (profile->firmware && !vm_reader.has("firmware")) vm.attribute_origins["firmware"] = origin;
  // A secure loader needs SMM, which QEMU gives only q35 guests: on pc the profile leaves it.
  if (profile->secure_boot && vm.firmware.kind == FirmwareKind::uefi && !vm.firmware.secure_boot &&
      is_q35(vm.machine) && !vm_reader.has("firmware_code")) {
    vm.firmware.secure_boot = true;
    vm.attribute_origins["firmware"] = origin;
  }
  if (profile->serial_console && !vm_reader.has("serial")) {
    vm.serial = Serial{"pty"};
    vm.attribute_origins["serial"] = origin;
  }
  for (const auto& [key, value] : profile->attributes) set_attribute(vm, key, value, origin);
  for (const auto& [table, name] : profile->presets) set_preset(vm, table, name, origin);
  drop_unstartable(vm, origin);
}

}  // namespace virtform
