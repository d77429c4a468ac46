// virtform apply: plan, show, confirm, then carry the plan out step by step.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "engine/apply/executor.h"
#include "engine/apply/step_runner.h"
#include "engine/plan/planner.h"
#include "providers/host/apply_lock.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/driver_binder.h"
#include "providers/sysfs/sysfs_reader.h"

namespace virtform {

namespace {

bool confirmed(const ApplyOptions& apply_options) {
  if (apply_options.auto_approve) return true;
  if (!isatty(STDIN_FILENO)) {
    std::cerr << "error: apply needs confirmation, and there is no terminal to ask on; "
                 "run with --auto-approve to apply without asking\n";
    return false;
  }
  std::cout << "\nDo you want to perform these actions? Only 'yes' will be accepted: "
            << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "yes") return true;
  std::cout << "Apply cancelled.\n";
  return false;
}

std::string seconds(std::chrono::milliseconds elapsed) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(elapsed.count()) / 1000.0);
  return text;
}

void report_progress(const ProgressEvent& event) {
  switch (event.kind) {
    case ProgressEvent::Kind::started:
      std::cout << event.step_id << ": started\n";
      break;
    case ProgressEvent::Kind::finished:
      std::cout << event.step_id << ": done after " << seconds(event.elapsed) << "\n";
      break;
    case ProgressEvent::Kind::failed:
      std::cout << event.step_id << ": FAILED after " << seconds(event.elapsed) << ": "
                << event.message << "\n";
      break;
    case ProgressEvent::Kind::skipped:
      std::cout << event.step_id << ": skipped, " << event.message << "\n";
      break;
    case ProgressEvent::Kind::waiting:
      std::cout << event.step_id << ": " << event.message << "\n";
      break;
  }
  std::cout << std::flush;
}

bool binds_pci(const Plan& plan) {
  for (const Step& step : plan.steps)
    if (step.kind == StepKind::bind_driver || step.kind == StepKind::restore_driver) return true;
  return false;
}

int report_result(const ApplyResult& result) {
  const int done = result.count(StepStatus::done);
  if (result.ok()) {
    std::cout << "\nApply complete: " << done << " step(s) done.\n";
    return kExitOk;
  }
  std::cout << "\nApply incomplete: " << done << " step(s) done, "
            << result.count(StepStatus::failed) << " failed, " << result.count(StepStatus::skipped)
            << " not done.\n";
  for (const StepResult& step : result.steps)
    if (step.status != StepStatus::done)
      std::cout << "  " << step.id << ": " << step.message << "\n";
  std::cout << "Run `virtform plan` to see what remains.\n";
  return kExitError;
}

}  // namespace

int run_apply(const CommonOptions& options, const ApplyOptions& apply_options) {
  Session session = open_session(options);
  if (has_errors(session.diagnostics)) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  // Taken before the live state is read, so the plan shown is the one carried out.
  const auto lock = ApplyLock::acquire(session.uri, "virtform apply");
  LibvirtHypervisor hypervisor(session.uri);
  const Live live =
      observe(hypervisor, *session.files, read_host_devices(session.host_root), session.desired);
  const Plan plan = make_plan(session.desired, live, DiffOptions{apply_options.restart},
                              session.uri, session.diagnostics);
  std::cerr << render_diagnostics(plan.diagnostics, session.style());
  if (has_errors(plan.diagnostics)) return kExitError;
  std::cout << render_plan_text(plan, session.style());
  if (!plan.has_changes()) return kExitOk;
  if (!confirmed(apply_options)) return kExitError;

  SystemClock clock;
  StepContext context{plan, live, hypervisor, *session.files, clock, report_progress};
  // sysfs is written only when the plan binds or restores PCI functions; on the real host that
  // is what the user just confirmed.
  std::unique_ptr<RootedSysfsWriter> sysfs;
  std::unique_ptr<DriverBinder> binder;
  if (binds_pci(plan)) {
    sysfs = std::make_unique<RootedSysfsWriter>(session.host_root, /*allow_real_sysfs=*/true);
    binder = std::make_unique<DriverBinder>(*sysfs, session.host_root);
    context.pci_drivers = binder.get();
  }
  StepRunner runner(context);
  std::cout << "\n";
  const ApplyResult result = execute(
      plan.steps, [&](const Step& step) { runner.run(step); }, apply_options.parallelism,
      report_progress);
  return report_result(result);
}

}  // namespace virtform
