#pragma once
// libvirt as the engine sees it: read the live state, and the few operations apply needs.
// Implemented by providers/libvirt; the engine never includes libvirt itself.
// Every operation throws SystemError with a message fit for the user when it fails.

#include <optional>
#include <stdexcept>
#include <string>

#include "engine/model/vm.h"

namespace virtform {

class SystemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual std::string uri() const = 0;
  // All domains (managed or not), networks and bridges.
  virtual Live read_live() = 0;
  // One domain as read_live reads it, now; nothing when there is no domain of that name.
  virtual std::optional<LiveDomain> read_domain(const std::string& name) = 0;

  // Defines a new persistent domain for the VM, carrying virtform's managed marker.
  virtual void define(const Vm& vm) = 0;
  // Rewrites the persistent definition: the owned fields of `desired` are patched into
  // `live.xml`, everything else (UUID, MACs, addresses, aliases) is kept. Adds the marker.
  virtual void redefine(const Vm& desired, const LiveDomain& live) = 0;
  // Removes the definition only: NVRAM, images and disks stay on the host.
  virtual void undefine(const std::string& name) = 0;
  // Renames a shut-off domain in place: its UUID, devices, MACs and NVRAM stay as they are.
  virtual void rename(const std::string& from, const std::string& to) = 0;

  virtual void set_autostart(const std::string& name, bool autostart) = 0;
  virtual void start(const std::string& name) = 0;
  // Asks the guest to power off (ACPI power button) and returns at once.
  virtual void request_shutdown(const std::string& name) = 0;
  // Records in the domain's persistent definition that it is to be started again once it shuts
  // down: its restart timed out with the power-button press still pending.
  virtual void mark_start_pending(const std::string& name) = 0;
  // Pulls the plug. Only ever used for VMs that set force_stop = true.
  virtual void destroy(const std::string& name) = 0;
  virtual bool is_running(const std::string& name) = 0;

  // Hot-plug changes to the running guest only; the persistent side goes through redefine.
  virtual void attach_live(const std::string& name, const Disk& disk) = 0;
  virtual void detach_live(const std::string& name, const Disk& disk) = 0;
  virtual void attach_live(const std::string& name, const Nic& nic) = 0;
  virtual void detach_live(const std::string& name, const Nic& nic) = 0;
  virtual void attach_live(const std::string& name, const UsbDevice& device) = 0;
  // Unplugs the device that `device` names, as the running guest has it.
  virtual void detach_live(const std::string& name, const UsbDevice& device) = 0;
  virtual void attach_live(const std::string& name, const InputDevice& input) = 0;
  virtual void detach_live(const std::string& name, const InputDevice& input) = 0;
  // Lowers the running guest's balloon to `kib` (at most its maximum memory); a balloon already
  // at or below it is left as it is.
  virtual void set_memory_live(const std::string& name, std::uint64_t kib) = 0;
  // Brings the running guest's vCPUs up to `count` (at most its vcpus_max), and its persistent
  // definition with them.
  virtual void set_vcpus_live(const std::string& name, unsigned count) = 0;
  // Sets the running guest's balloon to `kib`, up or down within the maximum it booted with, in
  // its live and persistent definitions: the memory the config declares.
  virtual void set_balloon(const std::string& name, std::uint64_t kib) = 0;
  // Puts `media` (an ISO; "" ejects) into the running guest's CD-ROM drive `drive`, counted from
  // 0 in the guest's order of drives.
  virtual void change_media_live(const std::string& name, unsigned drive,
                                 const std::string& media) = 0;
  // Gives the running guest's console `password` (its first console, as it runs otherwise).
  virtual void set_console_password_live(const std::string& name, const std::string& password) = 0;
  // Gives the running guest a table-driven attribute whose row is FieldTiming::live.
  virtual void set_attribute_live(const std::string& name, const std::string& key,
                                  const std::string& value) = 0;
};

}  // namespace virtform
