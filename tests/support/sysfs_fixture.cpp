#include "support/sysfs_fixture.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace virtform::testing {

namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write fixture file " + path.string());
}

// A relative symlink, as the kernel makes them: `link` points at `target` (both absolute).
void relative_link(const fs::path& target, const fs::path& link) {
  fs::create_directories(link.parent_path());
  fs::remove(link);
  fs::create_symlink(target.lexically_relative(link.parent_path()), link);
}

std::string vendor_of(const std::string& ids) {
  return ids.substr(0, ids.find(':'));
}
std::string device_of(const std::string& ids) {
  return ids.substr(ids.find(':') + 1);
}

// sys/devices/pci<domain>:<bus>/<upstream bridges...>/<address>
fs::path device_dir(const fs::path& root,
                    const std::map<std::string, const FixturePci*>& by_address,
                    const FixturePci& function) {
  std::vector<std::string> chain{function.address};
  for (auto parent = function.parent; !parent.empty();) {
    chain.insert(chain.begin(), parent);
    const auto it = by_address.find(parent);
    parent = it == by_address.end() ? "" : it->second->parent;
  }
  fs::path dir = root / "sys/devices" / ("pci" + chain.front().substr(0, 4) + ":00");
  for (const auto& address : chain) dir /= address;
  return dir;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// As the kernel prints it: upper-case ids, the class without leading zeros.
std::string uevent(const FixturePci& function, const std::string& subsystem) {
  std::string uevent_text;
  if (!function.driver.empty()) uevent_text += "DRIVER=" + function.driver + "\n";
  const auto class_digits = function.class_code.find_first_not_of('0');
  uevent_text +=
      "PCI_CLASS=" +
      upper(class_digits == std::string::npos ? "0" : function.class_code.substr(class_digits)) +
      "\n";
  uevent_text += "PCI_ID=" + upper(function.ids) + "\n";
  uevent_text += "PCI_SUBSYS_ID=" + upper(subsystem) + "\n";
  uevent_text += "PCI_SLOT_NAME=" + function.address + "\n";
  return uevent_text;
}

void write_pci_function(const fs::path& root, const fs::path& dir, const FixturePci& function) {
  const std::string subsystem = function.subsystem.empty() ? function.ids : function.subsystem;
  write_file(dir / "vendor", "0x" + vendor_of(function.ids) + "\n");
  write_file(dir / "device", "0x" + device_of(function.ids) + "\n");
  write_file(dir / "subsystem_vendor", "0x" + vendor_of(subsystem) + "\n");
  write_file(dir / "subsystem_device", "0x" + device_of(subsystem) + "\n");
  write_file(dir / "class", "0x" + function.class_code + "\n");
  write_file(dir / "driver_override", "(null)\n");
  write_file(dir / "uevent", uevent(function, subsystem));
  if (function.class_code.starts_with("03")) {
    write_file(dir / "boot_vga", function.boot_vga ? "1\n" : "0\n");
  }
  relative_link(dir, root / "sys/bus/pci/devices" / function.address);
  if (!function.driver.empty()) {
    const fs::path driver = root / "sys/bus/pci/drivers" / function.driver;
    relative_link(driver, dir / "driver");
    relative_link(dir, driver / function.address);
  }
  if (function.group >= 0) {
    const fs::path group = root / "sys/kernel/iommu_groups" / std::to_string(function.group);
    relative_link(group, dir / "iommu_group");
    relative_link(dir, group / "devices" / function.address);
  }
}

void write_driver(const fs::path& root, const std::string& name) {
  const fs::path dir = root / "sys/bus/pci/drivers" / name;
  for (const char* attribute : {"bind", "unbind", "new_id", "remove_id"}) {
    if (!fs::exists(dir / attribute)) write_file(dir / attribute, "");
  }
}

// "sdb" + 1 -> "sdb1"; "nvme0n1" + 1 -> "nvme0n1p1".
std::string partition_name(const std::string& disk, int number) {
  const bool ends_in_digit = !disk.empty() && std::isdigit(static_cast<unsigned char>(disk.back()));
  return disk + (ends_in_digit ? "p" : "") + std::to_string(number);
}

// Splits "sdb1 /srv/data" into its two words.
std::pair<std::string, std::string> split_pair(const std::string& text) {
  const auto space = text.find(' ');
  return {text.substr(0, space), space == std::string::npos ? "" : text.substr(space + 1)};
}

struct DiskWriter {
  const fs::path& root;
  const std::map<std::string, fs::path>& pci_dirs;
  std::ostringstream mountinfo;
  std::ostringstream swaps;
  int disk_index = 0;
  int mount_id = 30;

  fs::path disk_dir(const FixtureDisk& disk) const {
    const auto controller = pci_dirs.find(disk.controller);
    if (controller == pci_dirs.end()) return root / "sys/devices/virtual/block" / disk.name;
    const std::string host = "host" + std::to_string(disk_index);
    const std::string lun = std::to_string(disk_index) + ":0:0:0";
    return controller->second / host / ("target" + std::to_string(disk_index) + ":0:0") / lun /
           "block" / disk.name;
  }

  void write_node(const fs::path& dir, const std::string& node, int minor,
                  const FixtureDisk& disk) {
    const std::string devnum = "8:" + std::to_string(minor);
    write_file(dir / "dev", devnum + "\n");
    fs::create_directories(dir / "holders");
    for (const auto& entry : disk.holders) {
      const auto [holder_node, holder] = split_pair(entry);
      if (holder_node != node) continue;
      relative_link(root / "sys/devices/virtual/block" / holder, dir / "holders" / holder);
      write_file(root / "sys/devices/virtual/block" / holder / "dev", "253:0\n");
    }
    for (const auto& entry : disk.mounts) {
      const auto [mount_node, mountpoint] = split_pair(entry);
      if (mount_node != node) continue;
      mountinfo << mount_id++ << " 1 " << devnum << " / " << mountpoint
                << " rw,relatime shared:1 - ext4 /dev/" << node << " rw\n";
    }
    for (const auto& swap_node : disk.swap) {
      if (swap_node == node) swaps << "/dev/" << node << "\tpartition\t8388604\t0\t-2\n";
    }
  }

  void write(const FixtureDisk& disk) {
    const fs::path dir = disk_dir(disk);
    const int minor = 16 * disk_index;
    write_file(dir / "size", std::to_string(disk.size_bytes / 512) + "\n");
    write_file(dir / "removable", "0\n");
    if (!disk.model.empty()) {
      write_file(dir.parent_path().parent_path() / "model", disk.model + "\n");
      relative_link(dir.parent_path().parent_path(), dir / "device");
    }
    write_node(dir, disk.name, minor, disk);
    for (int number = 1; number <= disk.partitions; ++number) {
      const std::string part = partition_name(disk.name, number);
      write_file(dir / part / "partition", std::to_string(number) + "\n");
      write_file(dir / part / "size", std::to_string(disk.size_bytes / 512 / 4) + "\n");
      write_node(dir / part, part, minor + number, disk);
    }
    relative_link(dir, root / "sys/block" / disk.name);
    for (const auto& id : disk.by_id) {
      relative_link(root / "dev" / disk.name, root / "dev/disk/by-id" / id);
      for (int number = 1; number <= disk.partitions; ++number) {
        const std::string part = partition_name(disk.name, number);
        relative_link(root / "dev" / part,
                      root / "dev/disk/by-id" / (id + "-part" + std::to_string(number)));
      }
    }
    ++disk_index;
  }
};

void write_disks(const FixtureHost& host, const fs::path& root,
                 const std::map<std::string, fs::path>& pci_dirs) {
  DiskWriter writer{root, pci_dirs, {}, {}, 0, 30};
  writer.mountinfo
      << "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
  for (const auto& disk : host.disks) writer.write(disk);
  write_file(root / "proc/self/mountinfo", writer.mountinfo.str());
  write_file(root / "proc/swaps",
             "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + writer.swaps.str());
}

void write_host_state(const FixtureHost& host, const fs::path& root) {
  fs::create_directories(root / "sys/class/iommu");
  fs::create_directories(root / "sys/kernel/iommu_groups");
  fs::create_directories(root / "sys/block");
  fs::create_directories(root / "dev/disk/by-id");
  if (host.iommu) fs::create_directories(root / "sys/devices/virtual/iommu/ivhd0");
  if (host.iommu)
    relative_link(root / "sys/devices/virtual/iommu/ivhd0", root / "sys/class/iommu/ivhd0");
  if (host.vfio_loaded) {
    fs::create_directories(root / "sys/module/vfio_pci");
    write_driver(root, "vfio-pci");
  }
  for (const auto& driver : host.extra_drivers) write_driver(root, driver);
  write_file(root / "sys/bus/pci/drivers_probe", "");
  write_file(root / "sys/class/net/lo/address", "00:00:00:00:00:00\n");
  for (const auto& bridge : host.bridges) {
    fs::create_directories(root / "sys/class/net" / bridge / "bridge");
  }
}

}  // namespace

void write_fixture(const FixtureHost& host, const fs::path& root) {
  write_host_state(host, root);
  std::map<std::string, const FixturePci*> by_address;
  for (const auto& function : host.pci) by_address[function.address] = &function;
  std::map<std::string, fs::path> pci_dirs;
  for (const auto& function : host.pci) {
    const fs::path dir = device_dir(root, by_address, function);
    pci_dirs[function.address] = dir;
    if (!function.driver.empty()) write_driver(root, function.driver);
    write_pci_function(root, dir, function);
  }
  write_disks(host, root, pci_dirs);
}

FixtureTree::FixtureTree(const FixtureHost& host) {
  // tmpfs when there is one: like sysfs it lives in memory, and big trees build fast.
  const fs::path base =
      fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string pattern = (base / "virtform-sysfs-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
  write_fixture(host, root_);
}

FixtureTree::~FixtureTree() {
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

namespace {

constexpr std::uint64_t kTiB = 1024ULL * 1024 * 1024 * 1024;
constexpr std::uint64_t kGiB = 1024ULL * 1024 * 1024;

// The APU's functions on bus 08 and the FCH SATA on bus 09, shared by the seed and poor hosts.
std::vector<FixturePci> apu_functions() {
  return {
      {"0000:08:00.0", "1002:1638", "030000", "amdgpu", 13, "0000:00:08.1", true, "1849:1638"},
      {"0000:08:00.1", "1002:1637", "040300", "snd_hda_intel", 14, "0000:00:08.1", false, ""},
      {"0000:08:00.2", "1022:15df", "108000", "ccp", 15, "0000:00:08.1", false, ""},
      {"0000:08:00.3", "1022:1639", "0c0330", "xhci_hcd", 16, "0000:00:08.1", false, ""},
      {"0000:08:00.4", "1022:1639", "0c0330", "xhci_hcd", 17, "0000:00:08.1", false, ""},
      {"0000:08:00.6", "1022:15e3", "040300", "snd_hda_intel", 18, "0000:00:08.1", false, ""},
  };
}

FixtureDisk nvme_root_disk() {
  return {"nvme0n1",
          256 * kGiB,
          "INTEL SSDPEKKW256G8",
          "0000:07:00.0",
          {"nvme-INTEL_SSDPEKKW256G8_BTHH81234567256B"},
          3,
          {"nvme0n1p1 /boot/efi", "nvme0n1p2 /"},
          {},
          {"nvme0n1p3"}};
}

}  // namespace

FixtureHost seed_ryzen_host() {
  FixtureHost host;
  host.pci = {
      {"0000:00:01.0", "1022:1632", "060000", "", 0, "", false, ""},
      {"0000:00:01.1", "1022:1633", "060400", "pcieport", 1, "", false, ""},
      {"0000:00:02.0", "1022:1632", "060000", "", 2, "", false, ""},
      {"0000:00:02.1", "1022:1634", "060400", "pcieport", 3, "", false, ""},
      {"0000:00:02.2", "1022:1634", "060400", "pcieport", 4, "", false, ""},
      {"0000:00:08.0", "1022:1632", "060000", "", 5, "", false, ""},
      {"0000:00:08.1", "1022:1635", "060400", "pcieport", 6, "", false, ""},
      {"0000:00:08.2", "1022:1635", "060400", "pcieport", 7, "", false, ""},
      {"0000:00:14.0", "1022:790b", "0c0500", "piix4_smbus", 8, "", false, ""},
      {"0000:00:14.3", "1022:790e", "060100", "", 8, "", false, ""},
      {"0000:01:00.0", "1000:0072", "010700", "mpt3sas", 10, "0000:00:01.1", false, ""},
      {"0000:02:00.0", "1022:43d5", "0c0330", "xhci_hcd", 11, "0000:00:02.1", false, ""},
      {"0000:02:00.1", "1022:43c8", "010601", "ahci", 11, "0000:00:02.1", false, ""},
      {"0000:02:00.2", "1022:43c6", "060400", "pcieport", 11, "0000:00:02.1", false, ""},
      {"0000:03:00.0", "1022:43c7", "060400", "pcieport", 11, "0000:02:00.2", false, ""},
      {"0000:03:01.0", "1022:43c7", "060400", "pcieport", 11, "0000:02:00.2", false, ""},
      {"0000:03:04.0", "1022:43c7", "060400", "pcieport", 11, "0000:02:00.2", false, ""},
      {"0000:05:00.0", "10ec:8168", "020000", "r8169", 11, "0000:03:01.0", false, ""},
      {"0000:06:00.0", "15b3:1003", "020000", "mlx4_core", 11, "0000:03:04.0", false, ""},
      {"0000:07:00.0", "8086:f1a6", "010802", "nvme", 12, "0000:00:02.2", false, ""},
      {"0000:09:00.0", "1022:7901", "010601", "ahci", 19, "0000:00:08.2", false, ""},
      {"0000:09:00.1", "1022:7901", "010601", "ahci", 20, "0000:00:08.2", false, ""},
  };
  for (int function = 0; function < 8; ++function) {
    char ids[16];
    std::snprintf(ids, sizeof ids, "1022:%04x", 0x166a + function);
    host.pci.push_back({"0000:00:18." + std::to_string(function), ids, "060000",
                        function == 3 ? "k10temp" : "", 9, "", false, ""});
  }
  for (auto& function : apu_functions()) host.pci.push_back(function);
  host.disks = {
      nvme_root_disk(),
      {"sda",
       4 * kTiB,
       "ST4000VN008-2DR166",
       "0000:09:00.0",
       {"ata-ST4000VN008-2DR166_ZDH1A2B3"},
       1,
       {"sda1 /srv/media"},
       {},
       {}},
      {"sdb",
       10 * kTiB,
       "WDC WD100EMAZ-00WJTA0",
       "0000:01:00.0",
       {"ata-WDC_WD100EMAZ-00WJTA0_JEK3A1AN", "wwn-0x5000cca267c1a1an"},
       0,
       {},
       {},
       {}},
      {"sdc",
       10 * kTiB,
       "WDC WD100EMAZ-00WJTA0",
       "0000:01:00.0",
       {"ata-WDC_WD100EMAZ-00WJTA0_JEK3A2BN", "wwn-0x5000cca267c1a2bn"},
       0,
       {},
       {},
       {}},
  };
  host.bridges = {"br0"};
  return host;
}

FixtureHost poor_apu_host() {
  FixtureHost host;
  host.pci = {
      {"0000:00:08.0", "1022:1632", "060000", "", 5, "", false, ""},
      {"0000:00:08.1", "1022:1635", "060400", "pcieport", 5, "", false, ""},
      {"0000:00:02.2", "1022:1634", "060400", "pcieport", 4, "", false, ""},
      {"0000:07:00.0", "8086:f1a6", "010802", "nvme", 4, "0000:00:02.2", false, ""},
  };
  for (auto function : apu_functions()) {
    function.group = 5;
    host.pci.push_back(function);
  }
  host.disks = {nvme_root_disk()};
  return host;
}

FixtureHost discrete_gpu_host() {
  FixtureHost host;
  host.pci = {
      {"0000:00:00.0", "8086:3e30", "060000", "skl_uncore", 0, "", false, ""},
      {"0000:00:01.0", "8086:1901", "060400", "pcieport", 2, "", false, ""},
      {"0000:00:02.0", "8086:3e92", "030000", "i915", 1, "", true, ""},
      {"0000:00:17.0", "8086:a352", "010601", "ahci", 3, "", false, ""},
      {"0000:01:00.0", "10de:1b80", "030000", "nouveau", 2, "0000:00:01.0", false, "1462:3362"},
      {"0000:01:00.1", "10de:10f0", "040300", "snd_hda_intel", 2, "0000:00:01.0", false,
       "1462:3362"},
  };
  host.disks = {{"sda",
                 512 * kGiB,
                 "Samsung SSD 860 EVO 500GB",
                 "0000:00:17.0",
                 {"ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K123456A"},
                 2,
                 {"sda1 /boot/efi", "sda2 /"},
                 {},
                 {}}};
  host.extra_drivers = {"pci-stub"};
  return host;
}

FixtureHost sas_hba_host() {
  FixtureHost host;
  host.pci = {
      {"0000:00:01.1", "1022:1633", "060400", "pcieport", 1, "", false, ""},
      {"0000:00:02.2", "1022:1634", "060400", "pcieport", 4, "", false, ""},
      {"0000:01:00.0", "1000:0072", "010700", "mpt3sas", 10, "0000:00:01.1", false, "1000:3020"},
      {"0000:07:00.0", "8086:f1a6", "010802", "nvme", 12, "0000:00:02.2", false, ""},
  };
  host.disks = {
      nvme_root_disk(),
      {"sdb",
       8 * kTiB,
       "HGST HUH728080AL",
       "0000:01:00.0",
       {"ata-HGST_HUH728080ALE600_VKGA1111"},
       1,
       {"sdb1 /srv/tank"},
       {},
       {}},
      {"sdc",
       8 * kTiB,
       "HGST HUH728080AL",
       "0000:01:00.0",
       {"ata-HGST_HUH728080ALE600_VKGA2222"},
       1,
       {},
       {"sdc1 md0"},
       {}},
      {"sdd",
       8 * kTiB,
       "HGST HUH728080AL",
       "0000:01:00.0",
       {"ata-HGST_HUH728080ALE600_VKGA3333"},
       0,
       {},
       {},
       {}},
  };
  return host;
}

FixtureHost generated_host(int device_count) {
  // Endpoint classes and drivers cycled through so groups look like real hardware.
  static const std::vector<std::pair<std::string, std::string>> kEndpoints = {
      {"020000", "ixgbe"},  {"010802", "nvme"},          {"0c0330", "xhci_hcd"},
      {"030000", "amdgpu"}, {"040300", "snd_hda_intel"}, {"010700", "mpt3sas"}};
  FixtureHost host;
  int group = 0;
  for (int made = 0; made < device_count; ++group) {
    const int domain = group / 128;
    const int slot = group % 128;
    char port[16];
    std::snprintf(port, sizeof port, "%04x:00:%02x.%x", domain, slot / 8, slot % 8);
    host.pci.push_back({port, "8086:1901", "060400", "pcieport", group, "", false, ""});
    ++made;
    const int functions = 1 + group % 4;
    for (int function = 0; function < functions && made < device_count; ++function, ++made) {
      char address[32];  // room for any int, so the compiler sees no truncation
      std::snprintf(address, sizeof address, "%04x:%02x:00.%x", domain, slot + 1, function);
      const auto& [class_code, driver] = kEndpoints[(group + function) % kEndpoints.size()];
      char ids[16];
      std::snprintf(ids, sizeof ids, "8086:%04x", 0x1000 + (group * 4 + function) % 0xefff);
      host.pci.push_back({address, ids, class_code, driver, group, port, false, ""});
    }
  }
  return host;
}

}  // namespace virtform::testing
