#pragma once
// `profile = "..."` in [vm.X]: which kind of guest the VM is (engine/model/profiles.h), read
// before the keys whose defaults it changes, and its defaults set once every key is read.

#include "engine/config/table_reader.h"
#include "engine/model/vm.h"

namespace virtform {

// Reads the key into vm.profile.
void read_profile(TableReader& vm_reader, Vm& vm);

// The firmware of a VM that names none: UEFI for a DSM or a Windows 11 guest.
FirmwareKind default_firmware(const Vm& vm);

// The profile's defaults, for what the VM's own keys and presets left unset, each recorded in
// vm.attribute_origins. Called after the attribute tables are read.
void apply_profile_defaults(TableReader& vm_reader, Vm& vm);

}  // namespace virtform
