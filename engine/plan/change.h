#pragma once
// What plan found for one resource: the action, each field's before/after, and how a running
// guest would feel it. Reasons are for people; apply is driven by actions and the desired value.

#include <optional>
#include <string>
#include <vector>

#include "engine/model/vm.h"

namespace virtform {

// The action is also its diff symbol (+, ~, -/+, -).
enum class Action { none, create, update, replace, remove };

// How a change reaches a running guest. Ordered: a change is as disruptive as its worst field.
enum class Disruption {
  none,       // the guest is not running, or nothing it sees changes
  live,       // done to the running guest now (hot-plug, balloon, autostart)
  next_boot,  // the persistent definition changes; the running guest keeps its current one
  restart,    // apply gracefully restarts the guest to make it take effect
};

enum class ResourceKind { vm, image, loader, network, bridge, pci };

struct FieldChange {
  std::string field;   // named after the config key: "memory", "disk[/dev/sdb]", "state"
  std::string before;  // "" when the field is new
  std::string after;   // "" when the field goes away
  Disruption disruption = Disruption::none;

  bool operator==(const FieldChange&) const = default;
};

struct Change {
  std::string address;  // "vm.dsm", "image./var/lib/libvirt/images/x.qcow2", "loader.tcrp"
  ResourceKind kind = ResourceKind::vm;
  std::string name;  // domain name, image path, network name ...
  Action action = Action::none;
  std::vector<FieldChange> fields;
  Disruption disruption = Disruption::none;  // the worst of the fields
  std::string reason;                        // why, in words; display only
  bool running = false;                      // a guest that is running now
  std::vector<std::string> depends_on;       // addresses of resources this one needs
  // vm: differences between the persistent definition and what the running guest booted that
  // this plan does not act on (restarts are not allowed): shown, never applied.
  std::vector<FieldChange> pending_boot;

  std::optional<Vm> desired;  // vm: the definition apply makes (create, update, replace)
  std::string live_name;      // vm: the domain apply changes or removes (may differ on replace)
  // vm: the policy recorded in the live domain's marker (remove, replace): how apply stops a
  // guest that the config no longer declares.
  std::optional<LifecyclePolicy> live_policy;
  std::string image_format;       // image: "raw" or "qcow2"
  std::uint64_t image_bytes = 0;  // 0 for an overlay: it takes its backing image's size
  std::string image_backing;      // image: for a loader overlay, the image it reads through to

  bool operator==(const Change&) const = default;
};

// "+", "~", "-/+", "-", or "" for none.
std::string symbol(Action action);
// "create", "update", "replace", "delete", "none": the names used in JSON.
std::string to_string(Action action);
// "none", "live", "next-boot", "restart".
std::string to_string(Disruption disruption);
// "vm", "image", "loader", "network", "bridge", "pci".
std::string to_string(ResourceKind kind);

std::optional<Action> action_from_string(const std::string& text);
std::optional<Disruption> disruption_from_string(const std::string& text);
std::optional<ResourceKind> resource_kind_from_string(const std::string& text);

}  // namespace virtform
