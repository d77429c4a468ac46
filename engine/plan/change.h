#pragma once
// What plan found for one resource: the action, each field's before/after, and how a running
// guest would feel it, and for a VM the operations apply carries out. Fields and reasons are for
// people; apply is driven by the operations, the action and the desired value, never by a field's
// name or text.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/dsm/report.h"
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

// The last operation on a VM: how its guest is left running or stopped.
enum class PowerOperation {
  none,
  start,    // start the guest
  stop,     // shut the guest down gracefully (ACPI), bounded wait
  restart,  // shut it down gracefully and start it again, so it boots its new definition
};

// The VM's UEFI variable store moves to another file: the current one is copied there first.
struct NvramCopy {
  std::string from;
  std::string to;

  bool operator==(const NvramCopy&) const = default;
};

// What apply does to one VM, decided once by diff: the graph makes the steps from these and the
// step runner carries them out, so a saved plan is applied as it was made, without the diff being
// computed again. Members are in the order apply carries them out.
// A new ISO for a running guest's CD-ROM drive: its place in the guest's order of drives, from
// 0, and the ISO ("" ejects the one it has).
struct MediaChange {
  unsigned drive = 0;
  std::string media;

  bool operator==(const MediaChange&) const = default;
};

struct VmOperations {
  bool shut_down = false;  // first, stop the guest: what follows needs it shut off
  bool undefine = false;   // remove the live definition; its disks and NVRAM stay
  bool rename = false;     // rename the live domain to the desired name, in place
  bool define = false;     // define the desired VM as a new domain
  // Patch the desired VM into the live definition: the update step, which also carries out the
  // NVRAM copy before it, and the autostart and the changes to the running guest after it.
  bool redefine = false;
  std::optional<NvramCopy> copy_nvram;
  std::optional<bool> set_autostart;  // after define or redefine
  // Made to the running guest after redefine, in this order, each checked in its live definition.
  std::vector<Disk> unplug_disks;
  std::vector<Nic> unplug_nics;
  std::vector<UsbDevice> unplug_usb;
  std::vector<InputDevice> unplug_inputs;
  std::vector<Disk> plug_disks;
  std::vector<Nic> plug_nics;
  std::vector<UsbDevice> plug_usb;
  std::vector<InputDevice> plug_inputs;
  std::map<std::string, std::string> live_attributes;  // vm_fields.h rows taken live: key -> value
  std::optional<std::uint64_t> balloon_kib;            // lower the running guest's balloon to this
  std::optional<unsigned> vcpus_live;                  // plug the running guest's vCPUs up to this
  // Set the running guest's balloon to this, up or down: the memory declared below memory_max.
  std::optional<std::uint64_t> current_memory_kib;
  std::vector<MediaChange> media_changes;
  // Give the running console the password from its source, which apply reads again: the plan
  // never holds it.
  bool console_password = false;
  PowerOperation power = PowerOperation::none;

  bool empty() const { return *this == VmOperations{}; }
  bool operator==(const VmOperations&) const = default;
};

struct Change {
  std::string address;  // "vm.dsm", "image./var/lib/libvirt/images/x.qcow2", "loader.tcrp"
  ResourceKind kind = ResourceKind::vm;
  std::string name;  // domain name, image path, network name ...
  Action action = Action::none;
  std::vector<FieldChange> fields;           // display only
  VmOperations operations;                   // vm: what apply does
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
  std::optional<DsmReport> dsm;   // vm: a DSM guest's model and disk slot map

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
// "none", "start", "stop", "restart".
std::string to_string(PowerOperation power);
std::optional<PowerOperation> power_operation_from_string(const std::string& text);

}  // namespace virtform
