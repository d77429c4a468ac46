// Domain XML <-> model, against definitions libvirt 9 really returned: the fixtures under
// tests/fixtures/libvirt are `virsh dumpxml --inactive` of domains defined from render_domain_xml
// on qemu:///system (qemu-*.xml) and test:///default (test-*.xml), with the name prefix
// shortened to "vfxmltest-", plus the seed's DSM domain as libvirt 9 normalises it.

#include "providers/libvirt/domain_xml.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "engine/plan/diff.h"
#include "engine/plan/disk_layout.h"
#include "tests/support/owned_disks.h"
#include "tests/support/temp_dir.h"

namespace virtform {
namespace {

Disk file_disk(const std::string& path, DiskBus bus, const std::string& format = "raw") {
  Disk disk;
  disk.kind = DiskSource::file;
  disk.source = path;
  disk.bus = bus;
  disk.format = format;
  return disk;
}

Disk block_disk(const std::string& path, DiskBus bus) {
  Disk disk;
  disk.kind = DiskSource::block;
  disk.source = path;
  disk.bus = bus;
  return disk;
}

// The models the fixtures were captured from, as the TOML of issue 2 would declare them.
Vm dsm_model() {
  Vm vm;
  vm.key = "dsm";
  vm.name = "vfxmltest-dsm";
  vm.type = DomainType::qemu;
  vm.memory_kib = 256 * 1024;
  vm.vcpus = 2;
  vm.machine = "q35";
  vm.firmware = {FirmwareKind::uefi, "/usr/share/OVMF/OVMF_CODE_4M.fd",
                 "/usr/share/OVMF/OVMF_VARS_4M.fd",
                 "/var/lib/libvirt/qemu/nvram/vfxmltest-dsm_VARS.fd"};
  vm.attributes["cpu.mode"] = "host-passthrough";
  Disk boot =
      file_disk("/var/lib/virtform/images/tinycore-redpill-uefi.v0.9.2.9.img", DiskBus::usb);
  boot.boot_order = 1;
  vm.disks = {boot, block_disk("/dev/disk/by-id/ata-EXAMPLE_SERIAL_1", DiskBus::scsi),
              block_disk("/dev/disk/by-id/ata-EXAMPLE_SERIAL_2", DiskBus::scsi),
              file_disk("/var/lib/libvirt/images/dsm-cache.qcow2", DiskBus::virtio, "qcow2")};
  Nic nic;
  nic.kind = NicSource::network;
  nic.source = "default";
  nic.mac = "52:54:00:12:34:56";
  vm.nics = {nic};
  vm.graphics = Graphics{GraphicsType::spice, "127.0.0.1", std::nullopt};
  vm.serial = Serial{"pty"};
  return vm;
}

Vm minimal_model() {
  Vm vm;
  vm.key = "minimal";
  vm.name = "vfxmltest-minimal";
  vm.type = DomainType::qemu;
  vm.memory_kib = 128 * 1024;
  vm.machine = "pc";
  vm.attributes["cpu.mode"] = "host-model";
  Disk root = file_disk("/var/lib/libvirt/images/minimal.qcow2", DiskBus::virtio, "qcow2");
  root.boot_order = 1;
  Disk seed = file_disk("/var/lib/libvirt/images/seed.raw", DiskBus::virtio);
  seed.readonly = true;
  vm.disks = {root, file_disk("/var/lib/libvirt/images/tools.raw", DiskBus::sata), seed};
  Nic bridge;
  bridge.kind = NicSource::bridge;
  bridge.source = "br0";
  bridge.model = "e1000e";
  vm.nics = {bridge};
  vm.graphics = Graphics{GraphicsType::vnc, "", std::nullopt};
  return vm;
}

Vm gpu_model() {
  Vm vm;
  vm.key = "gpu";
  vm.name = "vfxmltest-gpu";
  vm.type = DomainType::qemu;
  vm.memory_kib = 192 * 1024;
  vm.vcpus = 4;
  vm.attributes["cpu.mode"] = "custom";
  vm.attributes["cpu.model"] = "Haswell-noTSX";
  vm.firmware.kind = FirmwareKind::uefi;
  vm.firmware.autoselect = true;  // firmware='efi': libvirt picks the image at each start
  vm.firmware.nvram = "/var/lib/libvirt/qemu/nvram/vfxmltest-gpu_VARS.fd";  // and its store
  vm.kernel = DirectKernel{"/var/lib/virtform/vmlinuz", "/var/lib/virtform/initrd.img",
                           "console=ttyS0 quiet"};
  vm.disks = {block_disk("/dev/vg0/gpu-root", DiskBus::virtio)};
  PciDevice gpu;
  gpu.address = "0000:08:00.0";
  gpu.rom = "/usr/local/libvirt/user/vbios_1002_1638.bin";
  PciDevice audio;
  audio.address = "0000:08:00.1";
  audio.managed = false;
  vm.pci = {gpu, audio};
  vm.graphics = Graphics{GraphicsType::none, "", std::nullopt};
  vm.serial = Serial{"pty"};
  return vm;
}

std::vector<Disk> by_source(std::vector<Disk> disks) {
  std::sort(disks.begin(), disks.end(),
            [](const Disk& a, const Disk& b) { return a.source < b.source; });
  return disks;
}

// Everything the config owns, compared as the plan compares it, so a field added to the model is
// covered here without a line of its own. Fields the plan compares only where the config sets
// them are also held to equality: a round trip must keep the firmware's paths, and must not add
// what was not asked for; libvirt may reorder disks.
// The [vm.X.cpu] rows a VM has.
std::map<std::string, std::string> cpu_attributes(const Vm& vm) {
  std::map<std::string, std::string> cpu;
  for (const auto& [key, value] : vm.attributes)
    if (key.starts_with("cpu.")) cpu[key] = value;
  return cpu;
}

void require_owned_equal(const Vm& desired, const Vm& live) {
  CHECK(live.key == desired.key);
  CHECK(live.name == desired.name);
  CHECK(live.firmware == desired.firmware);
  CHECK(by_source(test::owned_disks(live.disks, desired.disks)) == by_source(desired.disks));
  // The plan leaves these to libvirt where the config does not set them; a render must not
  // write one the model did not ask for.
  CHECK(cpu_attributes(live) == cpu_attributes(desired));
  CHECK(live.kernel == desired.kernel);
  CHECK(live.graphics == desired.graphics);
  CHECK(live.serial == desired.serial);
  std::string differences;
  for (const FieldChange& field : owned_differences(desired, live))
    differences += field.field + ": " + field.before + " -> " + field.after + "\n";
  INFO(differences);
  CHECK(differences.empty());
}

std::string text_of(const pugi::xml_document& document) {
  std::ostringstream out;
  document.print(
      out, "  ",
      pugi::format_indent | pugi::format_attribute_single_quote | pugi::format_no_declaration);
  return out.str();
}

// The same document as libvirt wrote it, laid out as merge lays out its output.
std::string relaid(const std::string& text) {
  pugi::xml_document document;
  REQUIRE(document.load_string(text.c_str()));
  return text_of(document);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

pugi::xml_node select(const pugi::xml_document& document, const std::string& xpath) {
  return document.select_node(xpath.c_str()).node();
}

pugi::xml_document load(const std::string& text) {
  pugi::xml_document document;
  REQUIRE(document.load_string(text.c_str()));
  return document;
}

std::string target_of(const std::string& xml, const std::string& source) {
  pugi::xml_document document = load(xml);
  return select(document,
                "//disk[source/@dev='" + source + "' or source/@file='" + source + "']/target")
      .attribute("dev")
      .as_string();
}

TEST_CASE("q35 guests get spare root ports so devices can be hot-plugged later", "[domain_xml]") {
  auto count_ports = [](const std::string& xml) {
    pugi::xml_document document;
    document.load_string(xml.c_str());
    return document.select_nodes("/domain/devices/controller[@model='pcie-root-port']").size();
  };
  // DSM: a NIC, the SCSI and USB controllers, the balloon take four (USB and SCSI disks do
  // not take a port of their own); four are spare. Each virtio disk and NIC takes one more.
  Vm vm = dsm_model();
  CHECK(count_ports(render_domain_xml(vm)) >= 4 + 4);
  const std::size_t before = count_ports(render_domain_xml(vm));
  vm.disks.push_back(file_disk("/var/lib/libvirt/images/more.qcow2", DiskBus::virtio, "qcow2"));
  vm.nics.push_back(vm.nics.front());
  CHECK(count_ports(render_domain_xml(vm)) == before + 2);
  vm.machine = "pc";
  CHECK(count_ports(render_domain_xml(vm)) == 0);
}

}  // namespace

TEST_CASE("parse of libvirt's read-back equals the rendered model on owned fields",
          "[domain_xml]") {
  auto [file, model] = GENERATE(table<std::string, Vm>({
      {"qemu-dsm.xml", dsm_model()},
      {"qemu-minimal.xml", minimal_model()},
      {"qemu-gpu.xml", gpu_model()},
      {"test-dsm.xml", dsm_model()},
      {"test-minimal.xml", minimal_model()},
      {"test-gpu.xml", gpu_model()},
  }));
  INFO(file);
  Diagnostics unexpressed;
  LiveDomain live = parse_domain_xml(testing::libvirt_fixture(file), &unexpressed);
  CHECK(live.managed);
  CHECK(live.uuid.size() == 36);
  CHECK_FALSE(live.running);
  require_owned_equal(model, live.vm);
  for (const Nic& nic : live.vm.nics) CHECK(nic.mac.has_value());  // libvirt assigns one
  // Everything libvirt added by itself (controllers, video, input, audio) is no news.
  std::string all;
  for (const Diagnostic& d : unexpressed) all += d.message + "\n";
  INFO(all);
  CHECK(unexpressed.empty());
}

TEST_CASE("render then parse gives the model back without libvirt in between", "[domain_xml]") {
  for (const Vm& model : {dsm_model(), minimal_model(), gpu_model()}) {
    LiveDomain live = parse_domain_xml(render_domain_xml(model));
    CHECK(live.managed);
    CHECK(live.vm.machine == model.machine);
    require_owned_equal(model, live.vm);
  }
}

TEST_CASE("render writes what libvirt needs and nothing the disks already say", "[domain_xml]") {
  pugi::xml_document dsm = load(render_domain_xml(dsm_model()));
  CHECK_FALSE(select(dsm, "/domain/os/boot"));
  CHECK(select(dsm, "//controller[@type='scsi' and @model='virtio-scsi']"));
  CHECK(select(dsm, "//controller[@type='usb' and @model='qemu-xhci']"));
  CHECK(select(dsm, "//disk[source/@dev='/dev/disk/by-id/ata-EXAMPLE_SERIAL_1']/driver")
            .attribute("cache")
            .as_string() == std::string("none"));
  CHECK(std::string(select(dsm, "/domain/currentMemory").text().as_string()) == "262144");
  CHECK(select(dsm, "//memballoon[@model='virtio']"));

  std::set<std::string> targets;
  for (auto disk : dsm.select_nodes("//disk/target")) {
    targets.insert(disk.node().attribute("dev").as_string());
  }
  CHECK(targets == std::set<std::string>{"sda", "sdb", "sdc", "vda"});

  pugi::xml_document minimal = load(render_domain_xml(minimal_model()));
  CHECK_FALSE(select(minimal, "//controller"));
  CHECK_FALSE(select(minimal, "//interface/mac"));
  CHECK_FALSE(select(minimal, "//serial"));
}

TEST_CASE("the seed's DSM domain as libvirt 9 keeps it reads as an unmanaged VM", "[domain_xml]") {
  Diagnostics unexpressed;
  LiveDomain live = parse_domain_xml(testing::libvirt_fixture("seed-dsm.xml"), &unexpressed);
  const Vm& vm = live.vm;
  CHECK_FALSE(live.managed);
  CHECK(vm.key == "DSM");
  CHECK(live.uuid == "186682f9-0f0b-4a9e-867b-364706339405");
  CHECK(vm.type == DomainType::kvm);
  CHECK(vm.memory_kib == 4 * 1024 * 1024);
  CHECK(vm.vcpus == 2);
  CHECK(vm.machine == "pc-q35-4.2");
  CHECK(vm.firmware == Firmware{FirmwareKind::uefi, "/usr/share/OVMF/OVMF_CODE.fd", "",
                                "/var/lib/libvirt/qemu/nvram/DSM_VARS.fd"});
  CHECK(vm.attributes.at("cpu.mode") == "host-passthrough");
  Disk loader = file_disk("/image/tinycore-redpill-uefi.v0.9.2.8.img", DiskBus::usb);
  loader.boot_order = 1;
  loader.cache = "writeback";
  // The data disks at units 0 and 1 of virtio-scsi controller 0, raw and uncached.
  auto data_disk = [](const char* source, unsigned unit) {
    Disk disk = block_disk(source, DiskBus::scsi);
    disk.controller = 0;
    disk.unit = unit;
    disk.cache = "none";
    disk.io = "native";
    return disk;
  };
  CHECK(vm.disks == std::vector<Disk>{data_disk("/dev/sdb", 0), data_disk("/dev/sdc", 1), loader});
  REQUIRE(vm.nics.size() == 1);
  CHECK(vm.nics[0].kind == NicSource::network);
  CHECK(vm.nics[0].source == "host-bridge");
  CHECK(vm.nics[0].mac == "52:54:00:a1:b2:c3");
  CHECK(vm.graphics == Graphics{GraphicsType::spice, "0.0.0.0", std::nullopt});
  CHECK(vm.serial == Serial{"pty"});
  std::string all;
  for (const Diagnostic& d : unexpressed) all += d.message + "\n";
  INFO(all);
  // The seed's vmvga video is the video key's; its USB hub is its own choice, which no key
  // expresses.
  CHECK(vm.attributes.at("video") == "vmvga");
  REQUIRE(unexpressed.size() == 1);
  CHECK(unexpressed[0].severity == Severity::warning);
  CHECK(unexpressed[0].resource == "vm.DSM");
  CHECK_THAT(unexpressed[0].message, Catch::Contains("hub"));
}

TEST_CASE("devices the model cannot express are reported and not read", "[domain_xml]") {
  Diagnostics unexpressed;
  LiveDomain live = parse_domain_xml(testing::libvirt_fixture("qemu-extras.xml"), &unexpressed);
  CHECK(live.vm.disks == std::vector<Disk>{file_disk("/var/lib/libvirt/images/extras.qcow2",
                                                     DiskBus::virtio, "qcow2")});
  REQUIRE(live.vm.nics.size() == 1);
  CHECK(live.vm.nics[0].source == "default");
  CHECK(live.vm.pci.empty());
  // Not owned, but remembered: a declared disk on one of them would attach it twice.
  REQUIRE(live.unexpressed_disks.size() == 1);
  CHECK(live.unexpressed_disks[0].source == "/var/lib/libvirt/images/legacy.raw");
  CHECK_FALSE(live.unexpressed_disks[0].readonly);
  // The CD-ROM beside it on the IDE bus of this pc machine is a drive the model reads.
  REQUIRE(live.vm.cdroms.size() == 1);
  CHECK(live.vm.cdroms[0].source == "/var/lib/libvirt/images/install.iso");
  CHECK(live.vm.cdroms[0].bus == DiskBus::ide);
  std::string all;
  for (const Diagnostic& d : unexpressed) all += d.message + "\n";
  INFO(all);
  CHECK(unexpressed.size() == 4);
  CHECK_THAT(all, !Catch::Contains("device='cdrom'"));
  CHECK_THAT(all, Catch::Contains("target hda") && Catch::Contains("'ide'"));
  CHECK_THAT(all, Catch::Contains("filesystem"));
  CHECK_THAT(all, Catch::Contains("interface type='user'"));
  // The USB host device by ids is [[vm.X.usb]]'s.
  CHECK_THAT(all, !Catch::Contains("hostdev"));
  REQUIRE(live.vm.usb.size() == 1);
  CHECK(usb_identity(live.vm.usb[0]) == "1234:beef");
  // The sound device is the sound key's.
  CHECK_THAT(all, !Catch::Contains("sound"));
  CHECK(live.vm.attributes.at("sound") == "ich9");
}

TEST_CASE("merging the unchanged model changes nothing", "[domain_xml][merge]") {
  auto [file, model] = GENERATE(table<std::string, Vm>({
      {"qemu-dsm.xml", dsm_model()},
      {"qemu-minimal.xml", minimal_model()},
      {"qemu-gpu.xml", gpu_model()},
  }));
  INFO(file);
  std::string live = testing::libvirt_fixture(file);
  CHECK(merge_domain_xml(live, model) == relaid(live));
}

TEST_CASE("a changed memory changes only memory", "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-dsm.xml");
  Vm desired = dsm_model();
  desired.memory_kib = 512 * 1024;
  std::vector<std::string> before = lines_of(relaid(live));
  std::vector<std::string> after = lines_of(merge_domain_xml(live, desired));
  REQUIRE(before.size() == after.size());
  std::vector<std::string> changed;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    // The marker records a digest of what was applied, which the new memory changes.
    if (after[i].find("<virtform:vm ") != std::string::npos) {
      const auto digest = after[i].find(" applied='");
      CHECK(before[i].substr(0, digest) == after[i].substr(0, digest));
      continue;
    }
    changed.push_back(after[i]);
  }
  CHECK(changed == std::vector<std::string>{"  <memory unit='KiB'>524288</memory>",
                                            "  <currentMemory unit='KiB'>524288</currentMemory>"});
}

TEST_CASE("a balloon below the maximum is the guest owner's, and only lowered with it",
          "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-dsm.xml");  // 256 MiB, balloon at the maximum
  const std::string full = "<currentMemory unit='KiB'>262144</currentMemory>";
  REQUIRE(live.find(full) != std::string::npos);
  live.replace(live.find(full), full.size(), "<currentMemory unit='KiB'>131072</currentMemory>");
  auto current_after = [&](std::uint64_t memory_kib) {
    Vm desired = dsm_model();
    desired.memory_kib = memory_kib;
    return load(merge_domain_xml(live, desired))
        .child("domain")
        .child("currentMemory")
        .text()
        .as_ullong();
  };
  CHECK(current_after(262144) == 131072);
  CHECK(current_after(1048576) == 131072);
  CHECK(current_after(65536) == 65536);

  // A balloon at the maximum follows it, so more memory reaches the guest.
  Vm larger = dsm_model();
  larger.memory_kib = 1048576;
  CHECK(load(merge_domain_xml(testing::libvirt_fixture("qemu-dsm.xml"), larger))
            .child("domain")
            .child("currentMemory")
            .text()
            .as_ullong() == 1048576);
}

TEST_CASE("merge keeps UUID, MACs, addresses, aliases and devices it does not own",
          "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("seed-dsm.xml");
  LiveDomain parsed = parse_domain_xml(live);
  Vm desired = parsed.vm;
  desired.key = "nas";
  desired.vcpus = 4;
  desired.machine = "q35";
  pugi::xml_document merged = load(merge_domain_xml(live, desired));

  CHECK(std::string(select(merged, "/domain/uuid").text().as_string()) == parsed.uuid);
  CHECK(std::string(select(merged, "/domain/vcpu").text().as_string()) == "4");
  CHECK(select(merged, "/domain/os/type").attribute("machine").as_string() ==
        std::string("pc-q35-4.2"));
  CHECK(select(merged, "//interface/mac[@address='52:54:00:a1:b2:c3']"));
  CHECK(select(merged, "//interface/address[@slot='0x03']"));
  CHECK(select(merged, "//disk[source/@file]/alias[@name='ua-tcrp-loader']"));
  CHECK(select(merged, "//disk[source/@dev='/dev/sdc']/address[@unit='1']"));
  CHECK(select(merged, "//disk[source/@file]/target[@dev='hdz']"));
  CHECK(select(merged, "//video/model[@type='vmvga']"));
  CHECK(select(merged, "//hub[@type='usb']"));
  CHECK(select(merged, "/domain/description"));
  CHECK(select(merged, "/domain/os/bootmenu[@enable='yes']"));
  CHECK(select(merged, "/domain/on_crash").text().as_string() == std::string("restart"));

  LiveDomain reread = parse_domain_xml(text_of(merged));
  CHECK(reread.managed);
  CHECK(reread.vm.key == "nas");
}

TEST_CASE("the marker is added once and survives libvirt's round trip", "[domain_xml][merge]") {
  std::string once =
      merge_domain_xml(testing::libvirt_fixture("seed-dsm.xml"),
                       parse_domain_xml(testing::libvirt_fixture("seed-dsm.xml")).vm);
  std::string twice = merge_domain_xml(once, parse_domain_xml(once).vm);
  pugi::xml_document document = load(twice);
  CHECK(document.select_nodes("/domain/metadata/*").size() == 1);
  LiveDomain live = parse_domain_xml(twice);
  CHECK(live.managed);
  CHECK(live.vm.key == "DSM");
  // libvirt writes the marker back with its own quoting; the namespace is what counts.
  LiveDomain captured = parse_domain_xml(testing::libvirt_fixture("qemu-minimal.xml"));
  CHECK(captured.managed);
  CHECK(captured.vm.key == "minimal");
  std::string foreign = R"(<domain type='kvm'><name>x</name><metadata>
    <vf:vm xmlns:vf='https://example.org/other' key='nope'/></metadata></domain>)";
  CHECK_FALSE(parse_domain_xml(foreign).managed);
}

TEST_CASE("added disks get free targets and removed ones go", "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-dsm.xml");
  Vm desired = dsm_model();
  desired.disks.erase(desired.disks.begin() + 2);  // SERIAL_2
  desired.disks.push_back(block_disk("/dev/disk/by-id/ata-EXAMPLE_SERIAL_3", DiskBus::scsi));
  desired.disks.push_back(
      file_disk("/var/lib/libvirt/images/more.qcow2", DiskBus::virtio, "qcow2"));
  std::string merged = merge_domain_xml(live, desired);

  CHECK(target_of(merged, "/dev/disk/by-id/ata-EXAMPLE_SERIAL_2").empty());
  // sdc was SERIAL_2's and is free again; vda is still the cache's.
  CHECK(target_of(merged, "/dev/disk/by-id/ata-EXAMPLE_SERIAL_3") == "sdc");
  CHECK(target_of(merged, "/var/lib/libvirt/images/more.qcow2") == "vdb");
  pugi::xml_document document = load(merged);
  CHECK(select(document,
               "//disk[source/@dev='/dev/disk/by-id/ata-EXAMPLE_SERIAL_1']/"
               "address[@unit='1']"));
  require_owned_equal(desired, parse_domain_xml(merged).vm);
}

TEST_CASE("changing a disk's bus gives it a new target and drops the stale address",
          "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-dsm.xml");
  Vm desired = dsm_model();
  desired.disks[1].bus = DiskBus::sata;
  desired.disks[3].readonly = true;
  desired.disks[3].boot_order = 2;
  std::string merged = merge_domain_xml(live, desired);
  pugi::xml_document document = load(merged);
  pugi::xml_node moved =
      select(document, "//disk[source/@dev='/dev/disk/by-id/ata-EXAMPLE_SERIAL_1']");
  CHECK(moved.child("target").attribute("bus").as_string() == std::string("sata"));
  // sdb is free once the disk leaves scsi, and sata shares the sd prefix.
  CHECK(moved.child("target").attribute("dev").as_string() == std::string("sdb"));
  CHECK_FALSE(moved.child("address"));
  pugi::xml_node cache =
      select(document, "//disk[source/@file='/var/lib/libvirt/images/dsm-cache.qcow2']");
  CHECK(cache.child("readonly"));
  CHECK(cache.child("boot").attribute("order").as_uint() == 2);
  CHECK(cache.child("address").attribute("bus").as_string() == std::string("0x04"));
  require_owned_equal(desired, parse_domain_xml(merged).vm);
}

TEST_CASE("NICs match by MAC, else by kind, source and model, and keep libvirt's MAC",
          "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-minimal.xml");
  Vm desired = minimal_model();
  Nic second;
  second.kind = NicSource::network;
  second.source = "default";
  desired.nics.push_back(second);
  pugi::xml_document document = load(merge_domain_xml(live, desired));
  CHECK(select(document, "//interface[@type='bridge']/mac[@address='52:54:00:80:5a:c7']"));
  CHECK(select(document, "//interface[@type='bridge']/address[@slot='0x03']"));
  CHECK(select(document, "//interface[@type='network']/source[@network='default']"));
  CHECK_FALSE(select(document, "//interface[@type='network']/mac"));

  Vm moved = dsm_model();
  moved.nics[0].kind = NicSource::bridge;
  moved.nics[0].source = "br0";
  pugi::xml_document by_mac =
      load(merge_domain_xml(testing::libvirt_fixture("qemu-dsm.xml"), moved));
  CHECK(by_mac.select_nodes("//interface").size() == 1);
  pugi::xml_node nic = select(by_mac, "//interface");
  CHECK(nic.attribute("type").as_string() == std::string("bridge"));
  CHECK(nic.child("source").attribute("bridge").as_string() == std::string("br0"));
  CHECK_FALSE(nic.child("source").attribute("network"));
  CHECK(nic.child("address").attribute("bus").as_string() == std::string("0x01"));
}

TEST_CASE("host devices match by address and keep their guest address", "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-gpu.xml");
  Vm desired = gpu_model();
  desired.pci[0].rom.reset();
  desired.pci[1].managed = true;
  PciDevice usb_controller;
  usb_controller.address = "0000:0a:00.3";
  desired.pci.push_back(usb_controller);
  std::string merged = merge_domain_xml(live, desired);
  pugi::xml_document document = load(merged);
  pugi::xml_node gpu =
      select(document, "//hostdev[source/address/@function='0x0' and source/address/@bus='0x08']");
  CHECK_FALSE(gpu.child("rom"));
  CHECK(gpu.child("address").attribute("bus").as_string() == std::string("0x03"));
  CHECK(select(document, "//hostdev[source/address/@function='0x1']")
            .attribute("managed")
            .as_string() == std::string("yes"));
  require_owned_equal(desired, parse_domain_xml(merged).vm);
}

TEST_CASE("optional fields are patched only when the model sets them", "[domain_xml][merge]") {
  std::string live = testing::libvirt_fixture("qemu-gpu.xml");
  Vm unset = gpu_model();
  unset.kernel.reset();
  unset.attributes.erase("cpu.mode");
  unset.attributes.erase("cpu.model");
  unset.serial.reset();
  unset.graphics.reset();
  pugi::xml_document kept = load(merge_domain_xml(live, unset));
  CHECK(select(kept, "/domain/os/kernel").text().as_string() ==
        std::string("/var/lib/virtform/vmlinuz"));
  CHECK(select(kept, "/domain/cpu/model").text().as_string() == std::string("Haswell-noTSX"));
  CHECK(select(kept, "//serial"));

  Vm set = gpu_model();
  set.kernel = DirectKernel{"/boot/vmlinuz-6.1", "", ""};
  set.attributes["cpu.mode"] = "host-passthrough";
  set.attributes.erase("cpu.model");
  set.machine = "pc-q35-6.2";
  set.graphics = Graphics{GraphicsType::vnc, "0.0.0.0", std::nullopt};
  set.disks[0].boot_order = 1;
  std::string merged = merge_domain_xml(live, set);
  pugi::xml_document changed = load(merged);
  CHECK(select(changed, "/domain/os/kernel").text().as_string() ==
        std::string("/boot/vmlinuz-6.1"));
  CHECK_FALSE(select(changed, "/domain/os/initrd"));
  CHECK_FALSE(select(changed, "/domain/os/cmdline"));
  CHECK_FALSE(select(changed, "/domain/os/boot"));  // libvirt refuses it next to boot order
  CHECK(select(changed, "/domain/os/type").attribute("machine").as_string() ==
        std::string("pc-q35-6.2"));
  CHECK(select(changed, "/domain/cpu").attribute("mode").as_string() ==
        std::string("host-passthrough"));
  CHECK_FALSE(select(changed, "/domain/cpu/model"));
  require_owned_equal(set, parse_domain_xml(merged).vm);
}

TEST_CASE("firmware is patched both ways", "[domain_xml][merge]") {
  Vm bios = dsm_model();
  bios.firmware = Firmware{};
  std::string to_bios = merge_domain_xml(testing::libvirt_fixture("qemu-dsm.xml"), bios);
  pugi::xml_document document = load(to_bios);
  CHECK_FALSE(select(document, "/domain/os/loader"));
  CHECK_FALSE(select(document, "/domain/os/nvram"));
  CHECK(parse_domain_xml(to_bios).vm.firmware == Firmware{});

  Vm uefi = minimal_model();
  uefi.firmware = dsm_model().firmware;
  std::string to_uefi = merge_domain_xml(testing::libvirt_fixture("qemu-minimal.xml"), uefi);
  CHECK(parse_domain_xml(to_uefi).vm.firmware == uefi.firmware);
  pugi::xml_document os = load(to_uefi);
  CHECK(std::string(select(os, "/domain/os/*[1]").name()) == "type");
  CHECK(std::string(select(os, "/domain/os/*[2]").name()) == "loader");
}

TEST_CASE("Secure Boot is written with SMM, and libvirt's choice without an image",
          "[domain_xml][merge]") {
  Vm secure = dsm_model();
  secure.firmware.code = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd";
  secure.firmware.vars_template = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
  secure.firmware.secure_boot = true;
  for (const std::string& xml :
       {render_domain_xml(secure),
        merge_domain_xml(testing::libvirt_fixture("qemu-dsm.xml"), secure)}) {
    pugi::xml_document document = load(xml);
    CHECK(select(document, "/domain/os/loader").attribute("secure").as_string() ==
          std::string("yes"));
    CHECK(select(document, "/domain/features/smm").attribute("state").as_string() ==
          std::string("on"));
    CHECK(document.select_nodes("/domain/features").size() == 1);
    CHECK(parse_domain_xml(xml).vm.firmware == secure.firmware);
  }

  // From a pinned image to libvirt's choice: the image and its template go, the store stays.
  Vm chosen = dsm_model();
  chosen.firmware.code.clear();
  chosen.firmware.vars_template.clear();
  chosen.firmware.autoselect = true;
  chosen.firmware.secure_boot = false;
  const std::string merged = merge_domain_xml(render_domain_xml(secure), chosen);
  pugi::xml_document document = load(merged);
  CHECK(select(document, "/domain/os").attribute("firmware").as_string() == std::string("efi"));
  CHECK_FALSE(select(document, "/domain/os/loader"));
  CHECK_FALSE(select(document, "/domain/os/nvram").attribute("template"));
  CHECK(select(document, "/domain/os/nvram").text().as_string() == chosen.firmware.nvram);
  CHECK(select(document, "/domain/os/firmware/feature[@name='secure-boot']")
            .attribute("enabled")
            .as_string() == std::string("no"));
  CHECK(parse_domain_xml(merged).vm.firmware == chosen.firmware);

  // And back: the pinned image replaces libvirt's choice and its features.
  const std::string pinned = merge_domain_xml(merged, secure);
  pugi::xml_document back = load(pinned);
  CHECK_FALSE(select(back, "/domain/os").attribute("firmware"));
  CHECK_FALSE(select(back, "/domain/os/firmware"));
  CHECK(parse_domain_xml(pinned).vm.firmware == secure.firmware);
}

TEST_CASE("hot-plug XML names a free target and finds live devices", "[domain_xml]") {
  std::string live = testing::libvirt_fixture("qemu-dsm.xml");
  pugi::xml_document disk =
      load(render_disk_xml(block_disk("/dev/disk/by-id/ata-NEW", DiskBus::scsi), live));
  CHECK(select(disk, "/disk/target").attribute("dev").as_string() == std::string("sdd"));
  CHECK(select(disk, "/disk/source").attribute("dev").as_string() ==
        std::string("/dev/disk/by-id/ata-NEW"));

  std::string found = find_device_xml(live, dsm_model().disks[2]);
  CHECK_THAT(found, Catch::Contains("ata-EXAMPLE_SERIAL_2") && Catch::Contains("unit='2'"));
  CHECK(find_device_xml(live, block_disk("/dev/absent", DiskBus::scsi)).empty());

  Nic by_mac = dsm_model().nics[0];
  by_mac.mac = "52:54:00:12:34:56";
  CHECK_THAT(find_device_xml(live, by_mac), Catch::Contains("bus='0x01'"));
  Nic any = minimal_model().nics[0];
  CHECK_THAT(find_device_xml(testing::libvirt_fixture("qemu-minimal.xml"), any),
             Catch::Contains("52:54:00:80:5a:c7"));

  CHECK_THAT(render_nic_xml(any), Catch::Contains("bridge='br0'"));
}

TEST_CASE("the marker is trusted only for the UUID it records, and gives back the policy",
          "[domain_xml]") {
  const std::string xml = testing::libvirt_fixture("qemu-minimal.xml");  // UUID 8115b07e-...
  const std::string recorded = "uuid=\"8115b07e-dfef-4977-be71-dd3806152502\"";
  REQUIRE(xml.find(recorded) != std::string::npos);
  auto with_marker = [&](const std::string& from, const std::string& to) {
    std::string text = xml;
    text.replace(text.find(from), from.size(), to);
    return parse_domain_xml(text);
  };
  const LiveDomain own = parse_domain_xml(xml);
  CHECK(own.managed);
  CHECK_FALSE(own.copied);
  REQUIRE(own.recorded_policy);
  CHECK(*own.recorded_policy == LifecyclePolicy{});

  const LiveDomain copy = with_marker(recorded, "uuid=\"7d2c51a4-0f2b-4c9e-9a61-3b8f1e2d4c05\"");
  CHECK(copy.copied);
  CHECK_FALSE(copy.managed);
  CHECK_FALSE(copy.recorded_policy);
  CHECK(with_marker(recorded, "uuid=\"8115B07E-DFEF-4977-BE71-DD3806152502\"").managed);
  // Written by an older virtform: no UUID, and trusted.
  const LiveDomain older = with_marker(recorded, "");
  CHECK(older.managed);

  const std::string policy = "restart=\"never\" force-stop=\"no\" shutdown-timeout=\"120\"";
  REQUIRE(xml.find(policy) != std::string::npos);
  const LiveDomain forced =
      with_marker(policy, "restart=\"allowed\" force-stop=\"yes\" shutdown-timeout=\"3\"");
  REQUIRE(forced.recorded_policy);
  CHECK(forced.recorded_policy->restart == RestartPolicy::allowed);
  CHECK(forced.recorded_policy->force_stop);
  CHECK(forced.recorded_policy->shutdown_timeout == std::chrono::seconds(3));
  for (const char* bad : {"3s", "-1", "99999999999", ""}) {
    INFO(bad);
    CHECK_FALSE(with_marker(policy, std::string("restart=\"never\" force-stop=\"no\" ") +
                                        "shutdown-timeout=\"" + bad + "\"")
                    .recorded_policy);
  }
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a disk on another SCSI target is left unexpressed, its storage still claimed",
          "[domain_xml][disk_layout]") {
  std::string xml = testing::libvirt_fixture("seed-dsm.xml");
  const std::string at_unit_1 = "target='0' unit='1'";
  xml.replace(xml.find(at_unit_1), at_unit_1.size(), "target='1' unit='0'");
  Diagnostics unexpressed;
  const LiveDomain live = parse_domain_xml(xml, &unexpressed);
  REQUIRE(live.vm.disks.size() == 2);  // /dev/sdb and the loader
  CHECK(live.vm.disks[0].source == "/dev/sdb");
  REQUIRE(live.unexpressed_disks.size() == 1);
  CHECK(live.unexpressed_disks[0].source == "/dev/sdc");
  std::string all;
  for (const Diagnostic& d : unexpressed) all += d.message + "\n";
  CHECK_THAT(all, Catch::Contains("SCSI target or bus other than 0"));
}

}  // namespace virtform

namespace virtform {

TEST_CASE("an empty CD-ROM drive is read with its place and a SCSI host device holds its unit",
          "[domain_xml][disk_layout]") {
  std::string xml = testing::libvirt_fixture("seed-dsm.xml");
  const std::string devices = "<devices>";
  xml.insert(xml.find(devices) + devices.size(),
             "<disk type='file' device='cdrom'><target dev='sdy' bus='sata'/>"
             "<address type='drive' controller='0' bus='0' target='0' unit='2'/></disk>"
             "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host7'/>"
             "<address bus='0' target='0' unit='0'/></source>"
             "<address type='drive' controller='0' bus='0' target='0' unit='5'/></hostdev>");
  const LiveDomain live = parse_domain_xml(xml);
  std::vector<std::string> held;
  for (const Disk& disk : live.unexpressed_disks)
    held.push_back(to_string(disk.bus) + " " + std::to_string(disk.controller.value_or(99)) + ":" +
                   std::to_string(disk.unit.value_or(99)) + " '" + disk.source + "'");
  CHECK(held == std::vector<std::string>{"scsi 0:5 ''"});
  REQUIRE(live.vm.cdroms.size() == 1);
  CHECK(live.vm.cdroms[0].source.empty());
  CHECK(describe_place(live.vm.cdroms[0]) == "sata 0:2");
}

TEST_CASE("unowned parts are read only for domains a fragment may be looked for in",
          "[domain_xml]") {
  const std::string xml = testing::libvirt_fixture("qemu-minimal.xml");
  const LiveDomain full = parse_domain_xml(xml);
  REQUIRE(full.managed);
  REQUIRE_FALSE(full.unowned.empty());
  Live live;
  live.domains = {parse_domain_xml(xml, nullptr, UnownedParts::if_recorded)};
  CHECK(live.domains[0].unowned.empty());  // its marker records no fragment
  CHECK(parse_domain_xml(xml, nullptr, UnownedParts::none).unowned.empty());

  Desired desired;
  Vm plain;
  plain.key = full.vm.key;
  plain.name = full.vm.name;
  desired.vms = {plain};
  add_unowned_parts(live, desired);
  CHECK(live.domains[0].unowned.empty());  // a config without fragments needs none

  Vm with_fragment = plain;
  with_fragment.xml = {XmlFragment{"devices", "<input type='tablet' bus='usb'/>", {}, {}}};
  desired.vms = {with_fragment};
  add_unowned_parts(live, desired);
  CHECK(live.domains[0].unowned == full.unowned);

  // A renamed VM's fragments are looked for in the domain it was renamed from.
  live.domains = {parse_domain_xml(xml, nullptr, UnownedParts::if_recorded)};
  desired.vms[0].name = full.vm.name + "-renamed";
  add_unowned_parts(live, desired);
  CHECK(live.domains[0].unowned == full.unowned);
}

}  // namespace virtform
