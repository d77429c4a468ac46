// profile = "windows11" and "linux": the defaults each gives what the VM leaves unset, the VM's
// own keys winning over them, the plan naming the profile beside each value it gave, and the
// profiles documented as engine/model/profiles.cpp describes them.

#include "engine/config/profile_reader.h"

#include <catch2/catch.hpp>
#include <map>

#include "engine/config/config.h"
#include "engine/model/profiles.h"
#include "engine/model/vm_fields.h"
#include "support/temp_dir.h"
#include "tests/support/loaded_config.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::formatted;

using Loaded = testing::LoadedConfig;

Loaded load(const std::string& text) {
  return testing::load_config_from(text, "guest.toml");
}

std::string origin(const Vm& vm, const std::string& key) {
  const auto found = vm.attribute_origins.find(key);
  return found == vm.attribute_origins.end() ? "" : found->second;
}

}  // namespace

TEST_CASE("a windows11 guest gets UEFI with Secure Boot, Hyper-V, a local clock and the agent",
          "[profile]") {
  const Loaded loaded = load("[vm.win]\nprofile = \"windows11\"\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const Vm& vm = loaded.vm();
  CHECK(vm.firmware.kind == FirmwareKind::uefi);
  CHECK(vm.firmware.secure_boot == true);
  CHECK(vm.firmware.nvram == "/var/lib/libvirt/qemu/nvram/win_VARS.fd");
  CHECK(origin(vm, "firmware") == "profile windows11");
  CHECK(vm.attributes.at("clock.offset") == "localtime");
  CHECK(vm.attributes.at("clock.hypervclock") == "true");
  CHECK(vm.attributes.at("guest_agent") == "true");
  CHECK(vm.attributes.at("tablet") == "true");
  CHECK(vm.attributes.at("tpm.model") == "tpm-crb");
  CHECK(vm.attributes.at("tpm.backend") == "emulator");
  CHECK(vm.attributes.at("tpm.version") == "2.0");
  // Every value of the windows preset of [vm.X.hyperv], given by the profile.
  for (const FieldPreset& preset : field_presets()) {
    if (preset.table != "hyperv" || preset.name != "windows") continue;
    for (const auto& [key, value] : preset.values) {
      INFO(key);
      CHECK(vm.attributes.at(std::string(key)) == value);
      CHECK(origin(vm, std::string(key)) == "profile windows11");
    }
  }
  CHECK_FALSE(vm.serial);
}

TEST_CASE("the VM's own keys and presets win over its profile's defaults", "[profile]") {
  SECTION("keys of [vm.X] and its tables") {
    const Loaded loaded = load(
        "[vm.win]\nprofile = \"windows11\"\nsecure_boot = false\nguest_agent = false\n"
        "[vm.win.hyperv]\nrelaxed = false\n[vm.win.clock]\noffset = \"utc\"\n");
    INFO(formatted(loaded.diagnostics));
    REQUIRE_FALSE(has_errors(loaded.diagnostics));
    const Vm& vm = loaded.vm();
    CHECK(vm.firmware.kind == FirmwareKind::uefi);
    CHECK(vm.firmware.secure_boot == false);
    CHECK(vm.attributes.at("guest_agent") == "false");
    CHECK(origin(vm, "guest_agent").empty());
    CHECK(vm.attributes.at("hyperv.relaxed") == "false");
    CHECK(vm.attributes.at("clock.offset") == "utc");
    CHECK(vm.attributes.at("hyperv.vapic") == "true");
  }
  SECTION("firmware = \"bios\" leaves Secure Boot out") {
    const Loaded loaded = load("[vm.win]\nprofile = \"windows11\"\nfirmware = \"bios\"\n");
    INFO(formatted(loaded.diagnostics));
    REQUIRE_FALSE(has_errors(loaded.diagnostics));
    CHECK(loaded.vm().firmware.kind == FirmwareKind::bios);
    CHECK_FALSE(loaded.vm().firmware.secure_boot);
    CHECK(origin(loaded.vm(), "firmware").empty());
  }
  SECTION("a pc machine, which has no SMM for a secure loader, keeps UEFI without it") {
    const Loaded loaded = load("[vm.win]\nprofile = \"windows11\"\nmachine = \"pc\"\n");
    INFO(formatted(loaded.diagnostics));
    REQUIRE_FALSE(has_errors(loaded.diagnostics));
    CHECK(loaded.vm().firmware.kind == FirmwareKind::uefi);
    CHECK_FALSE(loaded.vm().firmware.secure_boot);
  }
  SECTION("a serial device of its own") {
    const Loaded loaded = load("[vm.srv]\nprofile = \"linux\"\nserial = {}\n");
    INFO(formatted(loaded.diagnostics));
    REQUIRE_FALSE(has_errors(loaded.diagnostics));
    CHECK(origin(loaded.vm(), "serial").empty());
  }
}

TEST_CASE("a linux guest gets the agent, a random number generator and a serial console",
          "[profile]") {
  const Loaded loaded = load("[vm.srv]\nprofile = \"linux\"\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const Vm& vm = loaded.vm();
  CHECK(vm.firmware.kind == FirmwareKind::bios);
  REQUIRE(vm.serial);
  CHECK(vm.serial->type == "pty");
  CHECK(origin(vm, "serial") == "profile linux");
  CHECK(vm.attributes.at("guest_agent") == "true");
  CHECK(vm.attributes.at("rng") == "true");
  CHECK(vm.attributes.count("hyperv.relaxed") == 0);
}

TEST_CASE("a profile is refused where it names no profile or beside [vm.X.dsm]", "[profile]") {
  SECTION("an unknown name lists the profiles") {
    const Loaded loaded = load("[vm.a]\nprofile = \"windows10\"\n");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message ==
          "profile must be one of \"dsm\", \"windows11\", \"linux\"; got \"windows10\"");
    CHECK(loaded.diagnostics[0].where.line == 2);
  }
  SECTION("two kinds of guest") {
    const Loaded loaded = load("[vm.a]\nprofile = \"windows11\"\n[vm.a.dsm]\n");
    REQUIRE(!loaded.diagnostics.empty());
    CHECK(loaded.diagnostics[0].severity == Severity::error);
    CHECK(loaded.diagnostics[0].message ==
          "profile = \"windows11\" and [vm.a.dsm] describe two kinds of guest: keep one of them");
    CHECK(loaded.diagnostics[0].where.line == 2);
  }
}

TEST_CASE("a plan shows each value a profile gave as the profile's", "[profile]") {
  testing::DemoHostCopy host("virtform-profile");
  const std::string config = host.dir.write_file(
      "srv.toml",
      "[vm.srv]\nname = \"vfprofiletest\"\ntype = \"qemu\"\nprofile = \"linux\"\nrng = false\n");
  const Plan created = host.plan(config);
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  std::map<std::string, std::string> after;
  for (const Change& change : created.changes)
    for (const FieldChange& field : change.fields) after[field.field] = field.after;
  CHECK(after.at("serial") == "pty (profile linux)");
  CHECK(after.at("guest_agent") == "true (profile linux)");
  CHECK(after.at("rng") == "false");
  REQUIRE(host.apply(created));

  const Plan again = host.plan(config);
  for (const Change& change : again.changes) {
    INFO(change.address);
    CHECK(change.fields.empty());
  }
}

TEST_CASE("every profile is documented in docs/configuration.md as its table says", "[profile]") {
  const std::string docs =
      testing::read_file(std::string(VIRTFORM_SOURCE_DIR) + "/docs/configuration.md");
  for (const VmProfile& profile : vm_profiles()) {
    INFO(profile.name);
    const std::string row =
        "| `" + std::string(profile.name) + "` | " + std::string(profile.meaning) + " |";
    CHECK(docs.find(row) != std::string::npos);
  }
}

TEST_CASE("a profile gives no value that would keep the guest from starting", "[profile]") {
  SECTION("without the clock they need it leaves out the enlightenments that need it") {
    const Loaded loaded =
        load("[vm.w]\nprofile = \"windows11\"\n[vm.w.clock]\nhypervclock = false\n");
    INFO(formatted(loaded.diagnostics));
    CHECK(loaded.diagnostics.empty());
    const Vm& vm = loaded.vm();
    CHECK_FALSE(vm.attributes.count("hyperv.stimer"));
    CHECK(vm.attributes.at("hyperv.synic") == "true");
    CHECK(vm.attributes.at("hyperv.relaxed") == "true");
  }
  SECTION("a type = \"qemu\" guest gets no VP index nor the switches that need it") {
    const Loaded loaded = load("[vm.w]\ntype = \"qemu\"\nprofile = \"windows11\"\n");
    INFO(formatted(loaded.diagnostics));
    CHECK(loaded.diagnostics.empty());
    const Vm& vm = loaded.vm();
    for (const char* key : {"hyperv.vpindex", "hyperv.synic", "hyperv.stimer"}) {
      INFO(key);
      CHECK_FALSE(vm.attributes.count(key));
      CHECK_FALSE(vm.attribute_origins.count(key));
    }
    // The rest of the profile stays.
    CHECK(vm.attributes.at("hyperv.relaxed") == "true");
    CHECK(vm.attributes.at("clock.hypervclock") == "true");
    CHECK(vm.firmware.secure_boot == true);
  }
  SECTION("a passed-through TPM of the VM's own takes no emulator version") {
    const Loaded loaded = load(
        "[vm.w]\nprofile = \"windows11\"\n[vm.w.tpm]\nbackend = \"passthrough\"\n"
        "device = \"/dev/tpm0\"\n");
    INFO(formatted(loaded.diagnostics));
    CHECK_FALSE(has_errors(loaded.diagnostics));
    CHECK(loaded.vm().attributes.at("tpm.backend") == "passthrough");
    CHECK_FALSE(loaded.vm().attributes.count("tpm.version"));
    CHECK(loaded.vm().attributes.at("tpm.model") == "tpm-crb");
  }
  SECTION("a KVM guest keeps them all") {
    const Loaded loaded = load("[vm.w]\nprofile = \"windows11\"\n");
    CHECK(loaded.vm().attributes.at("hyperv.vpindex") == "true");
    CHECK(loaded.vm().attributes.at("hyperv.stimer") == "true");
  }
  SECTION("a value the user set is checked as usual: an error at its key") {
    const Loaded loaded =
        load("[vm.w]\ntype = \"qemu\"\nprofile = \"windows11\"\n[vm.w.hyperv]\nvpindex = true\n");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].severity == Severity::warning);
    CHECK(loaded.diagnostics[0].message.starts_with(
        "vpindex = true needs KVM: QEMU cannot set Hyper-V's VP index for a type = \"qemu\" "
        "guest"));
    CHECK(loaded.diagnostics[0].where.line == 5);
  }
  SECTION("a preset the user named is the user's: its switches are reported at the preset") {
    const Loaded loaded = load(
        "[vm.w]\nprofile = \"windows11\"\n[vm.w.clock]\nhypervclock = false\n"
        "[vm.w.hyperv]\npreset = \"windows\"\n");
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK(loaded.diagnostics[0].message ==
          "stimer = true (from preset windows) needs hypervclock = true in [vm.w.clock]: QEMU "
          "refuses to start a KVM guest without it");
    CHECK(loaded.diagnostics[0].where.line == 6);
  }
}

TEST_CASE("Secure Boot comes with firmware_autoselect but not with the user's firmware_code",
          "[profile]") {
  const Loaded autoselect =
      load("[vm.w]\nprofile = \"windows11\"\nfirmware = \"uefi\"\nfirmware_autoselect = true\n");
  INFO(formatted(autoselect.diagnostics));
  REQUIRE_FALSE(has_errors(autoselect.diagnostics));
  CHECK(autoselect.vm().firmware.autoselect);
  CHECK(autoselect.vm().firmware.secure_boot == true);

  testing::TempDir dir;
  const std::string code = dir.write_file("OVMF_CODE.fd", "code");
  const std::string vars = dir.write_file("OVMF_VARS.fd", "vars");
  const Loaded own = load("[vm.w]\nprofile = \"windows11\"\nfirmware_code = \"" + code +
                          "\"\nfirmware_vars = \"" + vars + "\"\n");
  INFO(formatted(own.diagnostics));
  REQUIRE_FALSE(has_errors(own.diagnostics));
  CHECK(own.vm().firmware.code == code);
  CHECK_FALSE(own.vm().firmware.secure_boot);
}

}  // namespace virtform

namespace virtform {

TEST_CASE("windows11 puts the virtio_win ISO in a sata CD-ROM drive after the VM's own",
          "[profile][cdrom]") {
  const Loaded loaded = load(
      "[vm.win]\nprofile = \"windows11\"\nvirtio_win = \"/iso/virtio-win.iso\"\n"
      "[[vm.win.disk]]\ndevice = \"cdrom\"\nfile = \"/iso/Win11.iso\"\nbus = \"scsi\"\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const std::vector<Disk>& drives = loaded.vm().cdroms;
  REQUIRE(drives.size() == 2);
  CHECK(drives[0].source == "/iso/Win11.iso");
  CHECK(drives[1].source == "/iso/virtio-win.iso");
  CHECK(drives[1].bus == DiskBus::sata);
  CHECK(drives[1].readonly);
  CHECK(drives[1].where.line == 3);

  for (const char* profile : {"", "profile = \"linux\"\n"}) {
    const Loaded refused =
        load(std::string("[vm.win]\n") + profile + "virtio_win = \"/iso/virtio-win.iso\"\n");
    INFO(formatted(refused.diagnostics));
    REQUIRE(refused.diagnostics.size() == 1);
    CHECK(refused.diagnostics[0].message ==
          "virtio_win is the windows11 profile's: set profile = \"windows11\", or declare the ISO "
          "as a [[vm.win.disk]] with device = \"cdrom\"");
    CHECK(refused.vm().cdroms.empty());
  }
}

}  // namespace virtform
