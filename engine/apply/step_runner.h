#pragma once
// Carries out one step of a plan through the system interfaces. Driven by the plan's changes and
// the live state read just before apply; never by the configuration.

#include "engine/apply/executor.h"
#include "engine/model/vm.h"
#include "engine/plan/plan.h"
#include "engine/system/clock.h"
#include "engine/system/host_files.h"
#include "engine/system/hypervisor.h"
#include "engine/system/pci_drivers.h"

namespace virtform {

struct StepContext {
  const Plan& plan;
  const Live& live;  // as read when apply began
  Hypervisor& hypervisor;
  HostFiles& files;
  Clock& clock;
  ProgressHook progress;              // for long waits
  PciDrivers* pci_drivers = nullptr;  // for bind = "vfio-pci"; absent where nothing can bind
};

class StepRunner {
 public:
  explicit StepRunner(StepContext context) : context_(std::move(context)) {}

  // Throws SystemError with a message for the user when the step fails.
  void run(const Step& step);

 private:
  const Change& change_of(const Step& step) const;
  PciDrivers& pci_drivers();
  void define(const Change& change);
  void update(const Change& change);
  void hot_plug(const Vm& desired, const LiveDomain& live);
  void stop(const Step& step, const Change& change);
  void shutdown_gracefully(const Step& step, const std::string& name, std::chrono::seconds timeout,
                           bool force_stop);

  StepContext context_;
};

}  // namespace virtform
