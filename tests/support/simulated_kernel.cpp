#include "support/simulated_kernel.h"

#include <fstream>
#include <sstream>

#include "engine/system/hypervisor.h"

namespace virtform::testing {

namespace fs = std::filesystem;

namespace {

std::string read_trimmed(const fs::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void relative_link(const fs::path& target, const fs::path& link) {
  fs::create_symlink(target.lexically_relative(link.parent_path()), link);
}

// What the kernel's sysfs store functions see: the value without its trailing newline.
std::string strip_newline(std::string value) {
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw SystemError("write to " + path + " failed: " + reason);
}

}  // namespace

SimulatedKernel::SimulatedKernel(const std::string& root) : root_(fs::canonical(root)) {
  const fs::path devices = root_ / "sys/bus/pci/devices";
  for (const auto& entry : fs::directory_iterator(devices)) {
    const std::string address = entry.path().filename();
    const std::string driver = bound_driver(address);
    if (driver.empty()) continue;
    const std::string ids = read_trimmed(entry.path() / "vendor").substr(2) + ":" +
                            read_trimmed(entry.path() / "device").substr(2);
    default_by_ids_.emplace(ids, driver);
  }
}

void SimulatedKernel::write(const std::string& path_under_root, const std::string& value) {
  writes_.emplace_back(path_under_root, value);
  const std::string path =
      path_under_root.starts_with("/") ? path_under_root.substr(1) : path_under_root;
  const std::string address = strip_newline(value);
  constexpr std::string_view kDevices = "sys/bus/pci/devices/";
  constexpr std::string_view kDrivers = "sys/bus/pci/drivers/";
  if (path == "sys/bus/pci/drivers_probe") return probe(address);
  if (path.starts_with(kDevices) && path.ends_with("/driver_override")) {
    const auto begin = kDevices.size();
    return set_override(path.substr(begin, path.size() - begin - 16), address);
  }
  if (path.starts_with(kDrivers)) {
    const std::string rest = path.substr(kDrivers.size());
    const std::string driver = rest.substr(0, rest.find('/'));
    const std::string attribute = rest.substr(rest.find('/') + 1);
    if (!driver_loaded(driver)) fail(path, "No such file or directory");
    if (attribute == "unbind") return unbind(driver, address);
    if (attribute == "bind") return bind(driver, address);
  }
  fail(path, "not an attribute the simulated kernel knows");
}

void SimulatedKernel::load_driver(const std::string& name) {
  const fs::path dir = root_ / "sys/bus/pci/drivers" / name;
  fs::create_directories(dir);
  for (const char* attribute : {"bind", "unbind", "new_id", "remove_id"}) {
    std::ofstream(dir / attribute).flush();
  }
  if (name == "vfio-pci") fs::create_directories(root_ / "sys/module/vfio_pci");
}

void SimulatedKernel::unload_driver(const std::string& name) {
  fs::remove_all(root_ / "sys/bus/pci/drivers" / name);
  if (name == "vfio-pci") fs::remove_all(root_ / "sys/module/vfio_pci");
}

fs::path SimulatedKernel::device_dir(const std::string& address) const {
  const fs::path link = root_ / "sys/bus/pci/devices" / address;
  if (address.empty() || address.find('/') != std::string::npos || !fs::exists(link)) {
    fail("sys/bus/pci/devices/" + address, "No such device");
  }
  return fs::canonical(link);
}

std::string SimulatedKernel::bound_driver(const std::string& address) const {
  const fs::path link = device_dir(address) / "driver";
  return fs::is_symlink(link) ? fs::read_symlink(link).filename().string() : "";
}

std::string SimulatedKernel::override_of(const std::string& address) const {
  const std::string value = read_trimmed(device_dir(address) / "driver_override");
  return value == "(null)" ? "" : value;
}

std::string SimulatedKernel::default_driver(const std::string& address) const {
  const fs::path dir = device_dir(address);
  const std::string ids =
      read_trimmed(dir / "vendor").substr(2) + ":" + read_trimmed(dir / "device").substr(2);
  const auto it = default_by_ids_.find(ids);
  return it == default_by_ids_.end() ? "" : it->second;
}

bool SimulatedKernel::driver_loaded(const std::string& name) const {
  return !name.empty() && fs::is_directory(root_ / "sys/bus/pci/drivers" / name);
}

void SimulatedKernel::set_override(const std::string& address, const std::string& value) {
  // An empty value clears the override; the kernel shows an unset one as "(null)".
  std::ofstream(device_dir(address) / "driver_override", std::ios::trunc)
      << (value.empty() ? "(null)" : value) << "\n";
}

void SimulatedKernel::unbind(const std::string& driver, const std::string& address) {
  if (bound_driver(address) != driver) {
    fail("sys/bus/pci/drivers/" + driver + "/unbind", "No such device");
  }
  fs::remove(device_dir(address) / "driver");
  fs::remove(root_ / "sys/bus/pci/drivers" / driver / address);
}

void SimulatedKernel::bind(const std::string& driver, const std::string& address) {
  const std::string path = "sys/bus/pci/drivers/" + driver + "/bind";
  if (!bound_driver(address).empty()) fail(path, "Device or resource busy");
  const std::string override_driver = override_of(address);
  const bool allowed =
      override_driver.empty() ? default_driver(address) == driver : override_driver == driver;
  if (!allowed) fail(path, "No such device");
  const fs::path dir = device_dir(address);
  const fs::path driver_dir = root_ / "sys/bus/pci/drivers" / driver;
  relative_link(driver_dir, dir / "driver");
  relative_link(dir, driver_dir / address);
}

void SimulatedKernel::probe(const std::string& address) {
  if (!bound_driver(address).empty()) return;  // already bound: nothing to probe
  const std::string override_driver = override_of(address);
  // With an override set, only that driver may match; if it is not loaded the device stays
  // unbound and the write still succeeds, as in the kernel.
  const std::string candidate = override_driver.empty() ? default_driver(address) : override_driver;
  if (driver_loaded(candidate)) bind(candidate, address);
}

}  // namespace virtform::testing
