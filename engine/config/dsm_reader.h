#pragma once
// [vm.X.dsm] and its shorthand profile = "dsm" (read by profile_reader): a Synology DSM (XPEnology)
// guest. The table changes some defaults of the VM (those of the seed's working guest) and checks
// the VM against its model's limits (engine/dsm/platforms.h).

#include "engine/config/table_reader.h"
#include "engine/model/vm.h"

namespace virtform {

// Reads the table and the profile key into vm.dsm. Called before the keys whose defaults it
// changes are read.
void read_dsm(TableReader& vm_reader, Vm& vm);

// The bus of a [[vm.X.disk]] that names none: scsi (virtio-scsi) in a DSM guest.
DiskBus default_data_disk_bus(const Vm& vm);

// The rest of the seed's configuration, for what the VM left unset: a serial console on a pty,
// the boot menu, and cache = "none", io = "native" on whole raw disks.
void apply_dsm_defaults(TableReader& vm_reader, Vm& vm);

// The model's limits on the VM's own keys: its CPU threads (an error) and its oldest CPU (a
// warning naming the fix).
void check_dsm_platform(TableReader& vm_reader, const Vm& vm);

}  // namespace virtform
