#pragma once
// Guests backed by huge pages (memory_backing.hugepages) against the host's pools: libvirt
// refuses to start a guest whose pages the host has not reserved, so plan says so first.

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// An error for a page size the host has no pool of; a warning for each VM of a pool with fewer
// free pages than the guests that would take them need. Guests already running on their pages
// hold them and need none. Nothing when the host's pools are not known.
void check_hugepages(const Desired& desired, const Live& live, Diagnostics& diagnostics);

}  // namespace virtform
