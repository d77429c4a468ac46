#pragma once
// Plan-time checks of DSM guests against their disk layout, and the slot map each change shows.

#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/plan/change.h"

namespace virtform {

// For each DSM guest of `desired`: refuses layouts the loader cannot map (too many disks on a
// controller or in all, a loader past a SataPortMap digit, a data disk beside the loader), warns
// of disks DSM will not count and of a map that changes (the loader must be rebuilt, naming the
// drives that move) or a shutdown that cannot work, checks the values the config says the loader
// holds, and puts the guest's report on its change in `changes`.
void check_dsm_guests(const Desired& desired, const Live& live, std::vector<Change>& changes,
                      Diagnostics& diagnostics);

}  // namespace virtform
