#include "engine/config/vm_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "engine/config/dsm_reader.h"
#include "engine/config/keys.h"
#include "engine/config/profile_reader.h"
#include "engine/config/table_reader.h"
#include "engine/model/disk_options.h"
#include "engine/model/values.h"
#include "engine/model/vm_fields.h"

namespace virtform {

std::optional<std::string> read_attribute(TableReader& reader, const VmField& field);

namespace {

constexpr std::array<std::string_view, 2> kDiskDevices = {"disk", "cdrom"};
constexpr std::array<std::string_view, 3> kMdevModels = {"vfio-pci", "vfio-ccw", "vfio-ap"};
constexpr std::array<std::string_view, 4> kInputTypes = {"keyboard", "mouse", "tablet", "evdev"};
constexpr std::array<std::string_view, 3> kInputBuses = {"virtio", "usb", "ps2"};
// QEMU's grab-toggle choices, as libvirt names them.
constexpr std::array<std::string_view, 6> kGrabToggles = {
    "ctrl-ctrl", "alt-alt", "shift-shift", "meta-meta", "scrolllock", "ctrl-scrolllock"};

std::optional<DiskBus> read_bus(TableReader& reader) {
  return reader.choice("bus", kDiskBusNames);
}

void read_power(TableReader& reader, Vm& vm) {
  vm.state = reader.choice("state", kPowerStateNames);
  vm.autostart = reader.boolean("autostart");
  if (auto restart = reader.choice("restart", kRestartPolicyNames)) {
    vm.restart = *restart;
  }
  if (auto timeout = reader.duration("shutdown_timeout")) {
    // No wait at all would turn every graceful shutdown into a failure, or with force_stop into
    // pulling the plug at once.
    if (timeout->count() == 0) {
      reader.error("shutdown_timeout",
                   "shutdown_timeout must be at least 1s: the guest needs time to shut down");
    } else {
      vm.shutdown_timeout = *timeout;
    }
  }
  vm.force_stop = reader.boolean("force_stop").value_or(false);
  vm.adopt = reader.boolean("adopt").value_or(false);
}

// The most vCPUs a running guest can be given; vcpus is then how many it starts with.
void read_vcpus_max(TableReader& reader, Vm& vm) {
  const auto most = reader.integer("vcpus_max");
  if (!most) return;
  if (*most < 1 || *most > 4096) {
    reader.error("vcpus_max", "vcpus_max must be between 1 and 4096; got " + std::to_string(*most));
  } else if (*most < vm.vcpus) {
    reader.error("vcpus_max", "vcpus_max = " + std::to_string(*most) +
                                  " is less than vcpus = " + std::to_string(vm.vcpus) +
                                  ": set vcpus_max = " + std::to_string(vm.vcpus) +
                                  " or more, or fewer vcpus");
  } else {
    vm.vcpus_max = static_cast<unsigned>(*most);
  }
}

// `memory` alone is the maximum, and the balloon is left to the guest's owner; with `memory_max`
// it is the balloon's size, up to that maximum.
void read_memory(TableReader& reader, Vm& vm) {
  const auto memory = reader.size_kib("memory");
  const auto max = reader.size_kib("memory_max");
  if (!max) {
    if (memory) vm.memory_kib = *memory;
    return;
  }
  vm.memory_kib = *max;
  vm.current_memory_kib = memory;
  if (memory && *memory > *max)
    reader.error("memory", "memory (" + format_kib(*memory) + ") is more than memory_max (" +
                               format_kib(*max) +
                               "): the balloon cannot give the guest more than its maximum; "
                               "lower memory or raise memory_max");
}

// Checked once the profile's defaults are in, since a profile may choose the balloon.
void check_balloon_holds_memory(TableReader& reader, const Vm& vm) {
  if (has_balloon(vm) || current_memory_of(vm) == vm.memory_kib) return;
  reader.error("memory", "memory (" + format_kib(current_memory_of(vm)) +
                             ") below memory_max needs a balloon to hold the rest back, and "
                             "balloon is \"none\": set memory = memory_max, or a balloon model");
}

void read_cpu_and_memory(TableReader& reader, Vm& vm) {
  if (auto type = reader.choice("type", kDomainTypeNames)) {
    vm.type = *type;
  }
  read_memory(reader, vm);
  if (auto vcpus = reader.integer("vcpus")) {
    // 4096 is far beyond any host's CPUs; it only guards against typos and overflow.
    if (*vcpus < 1 || *vcpus > 4096) {
      reader.error("vcpus", "vcpus must be between 1 and 4096; got " + std::to_string(*vcpus));
    } else {
      vm.vcpus = static_cast<unsigned>(*vcpus);
    }
  }
  if (auto machine = reader.string("machine")) vm.machine = *machine;
  read_vcpus_max(reader, vm);
}

void read_firmware(TableReader& reader, Vm& vm) {
  if (auto kind = reader.choice("firmware", kFirmwareKindNames)) {
    vm.firmware.kind = *kind;
  } else if (!reader.has("firmware")) {
    vm.firmware.kind = default_firmware(vm);
  }
  auto code = reader.path("firmware_code");
  auto vars = reader.path("firmware_vars");
  auto nvram = reader.path("nvram");
  auto autoselect = reader.boolean("firmware_autoselect");
  vm.firmware.secure_boot = reader.boolean("secure_boot");
  if (vm.firmware.kind != FirmwareKind::uefi) {
    for (const char* key :
         {"firmware_code", "firmware_vars", "nvram", "firmware_autoselect", "secure_boot"}) {
      if (reader.has(key)) {
        reader.error(key, std::string(key) + " applies only with firmware = \"uefi\"");
      }
    }
    return;
  }
  // A variables template belongs to its code: one with the descriptors' code won't boot. Code
  // without a template is a guest's own firmware (import writes it so), which needs its store.
  if (reader.has("firmware_vars") && !reader.has("firmware_code")) {
    reader.error("firmware_vars", "firmware_vars needs the firmware_code it belongs to");
  }
  // A secure loader needs SMM, which QEMU gives only q35 guests.
  const bool q35 = is_q35(vm.machine);
  if (vm.firmware.secure_boot.value_or(false) && !q35)
    reader.error("secure_boot",
                 "secure_boot needs a q35 machine; machine is \"" + vm.machine + "\"");
  vm.firmware.autoselect = autoselect.value_or(false);
  if (vm.firmware.autoselect) {
    for (const char* key : {"firmware_code", "firmware_vars"}) {
      if (reader.has(key))
        reader.error(key, std::string(key) +
                              " names the image that firmware_autoselect = true "
                              "leaves to libvirt: set one or the other");
    }
  }
  vm.firmware.code = code.value_or("");
  vm.firmware.vars_template = vars.value_or("");
  vm.firmware.nvram = nvram.value_or(default_nvram_path(vm.name));
}

void read_kernel(TableReader& reader, Vm& vm) {
  auto kernel = reader.path("kernel");
  auto initrd = reader.path("initrd");
  auto cmdline = reader.string("cmdline");
  if (!reader.has("kernel")) {
    for (const char* key : {"initrd", "cmdline"}) {
      if (reader.has(key)) reader.error(key, std::string(key) + " needs kernel to be set");
    }
    return;
  }
  if (kernel) vm.kernel = DirectKernel{*kernel, initrd.value_or(""), cmdline.value_or("")};
}

// `overlay`: a path for the VM's overlay, true or absent for the default path (left empty in
// `path`), or false for none. Returns whether the VM gets an overlay.
bool read_overlay(TableReader& reader, std::string& path) {
  if (!reader.has("overlay")) return true;
  if (reader.holds_boolean("overlay")) return *reader.boolean("overlay");
  auto overlay = reader.path("overlay");
  if (overlay) path = *overlay;
  return true;
}

// [vm.X.boot]: the loader image becomes the first disk, first in the boot order.
void read_boot(TableReader& parent, Vm& vm) {
  const toml::table* table = parent.table("boot");
  if (!table) return;
  TableReader reader = parent.child(*table, "boot");
  reader.reject_unknown_keys(keys::kBoot);
  auto loader = reader.string("loader");
  auto bus = read_bus(reader);
  if (!reader.has("loader")) {
    reader.error(reader.heading() + " needs loader = \"<name of a [loader.X]>\"");
  }
  if (!loader) return;
  if (vm.kernel) {
    reader.error("loader", "boot.loader and kernel both choose what the guest boots; set one");
  }
  Disk disk;
  disk.kind = DiskSource::file;
  disk.bus = bus.value_or(DiskBus::usb);
  // The VM's own copy-on-write overlay on the shared image, unless `overlay = false` attaches
  // the image itself. resolve_references fills in the paths once the loader is known.
  disk.format = read_overlay(reader, disk.source) ? "qcow2" : "raw";
  disk.boot_order = 1;
  disk.loader = *loader;
  disk.where = reader.where("loader");
  vm.disks.insert(vm.disks.begin(), std::move(disk));
}

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The highest unit a pin may name: an AHCI controller has six ports; virtio-scsi addresses
// 16384 units per bus.
unsigned last_unit(DiskBus bus) {
  return bus == DiskBus::sata ? kSataPorts - 1 : kScsiUnits - 1;
}

// `controller = N`, `unit = M`: where a sata or scsi disk sits, so DSM's slots never move.
void read_place(TableReader& reader, Disk& disk) {
  auto read_number = [&](std::string_view key, unsigned last) -> std::optional<unsigned> {
    auto value = reader.integer(key);
    if (!value) return std::nullopt;
    if (*value < 0 || *value > static_cast<std::int64_t>(last)) {
      reader.error(key, std::string(key) + " must be between 0 and " + std::to_string(last) +
                            " on the " + to_string(disk.bus) + " bus; got " +
                            std::to_string(*value));
      return std::nullopt;
    }
    return static_cast<unsigned>(*value);
  };
  if (!reader.has("controller") && !reader.has("unit")) return;
  if (disk.bus != DiskBus::sata && disk.bus != DiskBus::scsi) {
    reader.error(reader.has("unit") ? "unit" : "controller",
                 "controller and unit place a disk on the sata or scsi bus; a " +
                     to_string(disk.bus) + " disk has no units");
    return;
  }
  disk.controller = read_number("controller", kLastDiskController);
  disk.unit = read_number("unit", last_unit(disk.bus));
  if (reader.has("unit") && !reader.has("controller")) disk.controller = 0;
}

// QEMU opens a disk with io = "native" only when it bypasses the host's page cache.
void read_driver_modes(TableReader& reader, Disk& disk) {
  static constexpr std::array<std::string_view, 6> kCacheModes = {
      "default", "none", "writethrough", "writeback", "directsync", "unsafe"};
  static constexpr std::array<std::string_view, 3> kIoModes = {"native", "threads", "io_uring"};
  disk.cache = reader.one_of("cache", kCacheModes);
  disk.io = reader.one_of("io", kIoModes);
  if (disk.io == "native" && disk.cache != "none" && disk.cache != "directsync") {
    reader.error("io",
                 "io = \"native\" needs cache = \"none\" or \"directsync\" on the same disk: "
                 "QEMU refuses native I/O through the host's page cache" +
                     std::string(disk.cache ? " (cache is \"" + *disk.cache + "\")" : ""));
  }
}

// The buses an option's disk may sit on, as the docs name them: "scsi", "scsi or sata".
std::string bus_list(const DiskOption& option) {
  std::string list;
  for (std::size_t i = 0; i < option.buses.size(); ++i)
    list += (i == 0                         ? ""
             : i + 1 == option.buses.size() ? " or "
                                            : ", ") +
            to_string(option.buses[i]);
  return list;
}

// The disk option table's keys, each on a bus that takes it and within the rules it keeps with
// the disk's other keys and the VM's.
void read_disk_options(TableReader& reader, const Vm& vm, Disk& disk) {
  for (const DiskOption& option : disk_options()) {
    const auto value = read_attribute(reader, option.field);
    if (!value) continue;
    const std::string key(option.field.key);
    if (!takes_option(option, disk.bus)) {
      reader.error(key, key + " applies to a disk on the " + bus_list(option) +
                            " bus; this one is on " + to_string(disk.bus) +
                            " (libvirt refuses it there)");
      continue;
    }
    disk.options[key] = canonical_option(option, *value);
  }
  for (const DiskOption& option : disk_options()) {
    const auto found = disk.options.find(std::string(option.field.key));
    if (found == disk.options.end() || !option.conflict) continue;
    if (std::string message = option.conflict(vm, disk, found->second); !message.empty()) {
      reader.error(option.field.key, std::move(message));
      disk.options.erase(found);
    }
  }
}

// The disks and CD-ROM drives read so far, which share one boot order and one set of places.
std::vector<Disk> boot_devices(const Vm& vm) {
  std::vector<Disk> all = vm.disks;
  all.insert(all.end(), vm.cdroms.begin(), vm.cdroms.end());
  return all;
}

// How a message names a disk: its image or device, or a CD-ROM drive by its ISO.
std::string describe_source(const Disk& disk) {
  return disk.source.empty() ? "(an empty CD-ROM drive)" : disk.source;
}

// `boot = N`: the disk's place in the boot order, which libvirt wants unique among the guest's
// devices.
void read_boot_order(TableReader& reader, const Vm& vm, Disk& disk) {
  const auto order = reader.integer("boot");
  if (!order) return;
  if (*order < 1 || *order > kLastBootOrder) {
    reader.error("boot", "boot must be between 1 and " + std::to_string(kLastBootOrder) + "; got " +
                             std::to_string(*order));
    return;
  }
  for (const Disk& other : boot_devices(vm)) {
    if (other.boot_order != static_cast<unsigned>(*order)) continue;
    const std::string holder = other.loader.empty()
                                   ? "disk " + describe_source(other) + " at " + other.where.str()
                                   : "the loader of [vm." + vm.key + ".boot], which boots first";
    reader.error("boot", "boot = " + std::to_string(*order) + " is already taken by " + holder +
                             ": libvirt refuses two devices at one place in the boot order; "
                             "give this disk another");
    return;
  }
  disk.boot_order = static_cast<unsigned>(*order);
}

// The keys of [[vm.X.disk]] a CD-ROM drive takes: the rest describe an image or a device the
// guest writes to.
constexpr std::array<std::string_view, 6> kCdromKeys = {"device", "file",       "bus",
                                                        "unit",   "controller", "boot"};
constexpr std::array<DiskBus, 3> kCdromBuses = {DiskBus::sata, DiskBus::scsi, DiskBus::ide};

// A [[vm.X.disk]] with device = "cdrom": a drive on sata, scsi or ide (pc machines only), with
// the ISO of `file` in it, or empty without one.
std::optional<Disk> read_cdrom(TableReader& reader, const Vm& vm) {
  for (std::string_view key : keys::kDisk) {
    if (!reader.has(key) ||
        std::find(kCdromKeys.begin(), kCdromKeys.end(), key) != kCdromKeys.end())
      continue;
    reader.error(key, std::string(key) +
                          " does not apply to a CD-ROM drive (device = \"cdrom\"), which reads its "
                          "ISO as it is; a CD-ROM takes file, bus, controller, unit and boot");
  }
  Disk cdrom;
  cdrom.where = reader.where();
  cdrom.readonly = true;
  if (auto file = reader.path("file")) cdrom.source = *file;
  cdrom.bus = read_bus(reader).value_or(DiskBus::sata);
  if (std::find(kCdromBuses.begin(), kCdromBuses.end(), cdrom.bus) == kCdromBuses.end()) {
    reader.error("bus", "a CD-ROM drive sits on the sata, scsi or ide bus; got \"" +
                            to_string(cdrom.bus) + "\"");
    return std::nullopt;
  }
  if (cdrom.bus == DiskBus::ide && is_q35(vm.machine)) {
    reader.error("bus",
                 "bus = \"ide\" needs a pc (i440fx) machine; a q35 machine has no IDE "
                 "controller: use bus = \"sata\"");
    return std::nullopt;
  }
  read_place(reader, cdrom);
  read_boot_order(reader, vm, cdrom);
  return cdrom;
}

// One [[vm.X.disk]]; nothing if it names no usable source.
std::optional<Disk> read_disk(TableReader& reader, const Vm& vm, DiskBus default_bus) {
  reader.reject_unknown_keys(keys::kDisk);
  auto source = reader.path("source");
  auto file = reader.path("file");
  auto format = reader.choice<std::string>("format", {{"raw", "raw"}, {"qcow2", "qcow2"}});
  auto size_kib = reader.size_kib("size");
  auto bus = read_bus(reader);
  auto readonly = reader.boolean("readonly");
  bool has_source = reader.has("source"), has_file = reader.has("file");
  if (has_source && has_file) {
    reader.error(
        "a disk sets either source (a whole block device) or file (an image file), not "
        "both");
    return std::nullopt;
  }
  if (!has_source && !has_file) {
    reader.error(
        "a disk needs source = \"/dev/disk/by-id/...\" (a whole block device) or "
        "file = \"...\" (an image file)");
    return std::nullopt;
  }
  Disk disk;
  disk.where = reader.where();
  disk.bus = bus.value_or(default_bus);
  if (disk.bus == DiskBus::ide) {
    reader.error("bus",
                 "bus = \"ide\" is for CD-ROM drives (device = \"cdrom\"); a disk "
                 "sits on virtio, scsi, sata or usb");
    return std::nullopt;
  }
  disk.readonly = readonly.value_or(false);
  read_place(reader, disk);
  read_driver_modes(reader, disk);
  read_disk_options(reader, vm, disk);
  read_boot_order(reader, vm, disk);
  if (has_source) {
    disk.kind = DiskSource::block;
    if (format == "qcow2") {
      reader.error("format",
                   "format \"qcow2\" needs an image file; a block device source is "
                   "always passed raw");
    }
    if (reader.has("size")) {
      reader.error("size",
                   "size applies only to image files (file = ...); a block device has "
                   "its own size");
    }
    if (!source) return std::nullopt;
    disk.source = *source;
    return disk;
  }
  if (!file) return std::nullopt;
  disk.kind = DiskSource::file;
  disk.source = *file;
  disk.format = format.value_or(ends_with(*file, ".qcow2") ? "qcow2" : "raw");
  if (size_kib && *size_kib > std::numeric_limits<std::uint64_t>::max() / 1024) {
    // In bytes it would wrap around to a tiny image.
    reader.error("size", "size must be less than 16 EiB");
  } else if (size_kib) {
    disk.size = *size_kib * 1024;
  }
  return disk;
}

// One [[vm.X.nic]]; nothing if it does not say what it connects to.
std::optional<Nic> read_nic(TableReader& reader) {
  reader.reject_unknown_keys(keys::kNic);
  auto bridge = reader.string("bridge");
  auto network = reader.string("network");
  auto model = reader.string("model");
  auto mac_text = reader.string("mac");
  std::optional<std::string> mac;
  if (mac_text) {
    mac = canonical_mac(*mac_text);
    if (!mac) {
      reader.error("mac", "mac \"" + *mac_text +
                              "\" is not a MAC address (six hex octets: \"52:54:00:12:34:56\")");
    } else if (is_multicast_mac(*mac)) {
      reader.error("mac", "mac \"" + *mac_text +
                              "\" is a multicast address; a NIC needs a unicast one (even first "
                              "octet, e.g. 52:54:00:...)");
      mac.reset();
    }
  }
  bool has_bridge = reader.has("bridge"), has_network = reader.has("network");
  if (has_bridge == has_network) {
    reader.error(has_bridge ? "a nic connects to either a bridge or a network, not both"
                            : "a nic needs bridge = \"br0\" (a host bridge) or network = "
                              "\"default\" (a libvirt network)");
    return std::nullopt;
  }
  Nic nic;
  nic.where = reader.where();
  nic.kind = has_bridge ? NicSource::bridge : NicSource::network;
  nic.source = has_bridge ? bridge.value_or("") : network.value_or("");
  nic.model = model.value_or("virtio");
  nic.mac = mac;
  if (nic.source.empty()) return std::nullopt;
  return nic;
}

// PCI and USB vendor, device and product ids: four hex digits, kept in lower case as sysfs
// shows them. `example` is one such id.
std::optional<std::string> read_id(TableReader& reader, std::string_view key,
                                   std::string_view example) {
  auto text = reader.string(key);
  if (!text) return std::nullopt;
  if (!is_hex(*text, 4)) {
    reader.error(key, std::string(key) + " must be four hex digits such as \"" +
                          std::string(example) + "\"; got \"" + *text + "\"");
    return std::nullopt;
  }
  std::string id = *text;
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return id;
}

// A PCI address key in canonical form ("0000:08:00.0"), or nothing when it is not one.
std::optional<std::string> read_pci_address(TableReader& reader, std::string_view key) {
  auto text = reader.string(key);
  if (!text) return std::nullopt;
  auto address = canonical_pci_address(*text);
  if (!address)
    reader.error(key, std::string(key) + " \"" + *text +
                          "\" is not a PCI address (domain:bus:slot.function, "
                          "\"0000:08:00.0\" or \"08:00.0\")");
  return address;
}

// One [[vm.X.pci]]; nothing without a valid address.
std::optional<PciDevice> read_pci(TableReader& reader) {
  reader.reject_unknown_keys(keys::kPci);
  PciDevice device;
  device.where = reader.where();
  device.vendor = read_id(reader, "vendor", "1002");
  device.device = read_id(reader, "device", "1638");
  device.rom = reader.path("rom");
  auto managed = reader.boolean("managed");
  device.bind = reader.choice<std::string>("bind", {{"vfio-pci", "vfio-pci"}});
  device.managed = managed.value_or(true);
  if (device.bind) {
    // virtform binds the device itself, so libvirt must not also detach and reattach it.
    if (managed == true) {
      reader.error("managed", "managed = true conflicts with bind = \"" + *device.bind +
                                  "\": a device virtform binds is unmanaged; drop one of them");
    }
    device.managed = false;
  }
  device.rombar = reader.boolean("rombar");
  if (reader.has("guest_address")) {
    device.guest_address = read_pci_address(reader, "guest_address");
    if (!device.guest_address) return std::nullopt;
  }
  if (!reader.has("address")) {
    reader.error("a pci device needs address = \"0000:08:00.0\" (see lspci -D)");
    return std::nullopt;
  }
  auto address = read_pci_address(reader, "address");
  if (!address) return std::nullopt;
  device.address = *address;
  return device;
}

// A USB bus or device number: `largest` is the most the kernel numbers (devnum stops at 127).
std::optional<unsigned> read_usb_number(TableReader& reader, std::string_view key,
                                        std::int64_t largest) {
  const auto number = reader.integer(key);
  if (!number) return std::nullopt;
  if (*number < 1 || *number > largest) {
    reader.error(key, std::string(key) + " must be from 1 to " + std::to_string(largest) +
                          " (lsusb's Bus and Device numbers); got " + std::to_string(*number));
    return std::nullopt;
  }
  return static_cast<unsigned>(*number);
}

// Both keys of a pair or neither: true when `first` and `second` are set alike.
bool set_together(TableReader& reader, std::string_view first, std::string_view second) {
  if (reader.has(first) == reader.has(second)) return true;
  const std::string_view missing = reader.has(first) ? second : first;
  const std::string_view given = reader.has(first) ? first : second;
  reader.error(given, std::string(given) + " needs " + std::string(missing) +
                          " beside it: a USB device is found by both");
  return false;
}

// A port as sysfs names it: the root hub's bus, then the port on each hub down ("1-4.2").
bool is_usb_port(const std::string& text) {
  const std::size_t dash = text.find('-');
  if (dash == std::string::npos) return false;
  auto is_number = [](std::string_view part) {
    return !part.empty() && part.front() != '0' &&
           std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  std::string_view hubs = std::string_view(text).substr(dash + 1);
  if (!is_number(std::string_view(text).substr(0, dash))) return false;
  for (std::size_t dot; (dot = hubs.find('.')) != std::string_view::npos;
       hubs.remove_prefix(dot + 1))
    if (!is_number(hubs.substr(0, dot))) return false;
  return is_number(hubs);
}

std::optional<std::string> read_usb_port(TableReader& reader) {
  auto port = reader.string("port");
  if (port && !is_usb_port(*port)) {
    reader.error("port",
                 "port must be a host USB port as /sys/bus/usb/devices names it, the bus "
                 "and the port on each hub such as \"1-4\" or \"1-4.2\"; got \"" +
                     *port + "\"");
    return std::nullopt;
  }
  return port;
}

// A port or serial finds the bus and device at each plan, so neither is given beside them; a
// serial tells apart devices of one vendor and product.
bool check_usb_finders(TableReader& reader) {
  bool fine = true;
  for (std::string_view finder : {"port", "serial"}) {
    if (!reader.has(finder) || !reader.has("bus")) continue;
    reader.error("bus", "bus and device are found from " + std::string(finder) +
                            " at each plan: leave them out");
    fine = false;
  }
  if (reader.has("serial") && !reader.has("vendor")) {
    reader.error("serial",
                 "serial needs vendor and product beside it: it picks one of the "
                 "devices that have those ids");
    fine = false;
  }
  return fine;
}

// One [[vm.X.usb]]: a host USB device by vendor and product, by bus and device, by port, by a
// serial beside its ids, or by ids and place together.
std::optional<UsbDevice> read_usb(TableReader& reader) {
  reader.reject_unknown_keys(keys::kUsb);
  UsbDevice device;
  device.where = reader.where();
  const auto vendor = read_id(reader, "vendor", "046d");
  const auto product = read_id(reader, "product", "c52b");
  device.bus = read_usb_number(reader, "bus", 0xfff);
  device.device = read_usb_number(reader, "device", 127);
  const auto port = read_usb_port(reader);
  const auto serial = reader.string("serial");
  device.optional = reader.boolean("optional").value_or(false);
  // Every rule is checked, so that each problem is reported.
  const bool ids_paired = set_together(reader, "vendor", "product");
  const bool place_paired = set_together(reader, "bus", "device");
  const bool finders_fine = check_usb_finders(reader);
  if (finders_fine && !reader.has("vendor") && !reader.has("product") && !reader.has("bus") &&
      !reader.has("device") && !reader.has("port")) {
    reader.error(
        "a usb device needs vendor and product (lsusb shows them as ID 046d:c52b), bus and "
        "device (where it is plugged in now), or port (the socket it is plugged into)");
    return std::nullopt;
  }
  if (serial && serial->empty()) reader.error("serial", "serial must not be empty");
  if (!ids_paired || !place_paired || !finders_fine ||
      (reader.has("vendor") && !(vendor && product)) ||
      (reader.has("bus") && !(device.bus && device.device)) || (reader.has("port") && !port) ||
      (serial && serial->empty()))
    return std::nullopt;
  device.vendor = vendor.value_or("");
  device.product = product.value_or("");
  device.port = port.value_or("");
  device.serial = serial.value_or("");
  return device;
}

// A UUID in its canonical form, lower case ("4b20d080-1b54-4048-85b3-a6a62d165c01"), or nothing.
std::optional<std::string> canonical_uuid(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text.size() != 36) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i])))
      return std::nullopt;
  }
  return text;
}

// One [[vm.X.mdev]]: a mediated device the host made, by its UUID.
std::optional<MdevDevice> read_mdev(TableReader& reader) {
  reader.reject_unknown_keys(keys::kMdev);
  MdevDevice device;
  device.where = reader.where();
  device.model = reader.one_of("model", kMdevModels).value_or("vfio-pci");
  device.display = reader.boolean("display").value_or(false);
  const auto text = reader.string("uuid");
  if (!reader.has("uuid")) {
    reader.error("an mdev needs uuid = \"...\", the mediated device's UUID (mdevctl list)");
    return std::nullopt;
  }
  if (!text) return std::nullopt;
  const auto uuid = canonical_uuid(*text);
  if (!uuid) {
    reader.error("uuid", "uuid \"" + *text +
                             "\" is not a UUID such as "
                             "\"4b20d080-1b54-4048-85b3-a6a62d165c01\"");
    return std::nullopt;
  }
  device.uuid = *uuid;
  return device;
}

std::string mdev_identity(const MdevDevice& device) {
  return device.uuid;
}

// libvirt shows a mediated device's screen only on a console the guest has.
void check_mdev_display(TableReader& reader, const Vm& vm) {
  for (const MdevDevice& device : vm.mdevs)
    if (device.display && (!vm.graphics || vm.graphics->type == GraphicsType::none))
      reader.error_at(device.where, "display = true shows mdev " + device.uuid +
                                        "'s screen on the guest's console: declare "
                                        "[vm." +
                                        vm.key + ".graphics] with type = \"spice\" or \"vnc\"");
}

// An evdev input's keys; nothing but the source applies to an emulated one, nor the other way.
std::optional<InputDevice> read_evdev(TableReader& reader, InputDevice input) {
  if (reader.has("bus"))
    reader.error("bus",
                 "bus does not apply to type = \"evdev\": the host's device is passed "
                 "as it is");
  const auto source = reader.path("source");
  if (!reader.has("source"))
    reader.error(
        "type = \"evdev\" needs source = \"/dev/input/by-id/...-event-kbd\", the "
        "host's device");
  input.bus.clear();
  input.grab = reader.boolean("grab").value_or(false);
  input.grab_toggle = reader.one_of("grab_toggle", kGrabToggles).value_or("");
  input.repeat = reader.boolean("repeat").value_or(false);
  if (!source) return std::nullopt;
  input.source = *source;
  return input;
}

// One [[vm.X.input]]: an emulated keyboard, mouse or tablet, or a host device (evdev).
std::optional<InputDevice> read_input(TableReader& reader) {
  reader.reject_unknown_keys(keys::kInput);
  InputDevice input;
  input.where = reader.where();
  const auto type = reader.one_of("type", kInputTypes);
  if (!reader.has("type"))
    reader.error("an input needs type = \"keyboard\", \"mouse\", \"tablet\" or \"evdev\"");
  if (!type) return std::nullopt;
  input.type = *type;
  if (input.type == "evdev") return read_evdev(reader, input);
  for (const char* key : {"source", "grab", "grab_toggle", "repeat"})
    if (reader.has(key)) reader.error(key, std::string(key) + " applies to type = \"evdev\" only");
  const auto bus = reader.one_of("bus", kInputBuses);
  if (reader.has("bus") && !bus) return std::nullopt;
  input.bus = bus.value_or("virtio");
  if (input.bus == "ps2") {
    reader.error("bus",
                 "libvirt gives every x86 guest a PS/2 keyboard and mouse of its own: "
                 "they need no [[vm.X.input]]");
    return std::nullopt;
  }
  if (input.bus == "usb" && input.type == "tablet") {
    reader.error("bus", "a USB tablet is tablet = true in [vm.X]");
    return std::nullopt;
  }
  return input;
}

// Two items the guest could not tell apart (one host USB device twice, two virtio keyboards):
// `identity` names each, `what` their kind.
template <typename Item>
void check_identities(TableReader& reader, const std::vector<Item>& items,
                      std::string (*identity)(const Item&), const std::string& what,
                      const std::string& fix = "declare it once") {
  for (auto it = items.begin(); it != items.end(); ++it) {
    const auto first = std::find_if(
        items.begin(), it, [&](const Item& other) { return identity(other) == identity(*it); });
    if (first != it)
      reader.error_at(it->where, what + " " + identity(*it) + " is declared at " +
                                     first->where.str() + " already: " + fix);
  }
}

bool is_function_zero(const std::string& address) {
  return address.ends_with(".0");
}

// Two devices at one guest address would not start; functions of one guest slot need its
// function 0 there, marked multifunction, as on a real card.
void place_pci_functions(TableReader& reader, Vm& vm) {
  std::map<std::string, std::vector<PciDevice*>> slots;
  std::set<std::string> taken;
  for (PciDevice& device : vm.pci) {
    if (!device.guest_address) continue;
    if (!taken.insert(*device.guest_address).second)
      reader.error_at(device.where, "guest_address \"" + *device.guest_address +
                                        "\" is another pci device's too: give each its own "
                                        "function (.0, .1, ...)");
    slots[pci_slot(*device.guest_address)].push_back(&device);
  }
  for (auto& [slot, functions] : slots) {
    if (functions.size() < 2) continue;
    const auto first = std::find_if(functions.begin(), functions.end(), [](PciDevice* device) {
      return is_function_zero(*device->guest_address);
    });
    if (first == functions.end()) {
      reader.error_at(functions.front()->where,
                      "pci devices share guest slot " + slot +
                          " without one at function 0: put the first function (the GPU) at " +
                          slot + ".0");
      continue;
    }
    (*first)->multifunction = true;
  }
}

// Each element of the array of tables `name` through `read`, appended to `items` when it reads.
template <typename Item, typename Read>
void append_each(TableReader& parent, std::string_view name, Read read, std::vector<Item>& items) {
  const toml::array* array = parent.array_of_tables(name);
  if (!array) return;
  for (const toml::node& element : *array) {
    TableReader reader = parent.child(*element.as_table(), name, true);
    if (auto item = read(reader)) items.push_back(std::move(*item));
  }
}

template <typename Item, typename Read>
std::vector<Item> read_each(TableReader& parent, std::string_view name, Read read) {
  std::vector<Item> items;
  append_each(parent, name, read, items);
  return items;
}

// One [[vm.X.xml]], its text still unparsed: the libvirt provider reads it (fragment_xml.h).
std::optional<XmlFragment> read_fragment(TableReader& reader) {
  reader.reject_unknown_keys(keys::kXml);
  auto text = reader.string("xml");
  auto parent = reader.one_of("parent", kFragmentParents);
  if (!reader.has("xml")) {
    reader.error(reader.heading() + " needs xml = \"<element .../>\"");
    return std::nullopt;
  }
  if (!text) return std::nullopt;
  XmlFragment fragment;
  fragment.xml = *text;
  fragment.parent = parent.value_or("");
  fragment.where = reader.where("xml");
  return fragment;
}

// Two disks pinned to one unit would make libvirt refuse the definition.
void check_pinned_places(TableReader& reader, const Vm& vm) {
  std::map<std::tuple<DiskBus, unsigned, unsigned>, const Disk*> taken;
  const std::vector<Disk> all = boot_devices(vm);
  for (const Disk& disk : all) {
    if (!disk.controller || !disk.unit) continue;
    auto [at, fresh] = taken.emplace(std::tuple{disk.bus, *disk.controller, *disk.unit}, &disk);
    if (fresh) continue;
    reader.error_at(disk.where, "disk " + describe_source(disk) + " is pinned to " +
                                    to_string(disk.bus) + " controller " +
                                    std::to_string(*disk.controller) + " unit " +
                                    std::to_string(*disk.unit) + ", which disk " +
                                    describe_source(*at->second) + " at " +
                                    at->second->where.str() + " already takes");
  }
}

// libvirt gives consoles the ports from 5900 (VNC display :0) up, and refuses a VNC port below.
std::optional<unsigned> read_graphics_port(TableReader& graphics,
                                           std::optional<GraphicsType> type) {
  const auto port = graphics.integer("port");
  if (!port) return std::nullopt;
  if (type == GraphicsType::none) {
    graphics.error("port", "port makes no sense with type = \"none\"");
    return std::nullopt;
  }
  if (*port < 5900 || *port > 65535) {
    graphics.error(
        "port", "port must be from 5900 (VNC display :0) to 65535; got " + std::to_string(*port));
    return std::nullopt;
  }
  return static_cast<unsigned>(*port);
}

// SPICE draws with the host's GPU (gl) for local clients only, which reach it through libvirt
// rather than a network socket.
std::optional<Graphics> read_graphics_table(TableReader& graphics) {
  graphics.reject_unknown_keys(keys::kGraphics);
  auto type = graphics.choice("type", kGraphicsTypeNames);
  auto listen = graphics.string("listen");
  if (!graphics.has("type"))
    graphics.error(graphics.heading() + " needs type = \"spice\", \"vnc\" or \"none\"");
  if (type == GraphicsType::none && listen) {
    graphics.error("listen", "listen makes no sense with type = \"none\"");
  }
  const auto port = read_graphics_port(graphics, type);
  if (port && listen == kListenNone)
    graphics.error("port",
                   "port makes no sense with listen = \"none\": the console has no "
                   "network socket; leave port out");
  const auto gl = graphics.boolean("gl");
  const auto rendernode = graphics.path("rendernode");
  if (gl == true && type != GraphicsType::spice)
    graphics.error("gl", "gl = true needs type = \"spice\": only SPICE draws with the host's GPU");
  else if (gl == true && listen != kListenNone)
    graphics.error("gl",
                   "gl = true needs listen = \"none\": SPICE's OpenGL reaches local clients "
                   "only, which connect through libvirt (virt-viewer, virt-manager)");
  if (rendernode && gl != true)
    graphics.error("rendernode",
                   "rendernode picks the GPU of gl = true: set gl = true, or leave "
                   "rendernode out");
  const auto password_file = graphics.path("password_file");
  const auto password_env = graphics.string("password_env");
  if (password_file && password_env)
    graphics.error("password_env",
                   "password_file and password_env both give the console's "
                   "password: keep one");
  if ((password_file || password_env) && type == GraphicsType::none)
    graphics.error(password_file ? "password_file" : "password_env",
                   "a password makes no sense with type = \"none\"");
  if (!type) return std::nullopt;
  Graphics read{*type, listen.value_or(""), port};
  read.gl = gl;
  read.rendernode = rendernode;
  read.password_file = password_file.value_or("");
  read.password_env = password_env.value_or("");
  return read;
}

void read_graphics(TableReader& reader, Vm& vm) {
  const toml::table* table = reader.table("graphics");
  if (!table) return;
  TableReader graphics = reader.child(*table, "graphics");
  vm.graphics = read_graphics_table(graphics);
}

void read_devices(TableReader& reader, Vm& vm) {
  const DiskBus default_bus = default_data_disk_bus(vm);
  // Appended one at a time: a disk's boot order is checked against those before it.
  const auto read_data_disk = [&](TableReader& disk) -> std::optional<Disk> {
    const auto device = disk.one_of("device", kDiskDevices);
    if (disk.has("device") && !device) return std::nullopt;  // refused as it is
    if (device != "cdrom") return read_disk(disk, vm, default_bus);
    disk.reject_unknown_keys(keys::kDisk);
    if (auto cdrom = read_cdrom(disk, vm)) vm.cdroms.push_back(std::move(*cdrom));
    return std::nullopt;
  };
  append_each(reader, "disk", read_data_disk, vm.disks);
  check_pinned_places(reader, vm);
  vm.nics = read_each<Nic>(reader, "nic", read_nic);
  vm.pci = read_each<PciDevice>(reader, "pci", read_pci);
  place_pci_functions(reader, vm);
  vm.usb = read_each<UsbDevice>(reader, "usb", read_usb);
  check_identities(reader, vm.usb, usb_declared_as, "usb device");
  vm.mdevs = read_each<MdevDevice>(reader, "mdev", read_mdev);
  check_identities(reader, vm.mdevs, mdev_identity, "mdev");
  vm.inputs = read_each<InputDevice>(reader, "input", read_input);
  check_identities(reader, vm.inputs, input_identity, "input");
  vm.xml = read_each<XmlFragment>(reader, "xml", read_fragment);
  read_graphics(reader, vm);
  if (const toml::table* table = reader.table("serial")) {
    TableReader serial = reader.child(*table, "serial");
    serial.reject_unknown_keys(keys::kSerial);
    auto type = serial.choice<std::string>("type", {{"pty", "pty"}});
    if (type || !serial.has("type")) vm.serial = Serial{type.value_or("pty")};
  }
}

}  // namespace

bool is_valid_resource_key(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

Loader read_loader(const toml::table& table, const std::string& key, const std::string& file,
                   Diagnostics& diagnostics) {
  TableReader reader(table, "loader." + key, file, diagnostics);
  reader.reject_unknown_keys(keys::kLoader);
  Loader loader;
  loader.key = key;
  loader.where = reader.where();
  if (auto image = reader.path("image")) {
    loader.image = *image;
  } else if (!reader.has("image")) {
    reader.error(reader.heading() + " needs image = \"/path/to/loader.img\"");
  }
  if (auto sha256 = reader.string("sha256")) {
    if (is_hex(*sha256, 64)) {
      std::transform(sha256->begin(), sha256->end(), sha256->begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      loader.sha256 = *sha256;
    } else {
      reader.error("sha256", "sha256 must be 64 hex digits (the output of sha256sum)");
    }
  }
  return loader;
}

// Text that reads back from domain XML as written: not only blanks (XML drops them), no
// carriage returns (XML turns them into line feeds) and no other control characters but tab
// and line feed (XML 1.0 cannot hold them); on one line where asked.
std::optional<std::string> read_text(TableReader& reader, const std::string& key, bool one_line) {
  auto value = reader.string(key);
  if (!value) return std::nullopt;
  const bool blank = value->find_first_not_of(" \t\n") == std::string::npos;
  const bool broken = one_line && value->find('\n') != std::string::npos;
  const bool control = std::any_of(value->begin(), value->end(), [](unsigned char c) {
    return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
  });
  if (broken) reader.error(key, key + " must be one line");
  if (blank) reader.error(key, key + " must not be only blanks");
  if (control) reader.error(key, key + " must not hold control characters but tab and line feed");
  if (broken || blank || control) return std::nullopt;
  return value;
}

namespace {

// An integer row's value, within its bounds.
std::optional<std::string> read_bounded(TableReader& reader, const std::string& key,
                                        const VmField& field) {
  const auto value = reader.integer(key);
  if (!value) return std::nullopt;
  if (*value < field.min || *value > field.max) {
    reader.error(key, key + " must be between " + std::to_string(field.min) + " and " +
                          std::to_string(field.max) + "; got " + std::to_string(*value));
    return std::nullopt;
  }
  return std::to_string(*value);
}

// A text row's value, within its length and without the characters it refuses.
std::optional<std::string> read_row_text(TableReader& reader, const std::string& key,
                                         const VmField& field) {
  auto value = read_text(reader, key, field.kind == FieldKind::line);
  if (!value) return std::nullopt;
  if (field.max > 0 && value->size() > static_cast<std::size_t>(field.max)) {
    reader.error(key, key + " must be at most " + std::to_string(field.max) + " characters; got " +
                          std::to_string(value->size()));
    return std::nullopt;
  }
  if (!field.refused.empty() && value->find_first_of(field.refused) != std::string::npos) {
    reader.error(key,
                 key + " must not hold '" + std::string(field.refused) + "': libvirt refuses it");
    return std::nullopt;
  }
  if (!field.canonical) return value;
  auto canonical = field.canonical(*value);
  if (!canonical)
    reader.error(key, key + " must be " + std::string(field.form) + "; got \"" + *value + "\"");
  return canonical;
}

// The longest mount tag virtio-fs carries, in bytes.
constexpr std::size_t kShareTagBytes = 36;

// One [[vm.X.share]]: a host directory the guest mounts by its tag.
std::optional<Share> read_share(TableReader& reader) {
  reader.reject_unknown_keys(keys::kShare);
  Share share;
  share.where = reader.where();
  auto source = reader.path("source");
  auto tag = read_text(reader, "tag", true);
  // libvirt 9.0 refuses to define a read-only virtiofs share.
  if (reader.boolean("readonly") == true)
    reader.error("readonly",
                 "readonly = true is refused by libvirt 9.0, whose virtiofs shares cannot be "
                 "read-only: leave readonly out, and mount the share read-only in the guest "
                 "(mount -t virtiofs -o ro TAG DIR)");
  if (!reader.has("source")) reader.error(reader.heading() + " needs source = \"/host/directory\"");
  if (!reader.has("tag"))
    reader.error(reader.heading() + " needs tag = \"...\", the name the guest mounts it by");
  if (tag && tag->size() > kShareTagBytes) {
    reader.error("tag", "tag must be at most 36 bytes, what virtio-fs carries; got " +
                            std::to_string(tag->size()));
    return std::nullopt;
  }
  if (!source || !tag) return std::nullopt;
  share.source = *source;
  share.tag = *tag;
  return share;
}

std::string share_tag(const Share& share) {
  return "tag \"" + share.tag + "\"";
}

// The guest tells its shares apart by tag alone.
void read_shares(TableReader& reader, Vm& vm) {
  vm.shares = read_each<Share>(reader, "share", read_share);
  check_identities(reader, vm.shares, share_tag, "the share", "give each share a tag of its own");
}

// virtiofsd reads and writes the guest's memory itself: QEMU starts such a guest only with its
// memory shared.
void check_share_memory(TableReader& reader, const Vm& vm) {
  if (vm.shares.empty()) return;
  const auto access = vm.attributes.find("memory_backing.access");
  if (access != vm.attributes.end() && access->second == "shared") return;
  reader.error_at(vm.shares.front().where,
                  "a virtiofs share needs the guest's memory shared with virtiofsd: set "
                  "source = \"memfd\" and access = \"shared\" in [vm." +
                      vm.key + ".memory_backing]");
}

// A names row's list: names as libvirt spells them, each once, and at least one.
std::optional<std::string> read_names(TableReader& reader, const std::string& key) {
  auto names = reader.strings(key);
  if (!names) return std::nullopt;
  if (names->empty()) {
    reader.error(key, key + " = [] names nothing: name one, or leave " + key + " out");
    return std::nullopt;
  }
  for (const std::string& name : *names) {
    const bool spelt = std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.';
    });
    if (!spelt) {
      reader.error(key, key + " holds \"" + name +
                            "\", which is no name libvirt gives a feature (lower-case letters, "
                            "digits, '-', '_' and '.')");
      return std::nullopt;
    }
    if (std::count(names->begin(), names->end(), name) > 1) {
      reader.error(key, key + " names \"" + name + "\" twice");
      return std::nullopt;
    }
  }
  return joined_names(*names);
}

// A cpusets row's list: one set of host CPUs for each vCPU or I/O thread, as the kernel writes
// sets.
std::optional<std::string> read_cpusets(TableReader& reader, const std::string& key) {
  auto sets = reader.cpu_lists(key);
  if (!sets) return std::nullopt;
  if (sets->empty()) {
    reader.error(key, key + " = [] pins nothing: name host CPUs, or leave " + key + " out");
    return std::nullopt;
  }
  for (std::string& set : *sets) {
    const auto cpus = parse_cpuset(set);
    if (!cpus) {
      reader.error(key, key + " holds \"" + set +
                            "\", which is no set of host CPUs: a CPU's number, or ranges and "
                            "numbers such as \"0-3,8\"");
      return std::nullopt;
    }
    set = cpuset_text(*cpus);
  }
  return joined_cpusets(*sets);
}

}  // namespace

// One attribute of the table as its canonical text; nothing when absent or wrong (reported).
std::optional<std::string> read_attribute(TableReader& reader, const VmField& field) {
  const std::string key(field_name(field));
  switch (field.kind) {
    case FieldKind::boolean: {
      const auto value = reader.boolean(key);
      if (!value) return std::nullopt;
      return *value ? "true" : "false";
    }
    case FieldKind::choice:
      return reader.one_of(key, field.choices);
    case FieldKind::integer:
      return read_bounded(reader, key, field);
    case FieldKind::text:
    case FieldKind::line:
      return read_row_text(reader, key, field);
    case FieldKind::names:
      return read_names(reader, key);
    case FieldKind::cpusets:
      return read_cpusets(reader, key);
  }
  return std::nullopt;
}

namespace {

// Where each attribute was set (its key, or the preset that gave it), for the checks across
// them.
using AttributePlaces = std::map<std::string, Location>;

// The rows of `table` ("" for [vm.X] itself) that `reader`, reading that table, sets.
void read_attribute_table(TableReader& reader, std::string_view table, Vm& vm,
                          AttributePlaces& places) {
  for (const VmField& field : vm_fields()) {
    if (field_table(field) != table) continue;
    if (auto value = read_attribute(reader, field)) {
      vm.attributes[std::string(field.key)] = *value;
      places[std::string(field.key)] = reader.where(field_name(field));
    }
  }
}

// `preset = "..."`: its values where no key of their own set them.
void read_preset(TableReader& reader, std::string_view table, Vm& vm, AttributePlaces& places) {
  std::vector<std::string_view> names;
  for (const FieldPreset& preset : field_presets())
    if (preset.table == table) names.push_back(preset.name);
  if (names.empty()) return;
  const auto name = reader.one_of("preset", names);
  if (!name) return;
  for (const FieldPreset& preset : field_presets()) {
    if (preset.table != table || preset.name != *name) continue;
    for (const auto& [key, value] : preset.values) {
      if (!vm.attributes.try_emplace(std::string(key), value).second) continue;
      vm.attribute_origins[std::string(key)] = "preset " + *name;
      places[std::string(key)] = reader.where("preset");
    }
  }
}

// "synic = true in [vm.a.hyperv]": how the config turns a boolean row on.
std::string setting(const Vm& vm, std::string_view key) {
  const VmField& field = *find_vm_field(key);
  const std::string table = std::string(field_table(field));
  return std::string(field_name(field)) + " = true in [vm." + vm.key +
         (table.empty() ? "" : "." + table) + "]";
}

// Where a check across keys reports on `key`: at its key or the preset that set it, at
// `profile` when the profile did, else at the table.
Location place_of(TableReader& reader, const Vm& vm, const AttributePlaces& places,
                  std::string_view key) {
  if (const auto place = places.find(std::string(key)); place != places.end()) return place->second;
  if (const auto origin = vm.attribute_origins.find(std::string(key));
      origin != vm.attribute_origins.end() && origin->second.starts_with("profile "))
    return reader.where("profile");
  return reader.where();
}

// A row that is on with one it needs off or unset: QEMU would not start the guest.
void check_needs(TableReader& reader, const Vm& vm, const AttributePlaces& places) {
  auto on = [&](std::string_view key) {
    const auto found = vm.attributes.find(std::string(key));
    return found != vm.attributes.end() && found->second == "true";
  };
  for (const FieldNeed& need : field_needs()) {
    if (!on(need.key) || on(need.needs)) continue;
    const auto origin = vm.attribute_origins.find(std::string(need.key));
    const std::string by =
        origin == vm.attribute_origins.end() ? "" : " (from " + origin->second + ")";
    reader.error_at(place_of(reader, vm, places, need.key),
                    std::string(field_name(*find_vm_field(need.key))) + " = true" + by + " needs " +
                        setting(vm, need.needs) + ": QEMU refuses to start a KVM guest without it");
  }
}

// `cpu = "host-passthrough"` or `cpu = "Haswell-noTSX"`: [vm.X.cpu]'s mode, or a custom
// model, in one string.
void read_cpu_shorthand(TableReader& reader, Vm& vm, AttributePlaces& places) {
  // Empty or with a line break, the string is refused (and reported) like any text key.
  const auto cpu = read_text(reader, "cpu", true);
  if (!cpu) return;
  const auto modes = find_vm_field("cpu.mode")->choices;
  const bool mode = std::find(modes.begin(), modes.end(), *cpu) != modes.end();
  vm.attributes["cpu.mode"] = mode ? *cpu : "custom";
  places["cpu.mode"] = reader.where("cpu");
  if (mode) return;
  vm.attributes["cpu.model"] = *cpu;
  places["cpu.model"] = reader.where("cpu");
}

// The rest of a group one of whose rows is set, reported at the first one set.
void fill_groups(Vm& vm, AttributePlaces& places) {
  for (std::span<const std::string_view> group : field_groups()) {
    const auto set = std::find_if(group.begin(), group.end(), [&](std::string_view key) {
      return vm.attributes.count(std::string(key)) != 0;
    });
    if (set == group.end()) continue;
    const Location place = places[std::string(*set)];
    for (std::string_view key : group)
      if (vm.attributes.try_emplace(std::string(key), find_vm_field(key)->unset).second)
        places[std::string(key)] = place;
  }
}

AttributePlaces read_attributes(TableReader& reader, Vm& vm) {
  AttributePlaces places;
  read_attribute_table(reader, "", vm, places);
  std::vector<std::pair<TableReader, std::string_view>> tables;
  for (std::string_view table : field_tables()) {
    if (table == "cpu" && reader.holds_string("cpu")) {
      read_cpu_shorthand(reader, vm, places);
      continue;
    }
    // A table in a sub-table ("cpu.features") is read through its parent's reader.
    const auto dot = table.rfind('.');
    TableReader* parent = &reader;
    if (dot != std::string_view::npos) {
      const auto read = std::find_if(tables.begin(), tables.end(), [&](const auto& each) {
        return each.second == table.substr(0, dot);
      });
      if (read == tables.end()) continue;
      parent = &read->first;
    }
    const std::string_view name = table.substr(dot == std::string_view::npos ? 0 : dot + 1);
    const toml::table* found = parent->table(name);
    if (!found) continue;
    TableReader& sub = tables.emplace_back(parent->child(*found, name), table).first;
    sub.reject_unknown_keys(keys::attribute_table(table));
    read_attribute_table(sub, table, vm, places);
  }
  // After every table: a key of another table wins over a preset too.
  for (auto& [sub, table] : tables) read_preset(sub, table, vm, places);
  fill_groups(vm, places);
  return places;
}

// The rules across keys, once the whole table and its defaults are read, each at the key it is
// about.
void check_attribute_conflicts(TableReader& reader, const Vm& vm, const AttributePlaces& places) {
  check_needs(reader, vm, places);
  for (const VmField& field : vm_fields()) {
    const auto found = vm.attributes.find(std::string(field.key));
    if (found == vm.attributes.end()) continue;
    const Location place = place_of(reader, vm, places, field.key);
    if (field.conflict)
      if (std::string message = field.conflict(vm, found->second); !message.empty())
        reader.error_at(place, std::move(message));
    if (field.caution)
      if (std::string message = field.caution(vm, found->second); !message.empty())
        reader.warning_at(place, std::move(message));
  }
}

}  // namespace

Vm read_vm(const toml::table& table, const std::string& key, const std::string& file,
           Diagnostics& diagnostics) {
  TableReader reader(table, "vm." + key, file, diagnostics);
  reader.reject_unknown_keys(keys::kVm);
  Vm vm;
  vm.key = key;
  vm.where = reader.where();
  vm.name = reader.string("name").value_or(key);
  // libvirt keeps each domain in <name>.xml; a slash would make that a path.
  if (vm.name.find('/') != std::string::npos) {
    reader.error("name", "name must not contain '/'");
  }
  // A NUL cuts the name short on its way through libvirt's C strings, so the domain would never
  // match its VM; no domain name needs a control character, and they hide in terminal output.
  if (std::any_of(vm.name.begin(), vm.name.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    reader.error("name", "name must not contain control characters (NUL, tab, line breaks, ...)");
  }
  // First: a DSM guest or a profile has defaults of its own for what follows.
  read_profile(reader, vm);
  read_dsm(reader, vm);
  read_cpu_and_memory(reader, vm);
  read_firmware(reader, vm);
  read_power(reader, vm);
  read_kernel(reader, vm);
  read_boot(reader, vm);
  // The attributes first: a disk's options are checked against them (iothread, iothreads).
  const AttributePlaces places = read_attributes(reader, vm);
  vm.attribute_places = places;
  read_devices(reader, vm);
  read_shares(reader, vm);
  apply_profile_defaults(reader, vm);
  apply_dsm_defaults(reader, vm);
  check_dsm_platform(reader, vm);
  check_attribute_conflicts(reader, vm, places);
  check_share_memory(reader, vm);
  check_mdev_display(reader, vm);
  check_balloon_holds_memory(reader, vm);
  return vm;
}

}  // namespace virtform
