#include "engine/apply/step_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "engine/config/console_password.h"
#include "engine/model/text.h"
#include "engine/plan/fingerprint.h"

namespace virtform {

namespace {

constexpr std::chrono::milliseconds kPollInterval{250};
constexpr std::chrono::seconds kProgressInterval{5};
// A guest removed from the config has no shutdown_timeout of its own any more.
constexpr std::chrono::seconds kDefaultShutdownTimeout{120};
// How long a hot-plug or unplug may take to show in the running guest's live definition: a guest
// acknowledges an unplug request in its own time.
constexpr std::chrono::seconds kLiveChangeWait{10};

// How a domain moved between two readings, in words; "" when it did not.
std::string what_changed(const LiveDomain* then, const LiveDomain* now) {
  if (!then && !now) return "";
  if (!then) return "a domain of that name was defined";
  if (!now) return "it was undefined";
  if (domain_fingerprint(*then) == domain_fingerprint(*now)) return "";
  std::vector<std::string> moved;
  if (then->xml != now->xml) moved.emplace_back("its definition was edited");
  if (then->running != now->running)
    moved.emplace_back(now->running ? "it was started" : "it was shut down");
  if (then->vm.autostart.value_or(false) != now->vm.autostart.value_or(false))
    moved.emplace_back("its autostart was changed");
  return join(moved, ", ");
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
      if (!change.image_backing.empty()) {
        context_.files.create_overlay(change.name, change.image_backing);
      } else {
        context_.files.create_image(change.name, change.image_format, change.image_bytes);
      }
      return;
    case StepKind::bind_driver:
      pci_drivers().bind(step.target, "vfio-pci");
      return;
    case StepKind::restore_driver:
      pci_drivers().restore(step.target);
      return;
    default:
      break;
  }
  if (step.kind == StepKind::rename) {
    rename(step, change);
    return;
  }
  std::unique_lock turn = first_write_turn(step.kind);
  const std::optional<LiveDomain> current = unchanged_since_plan(step.target);
  run_on_domain(step, change, current, turn);
  remember(step.target);
}

// A hypervisor may write a process's first definition alone (libvirt does: libxml2 builds its
// schema tables unlocked). A step queued behind it would write what it re-read before it waited,
// and an edit made meanwhile would be lost; so until one definition is written, the steps that
// write one take turns, and each re-reads its domain once its turn has come.
std::unique_lock<std::mutex> StepRunner::first_write_turn(StepKind kind) {
  std::unique_lock turn(first_write_mutex_, std::defer_lock);
  if ((kind == StepKind::define || kind == StepKind::update) && !definition_written_) {
    turn.lock();
    if (definition_written_) turn.unlock();
  }
  return turn;
}

void StepRunner::wrote_definition(std::unique_lock<std::mutex>& turn) {
  definition_written_ = true;
  if (turn.owns_lock()) turn.unlock();
}

// Both names are checked: the old one still as planned, the new one still free.
void StepRunner::rename(const Step& step, const Change& change) {
  const std::string& to = change.desired->name;
  unchanged_since_plan(step.target);
  unchanged_since_plan(to);
  context_.hypervisor.rename(step.target, to);
  remember(step.target);
  remember(to);
}

void StepRunner::run_on_domain(const Step& step, const Change& change,
                               const std::optional<LiveDomain>& current,
                               std::unique_lock<std::mutex>& turn) {
  switch (step.kind) {
    case StepKind::define:
      define(change, turn);
      return;
    case StepKind::update:
      if (!current) throw SystemError("domain '" + step.target + "' disappeared since the plan");
      update(change, *current, turn);
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
    default:
      throw SystemError("step " + step.id + " does not act on a domain");
  }
}

const LiveDomain* StepRunner::expected_state(const std::string& name) {
  std::lock_guard lock(expected_mutex_);
  auto [entry, added] = expected_.try_emplace(name);
  if (added) {
    const LiveDomain* planned = context_.live.find_domain(name);
    if (planned) entry->second = *planned;
  }
  return entry->second ? &*entry->second : nullptr;
}

std::optional<LiveDomain> StepRunner::unchanged_since_plan(const std::string& name) {
  std::optional<LiveDomain> now = context_.hypervisor.read_domain(name);
  const LiveDomain* then = expected_state(name);
  const std::string moved = what_changed(then, now ? &*now : nullptr);
  if (!moved.empty())
    throw SystemError("domain '" + name + "' changed since the plan (" + moved +
                      "); run `virtform plan` again");
  return now;
}

void StepRunner::remember(const std::string& name) {
  std::optional<LiveDomain> now = context_.hypervisor.read_domain(name);
  std::lock_guard lock(expected_mutex_);
  expected_[name] = std::move(now);
}

PciDrivers& StepRunner::pci_drivers() {
  if (!context_.pci_drivers)
    throw SystemError("PCI functions cannot be bound to other drivers on this host");
  return *context_.pci_drivers;
}

// A saved plan holds where a console's password comes from, never the password: it is read
// again before each define. Without it a new guest is not defined (its console would be open to
// anyone); an existing one keeps the password its console has.
Vm StepRunner::with_console_password(const Vm& desired, bool defining) const {
  Vm vm = desired;
  if (!vm.graphics) return vm;
  std::string why_not;
  vm.graphics->password = console_password(*vm.graphics, context_.files, why_not);
  if (why_not.empty()) return vm;
  if (defining)
    throw SystemError(why_not + ": the console's password comes from there, and '" + vm.name +
                      "' is not defined without it");
  spdlog::warn("{}: {}: the console keeps the password it has", vm.name, why_not);
  return vm;
}

void StepRunner::define(const Change& change, std::unique_lock<std::mutex>& turn) {
  const Vm vm = with_console_password(*change.desired, true);
  context_.hypervisor.define(vm);
  wrote_definition(turn);
  if (const auto autostart = change.operations.set_autostart)
    context_.hypervisor.set_autostart(vm.name, *autostart);
}

// The definition is merged into the one just read and checked, so the window in which another
// tool's edit could be lost is that of one define call. A guest that restarts next boots the new
// definition anyway; one that keeps running is given what the plan found it can take now.
void StepRunner::update(const Change& change, const LiveDomain& live,
                        std::unique_lock<std::mutex>& turn) {
  const VmOperations& operations = change.operations;
  const Vm desired = with_console_password(*change.desired, false);
  const bool copied = operations.copy_nvram && copy_nvram(*operations.copy_nvram, live);
  if (operations.redefine) {
    // The copy took a moment: checked again right before the define.
    context_.hypervisor.redefine(desired, copied ? *unchanged_since_plan(live.vm.name) : live);
    wrote_definition(turn);
  }
  if (operations.set_autostart)
    context_.hypervisor.set_autostart(live.vm.name, *operations.set_autostart);
  const std::vector<std::string> missed =
      hot_plug(operations, live, desired.graphics ? desired.graphics->password : std::nullopt);
  if (!missed.empty())
    throw SystemError("the definition of '" + live.vm.name +
                      "' is updated, but the running guest did not take " + join(missed, "; ") +
                      "; that takes effect at its next boot");
}

// A VM whose variable store moves (a rename, a new nvram path) takes its boot entries and Secure
// Boot keys along: the store is copied, never left for libvirt to make afresh from the template.
// The old file stays, as every store virtform stops using does. A store that was never made
// (the guest never booted) has nothing to take.
bool StepRunner::copy_nvram(const NvramCopy& copy, const LiveDomain& live) {
  const std::string& from = copy.from;
  const std::string& to = copy.to;
  if (!context_.files.exists(from)) return false;
  // Another store where this one would go could be an older guest's, with other keys.
  if (context_.files.exists(to))
    throw SystemError("cannot move the NVRAM store of '" + live.vm.name + "' to " + to +
                      ": a file is already there. Remove it, or set nvram = \"" + from +
                      "\" to keep the current store");
  context_.files.copy_file(from, to);
  return true;
}

namespace {

// A change made to a running guest, and how its live definition shows it was taken.
struct LiveChange {
  std::string what;
  std::function<void()> make;
  std::function<bool(const Vm& booted)> taken;
};

// libvirt writes MACs in lower case; a config may not.
bool same_mac(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool has_mac(const Vm& vm, const std::string& mac) {
  return std::any_of(vm.nics.begin(), vm.nics.end(),
                     [&](const Nic& nic) { return nic.mac && same_mac(*nic.mac, mac); });
}

// The MAC libvirt gave an added NIC in the new persistent definition: the guest then keeps one
// address across the hot-plug and its next boot.
std::optional<std::string> persistent_mac(const Nic& added, const Vm& before, const Vm& after,
                                          std::set<std::string>& taken) {
  if (added.mac) return added.mac;
  for (const Nic& nic : after.nics) {
    if (!nic.mac || has_mac(before, *nic.mac) || taken.count(*nic.mac)) continue;
    if (nic.kind == added.kind && nic.source == added.source && nic.model == added.model) {
      taken.insert(*nic.mac);
      return nic.mac;
    }
  }
  return std::nullopt;
}

// The changes the running guest's live definition does not show, once they had time to land.
std::vector<const LiveChange*> not_taken(Hypervisor& hypervisor, Clock& clock,
                                         const std::string& name,
                                         const std::vector<const LiveChange*>& made) {
  std::vector<const LiveChange*> pending = made;
  const auto deadline = clock.now() + kLiveChangeWait;
  while (!pending.empty()) {
    const std::optional<LiveDomain> now = hypervisor.read_domain(name);
    if (!now || !now->booted) break;
    std::erase_if(pending, [&](const LiveChange* change) { return change->taken(*now->booted); });
    if (pending.empty() || clock.now() >= deadline) break;
    clock.sleep_for(kPollInterval);
  }
  return pending;
}

}  // namespace

// The plugs, unplugs, attributes and balloon the plan gives the running guest. Each plug and unplug
// is checked in the guest's live definition: libvirt returns from an unplug before a guest that
// never acknowledges it has let go. Returns what the guest did not take, with the reason.
std::vector<std::string> StepRunner::hot_plug(const VmOperations& operations,
                                              const LiveDomain& live,
                                              const std::optional<std::string>& console_password) {
  const std::string& name = live.vm.name;
  Hypervisor& hypervisor = context_.hypervisor;
  const std::optional<LiveDomain> redefined =
      operations.plug_nics.empty() ? std::nullopt : hypervisor.read_domain(name);
  std::set<std::string> macs_used;
  std::vector<LiveChange> changes;
  for (const Disk& disk : operations.unplug_disks)
    changes.push_back(
        {"the unplug of disk " + disk.source, [&, disk] { hypervisor.detach_live(name, disk); },
         [source = disk.source](const Vm& booted) { return !booted.find_disk(source); }});
  for (const Nic& nic : operations.unplug_nics)
    changes.push_back({"the unplug of the NIC on " + nic.source,
                       [&, nic] { hypervisor.detach_live(name, nic); },
                       [mac = nic.mac.value_or("")](const Vm& booted) {
                         return mac.empty() || !has_mac(booted, mac);
                       }});
  for (const UsbDevice& device : operations.unplug_usb)
    changes.push_back({"the unplug of USB device " + usb_identity(device),
                       [&, device] { hypervisor.detach_live(name, device); },
                       [device](const Vm& booted) { return !has_usb(booted, device); }});
  for (const Disk& disk : operations.plug_disks)
    changes.push_back(
        {"disk " + disk.source, [&, disk] { hypervisor.attach_live(name, disk); },
         [source = disk.source](const Vm& booted) { return booted.find_disk(source) != nullptr; }});
  for (Nic nic : operations.plug_nics) {
    if (redefined) nic.mac = persistent_mac(nic, live.vm, redefined->vm, macs_used);
    changes.push_back({"a NIC on " + nic.source, [&, nic] { hypervisor.attach_live(name, nic); },
                       [mac = nic.mac.value_or("")](const Vm& booted) {
                         return mac.empty() || has_mac(booted, mac);
                       }});
  }
  for (const UsbDevice& device : operations.plug_usb)
    changes.push_back({"USB device " + usb_identity(device),
                       [&, device] { hypervisor.attach_live(name, device); },
                       [device](const Vm& booted) { return has_usb(booted, device); }});
  for (const InputDevice& input : operations.unplug_inputs)
    changes.push_back({"the unplug of the " + input_identity(input),
                       [&, input] { hypervisor.detach_live(name, input); },
                       [input](const Vm& booted) { return !has_input(booted, input); }});
  for (const InputDevice& input : operations.plug_inputs)
    changes.push_back({"the " + input_identity(input),
                       [&, input] { hypervisor.attach_live(name, input); },
                       [input](const Vm& booted) { return has_input(booted, input); }});
  for (const auto& attribute : operations.live_attributes)
    changes.push_back({"the " + attribute.first,
                       [&, key = attribute.first, value = attribute.second] {
                         hypervisor.set_attribute_live(name, key, value);
                       },
                       [key = attribute.first, value = attribute.second](const Vm& booted) {
                         const auto now = booted.attributes.find(key);
                         return now != booted.attributes.end() && now->second == value;
                       }});
  if (const auto count = operations.vcpus_live)
    changes.push_back({std::to_string(*count) + " vCPUs",
                       [&, count = *count] { hypervisor.set_vcpus_live(name, count); },
                       [count = *count](const Vm& booted) { return booted.vcpus == count; }});
  for (const MediaChange& change : operations.media_changes)
    changes.push_back(
        {change.media.empty() ? "the eject of CD-ROM drive " + std::to_string(change.drive + 1)
                              : "the ISO " + change.media,
         [&, change] { hypervisor.change_media_live(name, change.drive, change.media); },
         [change](const Vm& booted) {
           return change.drive < booted.cdroms.size() &&
                  booted.cdroms[change.drive].source == change.media;
         }});
  // A source this host lacks was warned about: the console keeps its password.
  if (operations.console_password && console_password)
    changes.push_back({"the console password",
                       [&, password = *console_password] {
                         hypervisor.set_console_password_live(name, password);
                       },
                       [password = *console_password](const Vm& booted) {
                         return booted.graphics && booted.graphics->password == password;
                       }});
  std::vector<std::string> missed;
  std::vector<const LiveChange*> made;
  // A change refused is tried again once the others are made: libvirt may refuse one for a
  // value another is about to change (on_poweroff = "restart" while on_reboot is "destroy").
  std::vector<const LiveChange*> refused;
  for (const LiveChange& change : changes) {
    try {
      change.make();
      made.push_back(&change);
    } catch (const SystemError&) {
      refused.push_back(&change);
    }
  }
  for (const LiveChange* change : refused) {
    try {
      change->make();
      made.push_back(change);
    } catch (const SystemError& error) {
      missed.push_back(change->what + " (" + error.what() + ")");
    }
  }
  for (const LiveChange* change : not_taken(hypervisor, context_.clock, name, made))
    missed.push_back(change->what + " (the guest did not take it within " +
                     std::to_string(kLiveChangeWait.count()) + "s)");
  if (operations.balloon_kib) {
    try {
      hypervisor.set_memory_live(name, *operations.balloon_kib);
    } catch (const SystemError& error) {
      missed.push_back("the smaller memory balloon (" + std::string(error.what()) + ")");
    }
  }
  if (operations.current_memory_kib) {
    try {
      hypervisor.set_balloon(name, *operations.current_memory_kib);
    } catch (const SystemError& error) {
      missed.push_back("the memory balloon of " + format_kib(*operations.current_memory_kib) +
                       " (" + error.what() + ")");
    }
  }
  return missed;
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

// What is true of a guest that did not shut down in time: a restart's update step has already
// saved the new definition.
std::string StepRunner::still_running(const Step& step) const {
  if (step.kind == StepKind::restart && context_.plan.find_step(step.address + "/update"))
    return "it is still running its old definition (the new one is saved and takes effect at its "
           "next boot)";
  return "it is still running";
}

// A guest being restarted may still shut down on the pending button press after apply gave up:
// the domain records that it is to be started again then, and the next apply does so.
std::string StepRunner::restart_later(const Step& step, const std::string& name) {
  if (step.kind != StepKind::restart) return "";
  try {
    context_.hypervisor.mark_start_pending(name);
  } catch (const SystemError& error) {
    spdlog::warn("{}: cannot record that it is to be started again: {}", name, error.what());
    return "";
  }
  remember(name);
  return " (if it does, the next `virtform apply` starts it again)";
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
        const std::string later = restart_later(step, name);
        throw SystemError("guest '" + name + "' did not shut down within " +
                          std::to_string(timeout.count()) + "s of the ACPI power button; " +
                          still_running(step) + ", and may still act on the button press later" +
                          later +
                          ". "
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
