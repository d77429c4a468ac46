#include "engine/config/firmware.h"

#include <fnmatch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/config/config.h"

namespace virtform {
namespace {

using nlohmann::json;

std::vector<std::string> strings_at(const json& object, const char* key) {
  std::vector<std::string> result;
  auto found = object.find(key);
  if (found == object.end() || !found->is_array()) return result;
  for (const json& item : *found) {
    if (item.is_string()) result.push_back(item.get<std::string>());
  }
  return result;
}

std::string filename_at(const json& mapping, const char* key) {
  auto found = mapping.find(key);
  if (found == mapping.end() || !found->is_object()) return "";
  return found->value("filename", "");
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Every descriptor in the directory, in name order (the order QEMU's spec gives them priority).
std::vector<FirmwareDescriptor> read_descriptors(const HostFiles& files, Diagnostics& diagnostics) {
  std::vector<FirmwareDescriptor> descriptors;
  const std::string directory = kFirmwareDescriptorDirectory;
  for (const std::string& name : files.list(directory)) {
    if (!name.ends_with(".json")) continue;
    std::string path = directory + "/" + name;
    auto text = files.read(path);
    auto descriptor = text ? parse_firmware_descriptor(*text, path) : std::nullopt;
    if (descriptor) {
      descriptors.push_back(std::move(*descriptor));
    } else {
      diagnostics.push_back({Severity::warning,
                             "ignoring firmware descriptor " + path + ": not readable as one",
                             Location{}, ""});
    }
  }
  return descriptors;
}

const FirmwareDescriptor* choose(const std::vector<FirmwareDescriptor>& descriptors,
                                 const std::string& machine, bool secure_boot) {
  for (const FirmwareDescriptor& descriptor : descriptors) {
    if (secure_boot ? is_secure_boot_uefi_for(descriptor, machine)
                    : is_plain_uefi_for(descriptor, machine))
      return &descriptor;
  }
  return nullptr;
}

}  // namespace

std::optional<FirmwareDescriptor> parse_firmware_descriptor(const std::string& text,
                                                            const std::string& file) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return std::nullopt;
  FirmwareDescriptor descriptor;
  descriptor.file = file;
  descriptor.interface_types = strings_at(document, "interface-types");
  descriptor.features = strings_at(document, "features");
  if (auto mapping = document.find("mapping"); mapping != document.end() && mapping->is_object()) {
    descriptor.device = mapping->value("device", "");
    descriptor.executable = filename_at(*mapping, "executable");
    descriptor.nvram_template = filename_at(*mapping, "nvram-template");
  }
  if (auto targets = document.find("targets"); targets != document.end() && targets->is_array()) {
    for (const json& target : *targets) {
      if (!target.is_object()) continue;
      descriptor.targets.emplace_back(target.value("architecture", ""),
                                      strings_at(target, "machines"));
    }
  }
  return descriptor;
}

bool machine_glob_matches(const std::string& glob, const std::string& machine) {
  std::string full = machine;
  if (machine == "q35") full = "pc-q35-latest";
  if (machine == "pc") full = "pc-i440fx-latest";
  return fnmatch(glob.c_str(), full.c_str(), 0) == 0 ||
         fnmatch(glob.c_str(), machine.c_str(), 0) == 0;
}

namespace {

// UEFI in flash for x86_64 on `machine`, whatever its features.
bool is_uefi_flash_for(const FirmwareDescriptor& descriptor, const std::string& machine) {
  if (!contains(descriptor.interface_types, "uefi") || descriptor.device != "flash") return false;
  if (descriptor.executable.empty()) return false;
  return std::any_of(descriptor.targets.begin(), descriptor.targets.end(), [&](const auto& target) {
    const auto& [architecture, machines] = target;
    return architecture == "x86_64" &&
           std::any_of(machines.begin(), machines.end(), [&](const std::string& glob) {
             return machine_glob_matches(glob, machine);
           });
  });
}

}  // namespace

bool is_plain_uefi_for(const FirmwareDescriptor& descriptor, const std::string& machine) {
  for (const char* unwanted : {"secure-boot", "enrolled-keys", "requires-smm"}) {
    if (contains(descriptor.features, unwanted)) return false;
  }
  return is_uefi_flash_for(descriptor, machine);
}

bool is_secure_boot_uefi_for(const FirmwareDescriptor& descriptor, const std::string& machine) {
  return contains(descriptor.features, "secure-boot") &&
         contains(descriptor.features, "enrolled-keys") && is_uefi_flash_for(descriptor, machine);
}

namespace {

// Why no image was found and what to do; when a profile asked for Secure Boot, also the way to
// go without it.
std::string missing_firmware_message(const Vm& vm) {
  const bool secure_boot = vm.firmware.secure_boot.value_or(false);
  const std::string wanted =
      secure_boot ? "with Secure Boot and enrolled keys" : "without Secure Boot";
  std::string fix = "install ovmf, or set firmware_code and firmware_vars";
  const auto origin = vm.attribute_origins.find("firmware");
  if (secure_boot && origin != vm.attribute_origins.end())
    fix += ", or set secure_boot = false to go without the Secure Boot of " + origin->second;
  return "no UEFI firmware " + wanted + " for x86_64 machine \"" + vm.machine +
         "\" is described in " + std::string(kFirmwareDescriptorDirectory) + " (" + fix + ")";
}

}  // namespace

void resolve_firmware(Desired& desired, const HostFiles& files, Diagnostics& diagnostics) {
  std::optional<std::vector<FirmwareDescriptor>> descriptors;  // read only if some VM needs them
  for (Vm& vm : desired.vms) {
    Firmware& firmware = vm.firmware;
    if (firmware.kind != FirmwareKind::uefi) continue;
    if (firmware.autoselect) continue;  // libvirt's choice at each start
    if (!firmware.code.empty() || !firmware.vars_template.empty()) continue;  // set explicitly
    if (!descriptors) descriptors = read_descriptors(files, diagnostics);
    const bool secure_boot = firmware.secure_boot.value_or(false);
    if (const FirmwareDescriptor* chosen = choose(*descriptors, vm.machine, secure_boot)) {
      firmware.code = chosen->executable;
      firmware.vars_template = chosen->nvram_template;
      continue;
    }
    diagnostics.push_back(
        {Severity::error, missing_firmware_message(vm), vm.where, "vm." + vm.key});
  }
}

}  // namespace virtform
