#pragma once
// The dependency graph (Boost.Graph): which steps must wait for which. Images exist and PCI
// functions are bound before a VM is defined; a VM is defined before it starts and stopped before
// it is undefined; removals run in reverse order of creation.

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/plan/change.h"
#include "engine/plan/plan.h"

namespace virtform {

// The steps that carry out the changes, in dependency order. A dependency on a resource nobody
// declares, or a cycle, is an error naming the resources involved; the steps are then empty.
std::vector<Step> order_steps(const std::vector<Change>& changes, Diagnostics& diagnostics);

// Graphviz DOT of the resource graph, nodes labelled with their address and planned action.
std::string to_dot(const std::vector<Change>& changes);

}  // namespace virtform
