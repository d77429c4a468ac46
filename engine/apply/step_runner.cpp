#include "engine/apply/step_runner.h"

#include <spdlog/spdlog.h>

#include "engine/plan/diff.h"

namespace virtform {

namespace {

constexpr std::chrono::milliseconds kPollInterval{250};
constexpr std::chrono::seconds kProgressInterval{5};
// A guest removed from the config has no shutdown_timeout of its own any more.
constexpr std::chrono::seconds kDefaultShutdownTimeout{120};

bool changes_field(const Change& change, const std::string& name) {
  for (const FieldChange& field : change.fields)
    if (field.field == name) return true;
  return false;
}

}  // namespace

const Change& StepRunner::change_of(const Step& step) const {
  const Change* change = context_.plan.find(step.address);
  if (!change) throw SystemError("the plan has no change for step " + step.id);
  return *change;
}

void StepRunner::run(const Step& step) {
  const Change& change = change_of(step);
  switch (step.kind) {
    case StepKind::create_image:
      context_.files.create_image(change.name, change.image_format, change.image_bytes);
      return;
    case StepKind::define:
      define(change);
      return;
    case StepKind::update:
      update(change);
      return;
    case StepKind::start:
      context_.hypervisor.start(step.target);
      return;
    case StepKind::stop:
      stop(step, change);
      return;
    case StepKind::restart:
      stop(step, change);
      context_.hypervisor.start(step.target);
      return;
    case StepKind::undefine:
      context_.hypervisor.undefine(step.target);
      return;
    case StepKind::bind_driver:
      pci_drivers().bind(step.target, "vfio-pci");
      return;
    case StepKind::restore_driver:
      pci_drivers().restore(step.target);
      return;
  }
}

PciDrivers& StepRunner::pci_drivers() {
  if (!context_.pci_drivers)
    throw SystemError("PCI functions cannot be bound to other drivers on this host");
  return *context_.pci_drivers;
}

void StepRunner::define(const Change& change) {
  const Vm& vm = *change.desired;
  context_.hypervisor.define(vm);
  if (vm.autostart) context_.hypervisor.set_autostart(vm.name, *vm.autostart);
}

void StepRunner::update(const Change& change) {
  const Vm& desired = *change.desired;
  const LiveDomain* live = context_.live.find_domain(change.live_name);
  if (!live) throw SystemError("domain '" + change.live_name + "' disappeared since the plan");
  if (live->running) hot_plug(desired, *live);
  context_.hypervisor.redefine(desired, *live);
  if (changes_field(change, "autostart"))
    context_.hypervisor.set_autostart(live->vm.name, desired.autostart.value_or(false));
}

// What a running guest can take now: devices on hot-pluggable buses and a smaller balloon.
// Everything else waits for the persistent definition to be booted.
// A refusal (no free slot, a guest that does not answer the unplug request) is not fatal: the
// persistent definition still gets the change, and the guest sees it at its next boot.
void StepRunner::hot_plug(const Vm& desired, const LiveDomain& live) {
  const std::string& name = live.vm.name;
  Hypervisor& hypervisor = context_.hypervisor;
  const DeviceDelta delta = device_delta(desired, live.vm);
  auto attempt = [&](const std::string& what, auto&& operation) {
    try {
      operation();
    } catch (const SystemError& error) {
      spdlog::warn(
          "{}: {} could not be done to the running guest ({}); it takes effect at the "
          "next boot",
          name, what, error.what());
    }
  };
  for (const Disk& disk : delta.disks_removed)
    if (hot_pluggable(disk.bus))
      attempt("unplugging disk " + disk.source, [&] { hypervisor.detach_live(name, disk); });
  for (const Nic& nic : delta.nics_removed)
    attempt("unplugging a NIC on " + nic.source, [&] { hypervisor.detach_live(name, nic); });
  for (const Disk& disk : delta.disks_added)
    if (hot_pluggable(disk.bus))
      attempt("plugging disk " + disk.source, [&] { hypervisor.attach_live(name, disk); });
  for (const Nic& nic : delta.nics_added)
    attempt("plugging a NIC on " + nic.source, [&] { hypervisor.attach_live(name, nic); });
  if (desired.memory_kib < live.vm.memory_kib)
    attempt("shrinking the memory balloon",
            [&] { hypervisor.set_memory_live(name, desired.memory_kib); });
}

void StepRunner::stop(const Step& step, const Change& change) {
  if (!context_.hypervisor.is_running(step.target)) return;
  if (change.desired) {
    shutdown_gracefully(step, step.target, change.desired->shutdown_timeout,
                        change.desired->force_stop);
  } else if (change.live_policy) {
    // A removed VM has no declaration left: it is stopped as it last declared.
    shutdown_gracefully(step, step.target, change.live_policy->shutdown_timeout,
                        change.live_policy->force_stop);
  } else {
    shutdown_gracefully(step, step.target, kDefaultShutdownTimeout, false);
  }
}

void StepRunner::shutdown_gracefully(const Step& step, const std::string& name,
                                     std::chrono::seconds timeout, bool force_stop) {
  Clock& clock = context_.clock;
  const auto start = clock.now();
  const auto deadline = start + timeout;
  auto next_report = start + kProgressInterval;
  context_.hypervisor.request_shutdown(name);
  while (context_.hypervisor.is_running(name)) {
    const auto now = clock.now();
    if (now >= deadline) {
      if (!force_stop) {
        throw SystemError("guest '" + name + "' did not shut down within " +
                          std::to_string(timeout.count()) +
                          "s of the ACPI power button; it is still running and unchanged. "
                          "Shut it down from inside, raise shutdown_timeout, or set "
                          "force_stop = true");
      }
      spdlog::warn(
          "guest '{}' ignored the ACPI shutdown for {}s; force_stop is set: powering "
          "it off",
          name, timeout.count());
      context_.hypervisor.destroy(name);
      return;
    }
    if (now >= next_report && context_.progress) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      context_.progress({ProgressEvent::Kind::waiting, step.id,
                         "waiting for '" + name + "' to shut down (" +
                             std::to_string(waited.count() / 1000) + "s of " +
                             std::to_string(timeout.count()) + "s)",
                         waited});
      next_report += kProgressInterval;
    }
    clock.sleep_for(kPollInterval);
  }
}

}  // namespace virtform
