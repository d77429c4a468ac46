#include "engine/model/vm_fields.h"

#include <algorithm>
#include <array>

#include "engine/model/vm.h"

namespace virtform {
namespace {

// libvirt's <on_crash> actions (domaincommon.rng, crashOptions).
constexpr std::array<std::string_view, 6> kCrashActions = {
    "destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart"};

// The <on_poweroff> and <on_reboot> actions libvirt's QEMU driver takes (it refuses preserve and
// rename-restart there).
constexpr std::array<std::string_view, 2> kPoweroffActions = {"destroy", "restart"};
constexpr std::array<std::string_view, 2> kRebootActions = {"restart", "destroy"};
// domaincommon.rng's video models, and none: no emulated display (a GPU guest's).
constexpr std::array<std::string_view, 8> kVideoModels = {"virtio", "qxl",   "vga",   "cirrus",
                                                          "vmvga",  "bochs", "ramfb", "none"};
// domaincommon.rng's x86 sound models (ich6 is Intel HD Audio), and none.
constexpr std::array<std::string_view, 5> kSoundModels = {"none", "ich9", "ich6", "ac97", "usb"};
constexpr std::array<std::string_view, 2> kBalloonModels = {"virtio", "none"};
// domaincommon.rng's x86 watchdog models as libvirt 9.0 has them (it knows no itco), and none.
constexpr std::array<std::string_view, 3> kWatchdogModels = {"none", "i6300esb", "ib700"};
// domaincommon.rng's watchdog actions.
constexpr std::array<std::string_view, 7> kWatchdogActions = {
    "reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi"};

std::string attribute_or(const Vm& vm, const std::string& key, const std::string& otherwise) {
  const auto found = vm.attributes.find(key);
  return found == vm.attributes.end() ? otherwise : found->second;
}

// libvirt's QEMU driver cannot restart a guest that powers off yet destroy one that reboots.
std::string poweroff_conflict(const Vm& vm, const std::string& value) {
  if (value != "restart" || attribute_or(vm, "on_reboot", "restart") != "destroy") return "";
  return "on_poweroff = \"restart\" with on_reboot = \"destroy\" is refused by libvirt's QEMU "
         "driver; set on_poweroff = \"destroy\" or on_reboot = \"restart\"";
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

// A channel plugs only into a running guest that has a virtio-serial controller, which libvirt
// cannot hot-plug: one that already has a virtio channel of virtform's. Removing one always works.
bool channel_takes_live(const std::string& value, const Vm& running) {
  return value == "false" || attribute_or(running, "guest_agent", "false") == "true" ||
         attribute_or(running, "spice_agent", "false") == "true";
}

constexpr std::array<VmField, 14> kFields = {{
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
    {"on_poweroff", FieldKind::choice, kPoweroffActions, FieldTiming::live, "destroy",
     "what libvirt does when the guest powers off: `destroy` or `restart` (libvirt's QEMU driver "
     "takes no other; not `restart` with `on_reboot = \"destroy\"`)",
     poweroff_conflict},
    {"on_reboot", FieldKind::choice, kRebootActions, FieldTiming::live, "restart",
     "what libvirt does when the guest reboots: `restart`, or `destroy` to stop it instead"},
    {"video", FieldKind::choice, kVideoModels, FieldTiming::next_boot, "",
     "the model of the guest's first video device (`<video><model type>`): `virtio`, `qxl`, `vga`, "
     "`cirrus`, `vmvga`, `bochs`, `ramfb`, or `none` for no emulated display (a GPU guest)"},
    {"sound", FieldKind::choice, kSoundModels, FieldTiming::next_boot, "none",
     "the guest's sound device (`<sound model>`): `none`, `ich9`, `ich6` (Intel HD Audio), `ac97` "
     "or `usb`"},
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
    {"balloon", FieldKind::choice, kBalloonModels, FieldTiming::next_boot, "virtio",
     "the memory balloon (`<memballoon model>`): `virtio`, or `none`, with which a running guest "
     "cannot give memory back, so a smaller `memory` waits for its next boot"},
    {"watchdog", FieldKind::choice, kWatchdogModels, FieldTiming::next_boot, "none",
     "the guest's watchdog device (`<watchdog model>`): `none`, `i6300esb` (PCI) or `ib700` "
     "(ISA)"},
    {"watchdog_action", FieldKind::choice, kWatchdogActions, FieldTiming::next_boot, "reset",
     "what the watchdog does when the guest stops feeding it: `reset`, `shutdown`, `poweroff`, "
     "`pause`, `none`, `dump` or `inject-nmi`; needs `watchdog`",
     watchdog_action_conflict},
}};

}  // namespace

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

}  // namespace virtform
