// virtform import: live domains -> TOML -> config -> plan. Domains from the repo's fixtures (and
// the seed's own DSM definition) are put on a copy of the demo host (libvirt's test driver plus
// the recorded host files), imported, and the imported TOML is planned: nothing changes but the
// adoption of unmanaged domains; after applying that, nothing changes at all.

#include "engine/import/importer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/apply/step_runner.h"
#include "engine/config/config.h"
#include "engine/dsm/slot_map.h"
#include "engine/passes.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/pipeline.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "tests/support/examples.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The seed's DSM definition as this test host can hold it: its 'host-bridge' network is the
// demo host's 'default' one. Everything else (the kvm type, /dev/sdX disks, the old machine type,
// OVMF without a variables template, the usb hub) stays as the seed has it.
std::string seed_dsm_for_demo_host() {
  std::string xml = testing::libvirt_fixture("seed-dsm.xml");
  replace_all(xml, "network='host-bridge'", "network='default'");
  return xml;
}

// A copy of the demo host with extra domains in its test-driver description.
struct ImportHost {
  TempDir dir{"virtform-import"};
  std::string root;
  std::string host_xml;
  unsigned usb_ports = 0;  // the devices add_usb_device plugged in
  std::unique_ptr<LibvirtHypervisor> hypervisor;

  explicit ImportHost(const std::vector<std::string>& domains = {}) {
    fs::copy(kSource + "/examples/demo-host", dir.path(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    root = dir / "root";
    host_xml = dir / "host.xml";
    std::string text = read_file(host_xml);
    std::string inserted;
    for (const std::string& domain : domains) inserted += domain + "\n";
    text.insert(text.rfind("</node>"), inserted);
    std::ofstream(host_xml) << text;
    hypervisor = std::make_unique<LibvirtHypervisor>("test://" + host_xml);
  }

  // A file on the host (the domains' disks, kernels, ROMs are files the config checks for):
  // empty, as a capture records it, so that no image reads as another format than declared.
  void add_file(const std::string& path) {
    const fs::path real = root + path;
    if (fs::exists(real) || fs::is_symlink(real)) return;
    fs::create_directories(real.parent_path());
    std::ofstream{real};
  }

  // A USB device plugged into the host as sysfs lists it, unless the host has it.
  void add_usb_device(const UsbDevice& device) {
    for (const UsbHostDevice& plugged : read_host_devices(root).usb) {
      UsbDevice there;
      there.vendor = plugged.vendor;
      there.product = plugged.product;
      there.bus = plugged.bus;
      there.device = plugged.device;
      if (names_usb(device, there)) return;
    }
    const fs::path port = root + "/sys/bus/usb/devices/9-" + std::to_string(++usb_ports);
    fs::create_directories(port);
    std::ofstream(port / "idVendor") << device.vendor << "\n";
    std::ofstream(port / "idProduct") << device.product << "\n";
    std::ofstream(port / "busnum") << device.bus.value_or(9) << "\n";
    std::ofstream(port / "devnum") << device.device.value_or(usb_ports + 1) << "\n";
  }

  void add_files_named_by(const Desired& desired) {
    for (const auto& [key, loader] : desired.loaders) add_file(loader.image);
    for (const Vm& vm : desired.vms) {
      for (const Disk& disk : vm.disks)
        if (disk.loader.empty()) add_file(disk.source);
      for (const Disk& cdrom : vm.cdroms)
        if (!cdrom.source.empty()) add_file(cdrom.source);
      for (const PciDevice& device : vm.pci)
        if (device.rom) add_file(*device.rom);
      if (vm.kernel) add_file(vm.kernel->kernel);
      if (vm.kernel && !vm.kernel->initrd.empty()) add_file(vm.kernel->initrd);
      for (const Share& share : vm.shares) fs::create_directories(root + share.source);
      for (const UsbDevice& device : vm.usb) add_usb_device(device);
      if (vm.graphics && vm.graphics->rendernode) add_file(*vm.graphics->rendernode);
      for (const InputDevice& input : vm.inputs)
        if (input.type == "evdev") add_file(input.source);
      for (const MdevDevice& device : vm.mdevs)
        fs::create_directories(root + "/sys/bus/mdev/devices/" + device.uuid);
    }
  }

  // `virtform import` in-process: what run_import does, on this host's connection.
  std::string import(const std::vector<std::string>& names, Diagnostics& warnings) {
    const Live live = hypervisor->read_live();
    std::vector<ImportSource> sources;
    for (const std::string& name : names) {
      const LiveDomain* domain = live.find_domain(name);
      REQUIRE(domain != nullptr);
      ImportSource source{*domain, {}, importable_fragments(domain->xml)};
      parse_domain_xml(domain->xml, &source.unexpressed);
      sources.push_back(std::move(source));
    }
    RootedHostFiles files(root);
    const Desired desired = desired_from_live(sources, files, warnings);
    add_files_named_by(desired);
    const std::string toml = render_config_toml(desired, warnings);
    std::ofstream(dir / "imported.toml") << toml;
    return toml;
  }

  Plan plan(const std::vector<std::string>& paths) {
    return testing::plan_in_process(*hypervisor, root, paths);
  }

  Plan plan_imported() { return plan({dir / "imported.toml"}); }

  bool apply(const Plan& plan) { return testing::apply_in_process(*hypervisor, root, plan); }

  std::string persistent_xml(const std::string& name) {
    const LiveDomain* domain = nullptr;
    const Live live = hypervisor->read_live();
    domain = live.find_domain(name);
    REQUIRE(domain != nullptr);
    return domain->xml;
  }
};

std::string errors_of(const Plan& plan) {
  std::string text;
  for (const Diagnostic& diagnostic : plan.diagnostics)
    if (diagnostic.severity == Severity::error) text += format(diagnostic) + "\n";
  return text;
}

std::string fields_of(const Change& change) {
  std::string text;
  for (const FieldChange& field : change.fields)
    text += field.field + ": " + field.before + " -> " + field.after + "\n";
  return text;
}

// No errors, and nothing to do; with `adopting`, unmanaged domains may show their adoption,
// and the fields in `warned` (what import warned it cannot express) must differ.
void check_no_changes(const Plan& plan, bool adopting, const std::set<std::string>& warned = {}) {
  INFO(errors_of(plan));
  REQUIRE_FALSE(has_errors(plan.diagnostics));
  std::set<std::string> differing;
  for (const Change& change : plan.changes) {
    INFO(change.address << "\n" << fields_of(change));
    if (change.action == Action::none) continue;
    CHECK(change.action == Action::update);
    for (const FieldChange& field : change.fields) {
      if (field.field == "managed") {
        CHECK(adopting);
      } else {
        differing.insert(field.field);
      }
    }
  }
  CHECK(differing == warned);
}

// Import -> plan (only adoption, and what import warned about) -> apply -> plan (nothing) -> the
// domains kept their UUIDs.
void check_round_trip(ImportHost& host, const std::vector<std::string>& names,
                      const std::set<std::string>& warned = {}) {
  std::map<std::string, std::string> uuids;
  for (const LiveDomain& domain : host.hypervisor->read_live().domains)
    uuids[domain.vm.name] = domain.uuid;
  Diagnostics warnings;
  const std::string toml = host.import(names, warnings);
  INFO("imported:\n" << toml);
  CHECK(std::count(toml.begin(), toml.end(), '#') >= static_cast<long>(warned.size()));
  const Plan first = host.plan_imported();
  check_no_changes(first, true, warned);
  REQUIRE(host.apply(first));
  const Plan second = host.plan_imported();
  check_no_changes(second, false);
  for (const LiveDomain& domain : host.hypervisor->read_live().domains) {
    if (std::find(names.begin(), names.end(), domain.vm.name) == names.end()) continue;
    CHECK(domain.managed);
    CHECK(domain.uuid == uuids[domain.vm.name]);
  }
}

bool has_warning(const Diagnostics& warnings, const std::string& resource,
                 const std::string& text) {
  return std::any_of(warnings.begin(), warnings.end(), [&](const Diagnostic& warning) {
    return warning.severity == Severity::warning && warning.resource == resource &&
           warning.message.find(text) != std::string::npos;
  });
}

TEST_CASE("resource keys are made from domain names", "[import]") {
  CHECK(resource_key_from("DSM") == "DSM");
  CHECK(resource_key_from("home-assistant_2") == "home-assistant_2");
  CHECK(resource_key_from("Windows 11 (gaming)") == "Windows-11--gaming-");
  CHECK(resource_key_from("a.b/c") == "a-b-c");
}

TEST_CASE("strings in the imported TOML read back exactly", "[import]") {
  TempDir dir;
  Desired desired;
  Vm vm;
  vm.key = "odd";
  vm.name = "odd \"name\" with \\ and ünïcode";
  // A tab is escaped too; in the command line, as a domain name may hold no control character.
  vm.kernel = DirectKernel{"/boot/vmlinuz", "", "console=ttyS0\troot=\"LABEL=a b\""};
  vm.adopt = true;
  desired.vms.push_back(vm);
  std::ofstream(dir / "odd.toml") << render_config_toml(desired, {});
  Diagnostics diagnostics;
  const Desired read = load_config({dir / "odd.toml"}, diagnostics);
  INFO(render_config_toml(desired, {}));
  REQUIRE_FALSE(has_errors(diagnostics));
  REQUIRE(read.vms.size() == 1);
  CHECK(read.vms[0].name == vm.name);
  CHECK(read.vms[0].kernel == vm.kernel);
  CHECK(read.vms[0].adopt);
}

TEST_CASE("each fixture domain imports, adopts with no other change and then plans none",
          "[import]") {
  // test-gpu.xml leaves UEFI to libvirt (firmware='efi'), which import keeps. A boot order on a
  // plain disk is not owned, so it is no difference.
  const std::map<std::string, std::set<std::string>> fixtures = {
      {"test-dsm.xml", {}},      {"test-minimal.xml", {}},      {"test-gpu.xml", {}},
      {"test-gpu-slot.xml", {}}, {"qemu-extras.xml", {}},       {"qemu-minimal.xml", {}},
      {"qemu-windows.xml", {}},  {"qemu-shares.xml", {}},       {"qemu-cpu.xml", {}},
      {"qemu-memory.xml", {}},   {"qemu-usb-host.xml", {}},     {"qemu-virgl.xml", {}},
      {"qemu-inputs.xml", {}},   {"qemu-usb-redirect.xml", {}}, {"qemu-mdev.xml", {}},
  };
  for (const auto& [name, warned] : fixtures) {
    SECTION(name) {
      const std::string xml = testing::libvirt_fixture(name);
      ImportHost host({xml});
      const std::string domain = parse_domain_xml(xml).vm.name;
      check_round_trip(host, {domain}, warned);
    }
  }
  SECTION("the demo host's own unmanaged guest") {
    ImportHost host;
    check_round_trip(host, {"homeassistant"});
  }
}

TEST_CASE("the seed's DSM imports as a loader, whole disks and a NIC with its MAC", "[import]") {
  ImportHost host({seed_dsm_for_demo_host()});
  // The seed's host had Debian's 2 MiB OVMF pair, which the descriptors do not describe.
  host.add_file("/usr/share/OVMF/OVMF_CODE.fd");
  host.add_file("/usr/share/OVMF/OVMF_VARS.fd");
  Diagnostics warnings;
  const std::string toml = host.import({"DSM"}, warnings);
  INFO(toml);
  CHECK(toml.find("[loader.tinycore-redpill-uefi-v0-9-2-8]") != std::string::npos);
  CHECK(toml.find("image = \"/image/tinycore-redpill-uefi.v0.9.2.8.img\"") != std::string::npos);
  // The guest writes the image itself, so the imported config keeps it that way.
  CHECK(toml.find("[vm.DSM.boot]\nloader = \"tinycore-redpill-uefi-v0-9-2-8\"\nbus = \"usb\"\n"
                  "overlay = false\n") != std::string::npos);
  CHECK(toml.find("memory = \"4GiB\"") != std::string::npos);
  CHECK(toml.find("machine = \"pc-q35-4.2\"") != std::string::npos);
  CHECK(toml.find("firmware_code = \"/usr/share/OVMF/OVMF_CODE.fd\"\n"
                  "firmware_vars = \"/usr/share/OVMF/OVMF_VARS.fd\"") != std::string::npos);
  CHECK(toml.find("nvram = \"/var/lib/libvirt/qemu/nvram/DSM_VARS.fd\"") != std::string::npos);
  CHECK(toml.find("mac = \"52:54:00:a1:b2:c3\"") != std::string::npos);
  // At units 0 and 1 uncached, as a new guest from the config would have them: no keys for it.
  CHECK(toml.find("source = \"/dev/sdb\"\nbus = \"scsi\"\n\n") != std::string::npos);
  CHECK(toml.find("source = \"/dev/sdc\"\nbus = \"scsi\"\n\n") != std::string::npos);
  CHECK(toml.find("adopt = true") != std::string::npos);
  CHECK(toml.find("project") == std::string::npos);
  // What virtform cannot say is told and kept.
  CHECK(has_warning(warnings, "vm.DSM", "hub"));
  CHECK(toml.find("# not expressed: devices/hub") != std::string::npos);

  const Plan first = host.plan_imported();
  check_no_changes(first, true);
  REQUIRE(host.apply(first));
  check_no_changes(host.plan_imported(), false);
  const std::string after = host.persistent_xml("DSM");
  CHECK(after.find("<hub") != std::string::npos);
  CHECK(after.find("186682f9-0f0b-4a9e-867b-364706339405") != std::string::npos);
}

TEST_CASE("disks import pinned where a new guest would sit elsewhere, with their cache modes",
          "[import]") {
  // Data disks at units 1 and 2, as libvirt places them behind a loader named sda; one cached.
  std::string xml = seed_dsm_for_demo_host();
  replace_all(xml, "target='0' unit='1'", "target='0' unit='2'");
  replace_all(xml, "target='0' unit='0'", "target='0' unit='1'");
  const auto second =
      xml.find("cache='none' io='native'", xml.find("cache='none' io='native'") + 1);
  REQUIRE(second != std::string::npos);
  xml.replace(second, std::string("cache='none' io='native'").size(), "cache='writeback'");
  ImportHost host({xml});
  host.add_file("/usr/share/OVMF/OVMF_CODE.fd");
  host.add_file("/usr/share/OVMF/OVMF_VARS.fd");
  Diagnostics warnings;
  const std::string toml = host.import({"DSM"}, warnings);
  INFO(toml);
  CHECK(toml.find("source = \"/dev/sdb\"\nbus = \"scsi\"\ncontroller = 0\nunit = 1\n\n") !=
        std::string::npos);
  CHECK(toml.find("source = \"/dev/sdc\"\nbus = \"scsi\"\ncontroller = 0\nunit = 2\n"
                  "cache = \"writeback\"\n\n") != std::string::npos);
  const Plan first = host.plan_imported();
  check_no_changes(first, true);
  REQUIRE(host.apply(first));
  check_no_changes(host.plan_imported(), false);
  const std::string after = host.persistent_xml("DSM");
  CHECK(after.find("unit='2'") != std::string::npos);
  CHECK(after.find("cache='writeback'") != std::string::npos);
}

TEST_CASE("the seed's DSM imports to the seed's slot map, and declared DSM plans no change",
          "[import][dsm]") {
  ImportHost host({seed_dsm_for_demo_host()});
  host.add_file("/usr/share/OVMF/OVMF_CODE.fd");
  host.add_file("/usr/share/OVMF/OVMF_VARS.fd");
  const Live live = host.hypervisor->read_live();
  const LiveDomain* seed = live.find_domain("DSM");
  REQUIRE(seed != nullptr);
  // The live layout alone: q35's SATA controller unused, two disks on virtio-scsi.
  const DsmSlotMap live_map = compute_dsm_slot_map(seed->vm);
  CHECK(live_map.sata_port_map == "12");
  CHECK(live_map.disk_idx_map == "1000");

  Diagnostics warnings;
  const std::string toml = host.import({"DSM"}, warnings);
  // The user declares the guest a DS918+ with what the seed's loader holds: the DSM defaults
  // fill nothing the import left out, so only the adoption shows.
  std::ofstream(host.dir / "imported.toml", std::ios::app)
      << "\n[vm.DSM.dsm]\nmodel = \"DS918+\"\nsata_port_map = \"12\"\ndisk_idx_map = "
         "\"1000\"\nacpid = true\n";
  INFO(read_file(host.dir / "imported.toml"));
  const Plan plan = host.plan_imported();
  check_no_changes(plan, true);
  const Change* change = plan.find("vm.DSM");
  REQUIRE(change != nullptr);
  REQUIRE(change->dsm);
  REQUIRE(change->dsm->map);
  CHECK(change->dsm->map->sata_port_map == "12");
  CHECK(change->dsm->map->disk_idx_map == "1000");
  CHECK_FALSE(change->dsm->live_map);
  // None of the DSM checks has anything to say (the /dev/sdX names are warned about as always).
  for (const Diagnostic& diagnostic : plan.diagnostics) {
    INFO(diagnostic.message);
    for (const char* word : {"DSM", "SataPortMap", "acpid", "CPU", "virtio-blk"})
      CHECK(diagnostic.message.find(word) == std::string::npos);
  }
}

TEST_CASE("UEFI code no descriptor names imports exactly and keeps the guest's firmware",
          "[import]") {
  // Secure Boot OVMF from another distribution's path, with no template beside it.
  const std::string code = "/usr/share/edk2-ovmf/x64/OVMF_CODE.secboot.fd";
  std::string xml = seed_dsm_for_demo_host();
  replace_all(xml, "/usr/share/OVMF/OVMF_CODE.fd", code);
  ImportHost host({xml});
  host.add_file(code);
  host.add_file("/var/lib/libvirt/qemu/nvram/DSM_VARS.fd");
  Diagnostics warnings;
  const std::string toml = host.import({"DSM"}, warnings);
  INFO(toml);
  CHECK(toml.find("firmware_code = \"" + code + "\"\n") != std::string::npos);
  CHECK(toml.find("firmware_vars") == std::string::npos);
  CHECK_FALSE(has_warning(warnings, "vm.DSM", "firmware"));
  check_no_changes(host.plan_imported(), true);

  // Without its store, a template is needed to make one: the plan says which key to set.
  fs::remove(host.root + "/var/lib/libvirt/qemu/nvram/DSM_VARS.fd");
  const Plan refused = host.plan_imported();
  CHECK(errors_of(refused).find("firmware_code " + code + " has no firmware_vars, and the " +
                                "NVRAM store /var/lib/libvirt/qemu/nvram/DSM_VARS.fd does not " +
                                "exist") != std::string::npos);
}

// A UEFI guest as libvirt 9 keeps its inactive definition, with `os` inside <os> after <type>
// and `features` inside <features>.
std::string uefi_guest(const std::string& name, const std::string& os,
                       const std::string& features = "") {
  return "<domain type='qemu'>\n  <name>" + name +
         "</name>\n  <memory unit='KiB'>262144</memory>\n  <vcpu>1</vcpu>\n"
         "  <os>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n" +
         os + "  </os>\n  <features>\n    <acpi/>\n" + features +
         "  </features>\n  <devices>\n    <disk type='file' device='disk'>\n"
         "      <driver name='qemu' type='raw'/>\n      <source file='/var/lib/vf/" +
         name +
         ".img'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
         "  </devices>\n</domain>";
}

TEST_CASE("UEFI guests import to a plan that keeps their firmware exactly", "[import]") {
  struct Case {
    std::string name, os, features;
    std::vector<std::string> toml;   // lines the imported TOML has
    std::vector<std::string> files;  // what the host holds
  };
  const std::string nvram = "/var/lib/libvirt/qemu/nvram/";
  const std::vector<Case> cases = {
      // libvirt's autoselection, told to find Secure Boot with keys: kept as libvirt's choice.
      {"vfimp-auto-sb",
       "    <firmware>\n      <feature enabled='yes' name='enrolled-keys'/>\n"
       "      <feature enabled='yes' name='secure-boot'/>\n    </firmware>\n",
       "",
       {"firmware_autoselect = true\n", "secure_boot = true\n"},
       {}},
      // Autoselection left free: no Secure Boot key is written, and none is owned.
      {"vfimp-auto", "", "", {"firmware_autoselect = true\n"}, {}},
      // Secure Boot from a path no descriptor names (Fedora's), SMM on.
      {"vfimp-fedora-sb",
       "    <loader readonly='yes' secure='yes' "
       "type='pflash'>/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd</loader>\n"
       "    <nvram template='/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd'>" +
           nvram + "vfimp-fedora-sb_VARS.fd</nvram>\n",
       "    <smm state='on'/>\n",
       {"secure_boot = true\nfirmware_code = \"/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd\"\n"
        "firmware_vars = \"/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd\"\n"},
       {"/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd"}},
      // A macOS guest's own firmware in its directory, with its store and no template.
      {"vfimp-macos",
       "    <loader readonly='yes' type='pflash'>/var/lib/vf/macos/OVMF_CODE.fd</loader>\n"
       "    <nvram>/var/lib/vf/macos/OVMF_VARS.fd</nvram>\n",
       "",
       {"firmware_code = \"/var/lib/vf/macos/OVMF_CODE.fd\"\n"
        "nvram = \"/var/lib/vf/macos/OVMF_VARS.fd\"\n"},
       {"/var/lib/vf/macos/OVMF_CODE.fd", "/var/lib/vf/macos/OVMF_VARS.fd"}},
  };
  for (const Case& guest : cases) {
    SECTION(guest.name) {
      std::string xml = uefi_guest(guest.name, guest.os, guest.features);
      if (guest.name.starts_with("vfimp-auto")) replace_all(xml, "<os>", "<os firmware='efi'>");
      ImportHost host({xml});
      for (const std::string& file : guest.files) host.add_file(file);
      Diagnostics warnings;
      const std::string toml = host.import({guest.name}, warnings);
      INFO(toml);
      for (const std::string& line : guest.toml) CHECK(toml.find(line) != std::string::npos);
      CHECK_FALSE(has_warning(warnings, "vm." + guest.name, "firmware"));
      check_round_trip(host, {guest.name});
      // Applied, the definition still asks for what it asked for.
      const std::string after = host.persistent_xml(guest.name);
      const Firmware before = parse_domain_xml(xml).vm.firmware;
      const Firmware now = parse_domain_xml(after).vm.firmware;
      CHECK(now.code == before.code);
      CHECK(now.autoselect == before.autoselect);
      CHECK(now.secure_boot == before.secure_boot);
      CHECK(now.vars_template == before.vars_template);
    }
  }
}

TEST_CASE("a domain naming a relative path is refused by import, with the path", "[import]") {
  std::string xml = uefi_guest("vfimp-relative", "");
  replace_all(xml, "/var/lib/vf/vfimp-relative.img", "images/vfimp-relative.img");
  ImportHost host({xml});
  Diagnostics diagnostics;
  const std::string toml = host.import({"vfimp-relative"}, diagnostics);
  INFO(toml);
  REQUIRE(has_errors(diagnostics));
  CHECK(format(diagnostics.back())
            .find("domain 'vfimp-relative': disk source 'images/vfimp-relative.img' is a "
                  "relative path") != std::string::npos);
  CHECK(toml.find("[vm.") == std::string::npos);
}

TEST_CASE("the examples applied on the demo host import with no changes", "[import]") {
  for (const std::string& example : testing::example_names()) {
    SECTION(example) {
      ImportHost host;
      const Plan created = host.plan({kSource + "/examples/" + example});
      INFO(errors_of(created));
      REQUIRE_FALSE(has_errors(created.diagnostics));
      REQUIRE(host.apply(created));
      Diagnostics diagnostics;
      const Desired declared = load_config({kSource + "/examples/" + example}, diagnostics);
      std::vector<std::string> names;
      for (const Vm& vm : declared.vms) names.push_back(vm.name);
      Diagnostics warnings;
      const std::string toml = host.import(names, warnings);
      INFO(toml);
      // Managed domains keep their keys and need no adopting.
      CHECK(toml.find("adopt") == std::string::npos);
      for (const Vm& vm : declared.vms)
        CHECK(toml.find("[vm." + vm.key + "]") != std::string::npos);
      // The overlay apply made reads through to the loader image: import says so.
      if (example == "dsm")
        CHECK(
            toml.find("image = \"/var/lib/virtform/images/tinycore-redpill-uefi.v0.9.2.9.img\"") !=
            std::string::npos);
      if (example == "dsm")
        CHECK(toml.find("overlay = \"/var/lib/virtform/images/dsm.tcrp.qcow2\"") !=
              std::string::npos);
      check_no_changes(host.plan_imported(), false);
    }
  }
}

TEST_CASE("a managed domain of another project is imported into that project", "[import]") {
  ImportHost host;
  const std::string config = host.dir / "homelab.toml";
  std::ofstream(config) << "project = \"homelab\"\n[vm.ha2]\nname = \"ha-copy\"\ntype = \"qemu\"\n"
                           "memory = \"256MiB\"\n";
  REQUIRE(host.apply(host.plan({config})));
  Diagnostics warnings;
  const std::string toml = host.import({"ha-copy"}, warnings);
  INFO(toml);
  CHECK(toml.rfind("project = \"homelab\"\n", 0) == 0);
  CHECK(toml.find("[vm.ha2]") != std::string::npos);
  check_no_changes(host.plan_imported(), false);
}

TEST_CASE("virtform import writes the file, warns on stderr and refuses unknown names",
          "[import]") {
  ImportHost host({testing::libvirt_fixture("qemu-extras.xml")});
  const std::string out = host.dir / "extras.toml";
  ProcessResult result = run_process(
      {VIRTFORM_BINARY, "import", "vfxmltest-extras", "-c", "test://" + host.host_xml, "-o", out});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.find(
            "warning: vm.vfxmltest-extras: not expressed in virtform: devices/filesystem") !=
        std::string::npos);
  const std::string toml = read_file(out);
  CHECK(toml.find("# not expressed: devices/filesystem") != std::string::npos);
  Diagnostics diagnostics;
  load_config({out}, diagnostics);
  CHECK_FALSE(has_errors(diagnostics));

  ProcessResult missing =
      run_process({VIRTFORM_BINARY, "import", "no-such-domain", "-c", "test://" + host.host_xml});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("no domain named 'no-such-domain'") != std::string::npos);
  CHECK(missing.out.empty());
}

TEST_CASE("adopting a domain keeps a balloon set below its maximum", "[import]") {
  ImportHost host({R"(<domain type='qemu'>
  <name>ballooned</name>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='GiB'>2</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>)"});
  std::ofstream(host.dir / "adopt.toml") << "[vm.ballooned]\nname = \"ballooned\"\n"
                                         << "type = \"qemu\"\nmachine = \"pc\"\n"
                                         << "memory = \"4GiB\"\nadopt = true\n";
  const Plan plan = host.plan({host.dir / "adopt.toml"});
  INFO(errors_of(plan));
  REQUIRE_FALSE(has_errors(plan.diagnostics));
  REQUIRE(plan.changes.size() == 1);
  INFO(fields_of(plan.changes.front()));
  CHECK(fields_of(plan.changes.front()) == "managed: no -> yes (adopted)\n");

  REQUIRE(host.apply(plan));
  const std::string xml = host.persistent_xml("ballooned");
  CHECK(xml.find("<memory unit='KiB'>4194304</memory>") != std::string::npos);
  CHECK(xml.find("<currentMemory unit='KiB'>2097152</currentMemory>") != std::string::npos);
  CHECK(xml.find("virtform:vm") != std::string::npos);
}

TEST_CASE("a model virtform does not offer is named by import, left alone, and plans no change",
          "[import]") {
  ImportHost host({R"(<domain type='qemu'>
  <name>vboxvideo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><video><model type='vbox'/></video></devices>
</domain>)"});
  Diagnostics warnings;
  const std::string toml = host.import({"vboxvideo"}, warnings);
  INFO(toml);
  CHECK(toml.find("video =") == std::string::npos);
  CHECK(toml.find("# not expressed: video 'vbox'") != std::string::npos);
  CHECK(std::any_of(warnings.begin(), warnings.end(), [](const Diagnostic& warning) {
    return warning.message.find("video 'vbox'") != std::string::npos;
  }));
  const Plan plan = host.plan_imported();
  INFO(errors_of(plan));
  REQUIRE_FALSE(has_errors(plan.diagnostics));
  REQUIRE(plan.changes.size() == 1);
  CHECK(fields_of(plan.changes.front()) == "managed: no -> yes (adopted)\n");
}

TEST_CASE("a console password is left out of the import, with a password_file to fill in",
          "[import]") {
  ImportHost host({R"(<domain type='qemu'>
  <name>locked-console</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><graphics type='vnc' autoport='yes' passwd='s3cret-console'/></devices>
</domain>)"});
  Diagnostics warnings;
  const std::string toml = host.import({"locked-console"}, warnings);
  INFO(toml);
  CHECK(toml.find("s3cret") == std::string::npos);
  const std::string hint = "# password_file = \"/etc/virtform/locked-console.console-password\"";
  CHECK(toml.find("[vm.locked-console.graphics]\ntype = \"vnc\"\n" + hint) != std::string::npos);
  CHECK(has_warning(warnings, "vm.locked-console",
                    "commented password_file under [vm.locked-console.graphics]"));
  CHECK(toml.find("# the console has a password") != std::string::npos);
  check_no_changes(host.plan_imported(), true);

  // The user follows the hint: the config now owns the password, which already matches.
  const fs::path file = host.root + "/etc/virtform/locked-console.console-password";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "s3cret-console\n";
  std::string owned = toml;
  replace_all(owned, hint, "password_file = \"/etc/virtform/locked-console.console-password\"");
  std::ofstream(host.dir / "imported.toml") << owned;
  check_no_changes(host.plan_imported(), true);

  std::ofstream(file) << "another-one\n";
  const Plan changed = host.plan_imported();
  REQUIRE(changed.changes.size() == 1);
  CHECK(fields_of(changed.changes.front()).find("graphics.password: set -> from /etc/virtform/") !=
        std::string::npos);
}

}  // namespace
}  // namespace virtform
