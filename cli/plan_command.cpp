// virtform plan: read the live host, diff, print what apply would do.

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "engine/passes.h"
#include "engine/render/plan_json.h"
#include "providers/host/file_writer.h"

namespace virtform {

int run_plan(const CommonOptions& options, const PlanOptions& plan_options) {
  auto [session, planned] = open_planned_session(options, DiffOptions{plan_options.restart});
  if (!planned) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  Plan& plan = planned->plan;
  if (plan_options.json || !plan_options.out.empty()) seal(plan, session.desired, planned->live);
  if (!plan_options.out.empty() && !has_errors(plan.diagnostics)) {
    write_file_atomically(plan_options.out, render_plan_json(plan));
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
