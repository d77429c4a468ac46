#pragma once
// Moves a PCI function between its host driver and vfio-pci through sysfs, the way a person
// would by hand, and checks that the kernel did what was asked.

#include <string>

#include "engine/system/pci_drivers.h"
#include "engine/system/sysfs_writer.h"

namespace virtform {

// Writes sysfs attributes under a root directory, logging every write at info level. Refuses the
// real "/" unless `allow_real_sysfs` is set, so that nothing but an explicit apply on the live
// host can touch the kernel.
class RootedSysfsWriter : public SysfsWriter {
 public:
  // Throws SystemError if `root` is "/" (after resolving) and `allow_real_sysfs` is false.
  explicit RootedSysfsWriter(const std::string& root, bool allow_real_sysfs = false);

  void write(const std::string& path_under_root, const std::string& value) override;

 private:
  std::string root_;  // "" for the real "/", else the tree's directory
};

class DriverBinder : public PciDrivers {
 public:
  // `root` is where the driver links are read back ("/" or the tree `writer` writes to).
  DriverBinder(SysfsWriter& writer, std::string root);

  // The driver bound to the function ("" when unbound). Throws SystemError if the function does
  // not exist.
  std::string current_driver(const std::string& address) const;

  // Binds the function to `driver`: sets driver_override, unbinds it from its current driver,
  // asks the kernel to probe it, then reads the driver link back. Nothing is written when it is
  // already bound there. Throws SystemError naming the cause when the driver does not take it.
  void bind(const std::string& address, const std::string& driver = "vfio-pci") override;

  // Gives the function back to the host: clears driver_override, unbinds it from vfio-pci or
  // pci-stub and re-probes so that its own driver returns. Returns the driver now bound.
  std::string restore(const std::string& address) override;

 private:
  SysfsWriter& writer_;  // where the writes go
  std::string root_;     // where the links are read ("" for "/")
};

}  // namespace virtform
