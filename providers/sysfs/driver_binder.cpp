#include "providers/sysfs/driver_binder.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/model/host.h"
#include "engine/model/values.h"
#include "engine/system/hypervisor.h"

namespace virtform {

namespace fs = std::filesystem;

namespace {

std::string normalise_root(const std::string& root) {
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(root.empty() ? "/" : root, error);
  const std::string text = error ? root : resolved.string();
  return text == "/" ? "" : text;
}

// Addresses end up in paths; anything but a well-formed one could climb out of sysfs.
std::string checked_address(const std::string& address) {
  const std::string canonical = canonical_pci_address(address).value_or("");
  if (canonical.empty()) throw SystemError("'" + address + "' is not a PCI address");
  return canonical;
}

std::string device_attribute(const std::string& address, const std::string& attribute) {
  return "/sys/bus/pci/devices/" + address + "/" + attribute;
}

}  // namespace

RootedSysfsWriter::RootedSysfsWriter(const std::string& root, bool allow_real_sysfs)
    : root_(normalise_root(root)) {
  if (root_.empty() && !allow_real_sysfs) {
    throw SystemError("refusing to write to the real /sys without allow_real_sysfs");
  }
}

void RootedSysfsWriter::write(const std::string& path_under_root, const std::string& value) {
  const std::string path = root_ + path_under_root;
  spdlog::info("sysfs: write '{}' to {}", value == "\n" ? "\\n" : value, path);
  // Attributes already exist; O_CREAT would turn a typo into a stray file in a recorded tree.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw SystemError("cannot open " + path + ": " + std::strerror(errno));
  const ssize_t written = ::write(fd, value.data(), value.size());
  const int write_errno = errno;
  ::close(fd);
  if (written < 0 || static_cast<size_t>(written) != value.size()) {
    throw SystemError("write of '" + value + "' to " + path +
                      " failed: " + std::strerror(written < 0 ? write_errno : EIO));
  }
}

DriverBinder::DriverBinder(SysfsWriter& writer, std::string root)
    : writer_(writer), root_(normalise_root(root)) {}

std::string DriverBinder::current_driver(const std::string& address) const {
  const std::string checked = checked_address(address);
  const fs::path device = root_ + device_attribute(checked, "");
  std::error_code error;
  if (!fs::exists(device, error)) throw SystemError("no PCI device at " + checked);
  const fs::path link = device / "driver";
  if (!fs::is_symlink(link, error)) return "";
  return fs::read_symlink(link, error).filename().string();
}

void DriverBinder::bind(const std::string& address, const std::string& driver) {
  const std::string checked = checked_address(address);
  const std::string before = current_driver(checked);
  if (before == driver) {
    spdlog::info("pci {}: already bound to {}", checked, driver);
    return;
  }
  writer_.write(device_attribute(checked, "driver_override"), driver);
  if (!before.empty()) writer_.write("/sys/bus/pci/drivers/" + before + "/unbind", checked);
  writer_.write("/sys/bus/pci/drivers_probe", checked);
  const std::string after = current_driver(checked);
  if (after != driver) {
    throw SystemError("pci " + checked + ": still " + (after.empty() ? "unbound" : "on " + after) +
                      " after probing, not on " + driver + "; is the " + driver +
                      " module loaded? (modprobe " + driver + ")");
  }
  spdlog::info("pci {}: driver {} -> {}", checked, before.empty() ? "none" : before, driver);
}

std::string DriverBinder::restore(const std::string& address) {
  const std::string checked = checked_address(address);
  const std::string before = current_driver(checked);
  // A newline is what `echo > driver_override` writes; the kernel reads it as "clear".
  writer_.write(device_attribute(checked, "driver_override"), "\n");
  if (before == "vfio-pci" || before == "pci-stub") {
    writer_.write("/sys/bus/pci/drivers/" + before + "/unbind", checked);
  }
  if (current_driver(checked).empty()) writer_.write("/sys/bus/pci/drivers_probe", checked);
  const std::string after = current_driver(checked);
  spdlog::info("pci {}: driver {} -> {}", checked, before.empty() ? "none" : before,
               after.empty() ? "none" : after);
  return after;
}

}  // namespace virtform
