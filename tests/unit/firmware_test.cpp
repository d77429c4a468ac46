// UEFI firmware resolution from QEMU's firmware descriptors, on recorded trees and on this host.

#include "engine/config/firmware.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/config/config.h"
#include "providers/host/rooted_files.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

// A descriptor shaped like the ones Debian's ovmf package installs.
std::string descriptor(const std::string& code, const std::string& vars,
                       const std::string& machines, const std::string& features,
                       const std::string& architecture = "x86_64",
                       const std::string& interface = "uefi", const std::string& device = "flash") {
  return R"({
    "description": "test firmware",
    "interface-types": [")" +
         interface + R"("],
    "mapping": {
        "device": ")" +
         device + R"(",
        "executable": {"filename": ")" +
         code + R"(", "format": "raw"},
        "nvram-template": {"filename": ")" +
         vars + R"(", "format": "raw"}
    },
    "targets": [{"architecture": ")" +
         architecture + R"(", "machines": [)" + machines + R"(]}],
    "features": [)" +
         features + R"(],
    "tags": []
})";
}

const std::string kDirectory = "usr/share/qemu/firmware/";

// The three descriptors of Debian's ovmf, plus some that must never be chosen.
void write_debian_like_descriptors(const TempDir& root) {
  root.write_file(kDirectory + "10-aarch64.json",
                  descriptor("/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd",
                             R"("virt-*")", "", "aarch64"));
  root.write_file(
      kDirectory + "20-seabios.json",
      descriptor("/usr/share/seabios/bios.bin", "", R"("pc-*")", "", "x86_64", "bios", "memory"));
  root.write_file(kDirectory + "40-edk2-x86_64-secure-enrolled.json",
                  descriptor("/fw/OVMF_CODE_4M.ms.fd", "/fw/OVMF_VARS_4M.ms.fd", R"("pc-q35-*")",
                             R"("acpi-s3", "enrolled-keys", "requires-smm", "secure-boot")"));
  root.write_file(kDirectory + "50-edk2-x86_64-secure.json",
                  descriptor("/fw/OVMF_CODE_4M.secboot.fd", "/fw/OVMF_VARS_4M.fd", R"("pc-q35-*")",
                             R"("acpi-s3", "requires-smm", "secure-boot")"));
  root.write_file(kDirectory + "60-edk2-x86_64.json",
                  descriptor("/fw/OVMF_CODE_4M.fd", "/fw/OVMF_VARS_4M.fd",
                             R"("pc-i440fx-*", "pc-q35-*")", R"("acpi-s3", "verbose-dynamic")"));
}

Vm uefi_vm(const std::string& key, const std::string& machine) {
  Vm vm;
  vm.key = key;
  vm.name = key;
  vm.machine = machine;
  vm.firmware.kind = FirmwareKind::uefi;
  vm.where = Location{"vms.toml", 3, 1};
  return vm;
}

}  // namespace

TEST_CASE("machine globs cover the q35 and pc aliases and full machine types", "[firmware]") {
  CHECK(machine_glob_matches("pc-q35-*", "q35"));
  CHECK(machine_glob_matches("pc-q35-*", "pc-q35-7.2"));
  CHECK(machine_glob_matches("pc-i440fx-*", "pc"));
  CHECK(machine_glob_matches("pc-i440fx-*", "pc-i440fx-7.2"));
  CHECK_FALSE(machine_glob_matches("pc-q35-*", "pc"));
  CHECK_FALSE(machine_glob_matches("pc-i440fx-*", "q35"));
  CHECK_FALSE(machine_glob_matches("pc-q35-*", "microvm"));
}

TEST_CASE("plain UEFI is chosen over Secure Boot and other architectures", "[firmware]") {
  TempDir root;
  write_debian_like_descriptors(root);
  RootedHostFiles files(root.path());
  Desired desired;
  desired.vms = {uefi_vm("dsm", "q35"), uefi_vm("old", "pc"), uefi_vm("full", "pc-q35-7.2")};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  CHECK(diagnostics.empty());
  for (const Vm& vm : desired.vms) {
    INFO(vm.key);
    CHECK(vm.firmware.code == "/fw/OVMF_CODE_4M.fd");
    CHECK(vm.firmware.vars_template == "/fw/OVMF_VARS_4M.fd");
  }
}

TEST_CASE("Secure Boot is chosen from the descriptors with enrolled keys", "[firmware]") {
  TempDir root;
  write_debian_like_descriptors(root);
  RootedHostFiles files(root.path());
  Desired desired;
  Vm secure = uefi_vm("win11", "q35");
  secure.firmware.secure_boot = true;
  Vm plain = uefi_vm("dsm", "q35");
  plain.firmware.secure_boot = false;
  Vm chosen_by_libvirt = uefi_vm("auto", "q35");
  chosen_by_libvirt.firmware.autoselect = true;
  chosen_by_libvirt.firmware.secure_boot = true;
  desired.vms = {secure, plain, chosen_by_libvirt};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  CHECK(diagnostics.empty());
  // 50-edk2-x86_64-secure comes first without keys: Windows would find none to check against.
  CHECK(desired.vms[0].firmware.code == "/fw/OVMF_CODE_4M.ms.fd");
  CHECK(desired.vms[0].firmware.vars_template == "/fw/OVMF_VARS_4M.ms.fd");
  CHECK(desired.vms[1].firmware.code == "/fw/OVMF_CODE_4M.fd");
  // libvirt picks at each start: no image is named.
  CHECK(desired.vms[2].firmware.code.empty());
  CHECK(desired.vms[2].firmware.vars_template.empty());

  // Descriptors without enrolled keys (Debian before its .ms images): the error says so.
  TempDir bare;
  bare.write_file(kDirectory + "50-edk2-x86_64-secure.json",
                  descriptor("/fw/OVMF_CODE_4M.secboot.fd", "/fw/OVMF_VARS_4M.fd", R"("pc-q35-*")",
                             R"("requires-smm", "secure-boot")"));
  RootedHostFiles bare_files(bare.path());
  Desired refused;
  refused.vms = {secure};
  Diagnostics errors;
  resolve_firmware(refused, bare_files, errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.starts_with(
      "no UEFI firmware with Secure Boot and enrolled keys for x86_64 machine \"q35\""));
}

TEST_CASE("the first suitable descriptor in name order wins", "[firmware]") {
  TempDir root;
  write_debian_like_descriptors(root);
  root.write_file(kDirectory + "55-custom.json",
                  descriptor("/opt/CODE.fd", "/opt/VARS.fd", R"("pc-q35-*")", ""));
  RootedHostFiles files(root.path());
  Desired desired;
  desired.vms = {uefi_vm("dsm", "q35"), uefi_vm("old", "pc")};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  CHECK(diagnostics.empty());
  CHECK(desired.vms[0].firmware.code == "/opt/CODE.fd");
  CHECK(desired.vms[1].firmware.code == "/fw/OVMF_CODE_4M.fd");  // 55 covers q35 only
}

TEST_CASE("firmware set in the config and BIOS guests are left alone", "[firmware]") {
  TempDir root;
  write_debian_like_descriptors(root);
  RootedHostFiles files(root.path());
  Desired desired;
  Vm own = uefi_vm("own", "q35");
  own.firmware.code = "/mine/CODE.fd";
  own.firmware.vars_template = "/mine/VARS.fd";
  Vm bios = uefi_vm("bios", "q35");
  bios.firmware.kind = FirmwareKind::bios;
  desired.vms = {own, bios};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  CHECK(diagnostics.empty());
  CHECK(desired.vms[0].firmware == own.firmware);
  CHECK(desired.vms[1].firmware.code.empty());
}

TEST_CASE("no suitable descriptor: an error naming the directory and the way out", "[firmware]") {
  TempDir root;
  root.write_file(kDirectory + "50-edk2-x86_64-secure.json",
                  descriptor("/fw/OVMF_CODE_4M.secboot.fd", "/fw/OVMF_VARS_4M.fd", R"("pc-q35-*")",
                             R"("requires-smm", "secure-boot")"));
  root.write_file(kDirectory + "99-broken.json", "{ not json");
  RootedHostFiles files(root.path());
  Desired desired;
  desired.vms = {uefi_vm("dsm", "q35")};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  REQUIRE(diagnostics.size() == 2);
  CHECK(diagnostics[0].severity == Severity::warning);
  CHECK(diagnostics[0].message ==
        "ignoring firmware descriptor /usr/share/qemu/firmware/99-broken.json: not readable as "
        "one");
  const Diagnostic& error = diagnostics[1];
  CHECK(error.severity == Severity::error);
  CHECK(error.message ==
        "no UEFI firmware without Secure Boot for x86_64 machine \"q35\" is described in "
        "/usr/share/qemu/firmware (install ovmf, or set firmware_code and firmware_vars)");
  CHECK(error.where == Location{"vms.toml", 3, 1});
  CHECK(error.resource == "vm.dsm");
  CHECK(desired.vms[0].firmware.code.empty());
}

TEST_CASE("descriptors are parsed field by field", "[firmware]") {
  auto parsed = parse_firmware_descriptor(
      descriptor("/c.fd", "/v.fd", R"("pc-q35-*")", R"("secure-boot")"), "x.json");
  REQUIRE(parsed.has_value());
  CHECK(parsed->file == "x.json");
  CHECK(parsed->interface_types == std::vector<std::string>{"uefi"});
  CHECK(parsed->device == "flash");
  CHECK(parsed->executable == "/c.fd");
  CHECK(parsed->nvram_template == "/v.fd");
  REQUIRE(parsed->targets.size() == 1);
  CHECK(parsed->targets[0].first == "x86_64");
  CHECK(parsed->targets[0].second == std::vector<std::string>{"pc-q35-*"});
  CHECK(parsed->features == std::vector<std::string>{"secure-boot"});
  CHECK_FALSE(is_plain_uefi_for(*parsed, "q35"));
  CHECK_FALSE(parse_firmware_descriptor("[1, 2]", "y.json").has_value());
}

TEST_CASE("on this host, the q35 DSM guest gets Debian's plain 4M OVMF", "[firmware][host]") {
  if (!std::filesystem::exists("/usr/share/qemu/firmware/60-edk2-x86_64.json")) {
    WARN("Debian's ovmf descriptors are not installed; nothing to check");
    return;
  }
  RootedHostFiles files("/");
  Desired desired;
  desired.vms = {uefi_vm("dsm", "q35"), uefi_vm("old", "pc")};
  Diagnostics diagnostics;
  resolve_firmware(desired, files, diagnostics);
  CHECK(diagnostics.empty());
  for (const Vm& vm : desired.vms) {
    CHECK(vm.firmware.code == "/usr/share/OVMF/OVMF_CODE_4M.fd");
    CHECK(vm.firmware.vars_template == "/usr/share/OVMF/OVMF_VARS_4M.fd");
    CHECK(std::filesystem::exists(vm.firmware.code));
    CHECK(std::filesystem::exists(vm.firmware.vars_template));
  }
}

}  // namespace virtform
