#pragma once
// Carries out one step of a plan through the system interfaces. Driven by the operations of the
// plan's changes and the live state read just before apply; never by the configuration, nor by
// the fields a plan shows.

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

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
  Vm with_console_password(const Vm& desired, bool defining) const;
  void define(const Change& change, std::unique_lock<std::mutex>& turn);
  // Whether it copied the store.
  bool copy_nvram(const NvramCopy& copy, const LiveDomain& live);
  void rename(const Step& step, const Change& change);
  void update(const Change& change, const LiveDomain& live, std::unique_lock<std::mutex>& turn);
  // `console_password`: what the console's source gives now, if it gives one.
  std::vector<std::string> hot_plug(const VmOperations& operations, const LiveDomain& live,
                                    const std::optional<std::string>& console_password);
  void stop(const Step& step, const Change& change);
  std::string still_running(const Step& step) const;
  std::string restart_later(const Step& step, const std::string& name);
  void shutdown_gracefully(const Step& step, const std::string& name, std::chrono::seconds timeout,
                           bool force_stop);

  // Optimistic concurrency: a step that writes a domain first checks that the domain is still
  // as the plan saw it (or as this apply's own earlier steps left it), so an edit made by another
  // tool meanwhile is refused, never overwritten. Returns the domain as it is now.
  std::optional<LiveDomain> unchanged_since_plan(const std::string& name);
  // Records how a step left the domain, as the baseline of its next step.
  void remember(const std::string& name);
  // The domain as the next step on it expects it; nullptr when it expects none.
  const LiveDomain* expected_state(const std::string& name);
  void run_on_domain(const Step& step, const Change& change,
                     const std::optional<LiveDomain>& current, std::unique_lock<std::mutex>& turn);
  // Until this apply has written a definition, the steps that write one take turns: returns the
  // step's turn (held or not). A step that wrote its definition ends the turns.
  std::unique_lock<std::mutex> first_write_turn(StepKind kind);
  void wrote_definition(std::unique_lock<std::mutex>& turn);

  StepContext context_;
  std::mutex expected_mutex_;
  // Per domain: as the plan saw it, then as each step of this apply left it.
  std::map<std::string, std::optional<LiveDomain>> expected_;
  std::mutex first_write_mutex_;
  std::atomic<bool> definition_written_{false};
};

}  // namespace virtform
