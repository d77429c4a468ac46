// virtform graph: the dependency graph as Graphviz DOT, nodes labelled with their planned action.

#include <iostream>

#include "cli/commands.h"
#include "engine/graph/resource_graph.h"
#include "engine/plan/planner.h"

namespace virtform {

int run_graph(const CommonOptions& options) {
  auto [session, observed] = open_observed_session(options);
  if (!observed) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  const Live& live = *observed;
  const Plan plan = make_plan(session.desired, live, {}, session.uri, session.diagnostics);
  std::cerr << render_diagnostics(plan.diagnostics, session.style());
  std::cout << to_dot(plan.changes);
  return has_errors(plan.diagnostics) ? kExitError : kExitOk;
}

}  // namespace virtform
