// [vm.X.dsm] and profile = "dsm": the table, the seed's defaults for what the VM leaves unset,
// and the checks the model table drives, each with its location.

#include "engine/config/dsm_reader.h"

#include <catch2/catch.hpp>

#include "engine/config/config.h"
#include "tests/support/loaded_config.h"

namespace virtform {
namespace {

using testing::formatted;

using Loaded = testing::LoadedConfig;

Loaded load(const std::string& text) {
  return testing::load_config_from(text, "dsm.toml");
}

// The diagnostics of `severity` whose message holds `text`.
std::vector<Diagnostic> matching(const Diagnostics& diagnostics, Severity severity,
                                 const std::string& text) {
  std::vector<Diagnostic> found;
  for (const Diagnostic& d : diagnostics)
    if (d.severity == severity && d.message.find(text) != std::string::npos) found.push_back(d);
  return found;
}

const std::string kDisks =
    "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-A\"\n"
    "[[vm.nas.disk]]\nfile = \"/images/cache.img\"\n";

}  // namespace

TEST_CASE("a DSM guest takes the seed's values for what it leaves unset", "[dsm]") {
  const Loaded loaded = load("[vm.nas]\ncpu = \"host-passthrough\"\n[vm.nas.dsm]\n" + kDisks);
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const Vm& vm = loaded.vm();
  REQUIRE(vm.dsm);
  CHECK(vm.dsm->model == "DS918+");
  CHECK(vm.machine == "q35");
  CHECK(vm.firmware.kind == FirmwareKind::uefi);
  CHECK(vm.firmware.nvram == "/var/lib/libvirt/qemu/nvram/nas_VARS.fd");
  REQUIRE(vm.disks.size() == 2);
  CHECK(vm.disks[0].bus == DiskBus::scsi);
  CHECK(vm.disks[0].cache == "none");
  CHECK(vm.disks[0].io == "native");
  // An image file keeps QEMU's defaults: the host's cache serves it well.
  CHECK(vm.disks[1].bus == DiskBus::scsi);
  CHECK_FALSE(vm.disks[1].cache);
  CHECK_FALSE(vm.disks[1].io);
  CHECK(vm.serial == Serial{"pty"});
  CHECK(vm.attributes.at("boot_menu") == "true");
}

TEST_CASE("what a DSM guest sets itself stays as set", "[dsm]") {
  const Loaded loaded = load(
      "[vm.nas]\nprofile = \"dsm\"\ncpu = \"host-passthrough\"\nfirmware = \"bios\"\n"
      "machine = \"pc\"\nboot_menu = false\n"
      "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-A\"\nbus = \"sata\"\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const Vm& vm = loaded.vm();
  REQUIRE(vm.dsm);
  CHECK(vm.dsm->where.line == 2);
  CHECK(vm.firmware.kind == FirmwareKind::bios);
  CHECK(vm.machine == "pc");
  CHECK(vm.attributes.at("boot_menu") == "false");
  CHECK(vm.disks.at(0).bus == DiskBus::sata);
}

TEST_CASE("a VM that is no DSM guest keeps virtform's own defaults", "[dsm]") {
  const Loaded loaded = load("[vm.nas]\n" + kDisks);
  REQUIRE_FALSE(has_errors(loaded.diagnostics));
  const Vm& vm = loaded.vm();
  CHECK_FALSE(vm.dsm);
  CHECK(vm.firmware.kind == FirmwareKind::bios);
  CHECK(vm.disks.at(0).bus == DiskBus::virtio);
  CHECK_FALSE(vm.disks.at(0).cache);
  CHECK_FALSE(vm.serial);
  CHECK(vm.attributes.count("boot_menu") == 0);
}

TEST_CASE("the [vm.X.dsm] table is read with its loader values", "[dsm]") {
  const Loaded loaded = load(
      "[vm.nas]\ncpu = \"host-model\"\n[vm.nas.dsm]\nmodel = \"DS3622xs+\"\n"
      "sata_port_map = \"12\"\ndisk_idx_map = \"1000\"\nacpid = true\n");
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const DsmGuest& dsm = *loaded.vm().dsm;
  CHECK(dsm.model == "DS3622xs+");
  CHECK(dsm.sata_port_map == "12");
  CHECK(dsm.sata_port_map_where.line == 5);
  CHECK(dsm.disk_idx_map == "1000");
  CHECK(dsm.acpid);
}

TEST_CASE("bad DSM keys are refused where they are written", "[dsm]") {
  SECTION("an unknown model, with the nearest one") {
    const auto errors = matching(load("[vm.nas]\n[vm.nas.dsm]\nmodel = \"DS918\"\n").diagnostics,
                                 Severity::error, "model must be one of");
    REQUIRE(errors.size() == 1);
    CHECK(format(errors[0]) ==
          "dsm.toml:3:9: error: model must be one of \"DS918+\", \"DS3622xs+\", \"DS920+\", "
          "\"DS1621+\", \"DS3617xs\", \"DVA3221\", \"DS3615xs\"; got \"DS918\"; did you mean "
          "\"DS918+\"?");
  }
  SECTION("a port map that is no port counts") {
    const auto errors =
        matching(load("[vm.nas]\n[vm.nas.dsm]\nsata_port_map = \"1 2\"\n").diagnostics,
                 Severity::error, "sata_port_map must hold");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.line == 3);
  }
  SECTION("an index map of an odd length") {
    const auto errors =
        matching(load("[vm.nas]\n[vm.nas.dsm]\ndisk_idx_map = \"100\"\n").diagnostics,
                 Severity::error, "disk_idx_map must hold two hex digits per controller");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.line == 3);
  }
  SECTION("a profile virtform does not know") {
    CHECK(matching(load("[vm.nas]\nprofile = \"nas\"\n").diagnostics, Severity::error,
                   "profile must be one of \"dsm\"")
              .size() == 1);
  }
  SECTION("an unknown key of the table") {
    CHECK(matching(load("[vm.nas]\n[vm.nas.dsm]\nmodle = \"DS918+\"\n").diagnostics,
                   Severity::error, "did you mean 'model'?")
              .size() == 1);
  }
}

TEST_CASE("vcpus above the model's CPU threads is an error at vcpus", "[dsm]") {
  const std::string base = "[vm.nas]\ncpu = \"host-passthrough\"\n";
  SECTION("DS918+ runs 8 threads") {
    const Loaded loaded = load(base + "vcpus = 9\n[vm.nas.dsm]\n");
    const auto errors = matching(loaded.diagnostics, Severity::error, "vcpus = 9");
    REQUIRE(errors.size() == 1);
    CHECK(format(errors[0]) ==
          "dsm.toml:3:9: error: vcpus = 9 is more than the 8 CPU threads a DS918+ runs; set "
          "vcpus = 8 or fewer, or choose a larger model");
    CHECK_FALSE(has_errors(load(base + "vcpus = 8\n[vm.nas.dsm]\n").diagnostics));
    // vCPUs plugged in later count: the maximum is what the loader meets.
    const Loaded growing = load(base + "vcpus = 4\nvcpus_max = 12\n[vm.nas.dsm]\n");
    const auto too_many = matching(growing.diagnostics, Severity::error, "vcpus_max = 12");
    REQUIRE(too_many.size() == 1);
    CHECK(format(too_many[0]) ==
          "dsm.toml:4:13: error: vcpus_max = 12 is more than the 8 CPU threads a DS918+ runs; "
          "set vcpus_max = 8 or fewer, or choose a larger model");
  }
  SECTION("DS3622xs+ runs 24") {
    CHECK_FALSE(
        has_errors(load(base + "vcpus = 24\n[vm.nas.dsm]\nmodel = \"DS3622xs+\"\n").diagnostics));
    CHECK(has_errors(load(base + "vcpus = 25\n[vm.nas.dsm]\nmodel = \"DS3622xs+\"\n").diagnostics));
  }
  SECTION("without the table the limit does not apply") {
    CHECK_FALSE(has_errors(load(base + "vcpus = 32\n").diagnostics));
  }
}

TEST_CASE("a CPU older than the model needs is a warning naming the fix", "[dsm]") {
  auto warnings = [](const std::string& model, const std::string& cpu_line) {
    return matching(
        load("[vm.nas]\n" + cpu_line + "\n[vm.nas.dsm]\nmodel = \"" + model + "\"\n").diagnostics,
        Severity::warning, "or newer CPU");
  };
  SECTION("models known to be older than Haswell") {
    for (const char* cpu :
         {"qemu64", "kvm64", "Nehalem", "Westmere-IBRS", "SandyBridge", "IvyBridge-v2", "Penryn",
          "Conroe", "core2duo", "Opteron_G1", "Opteron_G5"}) {
      INFO(cpu);
      const auto found = warnings("DS918+", std::string("cpu = \"") + cpu + "\"");
      REQUIRE(found.size() == 1);
      CHECK(found[0].where.line == 2);
      CHECK(found[0].message.find("set cpu = \"host-passthrough\"") != std::string::npos);
    }
  }
  SECTION("QEMU's default model when cpu is unset") {
    const auto found = warnings("DVA3221", "");
    REQUIRE(found.size() == 1);
    CHECK(found[0].message ==
          "a DVA3221 (denverton) needs a Haswell or newer CPU, which QEMU's default CPU model "
          "(qemu64) does not show the guest; set cpu = \"host-passthrough\"");
  }
  SECTION("a TCG guest is told to use max") {
    const auto found = warnings("DS920+", "type = \"qemu\"");
    REQUIRE(found.size() == 1);
    CHECK(found[0].message.find("set cpu = \"max\"") != std::string::npos);
  }
  SECTION("host modes, max, Haswell and newer, and unknown models pass") {
    for (const char* cpu :
         {"host-passthrough", "host-model", "max", "Haswell", "Haswell-noTSX-IBRS", "Broadwell",
          "Skylake-Client-v4", "Cascadelake-Server", "Icelake-Server", "Cooperlake",
          "SapphireRapids", "EPYC-Rome", "EPYC", "Dhyana", "SomeVendorModel"}) {
      INFO(cpu);
      CHECK(warnings("DS918+", std::string("cpu = \"") + cpu + "\"").empty());
    }
  }
  SECTION("a model that runs on any x86-64 never warns") {
    CHECK(warnings("DS3622xs+", "cpu = \"qemu64\"").empty());
    CHECK(warnings("DS1621+", "").empty());
  }
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a DSM whole disk with a cache mode of its own gets native I/O only past the cache",
          "[dsm]") {
  const Loaded cached = load(
      "[vm.nas]\ncpu = \"host-passthrough\"\n[vm.nas.dsm]\n[[vm.nas.disk]]\n"
      "source = \"/dev/disk/by-id/ata-A\"\ncache = \"writeback\"\n");
  INFO(formatted(cached.diagnostics));
  REQUIRE_FALSE(has_errors(cached.diagnostics));
  CHECK(cached.vm().disks.at(0).cache == "writeback");
  CHECK_FALSE(cached.vm().disks.at(0).io);
  const Loaded direct = load(
      "[vm.nas]\ncpu = \"host-passthrough\"\n[vm.nas.dsm]\n[[vm.nas.disk]]\n"
      "source = \"/dev/disk/by-id/ata-A\"\ncache = \"directsync\"\nio = \"threads\"\n");
  CHECK(direct.vm().disks.at(0).cache == "directsync");
  CHECK(direct.vm().disks.at(0).io == "threads");
}

}  // namespace virtform
