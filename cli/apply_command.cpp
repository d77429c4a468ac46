// virtform apply: plan, show, confirm, then carry the plan out step by step.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "engine/apply/executor.h"
#include "engine/apply/step_runner.h"
#include "engine/checks/host_check.h"
#include "engine/checks/passthrough.h"
#include "engine/config/config.h"
#include "engine/model/text.h"
#include "engine/plan/fingerprint.h"
#include "engine/render/plan_json.h"
#include "providers/host/apply_lock.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/driver_binder.h"

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

// Shows the plan, asks, and carries it out against the live state it was checked against.
int carry_out(const Session& session, const Plan& plan, const Live& live,
              LibvirtHypervisor& hypervisor, const ApplyOptions& apply_options) {
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
  // A libvirtd that stopped or restarted fails every step left, each with libvirt's terse words.
  if (!result.ok() && !hypervisor.connected())
    std::cerr << "error: lost the connection to libvirtd at " << session.uri
              << " during the apply (it stopped or restarted); once it answers again, "
                 "`virtform plan` shows what remains\n";
  return report_result(result);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SystemError("cannot read the plan file " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The saved plan in `path`; what is wrong with a damaged one is reported with the file's name.
Plan read_plan(const std::string& path) {
  try {
    return parse_plan_json(read_file(path));
  } catch (const PlanFileError& error) {
    throw PlanFileError(path + ": " + error.what());
  }
}

// The declared VMs a saved plan carries: what its fingerprint was taken against.
Desired declared_in(const Plan& plan) {
  Desired desired;
  for (const Change& change : plan.changes)
    if (change.kind == ResourceKind::vm && change.desired) desired.vms.push_back(*change.desired);
  if (!desired.vms.empty()) desired.project = desired.vms.front().project;
  return desired;
}

// apply --plan FILE: exactly that plan, or nothing if the host (or, when PATHs are given, the
// configuration) moved on since it was made.
int apply_saved_plan(CommonOptions options, const ApplyOptions& apply_options) {
  const Plan plan = read_plan(apply_options.plan_file);
  if (!options.uri.empty() && options.uri != plan.uri && options.host_dir.empty())
    throw SystemError(apply_options.plan_file + ": the plan was made against " + plan.uri +
                      ", not " + options.uri);
  if (options.host_dir.empty()) options.uri = plan.uri;
  const Session session = open_session(options, /*config_required=*/false);
  if (has_errors(plan.diagnostics))
    throw SystemError(apply_options.plan_file +
                      ": the saved plan has errors; it cannot be applied");
  if (!options.paths.empty()) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    if (has_errors(session.diagnostics)) return kExitError;
    if (config_digest(session.desired) != plan.config_digest)
      throw SystemError(apply_options.plan_file +
                        ": the configuration changed since this plan was made; run `virtform "
                        "plan` again");
  }
  LibvirtHypervisor hypervisor(session.uri, read_threads(options));
  const auto lock = ApplyLock::acquire(hypervisor.daemon(), "virtform apply --plan");
  const Desired declared = declared_in(plan);
  const Live live = observe_host(session, hypervisor, declared);
  const std::vector<std::string> moved = staleness(plan.fingerprint, fingerprint(declared, live));
  if (!moved.empty())
    throw SystemError(apply_options.plan_file + ": the host changed since this plan was made: " +
                      join(moved, "; ") + ". Run `virtform plan` again");
  // The checks plan ran are run again on the host as it is now: what was safe to hand to a guest
  // then (an unmounted disk, a viable IOMMU group) need not be now.
  Diagnostics checks;
  check_host_files(declared, *session.files, checks);
  check_passthrough(declared, live, live.devices, checks);
  if (has_errors(checks)) {
    std::cerr << render_diagnostics(checks, session.style());
    throw SystemError(apply_options.plan_file +
                      ": the host no longer passes the checks this plan passed; nothing was "
                      "applied. Run `virtform plan` again");
  }
  return carry_out(session, plan, live, hypervisor, apply_options);
}

}  // namespace

int run_apply(const CommonOptions& options, const ApplyOptions& apply_options) {
  if (!apply_options.plan_file.empty()) return apply_saved_plan(options, apply_options);
  Session session = open_session(options);
  if (has_errors(session.diagnostics)) {
    std::cerr << render_diagnostics(session.diagnostics, session.style());
    return kExitError;
  }
  LibvirtHypervisor hypervisor(session.uri, read_threads(options));
  // Taken before the live state is read, so the plan shown is the one carried out; keyed on the
  // daemon, as two spellings of its URI reach the same domains.
  const auto lock = ApplyLock::acquire(hypervisor.daemon(), "virtform apply");
  const auto [live, plan] = plan_host(session, hypervisor, DiffOptions{apply_options.restart});
  std::cerr << render_diagnostics(plan.diagnostics, session.style());
  if (has_errors(plan.diagnostics)) return kExitError;
  return carry_out(session, plan, live, hypervisor, apply_options);
}

}  // namespace virtform
