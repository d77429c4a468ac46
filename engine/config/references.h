#pragma once
// Checks between resources, once every file has been read: a VM's boot loader must be defined,
// a disk or PCI device belongs to one VM only, and domain names are unique.

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// Gives each boot loader disk its loader's image, as the backing file of the VM's overlay or as
// the disk itself (dropping disks whose loader is undefined, with an error suggesting the
// nearest defined one), then reports everything claimed twice, and a loader image one guest
// writes that another reads through an overlay.
void resolve_references(Desired& desired, Diagnostics& diagnostics);

}  // namespace virtform
