#pragma once
// Moving PCI functions between host drivers and vfio-pci, as apply needs it. Implemented over
// sysfs by providers/sysfs (DriverBinder).

#include <string>

namespace virtform {

class PciDrivers {
 public:
  virtual ~PciDrivers() = default;
  // Binds the function to `driver` and verifies the kernel did; throws SystemError otherwise.
  virtual void bind(const std::string& address, const std::string& driver) = 0;
  // Gives the function back to its host driver; returns the driver now bound.
  virtual std::string restore(const std::string& address) = 0;
};

}  // namespace virtform
