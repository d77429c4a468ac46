#include "engine/model/vm_fields.h"

#include <algorithm>
#include <array>

namespace virtform {
namespace {

// libvirt's <on_crash> actions (domaincommon.rng, crashOptions).
constexpr std::array<std::string_view, 6> kCrashActions = {
    "destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart"};

constexpr std::array<VmField, 4> kFields = {{
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
}};

}  // namespace

std::span<const VmField> vm_fields() {
  return kFields;
}

const VmField* find_vm_field(std::string_view key) {
  const auto found =
      std::find_if(kFields.begin(), kFields.end(), [&](const VmField& f) { return f.key == key; });
  return found == kFields.end() ? nullptr : &*found;
}

}  // namespace virtform
