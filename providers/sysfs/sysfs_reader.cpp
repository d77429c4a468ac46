#include "providers/sysfs/sysfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "engine/model/values.h"

namespace virtform {

namespace {

// The reader touches thousands of tiny attributes on a big host, so it stays on plain POSIX
// calls: no streams, no exceptions, no std::filesystem status objects per file.

std::string trim(std::string text) {
  const auto end = text.find_last_not_of(" \t\n\r");
  text.erase(end == std::string::npos ? 0 : end + 1);
  const auto begin = text.find_first_not_of(" \t\n\r");
  return begin == std::string::npos ? "" : text.substr(begin);
}

// The attribute's content without surrounding white space; "" if it cannot be read.
std::string read_attribute(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::array<char, 512> buffer{};
  const ssize_t count = ::read(fd, buffer.data(), buffer.size());
  ::close(fd);
  return count > 0 ? trim(std::string(buffer.data(), static_cast<size_t>(count))) : "";
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// The link's target as written ("../../../bus/pci/drivers/amdgpu"); "" if not a link.
std::string read_link(const std::string& path) {
  std::array<char, 4096> buffer{};
  const ssize_t count = ::readlink(path.c_str(), buffer.data(), buffer.size() - 1);
  return count > 0 ? std::string(buffer.data(), static_cast<size_t>(count)) : "";
}

std::string last_component(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

// Entry names of a directory, unsorted, without "." and ".."; empty if it does not exist.
std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

// "0x1002" -> "1002"; "0x030000" -> "030000".
std::string strip_hex_prefix(std::string value) {
  if (value.starts_with("0x") || value.starts_with("0X")) value.erase(0, 2);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value;
}

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// An attribute of the directory open at `dir_fd`; "" if it cannot be read.
std::string read_attribute_at(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::array<char, 1024> buffer{};
  const ssize_t count = ::read(fd, buffer.data(), buffer.size());
  ::close(fd);
  return count > 0 ? trim(std::string(buffer.data(), static_cast<size_t>(count))) : "";
}

std::string read_link_at(int dir_fd, const std::string& name) {
  std::array<char, 4096> buffer{};
  const ssize_t count = ::readlinkat(dir_fd, name.c_str(), buffer.data(), buffer.size() - 1);
  return count > 0 ? std::string(buffer.data(), static_cast<size_t>(count)) : "";
}

// The value of "KEY=value" in a uevent file; "" if absent.
std::string uevent_value(const std::string& uevent, std::string_view key) {
  std::size_t begin = 0;
  while (begin < uevent.size()) {
    auto end = uevent.find('\n', begin);
    if (end == std::string::npos) end = uevent.size();
    const std::string_view line(uevent.data() + begin, end - begin);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == '=') {
      return std::string(line.substr(key.size() + 1));
    }
    begin = end + 1;
  }
  return "";
}

// Ids and class from the device's uevent: one read instead of five (PCI_ID=1002:1638,
// PCI_SUBSYS_ID=1849:1638, PCI_CLASS=30000). False if the uevent lacks them.
bool read_ids_from_uevent(int dir_fd, const std::string& path, PciFunction& function) {
  const std::string uevent = read_attribute_at(dir_fd, path);
  const std::string id = uevent_value(uevent, "PCI_ID");
  const std::string subsystem = uevent_value(uevent, "PCI_SUBSYS_ID");
  std::string class_code = uevent_value(uevent, "PCI_CLASS");
  if (id.size() != 9 || class_code.empty()) return false;
  function.vendor = strip_hex_prefix(id.substr(0, 4));
  function.device = strip_hex_prefix(id.substr(5));
  if (subsystem.size() == 9) {
    function.subsystem_vendor = strip_hex_prefix(subsystem.substr(0, 4));
    function.subsystem_device = strip_hex_prefix(subsystem.substr(5));
  }
  if (class_code.size() < 6) class_code.insert(0, 6 - class_code.size(), '0');
  function.class_code = strip_hex_prefix(class_code);
  return true;
}

// For trees recorded without uevent files.
void read_ids_from_attributes(int dir_fd, const std::string& prefix, PciFunction& function) {
  function.vendor = strip_hex_prefix(read_attribute_at(dir_fd, prefix + "vendor"));
  function.device = strip_hex_prefix(read_attribute_at(dir_fd, prefix + "device"));
  function.subsystem_vendor =
      strip_hex_prefix(read_attribute_at(dir_fd, prefix + "subsystem_vendor"));
  function.subsystem_device =
      strip_hex_prefix(read_attribute_at(dir_fd, prefix + "subsystem_device"));
  function.class_code = strip_hex_prefix(read_attribute_at(dir_fd, prefix + "class"));
}

// Group of each address, from sys/kernel/iommu_groups/*/devices.
std::unordered_map<std::string, int> read_group_listing(const std::string& root,
                                                        HostDevices& host) {
  std::unordered_map<std::string, int> group_of;
  const std::string groups = root + "/sys/kernel/iommu_groups";
  for (const auto& name : list_dir(groups)) {
    const auto number = parse_int(name);
    if (!number) continue;
    auto members = list_dir(groups + "/" + name + "/devices");
    std::sort(members.begin(), members.end());
    for (const auto& address : members) group_of[address] = *number;
    host.iommu_groups[*number] = std::move(members);
  }
  return group_of;
}

// One function's attributes, opened relative to the devices directory: a handful of system
// calls per device keeps a 2000-function host well under 100 ms.
PciFunction read_pci_function(int devices_fd, const std::string& address,
                              const std::unordered_map<std::string, int>& group_of) {
  PciFunction function;
  function.address = address;
  const std::string prefix = address + "/";
  const auto at = [&](const char* name) { return prefix + name; };
  if (!read_ids_from_uevent(devices_fd, at("uevent"), function)) {
    read_ids_from_attributes(devices_fd, prefix, function);
  }
  function.driver = last_component(read_link_at(devices_fd, at("driver")));
  function.driver_override = read_attribute_at(devices_fd, at("driver_override"));
  // The kernel prints an unset override as "(null)".
  if (function.driver_override == "(null)") function.driver_override.clear();
  if (const auto group = group_of.find(address); group != group_of.end()) {
    function.iommu_group = group->second;
  } else if (const auto link = read_link_at(devices_fd, at("iommu_group")); !link.empty()) {
    function.iommu_group = parse_int(last_component(link));
  }
  // Only display controllers have the attribute; skip the failed open for everything else.
  if (function.class_code.starts_with("03")) {
    function.boot_vga = read_attribute_at(devices_fd, at("boot_vga")) == "1";
  }
  function.is_bridge = function.class_code.starts_with("0604") || function.driver == "pcieport";
  return function;
}

void read_pci(const std::string& root, HostDevices& host) {
  const auto group_of = read_group_listing(root, host);
  const std::string devices = root + "/sys/bus/pci/devices";
  const int devices_fd = ::open(devices.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (devices_fd < 0) return;
  auto addresses = list_dir(devices);
  std::sort(addresses.begin(), addresses.end());
  host.pci.resize(addresses.size());
  // The cost is all in system calls, which run in parallel on separate CPUs; a big host is read
  // by a few threads, each filling its own slice.
  const std::size_t threads =
      addresses.size() < 256 ? 1
                             : std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  const auto read_slice = [&](std::size_t first) {
    for (std::size_t i = first; i < addresses.size(); i += threads) {
      host.pci[i] = read_pci_function(devices_fd, addresses[i], group_of);
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(read_slice, t);
  read_slice(0);
  for (auto& worker : workers) worker.join();
  ::close(devices_fd);
}

void read_iommu(const std::string& root, HostDevices& host) {
  // A device whose group listing was not recorded still counts in its own group.
  for (const auto& function : host.pci) {
    if (!function.iommu_group) continue;
    auto& members = host.iommu_groups[*function.iommu_group];
    if (std::find(members.begin(), members.end(), function.address) == members.end()) {
      members.insert(std::upper_bound(members.begin(), members.end(), function.address),
                     function.address);
    }
  }
  host.iommu_enabled = !list_dir(root + "/sys/class/iommu").empty() || !host.iommu_groups.empty();
}

// vfio-pci is usable if loaded, built in, or installed as a module libvirt can load.
void read_vfio(const std::string& root, HostDevices& host) {
  host.vfio_loaded = exists(root + "/sys/module/vfio_pci");
  if (host.vfio_loaded || exists(root + "/sys/bus/pci/drivers/vfio-pci")) {
    host.vfio_available = true;
    return;
  }
  const std::string release = read_attribute(root + "/proc/sys/kernel/osrelease");
  if (release.empty()) return;
  const std::string modules = root + "/lib/modules/" + release;
  for (const char* index : {"/modules.dep", "/modules.builtin"}) {
    const std::string content = read_whole_file(modules + index);
    if (content.find("/vfio-pci.ko") != std::string::npos) host.vfio_available = true;
  }
}

// The last component of a sysfs path that looks like a PCI address: the disk's controller.
std::string controller_from_path(const std::string& path) {
  std::string controller;
  std::size_t begin = 0;
  while (begin < path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    const std::string component = path.substr(begin, end - begin);
    if (canonical_pci_address(component).has_value() && component.size() == 12) {
      controller = component;
    }
    begin = end + 1;
  }
  return controller;
}

// "\040" in mountinfo stands for a space.
std::string unescape_mount_path(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string octal = text.substr(i + 1, 3);
      if (std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>(std::stoi(octal, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// Mount points by the "major:minor" of their device, and by their source's kernel name
// ("/dev/sdb1" -> "sdb1") for file systems that report anonymous device numbers.
struct Mounts {
  std::unordered_map<std::string, std::vector<std::string>> by_devnum;
  std::unordered_map<std::string, std::vector<std::string>> by_name;
};

Mounts read_mounts(const std::string& root) {
  Mounts mounts;
  std::istringstream lines(read_whole_file(root + "/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, devnum, subtree, mountpoint, field;
    fields >> id >> parent >> devnum >> subtree >> mountpoint;
    if (mountpoint.empty()) continue;
    mountpoint = unescape_mount_path(mountpoint);
    mounts.by_devnum[devnum].push_back(mountpoint);
    while (fields >> field && field != "-") {
    }
    std::string fstype, source;
    fields >> fstype >> source;
    if (source.starts_with("/dev/")) mounts.by_name[source.substr(5)].push_back(mountpoint);
  }
  return mounts;
}

std::set<std::string> read_swaps(const std::string& root) {
  std::set<std::string> names;
  std::istringstream lines(read_whole_file(root + "/proc/swaps"));
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    const std::string path = line.substr(0, line.find_first_of(" \t"));
    if (path.starts_with("/dev/")) names.insert(path.substr(5));
  }
  return names;
}

// Kernel name of the target -> by-id names.
std::unordered_map<std::string, std::vector<std::string>> read_by_id(const std::string& root) {
  std::unordered_map<std::string, std::vector<std::string>> names;
  const std::string dir = root + "/dev/disk/by-id";
  for (const auto& name : list_dir(dir)) {
    const std::string target = last_component(read_link(dir + "/" + name));
    if (!target.empty()) names[target].push_back(name);
  }
  for (auto& [target, ids] : names) std::sort(ids.begin(), ids.end());
  return names;
}

void add_unique(std::vector<std::string>& to, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (std::find(to.begin(), to.end(), value) == to.end()) to.push_back(value);
  }
}

// Mounts, holders and swap of one node (the disk itself or a partition).
void collect_usage(const std::string& dir, const std::string& name, const Mounts& mounts,
                   const std::set<std::string>& swaps, BlockDevice& block) {
  auto holders = list_dir(dir + "/holders");
  std::sort(holders.begin(), holders.end());
  add_unique(block.holders, holders);
  const auto by_devnum = mounts.by_devnum.find(read_attribute(dir + "/dev"));
  if (by_devnum != mounts.by_devnum.end()) add_unique(block.mountpoints, by_devnum->second);
  const auto by_name = mounts.by_name.find(name);
  if (by_name != mounts.by_name.end()) add_unique(block.mountpoints, by_name->second);
  if (swaps.contains(name)) block.swap = true;
}

void read_blocks(const std::string& root, HostDevices& host) {
  const std::string blocks = root + "/sys/block";
  const Mounts mounts = read_mounts(root);
  const auto swaps = read_swaps(root);
  auto by_id = read_by_id(root);
  for (const auto& name : list_dir(blocks)) {
    const std::string dir = blocks + "/" + name;
    BlockDevice block;
    block.name = name;
    const auto sectors = read_attribute(dir + "/size");
    std::uint64_t count = 0;
    std::from_chars(sectors.data(), sectors.data() + sectors.size(), count);
    block.size_bytes = count * 512;
    // Unattached loop devices and empty card readers are not disks anyone can pass.
    if (block.size_bytes == 0) continue;
    block.model = read_attribute(dir + "/device/model");
    block.removable = read_attribute(dir + "/removable") == "1";
    block.controller = controller_from_path(read_link(dir));
    collect_usage(dir, name, mounts, swaps, block);
    for (const auto& entry : list_dir(dir)) {
      if (entry.starts_with(name) && exists(dir + "/" + entry + "/partition")) {
        block.partitions.push_back(entry);
      }
    }
    std::sort(block.partitions.begin(), block.partitions.end());
    for (const auto& partition : block.partitions) {
      collect_usage(dir + "/" + partition, partition, mounts, swaps, block);
    }
    if (const auto ids = by_id.find(name); ids != by_id.end()) block.by_id = ids->second;
    host.blocks.push_back(std::move(block));
  }
  std::sort(host.blocks.begin(), host.blocks.end(),
            [](const BlockDevice& a, const BlockDevice& b) { return a.name < b.name; });
}

void read_bridges(const std::string& root, HostDevices& host) {
  const std::string net = root + "/sys/class/net";
  for (const auto& name : list_dir(net)) {
    if (exists(net + "/" + name + "/bridge")) host.bridges.push_back(name);
  }
  std::sort(host.bridges.begin(), host.bridges.end());
}

std::uint64_t number_in(const std::string& text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// Each pool's directory is "hugepages-<size>kB"; proc/meminfo names the default size.
void read_hugepages(const std::string& root, HostDevices& host) {
  const std::string mm = root + "/sys/kernel/mm/hugepages";
  for (const auto& name : list_dir(mm)) {
    if (!name.starts_with("hugepages-") || !name.ends_with("kB")) continue;
    HugePagePool pool;
    pool.page_kib = number_in(name.substr(10, name.size() - 12));
    pool.total = number_in(read_attribute(mm + "/" + name + "/nr_hugepages"));
    pool.free = number_in(read_attribute(mm + "/" + name + "/free_hugepages"));
    if (pool.page_kib > 0) host.hugepages.push_back(pool);
  }
  std::sort(host.hugepages.begin(), host.hugepages.end(),
            [](const HugePagePool& a, const HugePagePool& b) { return a.page_kib < b.page_kib; });
  const std::string meminfo = read_whole_file(root + "/proc/meminfo");
  const auto line = meminfo.find("Hugepagesize:");
  if (line != std::string::npos)
    host.default_hugepage_kib = number_in(trim(meminfo.substr(line + 13, 24)));
}

std::set<unsigned> cpus_in(const std::string& path) {
  return parse_cpuset(read_attribute(path)).value_or(std::set<unsigned>{});
}

// Which CPUs there are and are online, each one's SMT siblings and NUMA node.
void read_cpus(const std::string& root, HostDevices& host) {
  const std::string cpu = root + "/sys/devices/system/cpu";
  host.cpus.present = cpus_in(cpu + "/present");
  host.cpus.online = cpus_in(cpu + "/online");
  for (unsigned number : host.cpus.present) {
    const auto siblings =
        cpus_in(cpu + "/cpu" + std::to_string(number) + "/topology/thread_siblings_list");
    if (!siblings.empty()) host.cpus.siblings[number] = siblings;
  }
  const std::string nodes = root + "/sys/devices/system/node";
  for (const auto& name : list_dir(nodes)) {
    if (!name.starts_with("node") || name.size() == 4) continue;
    const unsigned node = static_cast<unsigned>(number_in(name.substr(4)));
    for (unsigned number : cpus_in(nodes + "/" + name + "/cpulist")) host.cpus.node[number] = node;
  }
}

// Devices have an idVendor; their interfaces ("1-4.2:1.0") do not.
void read_usb(const std::string& root, HostDevices& host) {
  const std::string devices = root + "/sys/bus/usb/devices";
  for (const auto& port : list_dir(devices)) {
    const std::string dir = devices + "/" + port;
    const std::string vendor = read_attribute(dir + "/idVendor");
    if (vendor.empty()) continue;
    UsbHostDevice device;
    device.port = port;
    device.vendor = vendor;
    device.product = read_attribute(dir + "/idProduct");
    device.bus = static_cast<unsigned>(number_in(read_attribute(dir + "/busnum")));
    device.device = static_cast<unsigned>(number_in(read_attribute(dir + "/devnum")));
    const std::string maker = read_attribute(dir + "/manufacturer");
    const std::string product = read_attribute(dir + "/product");
    device.name = maker.empty() || product.empty() ? maker + product : maker + " " + product;
    device.serial = read_attribute(dir + "/serial");
    host.usb.push_back(std::move(device));
  }
  std::sort(host.usb.begin(), host.usb.end(),
            [](const UsbHostDevice& a, const UsbHostDevice& b) { return a.port < b.port; });
}

}  // namespace

HostDevices read_host_devices(const std::string& root) {
  // "/" + "/sys" would read "//sys": harmless, but keep paths tidy in messages.
  const std::string base = root == "/" ? "" : root;
  HostDevices host;
  read_pci(base, host);
  read_iommu(base, host);
  read_vfio(base, host);
  read_blocks(base, host);
  read_bridges(base, host);
  read_hugepages(base, host);
  read_cpus(base, host);
  read_usb(base, host);
  for (const auto& uuid : list_dir(base + "/sys/bus/mdev/devices")) host.mdevs.insert(uuid);
  return host;
}

}  // namespace virtform
