// The configuration loader: the vocabulary, every error with its location, cross-references
// between files, and the checks against the host's files.

#include "engine/config/config.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "engine/checks/host_check.h"
#include "engine/config/keys.h"
#include "engine/model/values.h"
#include "providers/host/rooted_files.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

struct Loaded {
  Desired desired;
  Diagnostics diagnostics;
};

Loaded load_paths(const std::vector<std::string>& paths) {
  Loaded loaded;
  loaded.desired = load_config(paths, loaded.diagnostics);
  return loaded;
}

Loaded load_text(const TempDir& dir, const std::string& text) {
  return load_paths({dir.write_file("test.toml", text)});
}

std::string all_messages(const Diagnostics& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) text += format(d) + "\n";
  return text;
}

// The one diagnostic of a load that was meant to hold exactly one problem.
Diagnostic single(const Diagnostics& diagnostics) {
  INFO(all_messages(diagnostics));
  REQUIRE(diagnostics.size() == 1);
  return diagnostics.front();
}

// Checks the single diagnostic's severity, message and place.
void expect_single_error(const Loaded& loaded, const std::string& message, int line, int column) {
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.severity == Severity::error);
  CHECK(d.message == message);
  CHECK(d.where.line == line);
  CHECK(d.where.column == column);
  CHECK(d.where.file.ends_with("test.toml"));
}

const Diagnostic* find_message(const Diagnostics& diagnostics, const std::string& part) {
  auto it = std::find_if(diagnostics.begin(), diagnostics.end(), [&](const Diagnostic& d) {
    return d.message.find(part) != std::string::npos;
  });
  return it == diagnostics.end() ? nullptr : &*it;
}

const std::string kExample = std::string(VIRTFORM_SOURCE_DIR) + "/examples/dsm";

}  // namespace

TEST_CASE("the DSM example loads cleanly into the seed's guest", "[config]") {
  Loaded loaded = load_paths({kExample});
  INFO(all_messages(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());

  REQUIRE(loaded.desired.loaders.count("tcrp") == 1);
  const Loader& loader = loaded.desired.loaders.at("tcrp");
  CHECK(loader.image == "/var/lib/virtform/images/tinycore-redpill-uefi.v0.9.2.9.img");
  CHECK(loader.where.file.ends_with("examples/dsm/dsm.toml"));

  REQUIRE(loaded.desired.vms.size() == 1);
  const Vm& vm = loaded.desired.vms.front();
  CHECK(vm.key == "dsm");
  CHECK(vm.name == "DSM");
  CHECK(vm.type == DomainType::kvm);
  CHECK(vm.memory_kib == 4 * 1024 * 1024);
  CHECK(vm.vcpus == 2);
  CHECK(vm.machine == "q35");
  CHECK(vm.firmware.kind == FirmwareKind::uefi);
  CHECK(vm.firmware.nvram == "/var/lib/libvirt/qemu/nvram/DSM_VARS.fd");
  CHECK(vm.firmware.code.empty());  // resolve_firmware fills it from the descriptors
  CHECK(vm.attributes.at("cpu.mode") == "host-passthrough");
  CHECK(vm.state == PowerState::running);
  CHECK(vm.autostart == true);
  CHECK(vm.restart == RestartPolicy::never);
  CHECK(vm.shutdown_timeout == std::chrono::seconds(120));

  REQUIRE(vm.disks.size() == 3);
  const Disk& boot = vm.disks[0];
  CHECK(boot.kind == DiskSource::file);
  // The guest's own overlay beside the loader image, reading through to it.
  CHECK(boot.source == "/var/lib/virtform/images/dsm.tcrp.qcow2");
  CHECK(boot.backing == loader.image);
  CHECK(boot.bus == DiskBus::usb);
  CHECK(boot.format == "qcow2");
  CHECK(boot.boot_order == 1u);
  CHECK(boot.loader == "tcrp");
  CHECK_FALSE(boot.readonly);
  for (int i : {1, 2}) {
    const Disk& disk = vm.disks[static_cast<std::size_t>(i)];
    CHECK(disk.kind == DiskSource::block);
    CHECK(disk.source == "/dev/disk/by-id/ata-EXAMPLE_SERIAL_" + std::to_string(i));
    CHECK(disk.bus == DiskBus::scsi);
    CHECK(disk.format == "raw");
    CHECK_FALSE(disk.boot_order.has_value());
    CHECK(disk.where.line > 0);
  }

  REQUIRE(vm.nics.size() == 1);
  CHECK(vm.nics[0].kind == NicSource::bridge);
  CHECK(vm.nics[0].source == "br0");
  CHECK(vm.nics[0].model == "virtio");
  CHECK_FALSE(vm.nics[0].mac.has_value());
  REQUIRE(vm.graphics.has_value());
  CHECK(vm.graphics->type == GraphicsType::spice);
  CHECK(vm.graphics->listen == "127.0.0.1");
  REQUIRE(vm.serial.has_value());
  CHECK(vm.serial->type == "pty");
  CHECK(vm.pci.empty());
  CHECK_FALSE(vm.kernel.has_value());
}

TEST_CASE("a minimal VM gets the documented defaults", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, "[vm.web]\nfirmware = \"uefi\"\n");
  REQUIRE(loaded.diagnostics.empty());
  const Vm& vm = loaded.desired.vms.at(0);
  CHECK(vm.name == "web");
  CHECK(vm.where == Location{dir / "test.toml", 1, 1});
  CHECK(vm.type == DomainType::kvm);
  CHECK(vm.vcpus == 1);
  CHECK(vm.machine == "q35");
  CHECK(vm.firmware.nvram == "/var/lib/libvirt/qemu/nvram/web_VARS.fd");
  CHECK_FALSE(vm.state.has_value());
  CHECK_FALSE(vm.autostart.has_value());
  CHECK_FALSE(vm.graphics.has_value());
  CHECK(vm.shutdown_timeout == std::chrono::seconds(120));
  CHECK_FALSE(vm.force_stop);
  CHECK_FALSE(vm.adopt);
}

TEST_CASE("every value of the vocabulary reaches the model", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([vm.lab]
type = "qemu"
memory = 1536
machine = "pc-i440fx-7.2"
firmware = "uefi"
firmware_code = "/opt/fw/CODE.fd"
firmware_vars = "/opt/fw/VARS.fd"
nvram = "/var/lib/lab/VARS.fd"
cpu = "host-model"
state = "stopped"
autostart = false
restart = "allowed"
shutdown_timeout = "2m"
force_stop = true
adopt = true
kernel = "/boot/vmlinuz"
initrd = "/boot/initrd.img"
cmdline = "console=ttyS0"

[[vm.lab.disk]]
file = "/var/lib/libvirt/images/lab.qcow2"
size = "32GiB"
bus = "sata"
readonly = true

[[vm.lab.disk]]
file = "/var/lib/libvirt/images/lab.img"
size = "1TiB"

[[vm.lab.nic]]
network = "default"
model = "e1000e"
mac = "52:54:00:AB:cd:01"

[vm.lab.graphics]
type = "vnc"

[[vm.lab.pci]]
address = "08:00.0"
vendor = "1002"
device = "163F"
rom = "/var/lib/virtform/rom/vbios.bin"

[[vm.lab.pci]]
address = "0000:08:00.1"
bind = "vfio-pci"
)");
  INFO(all_messages(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const Vm& vm = loaded.desired.vms.at(0);
  CHECK(vm.type == DomainType::qemu);
  CHECK(vm.memory_kib == 1536 * 1024);
  CHECK(vm.machine == "pc-i440fx-7.2");
  CHECK(vm.firmware ==
        Firmware{FirmwareKind::uefi, "/opt/fw/CODE.fd", "/opt/fw/VARS.fd", "/var/lib/lab/VARS.fd"});
  CHECK(vm.attributes.at("cpu.mode") == "host-model");
  CHECK(vm.state == PowerState::stopped);
  CHECK(vm.autostart == false);
  CHECK(vm.restart == RestartPolicy::allowed);
  CHECK(vm.shutdown_timeout == std::chrono::seconds(120));
  CHECK(vm.force_stop);
  CHECK(vm.adopt);
  REQUIRE(vm.kernel.has_value());
  CHECK(*vm.kernel == DirectKernel{"/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"});

  REQUIRE(vm.disks.size() == 2);
  CHECK(vm.disks[0].format == "qcow2");  // from the file name
  CHECK(vm.disks[0].size == 32ull << 30);
  CHECK(vm.disks[0].bus == DiskBus::sata);
  CHECK(vm.disks[0].readonly);
  CHECK(vm.disks[0].where == Location{dir / "test.toml", 20, 1});
  CHECK(vm.disks[1].format == "raw");
  CHECK(vm.disks[1].size == 1ull << 40);
  CHECK(vm.disks[1].bus == DiskBus::virtio);

  REQUIRE(vm.nics.size() == 1);
  CHECK(vm.nics[0].kind == NicSource::network);
  CHECK(vm.nics[0].source == "default");
  CHECK(vm.nics[0].model == "e1000e");
  CHECK(vm.nics[0].mac == "52:54:00:ab:cd:01");
  CHECK(vm.graphics == Graphics{GraphicsType::vnc, "", std::nullopt});

  REQUIRE(vm.pci.size() == 2);
  CHECK(vm.pci[0].address == "0000:08:00.0");
  CHECK(vm.pci[0].vendor == "1002");
  CHECK(vm.pci[0].device == "163f");
  CHECK(vm.pci[0].rom == "/var/lib/virtform/rom/vbios.bin");
  CHECK(vm.pci[0].managed);
  CHECK_FALSE(vm.pci[0].bind.has_value());
  CHECK(vm.pci[0].where.line == 38);
  CHECK(vm.pci[1].address == "0000:08:00.1");
  CHECK(vm.pci[1].bind == "vfio-pci");
  CHECK_FALSE(vm.pci[1].managed);  // virtform binds it, so libvirt must not
}

TEST_CASE("a TOML syntax error names file, line and column; other files still load", "[config]") {
  TempDir dir;
  dir.write_file("conf/a.toml", "[vm.a]\nmemory = \"4GiB\nvcpus = 2\n");
  dir.write_file("conf/b.toml", "[vm.b]\nvcpus = 2\n");
  Loaded loaded = load_paths({dir / "conf"});
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.where.file == dir / "conf/a.toml");
  CHECK(d.where.line == 2);
  CHECK(d.where.column > 1);
  CHECK(format(d).starts_with(dir / "conf/a.toml:2:"));
  CHECK(format(d).find(": error: ") != std::string::npos);
  REQUIRE(loaded.desired.vms.size() == 1);
  CHECK(loaded.desired.vms[0].key == "b");
}

TEST_CASE("unknown keys are located at the key and the nearest known key is suggested",
          "[config]") {
  TempDir dir;
  SECTION("in [vm.X]") {
    expect_single_error(load_text(dir, "[vm.dsm]\nvcpus = 2\n  memroy = \"4GiB\"\n"),
                        "unknown key 'memroy' in [vm.dsm]; did you mean 'memory'?", 3, 3);
  }
  SECTION("nothing close: no suggestion") {
    expect_single_error(load_text(dir, "[vm.dsm]\ncolour = \"blue\"\n"),
                        "unknown key 'colour' in [vm.dsm]", 2, 1);
  }
  SECTION("in an array of tables") {
    expect_single_error(
        load_text(dir,
                  "[vm.dsm]\n[[vm.dsm.disk]]\nsource = \"/dev/disk/by-id/x\"\nbuss = \"scsi\"\n"),
        "unknown key 'buss' in [[vm.dsm.disk]]; did you mean 'bus'?", 4, 1);
  }
  SECTION("at the top level") {
    expect_single_error(load_text(dir, "[vms.dsm]\nvcpus = 2\n"),
                        "unknown key 'vms' at the top level; did you mean 'vm'?", 1, 2);
  }
  SECTION("in [loader.X], [vm.X.boot], [vm.X.graphics], [vm.X.serial], nic and pci") {
    Loaded loaded = load_text(dir, R"([loader.l]
image = "/l.img"
imgae = "/l.img"
[vm.v]
[vm.v.boot]
loader = "l"
buss = "usb"
[vm.v.graphics]
type = "vnc"
lisen = "0.0.0.0"
[vm.v.serial]
typ = "pty"
[[vm.v.nic]]
bridge = "br0"
mdoel = "virtio"
[[vm.v.pci]]
address = "01:00.0"
vendr = "1002"
)");
    CHECK(loaded.diagnostics.size() == 6);
    for (const char* message : {"unknown key 'imgae' in [loader.l]; did you mean 'image'?",
                                "unknown key 'buss' in [vm.v.boot]; did you mean 'bus'?",
                                "unknown key 'lisen' in [vm.v.graphics]; did you mean 'listen'?",
                                "unknown key 'typ' in [vm.v.serial]; did you mean 'type'?",
                                "unknown key 'mdoel' in [[vm.v.nic]]; did you mean 'model'?",
                                "unknown key 'vendr' in [[vm.v.pci]]; did you mean 'vendor'?"}) {
      INFO(message);
      CHECK(find_message(loaded.diagnostics, message) != nullptr);
    }
  }
}

TEST_CASE("the suggestion counts a swap of two letters as one edit", "[config]") {
  CHECK(keys::edit_distance("memroy", "memory") == 1);
  CHECK(keys::edit_distance("", "abc") == 3);
  CHECK(keys::edit_distance("kitten", "sitting") == 3);
  CHECK(keys::nearest("vcpu", keys::kVm) == "vcpus");
  CHECK(keys::nearest("autostrat", keys::kVm) == "autostart");
  CHECK_FALSE(keys::nearest("colour", keys::kVm).has_value());
}

TEST_CASE("values of the wrong type say what was expected", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.dsm]\nvcpus = \"two\"\n"),
                      "vcpus must be an integer (got a string)", 2, 9);
  expect_single_error(load_text(dir, "[vm.dsm]\nautostart = \"yes\"\n"),
                      "autostart must be true or false (got a string)", 2, 13);
  expect_single_error(load_text(dir, "[vm.dsm]\nname = 42\n"),
                      "name must be a string (got an integer)", 2, 8);
  expect_single_error(load_text(dir, "[vm.dsm]\ndisk = \"/dev/sdb\"\n"),
                      "disk must be an array of tables ([[vm.dsm.disk]]) (got a string)", 2, 8);
  expect_single_error(load_text(dir, "[vm.dsm]\ngraphics = \"spice\"\n"),
                      "graphics must be a table ([vm.dsm.graphics]) (got a string)", 2, 12);
  expect_single_error(load_text(dir, "vm = 3\n"), "vm must be a table ([vm]) (got an integer)", 1,
                      6);
}

TEST_CASE("an enum value outside its set lists the allowed ones", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.dsm]\ntype = \"xen\"\n"),
                      "type must be one of \"kvm\", \"qemu\"; got \"xen\"", 2, 8);
  expect_single_error(load_text(dir, "[vm.dsm]\nfirmware = \"efi\"\n"),
                      "firmware must be one of \"bios\", \"uefi\"; got \"efi\"", 2, 12);
  expect_single_error(
      load_text(dir, "[vm.dsm]\n[[vm.dsm.disk]]\nsource = \"/dev/disk/by-id/x\"\nbus = \"pata\"\n"),
      "bus must be one of \"virtio\", \"scsi\", \"sata\", \"usb\", \"ide\"; got \"pata\"", 4, 7);
  expect_single_error(load_text(dir, "[vm.dsm]\nstate = \"paused\"\n"),
                      "state must be one of \"running\", \"stopped\"; got \"paused\"", 2, 9);
  expect_single_error(load_text(dir, "[vm.dsm]\nrestart = \"always\"\n"),
                      "restart must be one of \"never\", \"allowed\"; got \"always\"", 2, 11);
  expect_single_error(load_text(dir, "[vm.dsm.graphics]\nlisten = \"::1\"\n"),
                      "[vm.dsm.graphics] needs type = \"spice\", \"vnc\" or \"none\"", 1, 1);
  expect_single_error(load_text(dir, "[vm.dsm.graphics]\ntype = \"rdp\"\n"),
                      "type must be one of \"spice\", \"vnc\", \"none\"; got \"rdp\"", 2, 8);
}

TEST_CASE("sizes: binary units, plain integers in MiB, nothing else", "[config]") {
  CHECK(parse_size_kib("4GiB") == 4u * 1024 * 1024);
  CHECK(parse_size_kib("4 GiB") == 4u * 1024 * 1024);
  CHECK(parse_size_kib("512MiB") == 512u * 1024);
  CHECK(parse_size_kib("2048KiB") == 2048u);
  CHECK(parse_size_kib("1TiB") == 1ull << 30);
  CHECK(parse_size_kib("4096") == 4096u * 1024);
  CHECK_FALSE(parse_size_kib("4GB").has_value());
  CHECK_FALSE(parse_size_kib("4gib").has_value());
  CHECK_FALSE(parse_size_kib("lots").has_value());
  CHECK_FALSE(parse_size_kib("-4GiB").has_value());
  CHECK_FALSE(parse_size_kib("1.5GiB").has_value());
  CHECK_FALSE(parse_size_kib("99999999999999999999GiB").has_value());
  CHECK_FALSE(parse_size_kib("18014398509481984TiB").has_value());  // overflows 64 bits
}

TEST_CASE("nonsensical sizes say which units are accepted", "[config]") {
  TempDir dir;
  const std::string units =
      " (a whole number with a unit: KiB, MiB, GiB, TiB; or an integer of MiB)";
  expect_single_error(load_text(dir, "[vm.dsm]\nmemory = \"4GB\"\n"),
                      "memory \"4GB\" is not a size" + units, 2, 10);
  expect_single_error(load_text(dir, "[vm.dsm]\nmemory = \"lots\"\n"),
                      "memory \"lots\" is not a size" + units, 2, 10);
  expect_single_error(load_text(dir, "[vm.dsm]\nmemory = -1\n"), "memory -1 is not a size" + units,
                      2, 10);
  expect_single_error(load_text(dir, "[vm.dsm]\nmemory = 0\n"), "memory must be greater than zero",
                      2, 10);
  expect_single_error(load_text(dir, "[vm.dsm]\nmemory = 4.5\n"),
                      "memory must be a size such as \"4GiB\" (got a floating-point number)", 2,
                      10);
  expect_single_error(
      load_text(dir, "[vm.d]\n[[vm.d.disk]]\nfile = \"/i/d.img\"\nsize = \"0GiB\"\n"),
      "size must be greater than zero", 4, 8);
}

TEST_CASE("vcpus must be at least one", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.dsm]\nvcpus = 0\n"),
                      "vcpus must be between 1 and 4096; got 0", 2, 9);
  expect_single_error(load_text(dir, "[vm.dsm]\nvcpus = -2\n"),
                      "vcpus must be between 1 and 4096; got -2", 2, 9);
}

TEST_CASE("durations: seconds, minutes, hours or an integer of seconds", "[config]") {
  CHECK(parse_duration("90s") == std::chrono::seconds(90));
  CHECK(parse_duration("2m") == std::chrono::seconds(120));
  CHECK(parse_duration("1h") == std::chrono::seconds(3600));
  CHECK_FALSE(parse_duration("90").has_value());
  CHECK_FALSE(parse_duration("soon").has_value());
  TempDir dir;
  Loaded loaded = load_text(dir, "[vm.a]\nshutdown_timeout = 30\n");
  REQUIRE(loaded.diagnostics.empty());
  CHECK(loaded.desired.vms[0].shutdown_timeout == std::chrono::seconds(30));
  expect_single_error(
      load_text(dir, "[vm.a]\nshutdown_timeout = \"soon\"\n"),
      "shutdown_timeout is not a duration (a whole number with a unit: s, m, h; or an integer "
      "of seconds)",
      2, 20);
}

TEST_CASE("a disk needs exactly one of source and file", "[config]") {
  TempDir dir;
  expect_single_error(
      load_text(dir,
                "[vm.a]\n[[vm.a.disk]]\nsource = \"/dev/disk/by-id/x\"\nfile = \"/i/x.img\"\n"),
      "a disk sets either source (a whole block device) or file (an image file), not both", 2, 1);
  expect_single_error(load_text(dir, "[vm.a]\n[[vm.a.disk]]\nbus = \"scsi\"\n"),
                      "a disk needs source = \"/dev/disk/by-id/...\" (a whole block device) or "
                      "file = \"...\" (an image file)",
                      2, 1);
}

TEST_CASE("a block device is passed raw and has its own size", "[config]") {
  TempDir dir;
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.disk]]\nsource = \"/dev/disk/by-id/x\"\nformat = \"qcow2\"\n"),
      "format \"qcow2\" needs an image file; a block device source is always passed raw", 4, 10);
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.disk]]\nsource = \"/dev/disk/by-id/x\"\nsize = \"1GiB\"\n"),
      "size applies only to image files (file = ...); a block device has its own size", 4, 8);
}

TEST_CASE("paths on the host must be absolute", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.a]\n[[vm.a.disk]]\nfile = \"images/a.img\"\n"),
                      "file must be an absolute path on the host; got \"images/a.img\"", 3, 8);
  Loaded loaded = load_text(dir, "[vm.a]\n[[vm.a.disk]]\nfile = \"/var//lib/./a.img\"\nsize = 1\n");
  REQUIRE(loaded.diagnostics.empty());
  CHECK(loaded.desired.vms[0].disks[0].source == "/var/lib/a.img");
}

TEST_CASE("a nic needs exactly one of bridge and network, and a unicast MAC", "[config]") {
  TempDir dir;
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.nic]]\nbridge = \"br0\"\nnetwork = \"default\"\n"),
      "a nic connects to either a bridge or a network, not both", 2, 1);
  expect_single_error(load_text(dir, "[vm.a]\n[[vm.a.nic]]\nmodel = \"virtio\"\n"),
                      "a nic needs bridge = \"br0\" (a host bridge) or network = \"default\" (a "
                      "libvirt network)",
                      2, 1);
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.nic]]\nbridge = \"br0\"\nmac = \"52:54:00:12:34\"\n"),
      "mac \"52:54:00:12:34\" is not a MAC address (six hex octets: \"52:54:00:12:34:56\")", 4, 7);
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.nic]]\nbridge = \"br0\"\nmac = \"52-54-00-12-34-56\"\n"),
      "mac \"52-54-00-12-34-56\" is not a MAC address (six hex octets: \"52:54:00:12:34:56\")", 4,
      7);
  expect_single_error(
      load_text(dir, "[vm.a]\n[[vm.a.nic]]\nbridge = \"br0\"\nmac = \"01:00:5e:00:00:01\"\n"),
      "mac \"01:00:5e:00:00:01\" is a multicast address; a NIC needs a unicast one (even first "
      "octet, e.g. 52:54:00:...)",
      4, 7);
}

TEST_CASE("PCI addresses are checked and canonicalised", "[config]") {
  CHECK(canonical_pci_address("08:00.0") == "0000:08:00.0");
  CHECK(canonical_pci_address("0000:0A:1f.7") == "0000:0a:1f.7");
  CHECK_FALSE(canonical_pci_address("08:00").has_value());
  CHECK_FALSE(canonical_pci_address("08:20.0").has_value());  // slot beyond 0x1f
  CHECK_FALSE(canonical_pci_address("08:00.8").has_value());  // function beyond 7
  CHECK_FALSE(canonical_pci_address("0000:0g:00.0").has_value());

  TempDir dir;
  expect_single_error(load_text(dir, "[vm.w]\n[[vm.w.pci]]\naddress = \"8:0.0\"\n"),
                      "address \"8:0.0\" is not a PCI address (domain:bus:slot.function, "
                      "\"0000:08:00.0\" or \"08:00.0\")",
                      3, 11);
  expect_single_error(load_text(dir, "[vm.w]\n[[vm.w.pci]]\nvendor = \"1002\"\n"),
                      "a pci device needs address = \"0000:08:00.0\" (see lspci -D)", 2, 1);
  expect_single_error(
      load_text(dir, "[vm.w]\n[[vm.w.pci]]\naddress = \"08:00.0\"\nvendor = \"AMD\"\n"),
      "vendor must be four hex digits such as \"1002\"; got \"AMD\"", 4, 10);
  expect_single_error(
      load_text(dir, "[vm.w]\n[[vm.w.pci]]\naddress = \"08:00.0\"\nbind = \"pci-stub\"\n"),
      "bind must be one of \"vfio-pci\"; got \"pci-stub\"", 4, 8);
  expect_single_error(
      load_text(
          dir,
          "[vm.w]\n[[vm.w.pci]]\naddress = \"08:00.0\"\nbind = \"vfio-pci\"\nmanaged = true\n"),
      "managed = true conflicts with bind = \"vfio-pci\": a device virtform binds is unmanaged; "
      "drop one of them",
      5, 11);
}

TEST_CASE("boot.loader must name a defined loader; the nearest one is suggested", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([loader.tcrp]
image = "/img/tcrp.img"

[vm.dsm]
[vm.dsm.boot]
loader = "tcpr"
)");
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.message == "boot.loader \"tcpr\" is not defined; did you mean \"tcrp\"?");
  CHECK(d.where == Location{dir / "test.toml", 6, 10});
  CHECK(d.resource == "vm.dsm");
  CHECK(loaded.desired.vms.at(0).disks.empty());

  expect_single_error(load_text(dir, "[vm.dsm.boot]\nloader = \"arpl\"\n"),
                      "boot.loader \"arpl\" is not defined; define it as [loader.arpl] with "
                      "image = \"...\"",
                      2, 10);
  expect_single_error(load_text(dir, "[vm.dsm.boot]\nbus = \"usb\"\n"),
                      "[vm.dsm.boot] needs loader = \"<name of a [loader.X]>\"", 1, 1);
}

TEST_CASE("a loader may be defined in another file and shared by several VMs", "[config]") {
  TempDir dir;
  dir.write_file("c/10-loaders.toml", "[loader.tcrp]\nimage = \"/img/tcrp.img\"\n");
  dir.write_file("c/20-vms.toml", R"([vm.one.boot]
loader = "tcrp"
bus = "sata"
[vm.two.boot]
loader = "tcrp"
)");
  Loaded loaded = load_paths({dir / "c"});
  INFO(all_messages(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  REQUIRE(loaded.desired.vms.size() == 2);
  for (const Vm& vm : loaded.desired.vms) {
    REQUIRE(vm.disks.size() == 1);
    // Each its own overlay over the one image.
    CHECK(vm.disks[0].source == "/img/" + vm.key + ".tcrp.qcow2");
    CHECK(vm.disks[0].backing == "/img/tcrp.img");
    CHECK(vm.disks[0].boot_order == 1u);
  }
  CHECK(loaded.desired.vms[0].disks[0].bus == DiskBus::sata);
  CHECK(loaded.desired.vms[1].disks[0].bus == DiskBus::usb);
}

TEST_CASE("boot.overlay names the overlay or attaches the loader image itself", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([loader.tcrp]
image = "/img/tcrp.img"
[vm.own.boot]
loader = "tcrp"
overlay = "/srv/own-loader.qcow2"
[vm.whole.boot]
loader = "tcrp2"
overlay = false
[vm.default.boot]
loader = "tcrp"
overlay = true
[loader.tcrp2]
image = "/img/tcrp2.img"
)");
  INFO(all_messages(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const Disk& own = loaded.desired.find_vm("own")->disks.at(0);
  CHECK(own.source == "/srv/own-loader.qcow2");
  CHECK(own.backing == "/img/tcrp.img");
  CHECK(own.format == "qcow2");
  const Disk& whole = loaded.desired.find_vm("whole")->disks.at(0);
  CHECK(whole.source == "/img/tcrp2.img");
  CHECK(whole.backing.empty());
  CHECK(whole.format == "raw");
  CHECK(loaded.desired.find_vm("default")->disks.at(0).source == "/img/default.tcrp.qcow2");
}

TEST_CASE("a loader image one VM writes itself cannot boot another", "[config]") {
  TempDir dir;
  const std::string loader = "[loader.tcrp]\nimage = \"/img/tcrp.img\"\n";
  expect_single_error(
      load_text(dir, loader + "[vm.a.boot]\nloader = \"tcrp\"\noverlay = false\n" +
                         "[vm.b.boot]\nloader = \"tcrp\"\n"),
      "loader.tcrp's image /img/tcrp.img is attached itself by vm.a (boot.overlay = false), "
      "which writes to it, so vm.b cannot boot from it through an overlay; give vm.a an overlay "
      "too",
      7, 10);
  const Diagnostic both =
      single(load_text(dir, loader + "[vm.a.boot]\nloader = \"tcrp\"\noverlay = false\n" +
                                "[vm.b.boot]\nloader = \"tcrp\"\noverlay = false\n")
                 .diagnostics);
  CHECK(both.message.starts_with("disk /img/tcrp.img is used by vm.a and vm.b (first at "));
  CHECK(both.where.line == 7);
  expect_single_error(
      load_text(dir, loader + "[vm.a.boot]\nloader = \"tcrp\"\noverlay = \"a.qcow2\"\n"),
      "overlay must be an absolute path on the host; got \"a.qcow2\"", 5, 11);
}

TEST_CASE("the loader disk comes first even when disks are declared before the boot table",
          "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([loader.l]
image = "/img/l.img"
[[vm.a.disk]]
source = "/dev/disk/by-id/d1"
[vm.a.boot]
loader = "l"
)");
  REQUIRE(loaded.diagnostics.empty());
  const Vm& vm = loaded.desired.vms.at(0);
  REQUIRE(vm.disks.size() == 2);
  CHECK(vm.disks[0].loader == "l");
  CHECK(vm.disks[1].source == "/dev/disk/by-id/d1");
}

TEST_CASE("a disk claimed twice names both places", "[config]") {
  TempDir dir;
  SECTION("by two VMs") {
    Loaded loaded = load_text(dir, R"([[vm.a.disk]]
source = "/dev/disk/by-id/ata-X"
[[vm.b.disk]]
source = "/dev/disk/by-id/ata-X"
)");
    Diagnostic d = single(loaded.diagnostics);
    CHECK(d.message == "disk /dev/disk/by-id/ata-X is used by vm.a and vm.b (first at " +
                           (dir / "test.toml") + ":1:1); a disk can belong to one guest only");
    CHECK(d.where.line == 3);
    CHECK(d.resource == "vm.b");
  }
  SECTION("twice in one VM, written differently") {
    Loaded loaded = load_text(dir, R"([[vm.a.disk]]
file = "/img/a.img"
[[vm.a.disk]]
file = "/img//a.img"
)");
    Diagnostic d = single(loaded.diagnostics);
    CHECK(d.message.starts_with("disk /img/a.img is used twice in vm.a (first at "));
    CHECK(d.where.line == 3);
  }
}

TEST_CASE("a PCI device claimed twice names both places", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([[vm.a.pci]]
address = "0000:08:00.0"
[[vm.b.pci]]
address = "08:00.0"
)");
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.message == "PCI device 0000:08:00.0 is used by vm.a and vm.b (first at " +
                         (dir / "test.toml") + ":1:1); a PCI device can belong to one guest only");
  CHECK(d.where.line == 3);
}

TEST_CASE("two VMs with the same domain name are an error", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, "[vm.a]\nname = \"DSM\"\n\n[vm.b]\nname = \"DSM\"\n");
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.message == "domain name \"DSM\" is used by vm.a at " + (dir / "test.toml") +
                         ":1:1 and vm.b; libvirt domain names must be unique");
  CHECK(d.where.line == 4);
}

TEST_CASE("a resource defined in two files is an error naming the first", "[config]") {
  TempDir dir;
  dir.write_file("c/a.toml", "[vm.x]\n");
  dir.write_file("c/b.toml", "\n[vm.x]\nvcpus = 2\n");
  Loaded loaded = load_paths({dir / "c"});
  Diagnostic d = single(loaded.diagnostics);
  CHECK(d.message == "[vm.x] is already defined at " + (dir / "c/a.toml") + ":1:1");
  CHECK(d.where == Location{dir / "c/b.toml", 2, 1});
}

TEST_CASE("a directory is read as its *.toml files in name order", "[config]") {
  TempDir dir;
  dir.write_file("c/30-c.toml", "[vm.c]\n");
  dir.write_file("c/10-a.toml", "[vm.a]\n");
  dir.write_file("c/20-b.toml", "[vm.b]\n");
  dir.write_file("c/notes.txt", "[vm.ignored]\n");
  Loaded loaded = load_paths({dir / "c"});
  REQUIRE(loaded.diagnostics.empty());
  std::vector<std::string> keys;
  for (const Vm& vm : loaded.desired.vms) keys.push_back(vm.key);
  CHECK(keys == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("missing paths and empty directories are reported", "[config]") {
  TempDir dir;
  dir.make_dir("empty");
  Loaded loaded = load_paths({dir / "nothing.toml", dir / "empty"});
  REQUIRE(loaded.diagnostics.size() == 2);
  CHECK(format(loaded.diagnostics[0]) ==
        dir / "nothing.toml" + ": error: no such file or directory");
  CHECK(format(loaded.diagnostics[1]) ==
        dir / "empty" + ": error: no .toml files in this directory");
}

TEST_CASE("direct kernel boot: initrd and cmdline need a kernel", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.a]\ninitrd = \"/boot/initrd.img\"\n"),
                      "initrd needs kernel to be set", 2, 10);
  expect_single_error(load_text(dir, "[vm.a]\ncmdline = \"console=ttyS0\"\n"),
                      "cmdline needs kernel to be set", 2, 11);
  Loaded loaded = load_text(dir, "[vm.a]\nkernel = \"/boot/vmlinuz\"\n");
  REQUIRE(loaded.diagnostics.empty());
  CHECK(loaded.desired.vms[0].kernel == DirectKernel{"/boot/vmlinuz", "", ""});
  expect_single_error(load_text(dir, R"([loader.l]
image = "/l.img"
[vm.a]
kernel = "/boot/vmlinuz"
[vm.a.boot]
loader = "l"
)"),
                      "boot.loader and kernel both choose what the guest boots; set one", 6, 10);
}

TEST_CASE("firmware paths apply to UEFI only and a template needs its code", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.a]\nnvram = \"/n/VARS.fd\"\n"),
                      "nvram applies only with firmware = \"uefi\"", 2, 9);
  expect_single_error(
      load_text(dir, "[vm.a]\nfirmware = \"uefi\"\nfirmware_vars = \"/fw/VARS.fd\"\n"),
      "firmware_vars needs the firmware_code it belongs to", 3, 17);
}

TEST_CASE("a loader's sha256 must look like one", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[loader.l]\nimage = \"/l.img\"\nsha256 = \"abc\"\n"),
                      "sha256 must be 64 hex digits (the output of sha256sum)", 3, 10);
  expect_single_error(load_text(dir, "[loader.l]\nsha256 = \"" + std::string(64, 'A') + "\"\n"),
                      "[loader.l] needs image = \"/path/to/loader.img\"", 1, 1);
  Loaded loaded =
      load_text(dir, "[loader.l]\nimage = \"/l.img\"\nsha256 = \"" + std::string(64, 'A') + "\"\n");
  REQUIRE(loaded.diagnostics.empty());
  CHECK(loaded.desired.loaders.at("l").sha256 == std::string(64, 'a'));
}

TEST_CASE("resource names are plain words", "[config]") {
  TempDir dir;
  expect_single_error(load_text(dir, "[vm.\"my vm\"]\n"),
                      "[vm.my vm]: a name may hold only letters, digits, '-' and '_'", 1, 5);
  expect_single_error(load_text(dir, "[vm.a]\nname = \"a/b\"\n"), "name must not contain '/'", 2,
                      8);
}

TEST_CASE("a domain name with a control character is refused where it is written", "[config]") {
  TempDir dir;
  const std::string refused =
      "name must not contain control characters (NUL, tab, line breaks, ...)";
  for (const char* escape : {"\\u0000", "\\n", "\\t", "\\u007f", "\\u001b[31m"}) {
    INFO(escape);
    expect_single_error(load_text(dir, "[vm.a]\nname = \"web" + std::string(escape) + "\"\n"),
                        refused, 2, 8);
  }
  CHECK(load_text(dir, "[vm.a]\nname = \"web-1_ü.x\"\n").diagnostics.empty());
}

TEST_CASE("every problem of a file is reported in one run", "[config]") {
  TempDir dir;
  Loaded loaded = load_text(dir, R"([vm.a]
vcpus = 0
memory = "lots"
memroy = "1GiB"
[[vm.a.nic]]
mac = "zz"
[vm.a.boot]
loader = "missing"
)");
  CHECK(loaded.diagnostics.size() == 6);
  CHECK(std::all_of(loaded.diagnostics.begin(), loaded.diagnostics.end(),
                    [](const Diagnostic& d) { return d.where.line > 0; }));
}

// --- check_host_files, against a recorded host tree ---------------------------------------

namespace {

// A host with one loader image, one whole disk by id, a kernel and an image directory.
struct RecordedHost {
  TempDir root{"virtform-host"};
  RootedHostFiles files{root.path()};

  RecordedHost() {
    root.write_file("var/lib/virtform/images/tcrp.img", "loader");
    root.write_file("dev/sdb", "");
    root.symlink("dev/disk/by-id/ata-DISK_1", "../../sdb");
    root.write_file("boot/vmlinuz", "kernel");
    root.make_dir("var/lib/libvirt/images");
    root.write_file("var/lib/libvirt/images/existing.qcow2", std::string("QFI\xfb", 4));
    root.write_file("rom/vbios.bin", "rom");
  }
};

Diagnostics check(const RecordedHost& host, const TempDir& dir, const std::string& text) {
  Loaded loaded = load_text(dir, text);
  INFO(all_messages(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  Diagnostics diagnostics;
  check_host_files(loaded.desired, host.files, diagnostics);
  return diagnostics;
}

}  // namespace

TEST_CASE("check_host_files accepts a host that has everything", "[config][host]") {
  RecordedHost host;
  TempDir dir;
  Diagnostics diagnostics = check(host, dir, R"([loader.tcrp]
image = "/var/lib/virtform/images/tcrp.img"
[vm.a]
kernel = "/boot/vmlinuz"
[[vm.a.disk]]
source = "/dev/disk/by-id/ata-DISK_1"
[[vm.a.disk]]
file = "/var/lib/libvirt/images/existing.qcow2"
[[vm.a.disk]]
file = "/var/lib/libvirt/images/new.qcow2"
size = "8GiB"
[[vm.a.pci]]
address = "08:00.0"
rom = "/rom/vbios.bin"
[vm.b.boot]
loader = "tcrp"
)");
  INFO(all_messages(diagnostics));
  CHECK(diagnostics.empty());
}

TEST_CASE("check_host_files reports what is missing, where it was declared", "[config][host]") {
  RecordedHost host;
  TempDir dir;
  SECTION("a loader image") {
    Diagnostics diagnostics = check(host, dir, "\n[loader.tcrp]\nimage = \"/img/missing.img\"\n");
    Diagnostic d = single(diagnostics);
    CHECK(d.message == "loader image /img/missing.img does not exist");
    CHECK(d.where == Location{dir / "test.toml", 2, 1});
    CHECK(d.resource == "loader.tcrp");
  }
  SECTION("a block source") {
    Diagnostic d =
        single(check(host, dir, "[vm.a]\n[[vm.a.disk]]\nsource = \"/dev/disk/by-id/ata-GONE\"\n"));
    CHECK(d.severity == Severity::error);
    CHECK(d.message == "disk source /dev/disk/by-id/ata-GONE does not exist");
    CHECK(d.where.line == 2);
    CHECK(d.resource == "vm.a");
  }
  SECTION("a block source that is not a block device") {
    Diagnostic d = single(check(host, dir, "[[vm.a.disk]]\nsource = \"/boot/vmlinuz\"\n"));
    CHECK(d.message ==
          "disk source /boot/vmlinuz is not a block device; use file = \"...\" for an image file");
  }
  SECTION("an image file without a size") {
    Diagnostic d =
        single(check(host, dir, "[[vm.a.disk]]\nfile = \"/var/lib/libvirt/images/new.img\"\n"));
    CHECK(d.message ==
          "disk file /var/lib/libvirt/images/new.img does not exist; set size to create it");
    CHECK(d.where.line == 1);
  }
  SECTION("an image file in a missing directory") {
    Diagnostic d =
        single(check(host, dir, "[[vm.a.disk]]\nfile = \"/nowhere/new.img\"\nsize = 1\n"));
    CHECK(d.message ==
          "disk file /nowhere/new.img cannot be created: directory /nowhere does not exist");
  }
  SECTION("a ROM file") {
    Diagnostic d =
        single(check(host, dir, "[[vm.w.pci]]\naddress = \"08:00.0\"\nrom = \"/rom/other.bin\"\n"));
    CHECK(d.message == "ROM file /rom/other.bin does not exist");
    CHECK(d.where.line == 1);
  }
  SECTION("a kernel and an initrd") {
    Diagnostics diagnostics =
        check(host, dir, "[vm.k]\nkernel = \"/boot/bzImage\"\ninitrd = \"/boot/initrd\"\n");
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].message == "kernel /boot/bzImage does not exist");
    CHECK(diagnostics[1].message == "initrd /boot/initrd does not exist");
  }
}

TEST_CASE("a console's fixed port is read in VNC's range and is refused elsewhere", "[config]") {
  const auto load = [](const std::string& graphics, Diagnostics& diagnostics) {
    return load_config_text("[vm.a]\n[vm.a.graphics]\n" + graphics, "a.toml", diagnostics);
  };
  Diagnostics diagnostics;
  const Desired desired = load("type = \"vnc\"\nport = 5901\n", diagnostics);
  REQUIRE(diagnostics.empty());
  CHECK(desired.vms.at(0).graphics->port == 5901u);

  for (const char* wrong : {"port = 5899\n", "port = 70000\n"}) {
    diagnostics.clear();
    load("type = \"spice\"\n" + std::string(wrong), diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].where.line == 4);
    CHECK_THAT(diagnostics[0].message,
               Catch::StartsWith("port must be from 5900 (VNC display :0) to 65535; got "));
  }
  diagnostics.clear();
  load("type = \"none\"\nport = 5901\n", diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message == "port makes no sense with type = \"none\"");
}

}  // namespace virtform
