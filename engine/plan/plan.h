#pragma once
// The plan: a plain value that can be printed, saved as JSON, loaded and applied. Apply is driven
// by its steps and the operations and desired values carried in its changes, nothing else.

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/plan/change.h"
#include "engine/plan/fingerprint.h"

namespace virtform {

// One operation of apply on one resource.
enum class StepKind {
  create_image,    // make a missing disk image file
  define,          // define a new domain
  update,          // hot-plug what can be, then rewrite the persistent definition
  start,           // start the guest
  stop,            // graceful shutdown (ACPI), bounded wait
  restart,         // graceful shutdown, then start
  undefine,        // remove the definition only; data stays
  rename,          // rename a shut-off domain in place (UUID, devices, NVRAM kept)
  bind_driver,     // bind a PCI function to vfio-pci before its guest starts
  restore_driver,  // give a PCI function back to its host driver
};

struct Step {
  std::string id;  // "vm.dsm/define"
  StepKind kind = StepKind::define;
  std::string address;             // the change this step carries out
  std::string target;              // the domain name or path the step acts on
  std::vector<std::string> after;  // ids of the steps that must succeed first

  bool operator==(const Step&) const = default;
};

struct Summary {
  int add = 0;
  int change = 0;
  int destroy = 0;
};

struct Plan {
  static constexpr int kFormatVersion = 2;

  std::string uri;              // the libvirt connection the plan was made against
  std::vector<Change> changes;  // every resource, including those without an action
  std::vector<Step> steps;      // in an order that respects `after`
  Diagnostics diagnostics;      // warnings kept for display; a plan with errors is not applied
  Fingerprint fingerprint;      // the live state it was computed from (saved plans are checked)
  std::string config_digest;    // the declared model it was computed from

  Summary summary() const;
  bool has_changes() const;
  const Change* find(const std::string& address) const;
  const Step* find_step(const std::string& id) const;
};

std::string to_string(StepKind kind);
std::optional<StepKind> step_kind_from_string(const std::string& text);

}  // namespace virtform
