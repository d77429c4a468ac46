#pragma once
// A SysfsWriter that behaves like the kernel's PCI driver core over a fixture tree, so driver
// binding is tested against sysfs semantics rather than against a list of expected writes:
// driver_override is stored; drivers/X/unbind removes the driver link; drivers_probe binds the
// override driver if set and loaded, else the device's default driver; drivers/X/bind is
// refused unless driver_override (or the default match) allows X.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/system/sysfs_writer.h"

namespace virtform::testing {

class SimulatedKernel : public SysfsWriter {
 public:
  // Learns each bound device's driver as the default its ids match (what the kernel would
  // probe without an override).
  explicit SimulatedKernel(const std::string& root);

  // Carries out the write; throws SystemError where the kernel would fail the write(2).
  void write(const std::string& path_under_root, const std::string& value) override;

  // Every write attempted, in order: (path under root, value).
  const std::vector<std::pair<std::string, std::string>>& writes() const { return writes_; }
  // Loads a driver module (sys/bus/pci/drivers/<name>), e.g. "vfio-pci" after the fact.
  void load_driver(const std::string& name);
  // Unloads a driver that has no devices bound.
  void unload_driver(const std::string& name);

 private:
  std::filesystem::path device_dir(const std::string& address) const;
  std::string bound_driver(const std::string& address) const;
  std::string override_of(const std::string& address) const;
  std::string default_driver(const std::string& address) const;
  bool driver_loaded(const std::string& name) const;
  void set_override(const std::string& address, const std::string& value);
  void unbind(const std::string& driver, const std::string& address);
  void bind(const std::string& driver, const std::string& address);
  void probe(const std::string& address);

  std::filesystem::path root_;                               // canonical fixture root
  std::map<std::string, std::string> default_by_ids_;        // "1002:1638" -> "amdgpu"
  std::vector<std::pair<std::string, std::string>> writes_;  // attempted writes, in order
};

}  // namespace virtform::testing
