// virtform graph: the dependency graph as Graphviz DOT, nodes labelled with their planned action.

#include <iostream>

#include "cli/commands.h"
#include "engine/graph/resource_graph.h"

namespace virtform {

int run_graph(const CommonOptions& options) {
  auto [session, planned] = open_planned_session(options, {});
  if (!planned) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  const Plan& plan = planned->plan;
  std::cerr << render_diagnostics(plan.diagnostics, session.style());
  std::cout << to_dot(plan.changes);
  return has_errors(plan.diagnostics) ? kExitError : kExitOk;
}

}  // namespace virtform
