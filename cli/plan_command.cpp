// virtform plan: read the live host, diff, print what apply would do.

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "engine/plan/planner.h"
#include "engine/render/plan_json.h"
#include "providers/libvirt/libvirt_hypervisor.h"

namespace virtform {

int run_plan(const CommonOptions& options, const PlanOptions& plan_options) {
  Session session = open_session(options);
  if (has_errors(session.diagnostics)) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  LibvirtHypervisor hypervisor(session.uri);
  const Live live = observe_host(session, hypervisor, session.desired);
  Plan plan = make_plan(session.desired, live, DiffOptions{plan_options.restart}, session.uri,
                        session.diagnostics);
  if (plan_options.json || !plan_options.out.empty()) seal(plan, session.desired, live);
  if (!plan_options.out.empty() && !has_errors(plan.diagnostics)) {
    std::ofstream out(plan_options.out);
    out << render_plan_json(plan);
    if (!out.flush()) throw SystemError("cannot write the plan to " + plan_options.out);
  }
  if (plan_options.json) {
    std::cout << render_plan_json(plan);
  } else {
    std::cerr << render_diagnostics(plan.diagnostics, session.style());
    if (!has_errors(plan.diagnostics)) std::cout << render_plan_text(plan, session.style());
  }
  if (has_errors(plan.diagnostics)) return kExitError;
  if (options.detailed_exitcode && plan.has_changes()) return kExitChanges;
  return kExitOk;
}

}  // namespace virtform
