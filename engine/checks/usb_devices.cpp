#include "engine/checks/usb_devices.h"

#include <algorithm>
#include <map>
#include <set>

namespace virtform {
namespace {

// The host's device as the model's identity parts see it.
UsbDevice as_declared(const UsbHostDevice& device) {
  UsbDevice seen;
  seen.vendor = device.vendor;
  seen.product = device.product;
  seen.bus = device.bus;
  seen.device = device.device;
  return seen;
}

// "bus 1 device 4 (port 1-4.2, Logitech USB Receiver, serial 0A1B)": enough to pick one.
std::string describe(const UsbHostDevice& device) {
  std::string text = "bus " + std::to_string(device.bus) + " device " +
                     std::to_string(device.device) + " (port " + device.port;
  if (!device.name.empty()) text += ", " + device.name;
  if (!device.serial.empty()) text += ", serial " + device.serial;
  return text + ")";
}

std::string list(const std::vector<const UsbHostDevice*>& devices) {
  std::string text;
  for (const UsbHostDevice* device : devices)
    text += (text.empty() ? "" : "; ") + describe(*device);
  return text;
}

class UsbCheck {
 public:
  UsbCheck(const std::vector<UsbHostDevice>& host, Diagnostics& diagnostics)
      : host_(host), diagnostics_(diagnostics) {}

  // A running guest the config does not declare holds what it runs with.
  void hold(const LiveDomain& domain) {
    if (!domain.running || !domain.booted) return;
    for (const UsbDevice& device : domain.booted->usb) {
      const std::vector<const UsbHostDevice*> found = matches(device);
      if (found.size() == 1) others_.emplace(found.front()->port, domain.vm.name);
    }
  }

  void add(const Vm& vm) {
    for (const UsbDevice& device : vm.usb) {
      const std::vector<const UsbHostDevice*> found = matches(device);
      if (found.empty()) {
        report_missing(vm, device);
      } else if (found.size() > 1) {
        report(Severity::error, vm, device,
               "the host has " + std::to_string(found.size()) + " USB devices " +
                   usb_identity(device) + ": " + list(found) +
                   "; libvirt takes none of them by ids alone: add bus and device to pick one");
      } else {
        claim(vm, device, *found.front());
      }
    }
  }

 private:
  std::vector<const UsbHostDevice*> matches(const UsbDevice& device) const {
    std::vector<const UsbHostDevice*> found;
    for (const UsbHostDevice& candidate : host_)
      if (names_usb(device, as_declared(candidate))) found.push_back(&candidate);
    return found;
  }

  // A device found by its place may have been plugged in again, and got a new number.
  void report_missing(const Vm& vm, const UsbDevice& device) {
    std::string message = "USB device " + usb_identity(device) + " is not plugged into the host";
    UsbDevice by_ids = device;
    by_ids.bus.reset();
    by_ids.device.reset();
    const auto elsewhere =
        device.vendor.empty() ? std::vector<const UsbHostDevice*>{} : matches(by_ids);
    if (!elsewhere.empty() && device.bus) {
      message += "; " + device.vendor + ":" + device.product + " is at " + list(elsewhere) +
                 ": a device gets a new number each time it is plugged in, so find it by vendor "
                 "and product alone";
    } else {
      message +=
          ": plug it in (lsusb lists what is), or set optional = true to let the guest "
          "start without it";
    }
    const bool blocks_start = !device.optional && vm.state != PowerState::stopped;
    report(blocks_start ? Severity::error : Severity::warning, vm, device, message);
  }

  // Only one running guest can hold the device; a guest that is to stay stopped holds nothing.
  void claim(const Vm& vm, const UsbDevice& device, const UsbHostDevice& host_device) {
    if (vm.state == PowerState::stopped) return;
    if (const auto other = others_.find(host_device.port); other != others_.end()) {
      report(Severity::error, vm, device,
             "USB device " + usb_identity(device) + " at " + describe(host_device) +
                 " is held by running domain '" + other->second +
                 "', which this config does not declare: libvirt gives a host USB device to one "
                 "running guest; stop that one, or leave the device to it");
      return;
    }
    const auto [holder, fresh] = holders_.emplace(host_device.port, &vm);
    if (fresh) return;
    const std::string who = holder->second == &vm ? "another [[vm." + vm.key + ".usb]] entry"
                                                  : "vm." + holder->second->key;
    report(Severity::error, vm, device,
           "USB device " + usb_identity(device) + " at " + describe(host_device) + " is given to " +
               who +
               " as well: libvirt gives a host USB device to one running guest; declare it "
               "once, or set state = \"stopped\" on one of them");
  }

  void report(Severity severity, const Vm& vm, const UsbDevice& device, std::string message) {
    diagnostics_.push_back({severity, std::move(message), device.where, "vm." + vm.key});
  }

  const std::vector<UsbHostDevice>& host_;
  Diagnostics& diagnostics_;
  std::map<std::string, const Vm*> holders_;   // by the host device's port
  std::map<std::string, std::string> others_;  // port -> an undeclared running domain
};

// The host's devices a declared port or serial (with its ids) finds.
std::vector<const UsbHostDevice*> found_by_finders(const UsbDevice& device,
                                                   const std::vector<UsbHostDevice>& host) {
  std::vector<const UsbHostDevice*> found;
  for (const UsbHostDevice& candidate : host) {
    if (!device.port.empty() && candidate.port != device.port) continue;
    if (!device.serial.empty() && candidate.serial != device.serial) continue;
    if (!device.vendor.empty() &&
        (candidate.vendor != device.vendor || candidate.product != device.product))
      continue;
    found.push_back(&candidate);
  }
  return found;
}

// Why a port or serial finds no one device: what the port holds instead, or which devices share
// the serial.
std::string why_unplaced(const UsbDevice& device, const std::vector<UsbHostDevice>& host,
                         const std::vector<const UsbHostDevice*>& found) {
  const std::string what = usb_declared_as(device);
  if (found.size() > 1)
    return "the host has " + std::to_string(found.size()) + " USB devices " + what + ": " +
           list(found) + "; add port to pick one";
  const std::string or_optional = ", or set optional = true to let the guest start without it";
  if (!device.port.empty()) {
    const auto there = std::find_if(host.begin(), host.end(), [&](const UsbHostDevice& plugged) {
      return plugged.port == device.port;
    });
    if (there == host.end())
      return "nothing is plugged into USB port " + device.port +
             ": plug the device in (lsusb -t shows the ports)" + or_optional;
    return "USB port " + device.port + " holds " + there->vendor + ":" + there->product + " at " +
           describe(*there) + ", not " + device.vendor + ":" + device.product +
           ": plug it into that port, or change port" + or_optional;
  }
  return "USB device " + what +
         " is not plugged into the host: plug it in (lsusb -v shows serials)" + or_optional;
}

}  // namespace

std::optional<Desired> place_usb_devices(const Desired& desired,
                                         const std::vector<UsbHostDevice>& host,
                                         Diagnostics& diagnostics) {
  const bool any = std::any_of(desired.vms.begin(), desired.vms.end(), [](const Vm& vm) {
    return std::any_of(vm.usb.begin(), vm.usb.end(), is_placed_by_host);
  });
  if (!any) return std::nullopt;
  Desired placed = desired;
  for (Vm& vm : placed.vms) {
    std::erase_if(vm.usb, [&](UsbDevice& device) {
      if (!is_placed_by_host(device)) return false;
      const auto found = found_by_finders(device, host);
      if (found.size() == 1) {
        device.bus = found.front()->bus;
        device.device = found.front()->device;
        return false;
      }
      // Left out, the guest starts without it: fine for one that may, or is to stay stopped.
      const bool blocks_start =
          found.size() > 1 || (!device.optional && vm.state != PowerState::stopped);
      diagnostics.push_back({blocks_start ? Severity::error : Severity::warning,
                             why_unplaced(device, host, found), device.where, "vm." + vm.key});
      return true;
    });
  }
  return placed;
}

void check_usb_devices(const Desired& desired, const Live& live, Diagnostics& diagnostics) {
  UsbCheck check(live.devices.usb, diagnostics);
  std::set<std::string> declared;
  for (const Vm& vm : desired.vms) declared.insert(vm.name);
  for (const LiveDomain& domain : live.domains)
    if (!declared.count(domain.vm.name)) check.hold(domain);
  for (const Vm& vm : desired.vms) check.add(vm);
}

}  // namespace virtform
