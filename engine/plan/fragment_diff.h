#pragma once
// [[vm.X.xml]] in the diff: a declared fragment is there when an element no key owns says all
// it says; one the marker records and the config no longer declares goes.

#include <vector>

#include "engine/model/vm.h"
#include "engine/plan/change.h"

namespace virtform {

// The fragment fields of an update, each with `disruption` (fragments are written by
// redefining the domain, so a running guest takes them at its next boot).
std::vector<FieldChange> fragment_changes(const Vm& desired, const LiveDomain& live,
                                          Disruption disruption);

}  // namespace virtform
