#pragma once
// Profiles: the defaults of a kind of guest, described once. `profile = "windows11"` in [vm.X]
// sets them where the VM's own keys (and its tables' presets) leave them unset, and plans show
// each value a profile gave with the profile's name beside it. `profile = "dsm"` is the
// shorthand for an empty [vm.X.dsm] (engine/config/dsm_reader.h), whose defaults follow from
// its model.

#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "engine/model/vm.h"

namespace virtform {

// The profile of a DSM guest, read by dsm_reader rather than from this table.
inline constexpr std::string_view kDsmProfile = "dsm";

struct VmProfile {
  std::string_view name;
  std::string_view meaning;  // docs/configuration.md's text for it, word for word
  // The firmware when the VM names none, and Secure Boot with it when the machine can (q35).
  std::optional<FirmwareKind> firmware;
  bool secure_boot = false;
  // A serial console on a pty when the VM declares no serial device.
  bool serial_console = false;
  // Takes `virtio_win`, the ISO of the virtio drivers, as a CD-ROM drive after the VM's own.
  bool driver_iso = false;
  // Attribute rows (engine/model/vm_fields.h), by key and canonical value.
  std::span<const std::pair<std::string_view, std::string_view>> attributes;
  // Sub-table presets whose values it sets too: table, preset name.
  std::span<const std::pair<std::string_view, std::string_view>> presets;
};

// Every profile but "dsm", in the order the docs list them.
std::span<const VmProfile> vm_profiles();
const VmProfile* find_vm_profile(std::string_view name);

// The typed fields (not attribute rows) a profile may set, which vm.attribute_origins records by
// name: "firmware", "serial".
bool is_profile_field(std::string_view key);

// The origin plans show beside a value a profile gave: "profile windows11".
std::string profile_origin(std::string_view name);

}  // namespace virtform
