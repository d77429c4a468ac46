#include "engine/model/profiles.h"

#include <array>
#include <string>

namespace virtform {
namespace {

using Values = std::pair<std::string_view, std::string_view>;

// What Windows 11 asks of its machine (UEFI with Secure Boot, which needs SMM, and TPM 2.0) and
// what makes it run well under KVM: the Hyper-V enlightenments, the RTC in local time as Windows
// keeps it, with the Hyper-V reference clock, the guest agent for clean shutdowns, and a tablet
// so that a console's pointer is where Windows draws it.
constexpr std::array<Values, 7> kWindows11Attributes{{
    {"clock.offset", "localtime"},
    {"clock.hypervclock", "true"},
    {"guest_agent", "true"},
    {"tablet", "true"},
    {"tpm.model", "tpm-crb"},
    {"tpm.backend", "emulator"},
    {"tpm.version", "2.0"},
}};
constexpr std::array<Values, 1> kWindows11Presets{{{"hyperv", "windows"}}};

// A Linux server: the guest agent, entropy from the host, and a console for `virsh console`.
constexpr std::array<Values, 2> kLinuxAttributes{{
    {"guest_agent", "true"},
    {"rng", "true"},
}};

constexpr std::array<VmProfile, 2> kProfiles{{
    {"windows11",
     "a Windows 11 guest: UEFI with Secure Boot (on q35), an emulated TPM 2.0 (`tpm-crb`), the "
     "Hyper-V enlightenments of "
     "`preset = \"windows\"`, `clock.offset = \"localtime\"` with `clock.hypervclock`, "
     "`guest_agent` and a `tablet`; the ISO of `virtio_win` as a CD-ROM drive after the VM's own",
     FirmwareKind::uefi, true, false, true, kWindows11Attributes, kWindows11Presets},
    {"linux",
     "a Linux guest: `guest_agent`, `rng` and a serial console on a pty",
     std::nullopt,
     false,
     true,
     false,
     kLinuxAttributes,
     {}},
}};

}  // namespace

std::span<const VmProfile> vm_profiles() {
  return kProfiles;
}

const VmProfile* find_vm_profile(std::string_view name) {
  for (const VmProfile& profile : kProfiles)
    if (profile.name == name) return &profile;
  return nullptr;
}

bool is_profile_field(std::string_view key) {
  return key == "firmware" || key == "serial";
}

std::string profile_origin(std::string_view name) {
  return "profile " + std::string(name);
}

}  // namespace virtform
