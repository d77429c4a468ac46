#include "engine/plan/diff.h"

#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/model/disk_options.h"
#include "engine/model/vm_fields.h"
#include "engine/plan/disk_layout.h"
#include "engine/plan/fragment_diff.h"

namespace virtform {

namespace {

std::string vm_address(const std::string& key) {
  return "vm." + key;
}

// ---- How fields are shown ------------------------------------------------------------------

std::string describe(const Disk& disk) {
  const std::string place = describe_place(disk);
  std::string text = (place.empty() ? to_string(disk.bus) : place) + ", " + disk.format;
  if (disk.cache) text += ", cache " + *disk.cache;
  if (disk.io) text += ", io " + *disk.io;
  if (disk.boot_order) text += ", boot " + std::to_string(*disk.boot_order);
  for (const DiskOption& option : disk_options())
    if (const auto found = disk.options.find(std::string(option.field.key));
        found != disk.options.end())
      text += ", " + found->first + " " + found->second;
  if (disk.readonly) text += ", readonly";
  if (disk.sha256) text += ", sha256 " + disk.sha256->substr(0, 12);
  if (!disk.backing.empty()) text += ", overlay on " + disk.backing;
  return text;
}

// "sata 0:1, /iso/install.iso": a CD-ROM drive by its place and the ISO in it.
std::string describe_cdrom(const Disk& cdrom) {
  const std::string place = describe_place(cdrom);
  std::string text = (place.empty() ? to_string(cdrom.bus) : place) + ", " +
                     (cdrom.source.empty() ? "empty" : cdrom.source);
  if (cdrom.boot_order) text += ", boot " + std::to_string(*cdrom.boot_order);
  return text;
}

// A drive by its place in the guest's order of CD-ROMs, from 1 as the config counts them.
std::string cdrom_label(std::size_t index) {
  return "cdrom[" + std::to_string(index + 1) + "]";
}

// The value of a table-driven attribute, or nothing when it is not set.
std::optional<std::string> attribute(const Vm& vm, const VmField& field) {
  const auto found = vm.attributes.find(std::string(field.key));
  if (found == vm.attributes.end()) return std::nullopt;
  return found->second;
}

// A desired value as plans show it: with the preset or profile that set it, where one did.
std::string with_origin(const Vm& vm, std::string_view key, std::string text) {
  const auto origin = vm.attribute_origins.find(std::string(key));
  if (origin != vm.attribute_origins.end()) text += " (" + origin->second + ")";
  return text;
}

std::optional<std::string> shown_attribute(const Vm& vm, const VmField& field) {
  auto value = attribute(vm, field);
  if (value) *value = with_origin(vm, field.key, std::move(*value));
  return value;
}

// An image apply makes when it is missing: one with a size to create, or a loader overlay.
bool made_when_missing(const Disk& disk) {
  return disk.kind == DiskSource::file && (disk.size || !disk.backing.empty());
}

std::string nic_label(const Nic& nic) {
  return "nic[" + to_string(nic.kind) + " " + nic.source + "]";
}

std::string describe(const Nic& nic) {
  std::string text = nic.model;
  if (nic.mac) text += ", mac " + *nic.mac;
  return text;
}

std::string describe(const PciDevice& device) {
  std::string text = device.managed ? "managed" : "unmanaged";
  if (device.bind) text += ", bound to " + *device.bind;
  if (device.rom) text += ", rom " + *device.rom;
  if (device.rombar) text += *device.rombar ? ", rom bar on" : ", rom bar off";
  if (device.guest_address) {
    text += ", at guest " + *device.guest_address;
    if (device.multifunction) text += " (multifunction)";
  }
  return text;
}

std::string usb_label(const UsbDevice& device) {
  return "usb[" + usb_declared_as(device) + "]";
}

std::string describe(const UsbDevice& device) {
  return device.optional ? "optional" : "required";
}

// The device of `vm` found by the same parts as `device`, or nullptr.
const UsbDevice* find_usb(const Vm& vm, const UsbDevice& device) {
  const auto it = std::find_if(vm.usb.begin(), vm.usb.end(), [&](const UsbDevice& other) {
    return usb_identity(other) == usb_identity(device);
  });
  return it == vm.usb.end() ? nullptr : &*it;
}

std::string mdev_label(const MdevDevice& device) {
  return "mdev[" + device.uuid + "]";
}

std::string describe(const MdevDevice& device) {
  return device.model + (device.display ? ", display" : "");
}

std::string input_label(const InputDevice& input) {
  return "input[" + input_identity(input) + "]";
}

std::string describe(const InputDevice& input) {
  if (input.type != "evdev") return input.bus + " " + input.type;
  std::string text = "passed through";
  if (input.grab) text += ", grabs all";
  if (!input.grab_toggle.empty()) text += ", toggle " + input.grab_toggle;
  if (input.repeat) text += ", repeat";
  return text;
}

const InputDevice* find_input(const Vm& vm, const InputDevice& input) {
  const auto it = std::find_if(vm.inputs.begin(), vm.inputs.end(), [&](const InputDevice& other) {
    return input_identity(other) == input_identity(input);
  });
  return it == vm.inputs.end() ? nullptr : &*it;
}

std::string describe(const Share& share) {
  return share.source + (share.readonly ? ", readonly" : "");
}

std::string share_label(const Share& share) {
  return "share[" + share.tag + "]";
}

std::string describe(const std::optional<Graphics>& graphics) {
  if (!graphics || graphics->type == GraphicsType::none) return "none";
  std::string text = to_string(graphics->type);
  if (graphics->listen == kListenNone) {
    text += ", local only";
  } else if (!graphics->listen.empty()) {
    text += " on " + graphics->listen;
  }
  if (graphics->port) text += ", port " + std::to_string(*graphics->port);
  if (graphics->gl.value_or(false)) text += ", gl";
  if (graphics->rendernode) text += " on " + *graphics->rendernode;
  return text;
}

std::string describe(const std::optional<Serial>& serial) {
  return serial ? serial->type : "none";
}

std::string describe(const std::optional<DirectKernel>& kernel) {
  if (!kernel) return "none";
  std::string text = kernel->kernel;
  if (!kernel->initrd.empty()) text += " + " + kernel->initrd;
  if (!kernel->cmdline.empty()) text += " (" + kernel->cmdline + ")";
  return text;
}

std::string describe(const Firmware& firmware) {
  if (firmware.kind == FirmwareKind::bios) return "bios";
  std::string text = firmware.secure_boot.value_or(false) ? "uefi, Secure Boot" : "uefi";
  if (firmware.autoselect) return text + " (libvirt's choice)";
  return firmware.code.empty() ? text : text + " (" + firmware.code + ")";
}

std::string yes_no(bool value) {
  return value ? "true" : "false";
}

// The guest's TPM as plans show it: "tpm-crb, emulator 2.0", "tpm-tis, passthrough /dev/tpm0".
std::string describe_tpm(const Vm& vm) {
  auto part = [&](const char* key) {
    const auto found = vm.attributes.find(key);
    return found == vm.attributes.end() ? std::string() : " " + found->second;
  };
  return part("tpm.model").substr(1) + "," + part("tpm.backend") + part("tpm.version") +
         part("tpm.device");
}

// An emulated TPM's state is the guest's (BitLocker's keys): libvirt keeps it under the domain's
// UUID whatever the definition says, and a TPM declared again takes it up.
std::string tpm_state_kept(const LiveDomain& live) {
  return "the TPM's state stays on the host in " + std::string(kTpmStateDirectory) + "/" +
         live.uuid + ", for a TPM declared again";
}

// A TPM virtform wrote, which the VM no longer declares, is taken out.
bool drops_tpm(const Vm& vm, const LiveDomain& live) {
  return live.recorded_tpm && !sets_table(vm, "tpm") && live.vm.attributes.count("tpm.model");
}

// Whether the guest's emulated TPM goes: taken out, or passed through from the host instead.
bool leaves_emulated_tpm(const Vm& vm, const LiveDomain& live) {
  const auto backend = live.vm.attributes.find("tpm.backend");
  if (backend == live.vm.attributes.end() || backend->second != "emulator") return false;
  const auto wanted = vm.attributes.find("tpm.backend");
  return drops_tpm(vm, live) || (wanted != vm.attributes.end() && wanted->second != "emulator");
}

// ---- Comparing one VM ------------------------------------------------------------------------

// Where a field change lands: `live` when it can be done to the running guest now, otherwise it
// waits for the next boot, or for the restart apply makes when allowed.
struct DisruptionRule {
  bool running = false;
  bool may_restart = false;

  Disruption for_live_change() const { return running ? Disruption::live : Disruption::none; }
  Disruption for_boot_change() const {
    if (!running) return Disruption::none;
    return may_restart ? Disruption::restart : Disruption::next_boot;
  }
};

// The options the config sets, each as the live disk has it; the rest are left alone.
bool same_options(const Disk& desired, const Disk& live) {
  return std::all_of(desired.options.begin(), desired.options.end(), [&](const auto& option) {
    const auto found = live.options.find(option.first);
    return found != live.options.end() && found->second == option.second;
  });
}

bool same_disk(const Disk& desired, const Disk& live) {
  return desired.kind == live.kind && desired.bus == live.bus && desired.format == live.format &&
         desired.readonly == live.readonly &&
         (!desired.boot_order || desired.boot_order == live.boot_order) &&
         (!desired.sha256 || desired.sha256 == live.sha256) &&
         (!desired.cache || *desired.cache == live.cache.value_or("default")) &&
         (!desired.io || desired.io == live.io) &&
         (!desired.controller || desired.controller == live.controller) &&
         (!desired.unit || desired.unit == live.unit) && same_options(desired, live);
}

// The same drive, whatever its media: its bus, its place where the config or the layout gives
// one, and its boot order where the config sets it.
bool same_drive(const Disk& desired, const Disk& live) {
  return desired.bus == live.bus &&
         (!desired.boot_order || desired.boot_order == live.boot_order) &&
         (!desired.controller || desired.controller == live.controller) &&
         (!desired.unit || desired.unit == live.unit);
}

// The ISO that the running guest's drive `index` should be given now: a drive it has as the
// config declares it, holding another ISO. A new or moved drive waits for the next boot.
std::optional<std::string> media_to_change(const Vm& desired, const Vm& running,
                                           std::size_t index) {
  if (index >= desired.cdroms.size() || index >= running.cdroms.size()) return std::nullopt;
  const Disk& wanted = desired.cdroms[index];
  const Disk& current = running.cdroms[index];
  if (!same_drive(wanted, current) || wanted.source == current.source) return std::nullopt;
  return wanted.source;
}

// The ROM BAR and the guest address are owned where the config sets them; libvirt shows the BAR
// when nothing says otherwise.
bool same_pci(const PciDevice& desired, const PciDevice& live) {
  return desired.managed == live.managed && desired.rom == live.rom &&
         (!desired.rombar || *desired.rombar == live.rombar.value_or(true)) &&
         (!desired.guest_address || (desired.guest_address == live.guest_address &&
                                     desired.multifunction == live.multifunction));
}

// Secure Boot is owned where the config says it.
bool same_secure_boot(const Firmware& desired, const Firmware& live) {
  return !desired.secure_boot || desired.secure_boot == live.secure_boot.value_or(false);
}

bool same_firmware(const Firmware& desired, const Firmware& live) {
  if (desired.kind != live.kind) return false;
  if (desired.kind == FirmwareKind::bios) return true;
  // Paths the config leaves to libvirt or the descriptors are not owned. A new variable store is
  // a field of its own (nvram): its contents move with it.
  if (!same_secure_boot(desired, live)) return false;
  if (desired.autoselect) return live.autoselect;
  if (desired.code.empty()) return true;
  return !live.autoselect && desired.code == live.code;
}

// Whether a running guest booted the firmware the config asks for. The running definition shows
// libvirt's choice as the image it chose, so then only Secure Boot can tell.
bool booted_firmware(const Firmware& desired, const Firmware& booted) {
  if (!desired.autoselect) return same_firmware(desired, booted);
  return desired.kind == booted.kind && same_secure_boot(desired, booted);
}

// A guest booting another firmware image than the one its NVRAM store was made for.
bool changes_firmware_image(const Firmware& desired, const Firmware& live) {
  if (desired.kind != FirmwareKind::uefi || live.kind != FirmwareKind::uefi) return false;
  if (desired.autoselect) return !live.autoselect;  // libvirt's pick may be another image
  return !desired.code.empty() && desired.code != live.code;
}

// A disk added to a running guest is plugged at once, unless its bus cannot take it live or the
// guest still has another disk at its place until it boots again.
bool plugs_live(const Disk& disk, const Vm* booted) {
  return hot_pluggable(disk) && !(booted && place_held_by_other(disk, *booted));
}

// Whether the running guest's balloon can be set to the memory the config declares: it has a
// balloon, and the memory fits in the maximum it booted with.
bool balloon_reaches(const Vm& desired, const Vm& running) {
  return has_balloon(running) && current_memory_of(desired) <= running.memory_kib;
}

// ---- The model's typed fields ----------------------------------------------------------------

// A field the model holds in a member of its own type (the table-driven attributes of
// vm_fields.h are compared generically): how the plan shows it, when two differ, and when a
// running guest takes a change. One row each, read by the comparison, the creation listing and
// the pending-boot check alike.
struct TypedField {
  const char* key;
  // The value as the plan shows it, or nothing when the VM leaves the field to libvirt.
  std::optional<std::string> (*shown)(const Vm&);
  const char* absent;  // shown for a VM without the field
  // Whether `desired` asks for something `live` does not have.
  bool (*differs)(const Vm& desired, const Vm& live);
  // Whether a running guest (`running`: what it booted) takes the change at once; nullptr: only
  // at its next boot.
  bool (*takes_live)(const Vm& desired, const Vm& live, const Vm& running);
  // Whether the running guest has not booted what `desired` asks; nullptr where libvirt reports
  // the field differently in the running definition (a host-model CPU is expanded there).
  bool (*pending)(const Vm& desired, const Vm& booted);
  // The value shown as the change's "after", when it says more than `shown`.
  std::string (*changed_to)(const Vm& desired);
  // The live value shown as the change's "before", where what it is depends on the desired VM;
  // nullptr: `shown` of the live VM.
  std::string (*shown_live)(const Vm& desired, const Vm& live) = nullptr;
};

std::optional<std::string> shown_type(const Vm& vm) {
  return to_string(vm.type);
}
bool type_differs(const Vm& desired, const Vm& live) {
  return desired.type != live.type;
}

// `memory` is the balloon's size where the config declares memory_max, and the maximum where it
// leaves the balloon to the guest's owner; the live value shown beside it is the same one.
bool owns_balloon(const Vm& desired) {
  return desired.current_memory_kib.has_value();
}
std::optional<std::string> shown_memory(const Vm& vm) {
  return format_kib(owns_balloon(vm) ? current_memory_of(vm) : vm.memory_kib);
}
std::string shown_live_memory(const Vm& desired, const Vm& live) {
  return format_kib(owns_balloon(desired) ? current_memory_of(live) : live.memory_kib);
}
bool memory_differs(const Vm& desired, const Vm& live) {
  if (owns_balloon(desired)) return current_memory_of(desired) != current_memory_of(live);
  return desired.memory_kib != live.memory_kib;
}
// A running guest's balloon moves at once, up to the maximum it booted with; one the config leaves
// alone is only ever lowered, to a smaller maximum. Only a boot raises the maximum or takes memory
// from a guest without a balloon.
bool memory_takes_live(const Vm& desired, const Vm& live, const Vm& running) {
  if (owns_balloon(desired)) return balloon_reaches(desired, running);
  return desired.memory_kib < live.memory_kib && has_balloon(running);
}
// The running definition shows the balloon where the guest's driver has got to, which trails the
// target libvirt was given: a declared balloon is never pending, its maximum is (memory_max).
bool memory_not_booted(const Vm& desired, const Vm& booted) {
  if (owns_balloon(desired)) return false;
  return desired.memory_kib > booted.memory_kib ||
         (desired.memory_kib < booted.memory_kib && !has_balloon(booted));
}

std::optional<std::string> shown_memory_max(const Vm& vm) {
  if (!owns_balloon(vm)) return std::nullopt;
  return format_kib(vm.memory_kib);
}
std::string shown_live_memory_max(const Vm&, const Vm& live) {
  return format_kib(live.memory_kib);
}
bool memory_max_differs(const Vm& desired, const Vm& live) {
  return owns_balloon(desired) && desired.memory_kib != live.memory_kib;
}

std::optional<std::string> shown_vcpus(const Vm& vm) {
  return std::to_string(vm.vcpus);
}
// Without vcpus_max, vcpus is the <vcpu> count and a lower current count set by other means is
// kept, as a balloon is for memory; with it, vcpus is the current count.
bool vcpus_differ(const Vm& desired, const Vm& live) {
  return desired.vcpus != (desired.vcpus_max ? live.vcpus : most_vcpus(live));
}
// A running guest plugs vCPUs up to the most it booted with. Unplugging one needs the guest's
// cooperation, so fewer wait for its next boot.
bool vcpus_plug_live(const Vm& desired, const Vm&, const Vm& running) {
  return desired.vcpus_max && desired.vcpus > running.vcpus && desired.vcpus <= most_vcpus(running);
}

std::optional<std::string> shown_vcpus_max(const Vm& vm) {
  if (!vm.vcpus_max) return std::nullopt;
  return std::to_string(*vm.vcpus_max);
}
bool vcpus_max_differs(const Vm& desired, const Vm& live) {
  return desired.vcpus_max && *desired.vcpus_max != most_vcpus(live);
}

std::optional<std::string> shown_machine(const Vm& vm) {
  return vm.machine;
}
bool machine_differs(const Vm& desired, const Vm& live) {
  return !same_machine(desired.machine, live.machine);
}

std::optional<std::string> shown_firmware(const Vm& vm) {
  return describe(vm.firmware);
}
bool firmware_differs(const Vm& desired, const Vm& live) {
  return !same_firmware(desired.firmware, live.firmware);
}
bool firmware_not_booted(const Vm& desired, const Vm& booted) {
  return !booted_firmware(desired.firmware, booted.firmware);
}

std::optional<std::string> shown_nvram(const Vm& vm) {
  if (vm.firmware.kind != FirmwareKind::uefi) return std::nullopt;
  return vm.firmware.nvram;
}
// A new variable store is a field of its own: its contents move with it.
bool nvram_moves(const Vm& desired, const Vm& live) {
  return moves_nvram(desired.firmware, live.firmware);
}
std::string nvram_copied_to(const Vm& desired) {
  return desired.firmware.nvram + " (a copy of the current store)";
}

std::optional<std::string> shown_kernel(const Vm& vm) {
  if (!vm.kernel) return std::nullopt;
  return describe(vm.kernel);
}
bool kernel_differs(const Vm& desired, const Vm& live) {
  return desired.kernel && desired.kernel != live.kernel;
}

std::optional<std::string> shown_graphics(const Vm& vm) {
  if (!vm.graphics) return std::nullopt;
  return describe(vm.graphics);
}
// A port, gl and its render node are owned where the config sets them.
bool graphics_differ(const Vm& desired, const Vm& live) {
  if (!desired.graphics) return false;
  std::optional<Graphics> seen = live.graphics;
  if (seen && !desired.graphics->port) seen->port.reset();
  if (seen && !desired.graphics->gl) seen->gl.reset();
  if (seen && !desired.graphics->rendernode) seen->rendernode.reset();
  return describe(desired.graphics) != describe(seen);
}

// The password is never shown: where it comes from, and whether the live console has one.
bool owns_console_password(const Vm& vm) {
  return vm.graphics && (!vm.graphics->password_file.empty() || !vm.graphics->password_env.empty());
}
std::optional<std::string> shown_console_password(const Vm& vm) {
  if (!owns_console_password(vm)) return std::nullopt;
  return vm.graphics->password_file.empty() ? "from $" + vm.graphics->password_env
                                            : "from " + vm.graphics->password_file;
}
std::string shown_live_console_password(const Vm&, const Vm& live) {
  return live.graphics && live.graphics->password ? "set" : "none";
}
// A password its source did not give here (warned about) is not known to differ: apply leaves
// the console's as it is.
bool console_password_differs(const Vm& desired, const Vm& live) {
  if (!owns_console_password(desired) || !desired.graphics->password) return false;
  const std::optional<std::string> current = live.graphics ? live.graphics->password : std::nullopt;
  return desired.graphics->password != current;
}

// A running console takes a new password at once if it was started with one: libvirt turns
// the console's password check off for one started without, and QEMU then refuses a password.
bool console_password_takes_live(const Vm& desired, const Vm&, const Vm& running) {
  return running.graphics && running.graphics->password &&
         running.graphics->type == desired.graphics->type;
}

std::optional<std::string> shown_serial(const Vm& vm) {
  if (!vm.serial) return std::nullopt;
  return describe(vm.serial);
}
bool serial_differs(const Vm& desired, const Vm& live) {
  return desired.serial && desired.serial != live.serial;
}

// In the order plans show them.
constexpr std::array<TypedField, 12> kTypedFields = {{
    {"type", shown_type, "", type_differs, nullptr, nullptr, nullptr},
    {"memory_max", shown_memory_max, "", memory_max_differs, nullptr, memory_max_differs, nullptr,
     shown_live_memory_max},
    {"memory", shown_memory, "", memory_differs, memory_takes_live, memory_not_booted, nullptr,
     shown_live_memory},
    {"vcpus", shown_vcpus, "", vcpus_differ, vcpus_plug_live, vcpus_differ, nullptr},
    {"vcpus_max", shown_vcpus_max, "", vcpus_max_differs, nullptr, vcpus_max_differs, nullptr},
    {"machine", shown_machine, "", machine_differs, nullptr, machine_differs, nullptr},
    {"firmware", shown_firmware, "", firmware_differs, nullptr, firmware_not_booted, nullptr},
    {"nvram", shown_nvram, "", nvram_moves, nullptr, nullptr, nvram_copied_to},
    {"kernel", shown_kernel, "none", kernel_differs, nullptr, kernel_differs, nullptr},
    {"graphics", shown_graphics, "none", graphics_differ, nullptr, nullptr, nullptr},
    {"graphics.password", shown_console_password, "", console_password_differs,
     console_password_takes_live, console_password_differs, nullptr, shown_live_console_password},
    {"serial", shown_serial, "none", serial_differs, nullptr, nullptr, nullptr},
}};

std::string shown_or_absent(const TypedField& field, const Vm& vm) {
  return field.shown(vm).value_or(field.absent);
}

std::string shown_before(const TypedField& field, const Vm& desired, const Vm& live) {
  return field.shown_live ? field.shown_live(desired, live) : shown_or_absent(field, live);
}

std::string changed_to(const TypedField& field, const Vm& desired) {
  return with_origin(
      desired, field.key,
      field.changed_to ? field.changed_to(desired) : shown_or_absent(field, desired));
}

class VmComparison {
 public:
  // `booted`: what the running guest has, or nullptr.
  VmComparison(const Vm& desired, const Vm& live, DisruptionRule rule, const Vm* booted = nullptr)
      : desired_(desired), live_(live), rule_(rule), booted_(booted) {}

  std::vector<FieldChange> fields() {
    compare_scalars();
    compare_disks();
    compare_cdroms();
    compare_nics();
    compare_pci();
    compare_usb();
    compare_mdevs();
    compare_inputs();
    compare_shares();
    return std::move(fields_);
  }

 private:
  void add(std::string field, std::string before, std::string after, Disruption disruption) {
    fields_.push_back({std::move(field), std::move(before), std::move(after), disruption});
  }
  void boot_field(std::string field, std::string before, std::string after) {
    add(std::move(field), std::move(before), std::move(after), rule_.for_boot_change());
  }

  void compare_scalars() {
    for (const TypedField& field : kTypedFields) {
      if (!field.differs(desired_, live_)) continue;
      const bool now = field.takes_live && field.takes_live(desired_, live_, running());
      add(field.key, shown_before(field, desired_, live_), changed_to(field, desired_),
          now ? rule_.for_live_change() : rule_.for_boot_change());
    }
    for (const VmField& field : vm_fields()) compare_attribute(field);
  }

  // A table-driven attribute: owned when declared, taken live or at the next boot as its row
  // says.
  void compare_attribute(const VmField& field) {
    const auto wanted = attribute(desired_, field);
    const auto current = attribute(live_, field);
    if (!wanted || wanted == current) return;
    add(std::string(field.key), current.value_or("(none)"), *shown_attribute(desired_, field),
        takes_live(field, *wanted, running()) ? rule_.for_live_change() : rule_.for_boot_change());
  }

  // What the guest runs: its running definition, or the persistent one when it is not running.
  const Vm& running() const { return booted_ ? *booted_ : live_; }

  void compare_disks() {
    for (const Disk& wanted : desired_.disks) {
      const Disk* current = live_.find_disk(wanted.source);
      const std::string field = "disk[" + wanted.source + "]";
      if (!current) {
        add(field, "", describe(wanted), disk_plug_disruption(wanted));
      } else if (!same_disk(wanted, *current)) {
        boot_field(field, describe(*current), describe(wanted));
      }
    }
    for (const Disk& current : live_.disks) {
      if (!desired_.find_disk(current.source))
        add("disk[" + current.source + "]", describe(current), "", disk_plug_disruption(current));
    }
  }

  // Drives pair in order. A media change reaches a running guest at once (libvirt swaps the
  // ISO); a drive added, removed or moved waits for the next boot, as sata and ide take no
  // hot-plug.
  void compare_cdroms() {
    const std::size_t count = std::max(desired_.cdroms.size(), live_.cdroms.size());
    for (std::size_t i = 0; i < count; ++i) {
      const Disk* wanted = i < desired_.cdroms.size() ? &desired_.cdroms[i] : nullptr;
      const Disk* current = i < live_.cdroms.size() ? &live_.cdroms[i] : nullptr;
      if (wanted && current && same_drive(*wanted, *current) && wanted->source == current->source)
        continue;
      const bool now = booted_ && wanted && current && same_drive(*wanted, *current) &&
                       media_to_change(desired_, *booted_, i);
      add(cdrom_label(i), current ? describe_cdrom(*current) : "",
          wanted ? describe_cdrom(*wanted) : "",
          now ? rule_.for_live_change() : rule_.for_boot_change());
    }
  }

  Disruption disk_plug_disruption(const Disk& disk) const {
    return plugs_live(disk, booted_) ? rule_.for_live_change() : rule_.for_boot_change();
  }

  void compare_nics() {
    const std::vector<int> match = match_nics(desired_.nics, live_.nics);
    std::vector<bool> kept(live_.nics.size(), false);
    for (std::size_t d = 0; d < desired_.nics.size(); ++d) {
      const Nic& wanted = desired_.nics[d];
      if (match[d] < 0) {
        add(nic_label(wanted), "", describe(wanted), rule_.for_live_change());
        continue;
      }
      const Nic& current = live_.nics[static_cast<std::size_t>(match[d])];
      kept[static_cast<std::size_t>(match[d])] = true;
      if (current.kind != wanted.kind || current.source != wanted.source ||
          current.model != wanted.model)
        boot_field(nic_label(wanted), nic_label(current) + " " + describe(current),
                   describe(wanted));
    }
    for (std::size_t l = 0; l < live_.nics.size(); ++l) {
      if (!kept[l])
        add(nic_label(live_.nics[l]), describe(live_.nics[l]), "", rule_.for_live_change());
    }
  }

  // PCI hot-plug depends on free root ports and the device's reset behaviour; virtform does not
  // promise it, so passthrough changes wait for a boot.
  void compare_pci() {
    for (const PciDevice& wanted : desired_.pci) {
      const PciDevice* current = find_pci(live_, wanted.address);
      const std::string field = "pci[" + wanted.address + "]";
      if (!current) {
        boot_field(field, "", describe(wanted));
      } else if (!same_pci(wanted, *current)) {
        boot_field(field, describe(*current), describe(wanted));
      }
    }
    for (const PciDevice& current : live_.pci) {
      if (!find_pci(desired_, current.address))
        boot_field("pci[" + current.address + "]", describe(current), "");
    }
  }

  // USB takes hot-plug: a device comes and goes live. Whether the guest may start without it
  // matters only at its next start.
  void compare_usb() {
    for (const UsbDevice& wanted : desired_.usb) {
      const UsbDevice* current = find_usb(live_, wanted);
      if (!current) {
        add(usb_label(wanted), "", describe(wanted), rule_.for_live_change());
      } else if (current->optional != wanted.optional) {
        boot_field(usb_label(wanted), describe(*current), describe(wanted));
      }
    }
    for (const UsbDevice& current : live_.usb)
      if (!find_usb(desired_, current))
        add(usb_label(current), describe(current), "", rule_.for_live_change());
  }

  // A mediated device, like a PCI one, changes at the guest's next boot.
  void compare_mdevs() {
    auto find = [](const Vm& vm, const std::string& uuid) -> const MdevDevice* {
      for (const MdevDevice& device : vm.mdevs)
        if (device.uuid == uuid) return &device;
      return nullptr;
    };
    for (const MdevDevice& wanted : desired_.mdevs) {
      const MdevDevice* current = find(live_, wanted.uuid);
      if (!current || describe(*current) != describe(wanted))
        boot_field(mdev_label(wanted), current ? describe(*current) : "", describe(wanted));
    }
    for (const MdevDevice& current : live_.mdevs)
      if (!find(desired_, current.uuid)) boot_field(mdev_label(current), describe(current), "");
  }

  // libvirt plugs a virtio or USB input into a running guest; a host device passed through
  // (evdev) waits for its next boot.
  void compare_inputs() {
    auto disruption = [&](const InputDevice& input) {
      return hot_pluggable(input) ? rule_.for_live_change() : rule_.for_boot_change();
    };
    for (const InputDevice& wanted : desired_.inputs) {
      const InputDevice* current = find_input(live_, wanted);
      if (!current) {
        add(input_label(wanted), "", describe(wanted), disruption(wanted));
      } else if (describe(*current) != describe(wanted)) {
        boot_field(input_label(wanted), describe(*current), describe(wanted));
      }
    }
    for (const InputDevice& current : live_.inputs)
      if (!find_input(desired_, current))
        add(input_label(current), describe(current), "", disruption(current));
  }

  // libvirt 9 plugs no virtiofs share into a running guest: a change waits for its next boot.
  void compare_shares() {
    for (const Share& wanted : desired_.shares) {
      const Share* current = find_share(live_, wanted.tag);
      if (!current) {
        boot_field(share_label(wanted), "", describe(wanted));
      } else if (describe(*current) != describe(wanted)) {
        boot_field(share_label(wanted), describe(*current), describe(wanted));
      }
    }
    for (const Share& current : live_.shares)
      if (!find_share(desired_, current.tag))
        boot_field(share_label(current), describe(current), "");
  }

  static const Share* find_share(const Vm& vm, const std::string& tag) {
    auto it = std::find_if(vm.shares.begin(), vm.shares.end(),
                           [&](const Share& share) { return share.tag == tag; });
    return it == vm.shares.end() ? nullptr : &*it;
  }

  static const PciDevice* find_pci(const Vm& vm, const std::string& address) {
    auto it = std::find_if(vm.pci.begin(), vm.pci.end(),
                           [&](const PciDevice& p) { return p.address == address; });
    return it == vm.pci.end() ? nullptr : &*it;
  }

  const Vm& desired_;
  const Vm& live_;
  DisruptionRule rule_;
  const Vm* booted_;
  std::vector<FieldChange> fields_;
};

Disruption worst(const std::vector<FieldChange>& fields) {
  Disruption result = Disruption::none;
  for (const FieldChange& field : fields) result = std::max(result, field.disruption);
  return result;
}

// Everything a new VM gets, shown as "after" values.
std::vector<FieldChange> creation_fields(const Vm& vm) {
  std::vector<FieldChange> fields;
  auto add = [&](std::string field, std::string after) {
    fields.push_back({std::move(field), "", std::move(after), Disruption::none});
  };
  add("name", vm.name);
  for (const TypedField& field : kTypedFields)
    if (const auto value = field.shown(vm)) add(field.key, with_origin(vm, field.key, *value));
  for (const Disk& disk : vm.disks) add("disk[" + disk.source + "]", describe(disk));
  for (std::size_t i = 0; i < vm.cdroms.size(); ++i)
    add(cdrom_label(i), describe_cdrom(vm.cdroms[i]));
  for (const Nic& nic : vm.nics) add(nic_label(nic), describe(nic));
  for (const PciDevice& device : vm.pci) add("pci[" + device.address + "]", describe(device));
  for (const UsbDevice& device : vm.usb) add(usb_label(device), describe(device));
  for (const MdevDevice& device : vm.mdevs) add(mdev_label(device), describe(device));
  for (const InputDevice& input : vm.inputs) add(input_label(input), describe(input));
  for (const Share& share : vm.shares) add(share_label(share), describe(share));
  for (const VmField& field : vm_fields())
    if (const auto value = shown_attribute(vm, field)) add(std::string(field.key), *value);
  for (const XmlFragment& fragment : vm.xml) add(fragment_label(fragment), fragment.xml);
  if (vm.autostart) add("autostart", yes_no(*vm.autostart));
  if (vm.state) add("state", to_string(*vm.state));
  return fields;
}

std::vector<std::string> vm_dependencies(const Vm& vm, const Live& live) {
  std::set<std::string> deps;
  for (const Disk& disk : vm.disks) {
    if (!disk.loader.empty()) deps.insert("loader." + disk.loader);
    if (made_when_missing(disk) && !live.file_exists(disk.source))
      deps.insert("image." + disk.source);
  }
  for (const Nic& nic : vm.nics) deps.insert(to_string(nic.kind) + "." + nic.source);
  for (const PciDevice& device : vm.pci) {
    if (device.bind) deps.insert("pci." + device.address);
  }
  return {deps.begin(), deps.end()};
}

// A resource other than a VM, addressed "<kind>.<name>".
Change resource_change(ResourceKind kind, const std::string& name) {
  Change change;
  change.address = to_string(kind) + "." + name;
  change.kind = kind;
  change.name = name;
  return change;
}

class Differ {
 public:
  Differ(const Desired& desired, const Live& live, const DiffOptions& options,
         Diagnostics& diagnostics)
      : desired_(desired), live_(live), options_(options), diagnostics_(diagnostics) {
    // Looked up once per declared VM: a scan each time would make plan quadratic in domains.
    for (const LiveDomain& domain : live_.domains) live_by_name_.emplace(domain.vm.name, &domain);
    for (const Vm& vm : desired_.vms) declared_names_.insert(vm.name);
  }

  std::vector<Change> run() {
    for (const auto& [key, loader] : desired_.loaders) add_loader(loader);
    add_networks_and_bridges();
    add_images();
    add_pci_bindings();
    for (const Vm& vm : desired_.vms) add_vm(vm);
    add_orphans();
    warn_copies();
    add_pci_restores();
    return std::move(changes_);
  }

 private:
  void error(const std::string& resource, const Location& where, std::string message) {
    diagnostics_.push_back({Severity::error, std::move(message), where, resource});
  }

  void add_loader(const Loader& loader) {
    Change change;
    change.address = "loader." + loader.key;
    change.kind = ResourceKind::loader;
    change.name = loader.image;
    changes_.push_back(std::move(change));
  }

  // Networks and bridges are checked, never changed: a VM cannot start without them.
  void add_networks_and_bridges() {
    std::set<std::string> seen;
    for (const Vm& vm : desired_.vms) {
      for (const Nic& nic : vm.nics) {
        const std::string address = to_string(nic.kind) + "." + nic.source;
        if (!seen.insert(address).second) continue;
        check_nic_source(vm, nic);
        Change change = resource_change(
            nic.kind == NicSource::network ? ResourceKind::network : ResourceKind::bridge,
            nic.source);
        changes_.push_back(std::move(change));
      }
    }
  }

  void check_nic_source(const Vm& vm, const Nic& nic) {
    if (nic.kind == NicSource::bridge) {
      const auto& bridges = live_.bridges;
      if (std::find(bridges.begin(), bridges.end(), nic.source) == bridges.end())
        error(vm_address(vm.key), nic.where,
              "bridge '" + nic.source + "' does not exist on the host; create it first");
      return;
    }
    const LiveNetwork* network = live_.find_network(nic.source);
    if (!network) {
      error(vm_address(vm.key), nic.where,
            "libvirt network '" + nic.source + "' does not exist (see `virsh net-list --all`)");
    } else if (!network->active && vm.state == PowerState::running) {
      error(vm_address(vm.key), nic.where,
            "libvirt network '" + nic.source + "' is not active, so the guest cannot start; run " +
                "`virsh net-start " + nic.source + "` (and `virsh net-autostart " + nic.source +
                "`)");
    }
  }

  void add_images() {
    std::set<std::string> seen;
    for (const Vm& vm : desired_.vms) {
      for (const Disk& disk : vm.disks) {
        if (!made_when_missing(disk) || live_.file_exists(disk.source)) continue;
        if (!seen.insert(disk.source).second) continue;
        changes_.push_back(disk.backing.empty() ? new_image(disk) : new_overlay(vm, disk));
      }
    }
  }

  static Change new_image(const Disk& disk) {
    Change change = resource_change(ResourceKind::image, disk.source);
    change.action = Action::create;
    change.image_format = disk.format;
    change.image_bytes = *disk.size;
    change.fields = {{"format", "", disk.format, Disruption::none},
                     {"size", "", format_bytes(*disk.size), Disruption::none}};
    change.reason = "the image file does not exist yet";
    return change;
  }

  // The VM's own copy-on-write file over a shared loader image.
  static Change new_overlay(const Vm& vm, const Disk& disk) {
    Change change = resource_change(ResourceKind::image, disk.source);
    change.action = Action::create;
    change.image_format = "qcow2";
    change.image_backing = disk.backing;
    change.fields = {
        {"format", "", "qcow2", Disruption::none},
        {"backing", "", disk.backing + " (loader." + disk.loader + ")", Disruption::none}};
    change.reason = vm_address(vm.key) + "'s overlay on its loader does not exist yet";
    change.depends_on = {"loader." + disk.loader};
    return change;
  }

  // Functions a VM asks virtform to bind (bind = "vfio-pci") before its guest starts.
  void add_pci_bindings() {
    for (const Vm& vm : desired_.vms) {
      for (const PciDevice& device : vm.pci) {
        if (!device.bind) continue;
        Change change = resource_change(ResourceKind::pci, device.address);
        const PciFunction* function = live_.devices.find_pci(device.address);
        const std::string driver = function ? function->driver : "";
        if (function && driver != *device.bind) {
          change.action = Action::update;
          change.fields = {
              {"driver", driver.empty() ? "(none)" : driver, *device.bind, Disruption::none}};
          change.reason = "taken from the host before " + vm_address(vm.key) + " starts";
        }
        changes_.push_back(std::move(change));
      }
    }
  }

  // Functions virtform bound for a guest that no longer declares them go back to the host,
  // after the guest has let go of them (the removal runs after the VM's own steps).
  void add_pci_restores() {
    std::set<std::string> declared;
    for (const Vm& vm : desired_.vms)
      for (const PciDevice& device : vm.pci) declared.insert(device.address);
    for (const LiveDomain& domain : live_.domains) {
      if (!mine(domain)) continue;
      for (const PciDevice& device : domain.vm.pci) {
        const PciFunction* function = live_.devices.find_pci(device.address);
        if (device.managed || declared.count(device.address) || !function) continue;
        if (function->driver != "vfio-pci") continue;
        if (!declared.insert(device.address).second) continue;
        Change change = resource_change(ResourceKind::pci, device.address);
        change.action = Action::remove;
        change.fields = {{"driver", "vfio-pci", "host driver", Disruption::none}};
        change.reason = "no VM declares it any more: it goes back to its host driver";
        changes_.push_back(change);
        for (Change& guest : changes_)
          if (guest.kind == ResourceKind::vm && guest.live_name == domain.vm.name)
            guest.depends_on.push_back(change.address);
      }
    }
  }

  // The domain of the VM's name, else the one it was renamed from, is looked up once: the disk
  // layout starts from it, and the VM becomes its update, its rename or a new domain.
  void add_vm(const Vm& declared) {
    const auto found = live_by_name_.find(declared.name);
    const LiveDomain* live = found == live_by_name_.end() ? nullptr : found->second;
    const LiveDomain* renamed = live ? nullptr : find_renamed(declared);
    add_placed_vm(lay_out_disks(declared, live ? live : renamed), live, renamed);
  }

  void add_placed_vm(const Vm& vm, const LiveDomain* live, const LiveDomain* renamed) {
    if (live && !live->managed && !vm.adopt) {
      error(vm_address(vm.key), vm.where,
            "a domain named '" + vm.name + "' already exists and is not managed by virtform; " +
                "set adopt = true in [vm." + vm.key + "] to take it over, or choose another name");
      return;
    }
    if (live && live->managed && live->vm.project != desired_.project && !vm.adopt) {
      error(vm_address(vm.key), vm.where,
            "the domain '" + vm.name + "' is managed by the virtform project '" + live->vm.project +
                "', not '" + desired_.project + "'; set adopt = true in [vm." + vm.key +
                "] to move it to this project");
      return;
    }
    if (live) {
      matched_.insert(live->vm.name);
      if (!attaches_twice(vm, *live) && !overlay_on_old_image(vm, *live) &&
          !refuses_layout(vm, live))
        add_update(vm, *live);
      return;
    }
    if (renamed) {
      matched_.insert(renamed->vm.name);
      if (!overlay_on_old_image(vm, *renamed)) add_rename(vm, *renamed);
      return;
    }
    warn_unrecorded_overlays(vm);
    if (!refuses_layout(vm, nullptr)) add_create(vm);
  }

  bool refuses_layout(const Vm& vm, const LiveDomain* live) {
    const auto conflicts = layout_conflicts(vm, live);
    for (const auto& [disk, message] : conflicts) error(vm_address(vm.key), disk->where, message);
    return !conflicts.empty();
  }

  // An overlay kept from a domain removed earlier: no domain records the image it was made over.
  void warn_unrecorded_overlays(const Vm& vm) {
    for (const Disk& disk : vm.disks) {
      if (disk.backing.empty() || !live_.file_exists(disk.source)) continue;
      diagnostics_.push_back(
          {Severity::warning,
           "the overlay " + disk.source + " exists from before, and no domain records which " +
               "loader image it was made over; if loader." + disk.loader +
               "'s image has changed since, move the overlay away before the guest starts",
           disk.where, vm_address(vm.key)});
    }
  }

  // An overlay holds the guest's writes as differences from the image beneath it: over a new
  // loader image (its sha256 changed) they would read as garbage. virtform never deletes the
  // overlay, so the user moves it away (apply then makes a new one) or names a new path.
  bool overlay_on_old_image(const Vm& vm, const LiveDomain& live) {
    bool stale = false;
    for (const Disk& disk : vm.disks) {
      if (disk.backing.empty() || !disk.sha256 || !live_.file_exists(disk.source)) continue;
      const Disk* made_on = live.vm.find_disk(disk.source);
      if (!made_on || !made_on->sha256 || made_on->sha256 == disk.sha256) continue;
      error(vm_address(vm.key), disk.where,
            "loader." + disk.loader + "'s image changed (sha256 " + made_on->sha256->substr(0, 12) +
                " when " + disk.source + " was made over it, " + disk.sha256->substr(0, 12) +
                " now): the overlay holds the guest's writes to the old image and cannot be " +
                "used over the new one. Move " + disk.source + " away, and apply makes a new " +
                "overlay; or set boot.overlay to a new path");
      stale = true;
    }
    return stale;
  }

  // A declared disk on storage that a disk virtform cannot express (an IDE disk, a CD-ROM) of the
  // same domain already uses would be a second disk on the same file: refused, naming the fix.
  bool attaches_twice(const Vm& vm, const LiveDomain& live) {
    bool twice = false;
    for (const Disk& disk : vm.disks) {
      const auto& others = live.unexpressed_disks;
      if (std::none_of(others.begin(), others.end(),
                       [&](const Disk& other) { return other.source == disk.source; }))
        continue;
      error(vm_address(vm.key), disk.where,
            "disk " + disk.source + " is already attached to domain '" + live.vm.name +
                "' as a disk virtform does not express; declaring it would attach it twice. "
                "Detach that disk first (virsh detach-disk " +
                live.vm.name + " " + disk.source + " --config), then apply again");
      twice = true;
    }
    return twice;
  }

  // A managed domain made from this [vm.key] under another name: the VM was renamed.
  const LiveDomain* find_renamed(const Vm& vm) const {
    for (const LiveDomain& domain : live_.domains) {
      if (!mine(domain) || domain.vm.key != vm.key) continue;
      if (matched_.count(domain.vm.name) || declared_name(domain.vm.name)) continue;
      return &domain;
    }
    return nullptr;
  }

  // Managed by this project: only those can be renamed or removed by this configuration.
  bool mine(const LiveDomain& domain) const {
    return domain.managed && domain.vm.project == desired_.project;
  }

  bool declared_name(const std::string& name) const { return declared_names_.count(name) != 0; }

  Change vm_change(const Vm& vm, Action action) const {
    Change change;
    change.address = vm_address(vm.key);
    change.kind = ResourceKind::vm;
    change.name = vm.name;
    change.action = action;
    change.desired = vm;
    change.depends_on = vm_dependencies(vm, live_);
    return change;
  }

  void add_create(const Vm& vm) {
    Change change = vm_change(vm, Action::create);
    change.fields = creation_fields(vm);
    change.operations.define = true;
    change.operations.set_autostart = vm.autostart;
    if (vm.state == PowerState::running) change.operations.power = PowerOperation::start;
    change.reason = "no domain named '" + vm.name + "' exists";
    changes_.push_back(std::move(change));
  }

  // A rename is made in place (virDomainRename): the domain keeps its UUID, its devices and their
  // MACs, and its NVRAM file. libvirt renames only a shut-off domain, so a running guest is shut
  // down for it and started again.
  void add_rename(const Vm& vm, const LiveDomain& old) {
    const bool may_restart = options_.restart_all || vm.restart == RestartPolicy::allowed;
    if (old.running && !may_restart) {
      error(vm_address(vm.key), vm.where,
            "renaming the running domain '" + old.vm.name + "' to '" + vm.name +
                "' needs it shut down; set restart = \"allowed\", use `apply --restart`, or stop "
                "it first");
    }
    Change change = vm_change(vm, Action::update);
    change.live_name = old.vm.name;
    change.running = old.running;
    const Disruption restart = old.running ? Disruption::restart : Disruption::none;
    change.fields = {{"name", old.vm.name, vm.name, restart}};
    std::vector<FieldChange> compared =
        VmComparison(vm, old.vm, DisruptionRule{false, true}).fields();
    for (FieldChange& field : fragment_changes(vm, old, restart)) compared.push_back(field);
    if (drops_tpm(vm, old)) compared.push_back({"tpm", describe_tpm(old.vm), "", restart});
    for (FieldChange& field : compared) {
      field.disruption = restart;
      change.fields.push_back(std::move(field));
    }
    VmOperations& operations = change.operations;
    // What differs besides the name is written by redefining the renamed domain.
    operations.redefine = change.fields.size() > 1;
    add_power(vm, old, change);
    operations.shut_down = old.running;
    operations.rename = true;
    if (moves_nvram(vm.firmware, old.vm.firmware))
      operations.copy_nvram = NvramCopy{old.vm.firmware.nvram, vm.firmware.nvram};
    // Shut down for the rename, a guest that was running is started again.
    const bool start = vm.state == PowerState::running || (!vm.state && old.running);
    operations.power = start ? PowerOperation::start : PowerOperation::none;
    change.disruption = worst(change.fields);
    change.reason =
        "renamed in place: the domain keeps its UUID, devices, MACs and NVRAM file" +
        std::string(old.running ? "; libvirt renames only a shut-off domain, so the guest is "
                                  "shut down gracefully and started again"
                                : "");
    if (leaves_emulated_tpm(vm, old)) change.reason += "; " + tpm_state_kept(old);
    changes_.push_back(std::move(change));
  }

  void add_update(const Vm& vm, const LiveDomain& live) {
    const bool may_restart = options_.restart_all || vm.restart == RestartPolicy::allowed;
    DisruptionRule rule{live.running, may_restart};
    Change change = vm_change(vm, Action::update);
    change.live_name = live.vm.name;
    change.running = live.running;
    change.fields = VmComparison(vm, live.vm, rule, live.booted ? &*live.booted : nullptr).fields();
    for (FieldChange& field : fragment_changes(vm, live, rule.for_boot_change()))
      change.fields.push_back(std::move(field));
    if (drops_tpm(vm, live))
      change.fields.push_back({"tpm", describe_tpm(live.vm), "", rule.for_boot_change()});
    // A store copied while the guest runs could miss what it writes after: copied shut off.
    if (live.running && !may_restart && moves_nvram(vm.firmware, live.vm.firmware)) {
      error(vm_address(vm.key), vm.where,
            "moving the NVRAM store of the running domain '" + live.vm.name + "' to " +
                vm.firmware.nvram +
                " needs it shut down; set restart = \"allowed\", use `apply --restart`, or stop "
                "it first");
    }
    if (may_restart) {
      add_pending_boot_fields(vm, live, change.fields, Disruption::restart);
    } else {
      add_pending_boot_fields(vm, live, change.pending_boot, Disruption::next_boot);
    }
    add_ownership_fields(vm, live, change.fields);
    add_policy_fields(vm, live, change.fields);
    warn_firmware_image_change(vm, live);
    warn_moved_disks(vm, live);
    // Every difference so far, the marker's included, is written by redefining the domain.
    change.operations.redefine = !change.fields.empty();
    add_power(vm, live, change);
    change.disruption = worst(change.fields);
    change.action = change.fields.empty() ? Action::none : Action::update;
    change.reason = update_reason(change, live.running, may_restart);
    if (leaves_emulated_tpm(vm, live))
      change.reason += (change.reason.empty() ? "" : "; ") + tpm_state_kept(live);
    add_update_operations(vm, live, change);
    changes_.push_back(std::move(change));
  }

  // The config asks for it, so it is done; but what the old image left in the NVRAM store and
  // what a TPM sealed against it are the user's to weigh first.
  void warn_firmware_image_change(const Vm& vm, const LiveDomain& live) {
    if (!changes_firmware_image(vm.firmware, live.vm.firmware)) return;
    auto image = [](const Firmware& firmware) {
      return firmware.autoselect ? std::string("libvirt's choice") : firmware.code;
    };
    diagnostics_.push_back(
        {Severity::warning,
         "the guest's firmware image changes from " + image(live.vm.firmware) + " to " +
             image(vm.firmware) +
             ": its NVRAM store keeps the old image's boot entries and Secure Boot keys, and "
             "secrets sealed to the firmware by a TPM (BitLocker) will ask for their recovery "
             "key",
         vm.where, vm_address(vm.key)});
  }

  // DSM, like any OS that names disks by port, tracks its disks by slot: a move is the user's to
  // confirm, and the loader's disk map may need rebuilding.
  void warn_moved_disks(const Vm& vm, const LiveDomain& live) {
    const std::vector<std::string> moved = moved_disks(vm, live.vm);
    if (moved.empty()) return;
    std::string list;
    for (const std::string& move : moved) list += (list.empty() ? "" : "; ") + move;
    diagnostics_.push_back({Severity::warning,
                            "disks move to other slots (" + list +
                                "): a guest that tracks disks by slot, as DSM does, sees them "
                                "swapped; pin controller and unit to keep a disk where it is",
                            vm.where, vm_address(vm.key)});
  }

  // How an update reaches a guest, once its fields and their disruption are known.
  static void add_update_operations(const Vm& vm, const LiveDomain& live, Change& change) {
    VmOperations& operations = change.operations;
    if (moves_nvram(vm.firmware, live.vm.firmware))
      operations.copy_nvram = NvramCopy{live.vm.firmware.nvram, vm.firmware.nvram};
    if (!live.running || change.disruption != Disruption::restart) {
      if (live.running && operations.redefine) add_live_operations(vm, live, operations);
      return;
    }
    // A store copied while the guest runs could miss what it writes after: it is copied with
    // the guest shut off, and the guest started again unless it is to stay stopped.
    if (operations.copy_nvram) {
      operations.shut_down = true;
      operations.power =
          vm.state == PowerState::stopped ? PowerOperation::none : PowerOperation::start;
      return;
    }
    if (operations.power == PowerOperation::none) {
      operations.power = PowerOperation::restart;
      return;  // the restarted guest boots the new definition whole
    }
    if (operations.redefine) add_live_operations(vm, live, operations);
  }

  // What a running guest that keeps running can take now: devices on hot-pluggable buses, the
  // attributes whose rows are taken live, and a smaller balloon. Everything else waits for the
  // persistent definition to be booted.
  static void add_live_operations(const Vm& vm, const LiveDomain& live, VmOperations& operations) {
    const DeviceDelta delta = device_delta(vm, live.vm);
    for (const Disk& disk : delta.disks_removed)
      if (hot_pluggable(disk)) operations.unplug_disks.push_back(disk);
    operations.unplug_nics = delta.nics_removed;
    for (const Disk& disk : delta.disks_added)
      if (plugs_live(disk, live.booted ? &*live.booted : nullptr))
        operations.plug_disks.push_back(disk);
    operations.plug_nics = delta.nics_added;
    // Compared with what the guest runs: a value the definition has but the guest missed is
    // given again.
    const Vm& running = live.booted ? *live.booted : live.vm;
    // An optional USB device the host lacked at boot is not in the guest to unplug.
    for (const UsbDevice& device : delta.usb_removed)
      if (has_usb(running, device)) operations.unplug_usb.push_back(device);
    for (const UsbDevice& device : delta.usb_added)
      if (!has_usb(running, device)) operations.plug_usb.push_back(device);
    for (const InputDevice& input : delta.inputs_removed)
      if (has_input(running, input)) operations.unplug_inputs.push_back(input);
    for (const InputDevice& input : delta.inputs_added)
      if (!has_input(running, input)) operations.plug_inputs.push_back(input);
    for (const VmField& field : vm_fields()) {
      const auto wanted = attribute(vm, field);
      if (wanted && wanted != attribute(running, field) && takes_live(field, *wanted, running))
        operations.live_attributes[std::string(field.key)] = *wanted;
    }
    if (owns_balloon(vm)) {
      if (memory_differs(vm, live.vm) && balloon_reaches(vm, running))
        operations.current_memory_kib = current_memory_of(vm);
    } else if (vm.memory_kib < live.vm.memory_kib && has_balloon(running)) {
      operations.balloon_kib = vm.memory_kib;
    }
    if (vcpus_plug_live(vm, live.vm, running)) operations.vcpus_live = vm.vcpus;
    operations.console_password =
        console_password_differs(vm, live.vm) && console_password_takes_live(vm, live.vm, running);
    for (std::size_t i = 0; i < vm.cdroms.size(); ++i)
      if (const auto media = media_to_change(vm, running, i))
        operations.media_changes.push_back({static_cast<unsigned>(i), *media});
  }

  // Changes already in the persistent definition that the running guest has not booted yet (an
  // earlier apply chose "next boot", a hot-plug the guest did not take, or a restart that timed
  // out). With restarts allowed they still need one; without, they are shown as pending. Only
  // fields libvirt reports the same way in both definitions are compared: a host-model CPU, for
  // one, is expanded in the running definition.
  static void add_pending_boot_fields(const Vm& vm, const LiveDomain& live,
                                      std::vector<FieldChange>& fields, Disruption disruption) {
    if (!live.running || !live.booted) return;
    const Vm& booted = *live.booted;
    const std::string note =
        disruption == Disruption::restart ? " (pending restart)" : " (pending next boot)";
    auto pending = [&](const std::string& field, std::string before, std::string after) {
      for (const FieldChange& existing : fields)
        if (existing.field == field) return;
      fields.push_back({field, std::move(before), std::move(after) + note, disruption});
    };
    for (const TypedField& field : kTypedFields) {
      if (field.pending && field.pending(vm, booted))
        pending(field.key, shown_before(field, vm, booted), changed_to(field, vm));
    }
    // Devices are compared between the two definitions libvirt keeps, not with the config:
    // what the persistent one has and the guest does not is exactly what did not reach it.
    for (const Disk& disk : live.vm.disks)
      if (!booted.find_disk(disk.source))
        pending("disk[" + disk.source + "]", "not in the running guest", "attached");
    for (const Disk& disk : booted.disks)
      if (!live.vm.find_disk(disk.source))
        pending("disk[" + disk.source + "]", "still in the running guest", "detached");
    auto has_nic = [](const Vm& in, const std::optional<std::string>& mac) {
      return !mac || std::any_of(in.nics.begin(), in.nics.end(),
                                 [&](const Nic& nic) { return nic.mac == mac; });
    };
    for (const Nic& nic : live.vm.nics)
      if (!has_nic(booted, nic.mac))
        pending(nic_label(nic), "not in the running guest", "attached");
    for (const Nic& nic : booted.nics)
      if (!has_nic(live.vm, nic.mac))
        pending(nic_label(nic), "still in the running guest", "detached");
    // A device the guest may start without is not missed when the host lacked it at boot.
    for (const UsbDevice& device : live.vm.usb)
      if (!device.optional && !has_usb(booted, device))
        pending(usb_label(device), "not in the running guest", "attached");
    for (const UsbDevice& device : booted.usb)
      if (std::none_of(live.vm.usb.begin(), live.vm.usb.end(),
                       [&](const UsbDevice& declared) { return names_usb(declared, device); }))
        pending(usb_label(device), "still in the running guest", "detached");
    for (const InputDevice& input : live.vm.inputs)
      if (!find_input(booted, input))
        pending(input_label(input), "not in the running guest", "attached");
    for (const InputDevice& input : booted.inputs)
      if (!find_input(live.vm, input))
        pending(input_label(input), "still in the running guest", "detached");
    for (const VmField& field : vm_fields()) {
      if (field.expanded_when_running) continue;
      const auto wanted = attribute(vm, field);
      const auto running = attribute(booted, field);
      if (wanted && wanted != running)
        pending(std::string(field.key), running.value_or("(none)"), *shown_attribute(vm, field));
    }
  }

  static void add_ownership_fields(const Vm& vm, const LiveDomain& live,
                                   std::vector<FieldChange>& fields) {
    if (!live.managed) {
      fields.push_back({"managed", "no", "yes (adopted)", Disruption::none});
    } else if (live.vm.project != vm.project) {
      fields.push_back({"project", live.vm.project, vm.project, Disruption::none});
    } else if (live.vm.key != vm.key) {
      fields.push_back({"key", live.vm.key, vm.key, Disruption::none});
    }
  }

  // The marker records the policy removal will use: a changed one is written there, so that a
  // VM removed later is stopped as it last said. A marker that records none gets it with the
  // next change, as nothing would be shown otherwise for every domain an older virtform wrote.
  static void add_policy_fields(const Vm& vm, const LiveDomain& live,
                                std::vector<FieldChange>& fields) {
    if (!live.managed || !live.recorded_policy) return;
    const LifecyclePolicy& recorded = *live.recorded_policy;
    if (recorded.restart != vm.restart)
      fields.push_back(
          {"restart", to_string(recorded.restart), to_string(vm.restart), Disruption::none});
    if (recorded.shutdown_timeout != vm.shutdown_timeout)
      fields.push_back({"shutdown_timeout", std::to_string(recorded.shutdown_timeout.count()) + "s",
                        std::to_string(vm.shutdown_timeout.count()) + "s", Disruption::none});
    if (recorded.force_stop != vm.force_stop)
      fields.push_back(
          {"force_stop", yes_no(recorded.force_stop), yes_no(vm.force_stop), Disruption::none});
  }

  // Autostart, set with the definition, and the power state the guest is left in.
  static void add_power(const Vm& vm, const LiveDomain& live, Change& change) {
    std::vector<FieldChange>& fields = change.fields;
    VmOperations& operations = change.operations;
    if (vm.autostart && vm.autostart != live.vm.autostart) {
      fields.push_back({"autostart", yes_no(live.vm.autostart.value_or(false)),
                        yes_no(*vm.autostart), Disruption::none});
      operations.redefine = true;
      operations.set_autostart = *vm.autostart;
    }
    if (vm.state == PowerState::running && !live.running) {
      fields.push_back({"state", "stopped", "running", Disruption::none});
      operations.power = PowerOperation::start;
    }
    // A restart that timed out leaves the guest as it was before that apply: running. The
    // marker's pending start is dropped by writing the definition again.
    if (live.start_pending) {
      if (!vm.state && !live.running) {
        fields.push_back({"state", "stopped", "running", Disruption::none});
        operations.power = PowerOperation::start;
      }
      fields.push_back({"timed-out restart", "pending", "settled", Disruption::none});
      operations.redefine = true;
    }
    if (vm.state == PowerState::stopped && live.running) {
      fields.push_back({"state", "running", "stopped", Disruption::restart});
      operations.power = PowerOperation::stop;
    }
  }

  static std::string update_reason(const Change& change, bool running, bool may_restart) {
    if (change.action == Action::none || !running) return "";
    switch (change.disruption) {
      case Disruption::restart:
        return may_restart ? "the running guest will be shut down gracefully (ACPI) for changes "
                             "that need a boot"
                           : "the running guest will be shut down";
      case Disruption::next_boot:
        return "the running guest keeps its current configuration until its next boot; set "
               "restart = \"allowed\" or use `apply --restart` to restart it now";
      case Disruption::live:
        return "applied to the running guest without a restart";
      case Disruption::none:
        return "";
    }
    return "";
  }

  // Managed domains no longer declared: their definition goes, their data stays.
  void add_orphans() {
    for (const LiveDomain& domain : live_.domains) {
      if (!mine(domain) || matched_.count(domain.vm.name)) continue;
      Change change;
      change.address = vm_address(domain.vm.key);
      change.kind = ResourceKind::vm;
      change.name = domain.vm.name;
      change.live_name = domain.vm.name;
      change.live_policy = domain.recorded_policy;
      change.action = Action::remove;
      change.running = domain.running;
      change.fields = {{"name", domain.vm.name, "", Disruption::none}};
      if (domain.running) change.fields.push_back({"state", "running", "", Disruption::restart});
      change.operations.shut_down = domain.running;
      change.operations.undefine = true;
      change.disruption = domain.running ? Disruption::restart : Disruption::none;
      change.reason =
          std::string(domain.running ? "the running guest is shut down gracefully, then " : "") +
          "only the definition is removed: disks, images, NVRAM and a TPM's state stay on the "
          "host";
      changes_.push_back(std::move(change));
    }
  }

  // Domains carrying this project's marker under another UUID were copied with their metadata
  // (virt-clone, a dumpxml defined again): not virtform's, so never updated, renamed or removed.
  void warn_copies() {
    for (const LiveDomain& domain : live_.domains) {
      if (!domain.copied || domain.vm.project != desired_.project) continue;
      diagnostics_.push_back(
          {Severity::warning,
           "domain '" + domain.vm.name + "' carries virtform's marker for " +
               vm_address(domain.vm.key) + ", recorded for another domain's UUID: it looks " +
               "copied from that domain (virt-clone or a dumpxml defined again), so virtform " +
               "leaves it alone. Remove the marker (virsh metadata " + domain.vm.name +
               " --uri https://virtform.dev/xmlns/domain/1 --config --remove), or declare it " +
               "with adopt = true to manage it",
           {},
           vm_address(domain.vm.key)});
    }
  }

  const Desired& desired_;
  const Live& live_;
  const DiffOptions& options_;
  Diagnostics& diagnostics_;
  std::set<std::string> matched_;  // live domain names paired with a declared VM
  std::unordered_map<std::string, const LiveDomain*> live_by_name_;  // the first of each name
  std::unordered_set<std::string> declared_names_;                   // of the declared VMs
  std::vector<Change> changes_;
};

}  // namespace

std::vector<FieldChange> owned_differences(const Vm& desired, const Vm& live) {
  return VmComparison(desired, live, DisruptionRule{}).fields();
}

bool moves_nvram(const Firmware& desired, const Firmware& live) {
  return desired.kind == FirmwareKind::uefi && live.kind == FirmwareKind::uefi &&
         !desired.nvram.empty() && !live.nvram.empty() && desired.nvram != live.nvram;
}

bool hot_pluggable(const InputDevice& input) {
  return input.type != "evdev";
}

bool hot_pluggable(const Disk& disk) {
  return disk.bus != DiskBus::sata && disk.bus != DiskBus::ide && !disk.boot_order;
}

DeviceDelta device_delta(const Vm& desired, const Vm& live) {
  DeviceDelta delta;
  for (const Disk& disk : desired.disks)
    if (!live.find_disk(disk.source)) delta.disks_added.push_back(disk);
  for (const Disk& disk : live.disks)
    if (!desired.find_disk(disk.source)) delta.disks_removed.push_back(disk);

  const std::vector<int> match = match_nics(desired.nics, live.nics);
  std::vector<bool> kept(live.nics.size(), false);
  for (std::size_t d = 0; d < desired.nics.size(); ++d) {
    if (match[d] < 0) {
      delta.nics_added.push_back(desired.nics[d]);
    } else {
      kept[static_cast<std::size_t>(match[d])] = true;
    }
  }
  for (std::size_t l = 0; l < live.nics.size(); ++l)
    if (!kept[l]) delta.nics_removed.push_back(live.nics[l]);

  for (const UsbDevice& device : desired.usb)
    if (!find_usb(live, device)) delta.usb_added.push_back(device);
  for (const UsbDevice& device : live.usb)
    if (!find_usb(desired, device)) delta.usb_removed.push_back(device);
  for (const InputDevice& input : desired.inputs)
    if (hot_pluggable(input) && !find_input(live, input)) delta.inputs_added.push_back(input);
  for (const InputDevice& input : live.inputs)
    if (hot_pluggable(input) && !find_input(desired, input)) delta.inputs_removed.push_back(input);
  return delta;
}

std::vector<Change> diff(const Desired& desired, const Live& live, const DiffOptions& options,
                         Diagnostics& diagnostics) {
  return Differ(desired, live, options, diagnostics).run();
}

}  // namespace virtform
