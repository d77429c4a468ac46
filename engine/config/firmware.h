#pragma once
// QEMU firmware descriptors (docs/interop/firmware.json in QEMU): the JSON files distributions
// install under /usr/share/qemu/firmware to say which firmware images exist and what they do.

#include <optional>
#include <string>
#include <vector>

namespace virtform {

// Where QEMU and libvirt look for the distribution's descriptors.
inline constexpr const char* kFirmwareDescriptorDirectory = "/usr/share/qemu/firmware";

// The parts of one descriptor that choosing plain UEFI firmware needs.
struct FirmwareDescriptor {
  std::string file;                          // descriptor's path, for messages
  std::vector<std::string> interface_types;  // "uefi", "bios"
  std::string device;                        // "flash", "memory", "kernel"
  std::string executable;                    // mapping.executable.filename
  std::string nvram_template;                // mapping.nvram-template.filename
  // (architecture, machine globs) pairs: ("x86_64", {"pc-q35-*"}).
  std::vector<std::pair<std::string, std::vector<std::string>>> targets;
  std::vector<std::string> features;  // "secure-boot", "requires-smm", ...
};

// Parses a descriptor; nothing if it is not JSON of the expected shape.
std::optional<FirmwareDescriptor> parse_firmware_descriptor(const std::string& json,
                                                            const std::string& file);

// True if a machine glob from a descriptor covers the VM's machine; the aliases "q35" and "pc"
// stand for the newest "pc-q35-*" and "pc-i440fx-*" types.
bool machine_glob_matches(const std::string& glob, const std::string& machine);

// True if the descriptor is plain UEFI in flash for x86_64 on `machine`: no Secure Boot, no
// enrolled keys, no SMM requirement — what a guest like DSM boots with.
bool is_plain_uefi_for(const FirmwareDescriptor& descriptor, const std::string& machine);
// True if the descriptor is UEFI in flash for x86_64 on `machine` with Secure Boot and the
// usual keys enrolled (Debian's OVMF_CODE_4M.ms.fd): what Windows 11 and BitLocker expect.
bool is_secure_boot_uefi_for(const FirmwareDescriptor& descriptor, const std::string& machine);

}  // namespace virtform
