#pragma once
// Writes to sysfs attributes, the only way virtform changes the host's device state (driver
// binding). Behind an interface so that tests drive a simulated kernel over a fixture tree.

#include <string>

namespace virtform {

class SysfsWriter {
 public:
  virtual ~SysfsWriter() = default;

  // Writes `value` to the attribute at `path_under_root` ("/sys/bus/pci/drivers_probe"), as
  // `echo -n value > path` would. Throws SystemError (engine/system/hypervisor.h) when the
  // kernel refuses the write.
  virtual void write(const std::string& path_under_root, const std::string& value) = 0;
};

}  // namespace virtform
