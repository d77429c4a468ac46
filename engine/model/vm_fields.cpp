#include "engine/model/vm_fields.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/model/values.h"
#include "engine/model/vm.h"

namespace virtform {
namespace {

// libvirt's <on_crash> actions (domaincommon.rng, crashOptions).
constexpr std::array<std::string_view, 6> kCrashActions = {
    "destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart"};
// <clock offset>: the two a guest's RTC is set to; libvirt's timezone and variable offsets are
// import's to name, not keys.
constexpr std::array<std::string_view, 2> kClockOffsets = {"utc", "localtime"};
// A timer's tickpolicy (domaincommon.rng, timer).
constexpr std::array<std::string_view, 4> kTickPolicies = {"delay", "catchup", "merge", "discard"};

// The <on_poweroff> and <on_reboot> actions libvirt's QEMU driver takes (it refuses preserve and
// rename-restart there).
constexpr std::array<std::string_view, 2> kPoweroffActions = {"destroy", "restart"};
constexpr std::array<std::string_view, 2> kRebootActions = {"restart", "destroy"};
// domaincommon.rng's video models, and none: no emulated display (a GPU guest's).
constexpr std::array<std::string_view, 8> kVideoModels = {"virtio", "qxl",   "vga",   "cirrus",
                                                          "vmvga",  "bochs", "ramfb", "none"};
// domaincommon.rng's x86 USB controller models: xHCI (USB 3), EHCI (USB 2), UHCI (USB 1), and
// none, which takes USB away.
constexpr std::array<std::string_view, 7> kUsbControllers = {
    "qemu-xhci", "nec-xhci", "ich9-ehci1", "piix3-uhci", "piix4-uhci", "pci-ohci", "none"};
// domaincommon.rng's x86 sound models (ich6 is Intel HD Audio), and none.
constexpr std::array<std::string_view, 9> kSoundModels = {"none", "ich9", "ich6",   "ich7", "ac97",
                                                          "usb",  "sb16", "es1370", "pcspk"};
// domaincommon.rng's memballoon models but Xen's: virt-install picks a transitional one for
// older guests.
constexpr std::array<std::string_view, 4> kBalloonModels = {"virtio", "virtio-transitional",
                                                            "virtio-non-transitional", "none"};
// domaincommon.rng's x86 watchdog models as libvirt 9.0 has them (it knows no itco), and none.
constexpr std::array<std::string_view, 3> kWatchdogModels = {"none", "i6300esb", "ib700"};
// domaincommon.rng's watchdog actions.
constexpr std::array<std::string_view, 7> kWatchdogActions = {
    "reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi"};

// domaincommon.rng's memory backing sources and access modes.
constexpr std::array<std::string_view, 3> kMemorySources = {"memfd", "file", "anonymous"};
constexpr std::array<std::string_view, 2> kMemoryAccessModes = {"shared", "private"};

// domaincommon.rng's ioapic drivers.
constexpr std::array<std::string_view, 2> kIoapicDrivers = {"kvm", "qemu"};

// The x86 TPM interfaces (domaincommon.rng's tpm models but the pSeries ones), what backs them,
// and the TPM versions swtpm emulates.
constexpr std::array<std::string_view, 2> kTpmModels = {"tpm-crb", "tpm-tis"};
constexpr std::array<std::string_view, 2> kTpmBackends = {"emulator", "passthrough"};
constexpr std::array<std::string_view, 2> kTpmVersions = {"2.0", "1.2"};

std::string attribute_or(const Vm& vm, const std::string& key, const std::string& otherwise) {
  const auto found = vm.attributes.find(key);
  return found == vm.attributes.end() ? otherwise : found->second;
}

// libvirt's <cpu mode>s.
constexpr std::array<std::string_view, 4> kCpuModes = {"host-passthrough", "host-model", "custom",
                                                       "maximum"};
// <topology>'s attributes, which libvirt takes only together (dies defaults to 1).
constexpr std::array<std::string_view, 4> kTopology = {"cpu.sockets", "cpu.dies", "cpu.cores",
                                                       "cpu.threads"};
constexpr std::array<std::span<const std::string_view>, 1> kGroups = {kTopology};

std::string cpu_mode_conflict(const Vm& vm, const std::string& value) {
  if (value != "custom" || vm.attributes.count("cpu.model")) return "";
  return "mode = \"custom\" needs the model it names: set model = \"...\" in [vm." + vm.key +
         ".cpu] (\"Haswell-noTSX\", \"EPYC\", ...), or another mode";
}

std::string cpu_model_conflict(const Vm& vm, const std::string& value) {
  const std::string mode = attribute_or(vm, "cpu.mode", "");
  if (mode == "custom") return "";
  return "model = \"" + value + "\" is the CPU of mode = \"custom\"" +
         (mode.empty() ? "" : ", not of \"" + mode + "\"") + ": set mode = \"custom\" in [vm." +
         vm.key + ".cpu], or leave model out";
}

// A feature libvirt is told to require and to disable at once.
std::string features_conflict(const Vm& vm, const std::string& value) {
  const std::vector<std::string> required = names_of(attribute_or(vm, "cpu.features.require", ""));
  std::string both;
  for (const std::string& name : names_of(value))
    if (std::find(required.begin(), required.end(), name) != required.end())
      both += (both.empty() ? "" : ", ") + name;
  if (both.empty()) return "";
  return "disable names " + both +
         ", which require names too: take each out of one of the "
         "lists in [vm." +
         vm.key + ".cpu.features]";
}

// libvirt refuses a topology that does not hold exactly the guest's most vCPUs.
std::string topology_conflict(const Vm& vm, const std::string&) {
  std::uint64_t product = 1;
  std::string names, factors;
  for (std::string_view key : kTopology) {
    const std::string value = attribute_or(vm, std::string(key), "1");
    product *= std::stoull(value);
    names += std::string(names.empty() ? "" : " × ") + std::string(key.substr(4));
    factors += (factors.empty() ? "" : " × ") + value;
  }
  const std::uint64_t most = most_vcpus(vm);
  if (product == most) return "";
  const std::string count = vm.vcpus_max ? "vcpus_max" : "vcpus";
  return "the CPU topology holds " + names + " = " + factors + " = " + std::to_string(product) +
         " vCPUs, but " + count + " = " + std::to_string(most) + ": set " + count + " = " +
         std::to_string(product) + ", or a topology in [vm." + vm.key + ".cpu] whose product is " +
         std::to_string(most);
}

// libvirt's QEMU driver cannot restart a guest that powers off yet destroy one that reboots.
std::string poweroff_conflict(const Vm& vm, const std::string& value) {
  if (value != "restart" || attribute_or(vm, "on_reboot", "restart") != "destroy") return "";
  return "on_poweroff = \"restart\" with on_reboot = \"destroy\" is refused by libvirt's QEMU "
         "driver; set on_poweroff = \"destroy\" or on_reboot = \"restart\"";
}

// QEMU waits on a menu only when it shows one.
std::string boot_menu_timeout_conflict(const Vm& vm, const std::string&) {
  if (attribute_or(vm, "boot_menu", "false") == "true") return "";
  return "boot_menu_timeout needs the boot menu: set boot_menu = true, or leave "
         "boot_menu_timeout out";
}

// QEMU sets Hyper-V's VP index only through KVM: a TCG guest asking for it does not start.
std::string vpindex_caution(const Vm& vm, const std::string& value) {
  if (value != "true" || vm.type != DomainType::qemu) return "";
  const auto origin = vm.attribute_origins.find("hyperv.vpindex");
  const std::string by =
      origin == vm.attribute_origins.end() ? "" : " (from " + origin->second + ")";
  std::string off = "vpindex";
  for (const FieldNeed& need : field_needs())
    if (need.needs == "hyperv.vpindex")
      off += ", " + std::string(field_name(*find_vm_field(need.key)));
  return "vpindex = true" + by +
         " needs KVM: QEMU cannot set Hyper-V's VP index for a type = \"qemu\" guest and will "
         "not start it; set type = \"kvm\", or set " +
         off + " = false in [vm." + vm.key + ".hyperv]";
}

// libvirt refuses a SPICE channel in a guest without SPICE graphics.
std::string spice_agent_conflict(const Vm& vm, const std::string& value) {
  if (value != "true" || (vm.graphics && vm.graphics->type == GraphicsType::spice)) return "";
  return "spice_agent = true needs SPICE graphics: set [vm." + vm.key +
         ".graphics] type = \"spice\", or leave spice_agent out";
}

// The action belongs to a watchdog the VM declares.
std::string watchdog_action_conflict(const Vm& vm, const std::string&) {
  if (attribute_or(vm, "watchdog", "none") != "none") return "";
  return "watchdog_action needs a watchdog: set watchdog = \"i6300esb\" or \"ib700\", or leave "
         "watchdog_action out";
}

// The CRB interface exists only in TPM 2.0; a TPM virtform adds is a 2.0 one on tpm-crb, so a 1.2
// one names its interface.
std::string tpm_version_conflict(const Vm& vm, const std::string& value) {
  if (attribute_or(vm, "tpm.backend", "emulator") != "emulator")
    return "version is the emulator's: a passed-through TPM is the host's own version; leave "
           "version out, or set backend = \"emulator\" in [vm." +
           vm.key + ".tpm]";
  if (value != "1.2" || attribute_or(vm, "tpm.model", "tpm-crb") == "tpm-tis") return "";
  return "version = \"1.2\" needs model = \"tpm-tis\" in [vm." + vm.key +
         ".tpm]: the CRB interface exists only in TPM 2.0";
}

// A passed-through TPM is the host's device: the backend and the device come together.
std::string tpm_backend_conflict(const Vm& vm, const std::string& value) {
  if (value != "passthrough" || vm.attributes.count("tpm.device")) return "";
  return "backend = \"passthrough\" needs the host's TPM: set device = \"/dev/tpm0\" (or "
         "another host TPM) in [vm." +
         vm.key + ".tpm], or set backend = \"emulator\"";
}

std::string tpm_device_conflict(const Vm& vm, const std::string& value) {
  if (value.front() != '/')
    return "device must be an absolute path on the host, such as \"/dev/tpm0\"; got \"" + value +
           "\"";
  if (attribute_or(vm, "tpm.backend", "") == "passthrough") return "";
  return "device is the host TPM a passed-through TPM uses: set backend = \"passthrough\" in "
         "[vm." +
         vm.key + ".tpm], or leave device out";
}

// A channel plugs only into a running guest that has a virtio-serial controller, which libvirt
// cannot hot-plug: one that already has a virtio channel of virtform's. Removing one always works.
bool channel_takes_live(const std::string& value, const Vm& running) {
  return value == "false" || attribute_or(running, "guest_agent", "false") == "true" ||
         attribute_or(running, "spice_agent", "false") == "true";
}

// Looking Glass's IVSHMEM size for a resolution, as its documentation computes it: two frames of
// four bytes a pixel, plus 10 MiB, up to a power of two. Or a size given as such, or "none".
std::optional<std::string> looking_glass_size(const std::string& text) {
  if (text == "none") return text;
  unsigned long long width = 0, height = 0, mib = 0;
  char rest = 0;
  if (std::sscanf(text.c_str(), "%llux%llu%c", &width, &height, &rest) == 2 &&
      text.find_first_not_of("0123456789x") == std::string::npos) {
    if (width == 0 || height == 0 || width > 16384 || height > 16384) return std::nullopt;
    const unsigned long long frames = width * height * 4 * 2;
    mib = (frames + (1ULL << 20) - 1) / (1ULL << 20) + 10;
    return std::to_string(std::bit_ceil(mib)) + "MiB";
  }
  if (!text.ends_with("MiB") || text.size() == 3 ||
      text.find_first_not_of("0123456789") != text.size() - 3)
    return std::nullopt;
  mib = std::stoull(text.substr(0, text.size() - 3));
  if (mib == 0 || mib > 4096 || !std::has_single_bit(mib)) return std::nullopt;
  return text;
}

// A huge page size as the config and libvirt agree on it: the largest unit that holds it whole.
// "none", "default" (the host's default size), or a power of two from 4KiB to 16GiB.
std::optional<std::string> hugepage_size(const std::string& text) {
  if (text == "none" || text == "default") return text;
  const auto kib = parse_size_kib(text);
  if (!kib || *kib < 4 || *kib > (16ULL << 20) || !std::has_single_bit(*kib)) return std::nullopt;
  return whole_unit_size(*kib);
}

// A size of video memory: a whole number of KiB from 1MiB to 1GiB, in its largest whole unit.
std::optional<std::string> video_memory_size(const std::string& text) {
  const auto kib = parse_size_kib(text);
  if (!kib || *kib < 1024 || *kib > (1ULL << 20)) return std::nullopt;
  return whole_unit_size(*kib);
}

// Only models with memory of their own take a size for it; virtio's is the guest's RAM.
std::string video_vram_conflict(const Vm& vm, const std::string&) {
  const std::string model = attribute_or(vm, "video", "");
  if (model != "virtio" && model != "ramfb" && model != "none") return "";
  return "video_vram sizes the memory of a qxl, vga, cirrus, vmvga or bochs display; video = \"" +
         model + "\" has none";
}

// libvirt gives more than one head to qxl and virtio displays only.
std::string video_heads_conflict(const Vm& vm, const std::string& value) {
  const std::string model = attribute_or(vm, "video", "");
  if (model.empty() || model == "qxl" || model == "virtio" || value == "1") return "";
  return "video_heads = " + value + " needs video = \"qxl\" or \"virtio\"; a \"" + model +
         "\" display has one head";
}

// QEMU's virgl draws through SPICE's OpenGL; a console the config leaves alone may have it.
std::string video_accel3d_conflict(const Vm& vm, const std::string& value) {
  if (value != "true") return "";
  const std::string model = attribute_or(vm, "video", "");
  if (model.empty()) return "video_accel3d = true needs video = \"virtio\" beside it";
  if (model != "virtio")
    return "video_accel3d = true needs video = \"virtio\"; a \"" + model +
           "\" display has no 3D acceleration";
  if (vm.graphics && !vm.graphics->gl.value_or(false))
    return "video_accel3d = true draws through SPICE's OpenGL: set [vm." + vm.key +
           ".graphics] type = \"spice\", listen = \"none\" and gl = true";
  return "";
}

// A redirected device travels over the SPICE connection; a console the config leaves alone
// may be SPICE.
std::string usb_redirect_conflict(const Vm& vm, const std::string& value) {
  if (value == "0" || !vm.graphics || vm.graphics->type == GraphicsType::spice) return "";
  return "usb_redirect = " + value + " redirects USB devices over SPICE: set [vm." + vm.key +
         ".graphics] type = \"spice\"";
}

// What sits on the guest's USB: without a controller there is nowhere to put it.
std::string usb_controller_conflict(const Vm& vm, const std::string& value) {
  if (value != "none") return "";
  if (attribute_or(vm, "tablet", "false") == "true")
    return "usb_controller = \"none\" leaves the USB tablet nowhere to plug in: set tablet = "
           "false, or keep a controller";
  for (const Disk& disk : vm.disks)
    if (disk.bus == DiskBus::usb)
      return "usb_controller = \"none\" leaves the USB disk " + disk.source +
             " nowhere to plug in: put it on another bus, or keep a controller";
  for (const InputDevice& input : vm.inputs)
    if (input.bus == "usb")
      return "usb_controller = \"none\" leaves the USB " + input.type +
             " nowhere to plug in: put it on bus = \"virtio\", or keep a controller";
  if (attribute_or(vm, "usb_redirect", "0") != "0")
    return "usb_controller = \"none\" leaves the redirected USB devices (usb_redirect) nowhere "
           "to plug in: keep a controller";
  if (!vm.usb.empty())
    return "usb_controller = \"none\" leaves the host USB device " + usb_identity(vm.usb.front()) +
           " nowhere to plug in: keep a controller";
  return "";
}

std::string hugepages_conflict(const Vm& vm, const std::string& value) {
  const std::uint64_t page = hugepage_kib(value);
  if (page == 0 || vm.memory_kib % page == 0) return "";
  return "memory (" + format_kib(vm.memory_kib) + ") is not a whole number of " + value +
         " pages, which is all the guest's memory is made of: make it a multiple of " + value;
}

// A set of host CPUs in the kernel's form: "0-1,6-7".
std::optional<std::string> canonical_cpuset(const std::string& text) {
  const auto cpus = parse_cpuset(text);
  if (!cpus) return std::nullopt;
  return cpuset_text(*cpus);
}

// One set per vCPU at most: libvirt refuses a pin for a vCPU the guest cannot have.
std::string vcpu_pins_conflict(const Vm& vm, const std::string& value) {
  const std::size_t pins = cpusets_of(value).size();
  const unsigned most = most_vcpus(vm);
  if (pins <= most) return "";
  return "cpu.pinning.vcpus pins " + std::to_string(pins) + " vCPUs and the guest has " +
         std::to_string(most) + ": give one set of host CPUs for each vCPU, in their order";
}

std::string iothread_pins_conflict(const Vm& vm, const std::string& value) {
  const std::size_t pins = cpusets_of(value).size();
  const std::string threads = attribute_or(vm, "iothreads", "0");
  if (pins <= std::stoul(threads)) return "";
  return "cpu.pinning.iothreads pins " + std::to_string(pins) + " I/O threads and the guest has " +
         threads + ": set iothreads = " + std::to_string(pins) + " in [vm." + vm.key + "]";
}

// A running guest is repinned at once when the pins cover what it runs exactly: a pin for each
// vCPU it has online (each I/O thread it has), so that none keeps an old pin.
bool pins_every_vcpu(const std::string& value, const Vm& running) {
  return cpusets_of(value).size() == running.vcpus;
}

bool pins_every_iothread(const std::string& value, const Vm& running) {
  return std::to_string(cpusets_of(value).size()) == attribute_or(running, "iothreads", "0");
}

constexpr std::array<VmField, 65> kFields = {{
    {"title",
     FieldKind::line,
     {},
     FieldTiming::live,
     "",
     "a short title for the domain (`<title>`, shown by `virsh list --title`)"},
    {"description",
     FieldKind::text,
     {},
     FieldTiming::live,
     "",
     "a free-text note on the domain (`<description>`, shown by `virsh desc`)"},
    {"on_crash", FieldKind::choice, kCrashActions, FieldTiming::next_boot, "destroy",
     "what libvirt does when the guest crashes: `destroy`, `restart`, `preserve`, "
     "`rename-restart`, `coredump-destroy` or `coredump-restart`"},
    {"boot_menu",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "`true` shows the firmware's boot menu at start (`<bootmenu enable='yes'/>`)"},
    {"boot_menu_timeout",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "",
     "how long the boot menu waits for a choice, in milliseconds, from 0 to 65535 "
     "(`<bootmenu timeout>`); needs `boot_menu = true`",
     boot_menu_timeout_conflict,
     nullptr,
     0,
     65535},
    {"on_poweroff", FieldKind::choice, kPoweroffActions, FieldTiming::live, "destroy",
     "what libvirt does when the guest powers off: `destroy` or `restart` (libvirt's QEMU driver "
     "takes no other; not `restart` with `on_reboot = \"destroy\"`)",
     poweroff_conflict},
    {"on_reboot", FieldKind::choice, kRebootActions, FieldTiming::live, "restart",
     "what libvirt does when the guest reboots: `restart`, or `destroy` to stop it instead"},
    {"video", FieldKind::choice, kVideoModels, FieldTiming::next_boot, "",
     "the model of the guest's first video device (`<video><model type>`): `virtio`, `qxl`, `vga`, "
     "`cirrus`, `vmvga`, `bochs`, `ramfb`, or `none` for no emulated display (a GPU guest)"},
    {"video_vram",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "",
     "the memory of the first video device (`<model vram>`), such as `\"64MiB\"`, for the "
     "resolutions a qxl, vga, cirrus, vmvga or bochs display can show",
     video_vram_conflict,
     nullptr,
     0,
     0,
     "",
     nullptr,
     video_memory_size,
     "a size from \"1MiB\" to \"1GiB\", such as \"64MiB\""},
    {"video_heads",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "1",
     "the monitors of the first video device, 1 to 16 (`<model heads>`); more than one on qxl "
     "and virtio only",
     video_heads_conflict,
     nullptr,
     1,
     16},
    {"video_accel3d",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "`true` draws the first video device's 3D with the host's GPU (virgl, `<acceleration "
     "accel3d>`): `video = \"virtio\"` only, beside a SPICE console with `gl = true`",
     video_accel3d_conflict},
    {"sound", FieldKind::choice, kSoundModels, FieldTiming::next_boot, "none",
     "the guest's sound device (`<sound model>`): `none`, `ich9`, `ich6` (Intel HD Audio), `ich7`, "
     "`ac97`, `usb`, `sb16`, `es1370` or `pcspk`"},
    {"rng",
     FieldKind::boolean,
     {},
     FieldTiming::live,
     "false",
     "`true` gives the guest a virtio random number generator fed by the host's `/dev/urandom`"},
    {"guest_agent",
     FieldKind::boolean,
     {},
     FieldTiming::live,
     "false",
     "`true` gives the guest the channel qemu-guest-agent talks on (`org.qemu.guest_agent.0`)",
     nullptr,
     channel_takes_live},
    {"spice_agent",
     FieldKind::boolean,
     {},
     FieldTiming::live,
     "false",
     "`true` gives the guest the SPICE agent's channel (`com.redhat.spice.0`); needs SPICE "
     "graphics",
     spice_agent_conflict,
     channel_takes_live},
    {"tablet",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "`true` gives the guest a USB tablet (`<input type='tablet' bus='usb'/>`): an absolute "
     "pointer, so the mouse of a VNC or SPICE client moves with the guest's without grabbing"},
    {"usb_controller", FieldKind::choice, kUsbControllers, FieldTiming::next_boot, "",
     "the model of the guest's USB controller (`<controller type='usb' index='0' model>`): "
     "`qemu-xhci` (USB 3, what libvirt gives q35), `nec-xhci`, `ich9-ehci1` (USB 2), `piix3-uhci` "
     "(USB 1, pc's), `piix4-uhci`, `pci-ohci`, or `none` for no USB at all",
     usb_controller_conflict},
    {"usb_redirect",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "0",
     "how many USB devices a SPICE client may redirect into the guest at once, 0 to 16 "
     "(`<redirdev bus='usb' type='spicevmc'/>` each); needs a SPICE console",
     usb_redirect_conflict,
     nullptr,
     0,
     16},
    {"looking_glass",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "none",
     "the shared memory Looking Glass shows the guest's screen through (`<shmem "
     "name='looking-glass'>`, `/dev/shm/looking-glass` on the host): a resolution such as "
     "`\"2560x1440\"`, from which the size is computed as Looking Glass documents (width × height "
     "× 4 × 2 bytes, plus 10 MiB, up to a power of two: 64 MiB there), a size such as `\"64MiB\"`, "
     "or `\"none\"`",
     nullptr,
     nullptr,
     0,
     0,
     "",
     nullptr,
     looking_glass_size,
     "a resolution such as \"2560x1440\", a power-of-two size such as \"64MiB\" (at most "
     "4096MiB), or \"none\""},
    {"balloon", FieldKind::choice, kBalloonModels, FieldTiming::next_boot, "virtio",
     "the memory balloon (`<memballoon model>`): `virtio`, `virtio-transitional`, "
     "`virtio-non-transitional`, or `none`, with which a running guest cannot give memory back, so "
     "a smaller `memory` waits for its next boot"},
    {"watchdog", FieldKind::choice, kWatchdogModels, FieldTiming::next_boot, "none",
     "the guest's watchdog device (`<watchdog model>`): `none`, `i6300esb` (PCI) or `ib700` "
     "(ISA)"},
    {"watchdog_action", FieldKind::choice, kWatchdogActions, FieldTiming::next_boot, "reset",
     "what the watchdog does when the guest stops feeding it: `reset`, `shutdown`, `poweroff`, "
     "`pause`, `none`, `dump` or `inject-nmi`; needs `watchdog`",
     watchdog_action_conflict},
    {"kvm_hidden",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "`true` hides KVM's signature from the guest (`<kvm><hidden state='on'/></kvm>`): NVIDIA's "
     "drivers before R465 stop a passed-through GeForce with \"Error 43\" when they see it"},
    {"vmport",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "",
     "`false` takes VMware's I/O port away from the guest (`<vmport state='off'/>`), as "
     "virt-manager does for its new guests; QEMU gives it to x86 guests otherwise"},
    {"ioapic", FieldKind::choice, kIoapicDrivers, FieldTiming::next_boot, "",
     "where the guest's I/O APIC is emulated (`<ioapic driver>`): `kvm`, in the host's kernel, or "
     "`qemu`, in QEMU itself (a split irqchip, which some passthrough guides use)"},
    {"iothreads",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "",
     "how many I/O threads QEMU gives the guest, 1 to 256 (`<iothreads>`), for its disks' `<driver "
     "iothread>` to name; one a disk names must stay",
     nullptr,
     nullptr,
     1,
     256},
    // The guest's CPU (`<cpu>`): what it is, and how its vCPUs are laid out.
    {"cpu.mode", FieldKind::choice, kCpuModes, FieldTiming::next_boot, "",
     "how the guest's CPU is made (`<cpu mode>`): `host-passthrough`, the host's own (what VFIO "
     "and gaming guides use); `host-model`, the named model closest to the host's, with its "
     "features; `custom`, the `model` named below; or `maximum`, every feature the hypervisor "
     "can give",
     cpu_mode_conflict, nullptr, 0, 0, "", nullptr, nullptr, "", true},
    {"cpu.model",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "",
     "the CPU model of `mode = \"custom\"` (`<cpu><model>`), as `virsh cpu-models x86_64` lists "
     "them: `Haswell-noTSX`, `EPYC`, QEMU's `max`, ...",
     cpu_model_conflict,
     nullptr,
     0,
     0,
     "",
     nullptr,
     nullptr,
     "",
     true},
    {"cpu.sockets",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "1",
     "CPU sockets (`<topology sockets>`). With `dies`, `cores` and `threads`, which are 1 when "
     "unset beside it, their product must be the guest's vCPU count (`vcpus_max`, else `vcpus`)",
     topology_conflict,
     nullptr,
     1,
     4096},
    {"cpu.dies",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "1",
     "dies per socket (`<topology dies>`)",
     nullptr,
     nullptr,
     1,
     4096},
    {"cpu.cores",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "1",
     "cores per die (`<topology cores>`)",
     nullptr,
     nullptr,
     1,
     4096},
    {"cpu.threads",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "1",
     "threads per core (`<topology threads>`): 2 shows the guest SMT siblings, as AMD's "
     "`topoext` wants",
     nullptr,
     nullptr,
     1,
     4096},
    {"cpu.features.require",
     FieldKind::names,
     {},
     FieldTiming::next_boot,
     "",
     "CPU features the guest must have, by libvirt's names (`<feature policy='require'>`): "
     "`topoext` for AMD's SMT siblings, `invtsc`, ...",
     nullptr,
     nullptr,
     0,
     0,
     "",
     nullptr,
     nullptr,
     "",
     true},
    {"cpu.features.disable",
     FieldKind::names,
     {},
     FieldTiming::next_boot,
     "",
     "CPU features taken from the guest (`<feature policy='disable'>`): `hypervisor` hides that "
     "it runs in a VM, `svm` or `vmx` nested virtualisation; none that `require` names",
     features_conflict,
     nullptr,
     0,
     0,
     "",
     nullptr,
     nullptr,
     "",
     true},
    // `<cputune>`: which host CPUs the guest's threads run on. VFIO gaming guides pin each vCPU
    // to a CPU of its own, SMT siblings together, and keep QEMU's own threads off them.
    {"cpu.pinning.vcpus",
     FieldKind::cpusets,
     {},
     FieldTiming::live,
     "",
     "the host CPUs each vCPU runs on, in vCPU order (`<vcpupin>`): `[2, 8, 3, 9]`, or sets such "
     "as `\"0-3\"`; at most one for each vCPU. Plan checks them against the host's CPUs",
     vcpu_pins_conflict,
     pins_every_vcpu},
    {"cpu.pinning.emulator",
     FieldKind::line,
     {},
     FieldTiming::live,
     "",
     "the host CPUs QEMU's own threads run on (`<emulatorpin>`), such as `\"0-1\"`: off the "
     "vCPUs' ones, so that they never wait for QEMU",
     nullptr,
     nullptr,
     0,
     0,
     "",
     nullptr,
     canonical_cpuset,
     "host CPUs such as \"0-1\" or \"0,6\""},
    {"cpu.pinning.iothreads",
     FieldKind::cpusets,
     {},
     FieldTiming::live,
     "",
     "the host CPUs each I/O thread runs on, from thread 1 (`<iothreadpin>`); the guest needs "
     "that many `iothreads`",
     iothread_pins_conflict,
     pins_every_iothread},
    // Hyper-V enlightenments (`<features><hyperv mode='custom'>`): Windows guests run faster
    // and keep better time with them. QEMU knows them only with KVM.
    {"hyperv.relaxed",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "relaxed timing: no watchdog timeouts when the host is busy (`<relaxed>`)"},
    {"hyperv.vapic",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "the virtual APIC assist page (`<vapic>`)"},
    {"hyperv.spinlocks",
     FieldKind::integer,
     {},
     FieldTiming::next_boot,
     "",
     "how often a guest spins on a lock before it tells the host, at least 4095 "
     "(`<spinlocks state='on' retries='8191'/>`)",
     nullptr,
     nullptr,
     4095,
     4294967295},
    {"hyperv.vpindex",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "virtual processor indexes (`<vpindex>`); QEMU sets them only through KVM",
     nullptr,
     nullptr,
     0,
     0,
     "",
     vpindex_caution},
    {"hyperv.runtime",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "the processor time the guest was given (`<runtime>`)"},
    {"hyperv.synic",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "the synthetic interrupt controller (`<synic>`); needs `vpindex = true`"},
    {"hyperv.stimer",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "synthetic timers (`<stimer>`); need `synic = true`, `vpindex = true` and "
     "`hypervclock = true` in `[vm.X.clock]`"},
    {"hyperv.reset",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "resets the guest asks for through Hyper-V (`<reset>`)"},
    {"hyperv.vendor_id",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "",
     "the hypervisor vendor the guest is shown, at most 12 characters and no comma "
     "(`<vendor_id state='on' value='...'/>`)",
     nullptr,
     nullptr,
     0,
     12,
     ","},
    {"hyperv.frequencies",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "the TSC and APIC frequencies read from Hyper-V's registers (`<frequencies>`)"},
    {"hyperv.reenlightenment",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "notifications when the TSC frequency changes on migration (`<reenlightenment>`)"},
    {"hyperv.tlbflush",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "paravirtual TLB flushes (`<tlbflush>`); needs `vpindex = true`"},
    {"hyperv.ipi",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "paravirtual inter-processor interrupts (`<ipi>`); needs `vpindex = true`"},
    {"clock.offset", FieldKind::choice, kClockOffsets, FieldTiming::next_boot, "utc",
     "what the guest's RTC keeps: `utc` or `localtime`, which Windows expects (`<clock offset>`)"},
    {"clock.rtc_tickpolicy", FieldKind::choice, kTickPolicies, FieldTiming::next_boot, "",
     "what the RTC does with ticks the guest missed: `delay`, `catchup`, `merge` or `discard` "
     "(`<timer name='rtc' tickpolicy>`)"},
    {"clock.pit_tickpolicy", FieldKind::choice, kTickPolicies, FieldTiming::next_boot, "",
     "what the PIT does with ticks the guest missed: `delay`, `catchup`, `merge` or `discard` "
     "(`<timer name='pit' tickpolicy>`)"},
    {"clock.hpet",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "",
     "`false` takes the HPET away (`<timer name='hpet' present='no'/>`), which Windows guests "
     "idle better without"},
    {"clock.hypervclock",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "",
     "`true` gives the guest Hyper-V's reference clock (`<timer name='hypervclock' "
     "present='yes'/>`)"},
    {"pm.suspend_to_mem",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "",
     "`false` keeps the guest from suspending to RAM, S3 (`<suspend-to-mem enabled='no'/>`)"},
    {"pm.suspend_to_disk",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "",
     "`false` keeps the guest from suspending to disk, S4 (`<suspend-to-disk enabled='no'/>`)"},
    // The guest's TPM (`<devices><tpm>`): Windows 11 asks for a 2.0 one, BitLocker seals its keys
    // in it. An emulated TPM's state lives on the host, outside the definition.
    {"tpm.model", FieldKind::choice, kTpmModels, FieldTiming::next_boot, "",
     "the TPM's interface (`<tpm model>`): `tpm-crb`, TPM 2.0's command-response buffer, or "
     "`tpm-tis`, the older TIS one that TPM 1.2 needs"},
    {"tpm.backend", FieldKind::choice, kTpmBackends, FieldTiming::next_boot, "",
     "what the guest's TPM is (`<backend type>`): `emulator`, a TPM of its own that libvirt runs "
     "in swtpm, or `passthrough`, the host's TPM `device`, which the guest then has to itself",
     tpm_backend_conflict},
    {"tpm.version", FieldKind::choice, kTpmVersions, FieldTiming::next_boot, "",
     "the emulated TPM's version (`<backend version>`): `\"2.0\"`, what Windows 11 needs, or "
     "`\"1.2\"`, which needs `model = \"tpm-tis\"`; not with `backend = \"passthrough\"`",
     tpm_version_conflict},
    {"tpm.device",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "",
     "the host's TPM a passed-through one uses, such as `/dev/tpm0` (`<device path>`); must exist "
     "on the host, and needs `backend = \"passthrough\"`",
     tpm_device_conflict},
    // `<memoryBacking>`: what holds the guest's RAM on the host. Looking Glass maps it from
    // memfd; virtiofs's daemon needs it shared.
    {"memory_backing.source", FieldKind::choice, kMemorySources, FieldTiming::next_boot, "",
     "what holds the guest's memory on the host (`<source type>`): `memfd`, an anonymous file "
     "other processes can map (Looking Glass needs it), `file`, or `anonymous`, QEMU's own"},
    {"memory_backing.access", FieldKind::choice, kMemoryAccessModes, FieldTiming::next_boot, "",
     "`shared` lets other processes on the host map the guest's memory (virtiofs needs it), "
     "`private` does not (`<access mode>`)"},
    {"memory_backing.locked",
     FieldKind::boolean,
     {},
     FieldTiming::next_boot,
     "false",
     "`true` locks the guest's memory in host RAM, never swapped out (`<locked/>`)"},
    {"memory_backing.hugepages",
     FieldKind::line,
     {},
     FieldTiming::next_boot,
     "none",
     "the huge pages that hold all of the guest's memory (`<hugepages><page size>`): a size the "
     "host has pools of, such as `\"2MiB\"` or `\"1GiB\"`, `\"default\"` for the host's "
     "default size, or `\"none\"`. Plan warns when the host has too few free pages",
     hugepages_conflict,
     nullptr,
     0,
     0,
     "",
     nullptr,
     hugepage_size,
     "a power-of-two page size such as \"2MiB\" or \"1GiB\", \"default\" or \"none\""},
}};

constexpr std::array<std::string_view, 8> kTables = {
    "cpu", "cpu.features", "cpu.pinning", "hyperv", "clock", "pm", "tpm", "memory_backing"};

// What libvirt's and virt-manager's Windows guides turn on; stimer needs the Hyper-V clock, so
// the preset gives it too.
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kWindows = {{
    {"hyperv.relaxed", "true"},
    {"hyperv.vapic", "true"},
    {"hyperv.spinlocks", "8191"},
    {"hyperv.vpindex", "true"},
    {"hyperv.runtime", "true"},
    {"hyperv.synic", "true"},
    {"hyperv.stimer", "true"},
    {"hyperv.reset", "true"},
    {"hyperv.frequencies", "true"},
    {"hyperv.tlbflush", "true"},
    {"hyperv.ipi", "true"},
    {"clock.hypervclock", "true"},
}};

constexpr std::array<FieldPreset, 1> kPresets = {{
    {"hyperv", "windows", kWindows,
     "`\"windows\"` turns on what Windows guests are given: `relaxed`, `vapic`, `spinlocks = "
     "8191`, `vpindex`, `runtime`, `synic`, `stimer`, `reset`, `frequencies`, `tlbflush`, `ipi` "
     "and `hypervclock` in `[vm.X.clock]`; a key set beside it wins"},
}};

// QEMU's own dependencies between the enlightenments (it refuses to start a KVM guest
// otherwise; libvirt 9 does not check them when it defines one).
constexpr std::array<FieldNeed, 6> kNeeds = {{
    {"hyperv.synic", "hyperv.vpindex"},
    {"hyperv.stimer", "hyperv.synic"},
    {"hyperv.stimer", "hyperv.vpindex"},
    {"hyperv.stimer", "clock.hypervclock"},
    {"hyperv.tlbflush", "hyperv.vpindex"},
    {"hyperv.ipi", "hyperv.vpindex"},
}};

// A list row's value as its items, and items as such a value: one text, items between
// `separator`s.
std::vector<std::string> split_list(const std::string& value, std::string_view separator) {
  std::vector<std::string> items;
  for (std::size_t start = 0; start < value.size();) {
    const std::size_t end = std::min(value.find(separator, start), value.size());
    items.push_back(value.substr(start, end - start));
    start = end + separator.size();
  }
  return items;
}

std::string join_list(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

}  // namespace

std::vector<std::string> cpusets_of(const std::string& value) {
  return split_list(value, "; ");
}

std::string joined_cpusets(const std::vector<std::string>& sets) {
  return join_list(sets, "; ");
}

std::uint64_t hugepage_kib(const std::string& value) {
  if (value == "none" || value == "default") return 0;
  return parse_size_kib(value).value_or(0);
}

std::vector<std::string> names_of(const std::string& value) {
  return split_list(value, ", ");
}

std::string joined_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return join_list(names, ", ");
}

std::span<const VmField> vm_fields() {
  return kFields;
}

bool takes_live(const VmField& field, const std::string& value, const Vm& running) {
  return field.timing == FieldTiming::live &&
         (!field.takes_live || field.takes_live(value, running));
}

const VmField* find_vm_field(std::string_view key) {
  const auto found =
      std::find_if(kFields.begin(), kFields.end(), [&](const VmField& f) { return f.key == key; });
  return found == kFields.end() ? nullptr : &*found;
}

std::string_view field_table(const VmField& field) {
  const auto dot = field.key.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : field.key.substr(0, dot);
}

std::string_view field_name(const VmField& field) {
  const auto dot = field.key.rfind('.');
  return dot == std::string_view::npos ? field.key : field.key.substr(dot + 1);
}

std::span<const std::string_view> field_tables() {
  return kTables;
}

bool sets_table(const Vm& vm, std::string_view table) {
  return std::any_of(vm.attributes.begin(), vm.attributes.end(), [&](const auto& attribute) {
    const VmField* field = find_vm_field(attribute.first);
    return field && field_table(*field) == table;
  });
}

std::span<const FieldPreset> field_presets() {
  return kPresets;
}

std::span<const std::span<const std::string_view>> field_groups() {
  return kGroups;
}

std::span<const FieldNeed> field_needs() {
  return kNeeds;
}

}  // namespace virtform
