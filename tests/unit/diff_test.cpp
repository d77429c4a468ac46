#include "engine/plan/diff.h"

#include <catch2/catch.hpp>

namespace virtform {
namespace {

Vm small_vm(const std::string& key) {
  Vm vm;
  vm.key = key;
  vm.name = key;
  vm.project = "default";
  vm.type = DomainType::qemu;
  vm.memory_kib = 512 * 1024;
  vm.vcpus = 1;
  vm.machine = "q35";
  return vm;
}

Disk file_disk(const std::string& path, DiskBus bus) {
  Disk disk;
  disk.kind = DiskSource::file;
  disk.source = path;
  disk.bus = bus;
  return disk;
}

LiveDomain live_of(Vm vm, bool running, bool managed = true) {
  LiveDomain domain;
  domain.managed = managed;
  domain.running = running;
  // libvirt expands the machine alias; the diff must not see that as a change.
  if (vm.machine == "q35") vm.machine = "pc-q35-7.2";
  domain.vm = std::move(vm);
  return domain;
}

const Change& change_at(const std::vector<Change>& changes, const std::string& address) {
  for (const Change& change : changes)
    if (change.address == address) return change;
  FAIL("no change for " << address);
  throw std::logic_error("unreachable");
}

const FieldChange* field_of(const Change& change, const std::string& name) {
  for (const FieldChange& field : change.fields)
    if (field.field == name) return &field;
  return nullptr;
}

// The operations of vm.<key> in apply's order, one word each: disks by source, NICs by MAC.
std::string operations_of(const std::vector<Change>& changes, const std::string& key) {
  const VmOperations& operations = change_at(changes, "vm." + key).operations;
  std::string words;
  auto word = [&](bool present, const std::string& text) {
    if (present) words += (words.empty() ? "" : ", ") + text;
  };
  word(operations.shut_down, "shut down");
  word(operations.undefine, "undefine");
  word(operations.rename, "rename");
  word(operations.define, "define");
  if (const auto& copy = operations.copy_nvram)
    word(true, "copy " + copy->from + " to " + copy->to);
  word(operations.redefine, "redefine");
  if (const auto autostart = operations.set_autostart)
    word(true, std::string("autostart ") + (*autostart ? "on" : "off"));
  for (const Disk& disk : operations.unplug_disks) word(true, "unplug " + disk.source);
  for (const Nic& nic : operations.unplug_nics)
    word(true, "unplug " + nic.mac.value_or(nic.source));
  for (const Disk& disk : operations.plug_disks) word(true, "plug " + disk.source);
  for (const Nic& nic : operations.plug_nics) word(true, "plug " + nic.mac.value_or(nic.source));
  for (const auto& [name, value] : operations.live_attributes) word(true, name + " = " + value);
  if (operations.balloon_kib) word(true, "balloon " + format_kib(*operations.balloon_kib));
  if (const auto current = operations.current_memory_kib)
    word(true, "balloon to " + format_kib(*current));
  word(operations.power != PowerOperation::none, to_string(operations.power));
  return words;
}

std::vector<Change> run_diff(const Desired& desired, const Live& live, Diagnostics& diagnostics,
                             DiffOptions options = {}) {
  return diff(desired, live, options, diagnostics);
}

TEST_CASE("a declared VM with no domain is created with every field shown", "[diff]") {
  Desired desired;
  desired.vms.push_back(small_vm("nas"));
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, Live{}, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  CHECK(change.action == Action::create);
  REQUIRE(field_of(change, "memory"));
  CHECK(field_of(change, "memory")->after == "512 MiB");
  CHECK(diagnostics.empty());
}

TEST_CASE("libvirt's normalisation is never a change", "[diff]") {
  Vm vm = small_vm("nas");
  vm.disks.push_back(file_disk("/images/a.img", DiskBus::virtio));
  Nic nic;
  nic.source = "default";
  vm.nics.push_back(nic);
  Live live;
  LiveDomain domain = live_of(vm, false);
  domain.vm.nics[0].mac = "52:54:00:aa:bb:cc";  // libvirt assigns a MAC
  domain.vm.firmware.nvram = "/var/lib/libvirt/qemu/nvram/nas_VARS.fd";
  live.domains.push_back(domain);
  live.networks.push_back({"default", true});
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  CHECK(change_at(changes, "vm.nas").action == Action::none);
  CHECK(diagnostics.empty());
}

TEST_CASE("a console port is owned only where the config fixes one", "[diff]") {
  Vm vm = small_vm("desk");
  vm.graphics = Graphics{GraphicsType::vnc, "", std::nullopt};
  LiveDomain domain = live_of(vm, true);
  domain.vm.graphics->port = 5901;  // fixed by another tool
  Live live;
  live.domains.push_back(domain);
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  CHECK(change_at(run_diff(desired, live, diagnostics), "vm.desk").action == Action::none);

  desired.vms[0].graphics->port = 5950;
  const auto changes = run_diff(desired, live, diagnostics);
  const FieldChange* graphics = field_of(change_at(changes, "vm.desk"), "graphics");
  REQUIRE(graphics);
  CHECK(graphics->before == "vnc, port 5901");
  CHECK(graphics->after == "vnc, port 5950");
  CHECK(graphics->disruption == Disruption::next_boot);
}

TEST_CASE("machine aliases match versioned machine types only within their family", "[diff]") {
  CHECK(same_machine("q35", "pc-q35-7.2"));
  CHECK(same_machine("pc", "pc-i440fx-7.2"));
  CHECK(same_machine("pc-q35-7.2", "pc-q35-7.2"));
  CHECK_FALSE(same_machine("q35", "pc-i440fx-7.2"));
  CHECK_FALSE(same_machine("pc", "pc-q35-7.2"));
  CHECK_FALSE(same_machine("pc-q35-6.2", "pc-q35-7.2"));
}

TEST_CASE("changes to a stopped guest carry no disruption", "[diff]") {
  Vm vm = small_vm("nas");
  Live live;
  live.domains.push_back(live_of(vm, false));
  vm.memory_kib = 1024 * 1024;
  vm.vcpus = 2;
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  CHECK(change.action == Action::update);
  CHECK(change.disruption == Disruption::none);
  REQUIRE(field_of(change, "memory"));
  CHECK(field_of(change, "memory")->before == "512 MiB");
  CHECK(field_of(change, "memory")->after == "1 GiB");
  REQUIRE(field_of(change, "vcpus"));
  CHECK(change.fields.size() == 2);
}

TEST_CASE("a running guest's changes are live, next boot or restart", "[diff]") {
  Vm vm = small_vm("nas");
  Live live;
  live.domains.push_back(live_of(vm, true));
  Desired desired;

  SECTION("a hot-pluggable disk and a smaller balloon are live") {
    vm.disks.push_back(file_disk("/images/b.img", DiskBus::virtio));
    vm.memory_kib = 256 * 1024;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    const Change& change = change_at(changes, "vm.nas");
    CHECK(field_of(change, "disk[/images/b.img]")->disruption == Disruption::live);
    CHECK(field_of(change, "memory")->disruption == Disruption::live);
    CHECK(change.disruption == Disruption::live);
  }
  SECTION("more vcpus wait for the next boot when restarts are not allowed") {
    vm.vcpus = 4;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    const Change& change = change_at(changes, "vm.nas");
    CHECK(change.disruption == Disruption::next_boot);
    CHECK(change.reason.find("next boot") != std::string::npos);
  }
  SECTION("with restart = allowed the same change restarts the guest") {
    vm.vcpus = 4;
    vm.restart = RestartPolicy::allowed;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    CHECK(change_at(changes, "vm.nas").disruption == Disruption::restart);
  }
  SECTION("apply --restart allows it for every VM") {
    vm.memory_kib = 2 * 1024 * 1024;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics, DiffOptions{true});
    CHECK(change_at(changes, "vm.nas").disruption == Disruption::restart);
  }
  SECTION("a SATA disk cannot be hot-plugged") {
    vm.disks.push_back(file_disk("/images/c.img", DiskBus::sata));
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    CHECK(change_at(changes, "vm.nas").disruption == Disruption::next_boot);
  }
  SECTION("the loader disk the guest booted from is swapped at the next boot") {
    // A domain that boots its loader image itself, declared now with an overlay on it.
    Disk image = file_disk("/images/tcrp.img", DiskBus::usb);
    image.boot_order = 1;
    live.domains.front().vm.disks.push_back(image);
    Disk overlay = file_disk("/images/nas.tcrp.qcow2", DiskBus::usb);
    overlay.format = "qcow2";
    overlay.backing = image.source;
    overlay.loader = "tcrp";
    overlay.boot_order = 1;
    vm.disks.push_back(overlay);
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    const Change& change = change_at(changes, "vm.nas");
    CHECK(field_of(change, "disk[/images/tcrp.img]")->disruption == Disruption::next_boot);
    CHECK(field_of(change, "disk[/images/nas.tcrp.qcow2]")->disruption == Disruption::next_boot);
  }
}

TEST_CASE("a definition the running guest has not booted yet needs a restart only if allowed",
          "[diff]") {
  Vm vm = small_vm("nas");
  vm.memory_kib = 1024 * 1024;
  Live live;
  LiveDomain domain = live_of(vm, true);
  domain.booted = domain.vm;
  domain.booted->memory_kib = 512 * 1024;  // booted before the last apply grew it
  live.domains.push_back(domain);
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto quiet = run_diff(desired, live, diagnostics);
  CHECK(change_at(quiet, "vm.nas").action == Action::none);
  // Not acted on, but shown: the guest does not run what its definition says.
  const std::vector<FieldChange>& pending = change_at(quiet, "vm.nas").pending_boot;
  REQUIRE(pending.size() == 1);
  CHECK(pending[0] ==
        FieldChange{"memory", "512 MiB", "1 GiB (pending next boot)", Disruption::next_boot});

  desired.vms[0].restart = RestartPolicy::allowed;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  CHECK(change.action == Action::update);
  CHECK(change.disruption == Disruption::restart);
  REQUIRE(field_of(change, "memory"));
  CHECK(field_of(change, "memory")->before == "512 MiB");

  SECTION("a smaller memory reached through the balloon is not pending") {
    desired.vms[0].memory_kib = 256 * 1024;
    live.domains[0].vm.memory_kib = 256 * 1024;
    const auto ballooned = run_diff(desired, live, diagnostics);
    CHECK(change_at(ballooned, "vm.nas").action == Action::none);
  }
}

TEST_CASE("devices in the definition that the running guest lacks are pending", "[diff]") {
  Vm vm = small_vm("nas");
  vm.disks = {file_disk("/var/lib/libvirt/images/late.qcow2", DiskBus::virtio)};
  Live live;
  LiveDomain domain = live_of(vm, true);
  domain.booted = domain.vm;
  domain.booted->disks = {file_disk("/var/lib/libvirt/images/gone.qcow2", DiskBus::virtio)};
  live.domains.push_back(domain);
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  CHECK(change.action == Action::none);
  REQUIRE(change.pending_boot.size() == 2);
  CHECK(change.pending_boot[0].field == "disk[/var/lib/libvirt/images/late.qcow2]");
  CHECK(change.pending_boot[0].before == "not in the running guest");
  CHECK(change.pending_boot[1].field == "disk[/var/lib/libvirt/images/gone.qcow2]");
  CHECK(change.pending_boot[1].after == "detached (pending next boot)");
}

TEST_CASE("a declared disk on a file an unexpressed disk of the domain uses is refused", "[diff]") {
  Vm vm = small_vm("nas");
  Live live;
  LiveDomain domain = live_of(vm, false);
  domain.unexpressed_disks = {file_disk("/var/lib/libvirt/images/legacy.raw", DiskBus::sata)};
  live.domains.push_back(domain);
  vm.disks = {file_disk("/var/lib/libvirt/images/legacy.raw", DiskBus::sata)};
  vm.disks[0].where = {"vm.toml", 7, 1};
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  run_diff(desired, live, diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].severity == Severity::error);
  CHECK(diagnostics[0].where.line == 7);
  CHECK(diagnostics[0].message.find("already attached to domain 'nas' as a disk virtform does "
                                    "not express; declaring it would attach it twice") !=
        std::string::npos);
}

TEST_CASE("a new NVRAM path is a field of its own, copied from a shut-off guest", "[diff]") {
  Vm vm = small_vm("nas");
  vm.firmware = {FirmwareKind::uefi, "", "", "/var/lib/libvirt/qemu/nvram/nas_VARS.fd"};
  Live live;
  Vm old = vm;
  old.firmware.nvram = "/var/lib/libvirt/qemu/nvram/NAS-old_VARS.fd";
  live.domains.push_back(live_of(old, false));
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  REQUIRE(change.fields.size() == 1);  // not also "firmware: uefi -> uefi"
  CHECK(change.fields[0] ==
        FieldChange{"nvram", "/var/lib/libvirt/qemu/nvram/NAS-old_VARS.fd",
                    "/var/lib/libvirt/qemu/nvram/nas_VARS.fd (a copy of the current store)",
                    Disruption::none});

  live.domains[0].running = true;
  run_diff(desired, live, diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message.find("moving the NVRAM store of the running domain 'nas'") !=
        std::string::npos);
}

TEST_CASE("an unmanaged domain in the way is an error unless adopted", "[diff]") {
  Vm vm = small_vm("nas");
  Live live;
  live.domains.push_back(live_of(vm, false, /*managed=*/false));
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  run_diff(desired, live, diagnostics);
  REQUIRE(has_errors(diagnostics));
  CHECK(diagnostics[0].message.find("adopt = true") != std::string::npos);
  CHECK(diagnostics[0].resource == "vm.nas");

  desired.vms[0].adopt = true;
  Diagnostics adopted;
  const auto changes = run_diff(desired, live, adopted);
  const Change& change = change_at(changes, "vm.nas");
  CHECK_FALSE(has_errors(adopted));
  CHECK(change.action == Action::update);
  CHECK(field_of(change, "managed"));
}

TEST_CASE("unmanaged domains are never deleted, managed orphans are", "[diff]") {
  Live live;
  live.domains.push_back(live_of(small_vm("theirs"), true, /*managed=*/false));
  live.domains.push_back(live_of(small_vm("old"), true, /*managed=*/true));
  Diagnostics diagnostics;
  const auto changes = run_diff(Desired{}, live, diagnostics);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].address == "vm.old");
  CHECK(changes[0].action == Action::remove);
  CHECK(changes[0].running);
  CHECK(changes[0].reason.find("disks, images, NVRAM and a TPM's state stay") != std::string::npos);
}

TEST_CASE("another project's domains are neither orphans nor taken over silently", "[diff]") {
  Vm theirs = small_vm("web");
  theirs.project = "other-repo";
  Live live;
  live.domains.push_back(live_of(theirs, true));
  Diagnostics diagnostics;
  CHECK(run_diff(Desired{}, live, diagnostics).empty());

  Desired desired;
  desired.vms.push_back(small_vm("web"));
  run_diff(desired, live, diagnostics);
  REQUIRE(has_errors(diagnostics));
  CHECK(diagnostics[0].message.find("project 'other-repo'") != std::string::npos);

  desired.vms[0].adopt = true;
  Diagnostics adopted;
  const auto changes = run_diff(desired, live, adopted);
  CHECK_FALSE(has_errors(adopted));
  const FieldChange* project = field_of(change_at(changes, "vm.web"), "project");
  REQUIRE(project);
  CHECK(project->before == "other-repo");
  CHECK(project->after == "default");
}

TEST_CASE("a renamed VM is renamed in place, keeping its data", "[diff]") {
  Vm old = small_vm("nas");
  old.name = "NAS-old";
  Live live;
  live.domains.push_back(live_of(old, false));
  Vm renamed = small_vm("nas");
  renamed.name = "NAS";
  Desired desired;
  desired.vms.push_back(renamed);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].action == Action::update);
  CHECK(changes[0].live_name == "NAS-old");
  CHECK(field_of(changes[0], "name")->before == "NAS-old");
  CHECK(field_of(changes[0], "name")->after == "NAS");
  CHECK(changes[0].disruption == Disruption::none);
  CHECK(operations_of(changes, "nas") == "rename");

  // libvirt renames only a shut-off domain: a running guest is shut down and started again.
  live.domains[0].running = true;
  desired.vms[0].restart = RestartPolicy::allowed;
  CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") == "shut down, rename, start");
  desired.vms[0].vcpus = 2;
  CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") ==
        "shut down, rename, redefine, start");
}

TEST_CASE("missing images are created first, missing networks and bridges are errors", "[diff]") {
  Vm vm = small_vm("nas");
  Disk image = file_disk("/images/new.qcow2", DiskBus::virtio);
  image.format = "qcow2";
  image.size = 1ULL << 30;
  vm.disks.push_back(image);
  Nic bridged;
  bridged.kind = NicSource::bridge;
  bridged.source = "br0";
  Nic networked;
  networked.source = "lan";
  vm.nics = {bridged, networked};
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, Live{}, diagnostics);
  const Change& created = change_at(changes, "image./images/new.qcow2");
  CHECK(created.action == Action::create);
  CHECK(created.image_bytes == (1ULL << 30));
  const Change& guest = change_at(changes, "vm.nas");
  CHECK(std::count(guest.depends_on.begin(), guest.depends_on.end(), "image./images/new.qcow2"));
  REQUIRE(diagnostics.size() == 2);
  CHECK(diagnostics[0].message.find("bridge 'br0'") != std::string::npos);
  CHECK(diagnostics[1].message.find("network 'lan'") != std::string::npos);
}

TEST_CASE("power state and autostart are owned only when declared", "[diff]") {
  Vm vm = small_vm("nas");
  Live live;
  LiveDomain domain = live_of(vm, false);
  domain.vm.autostart = false;
  live.domains.push_back(domain);
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto unchanged = run_diff(desired, live, diagnostics);
  CHECK(change_at(unchanged, "vm.nas").action == Action::none);

  desired.vms[0].state = PowerState::running;
  // Starting a guest needs no new definition; a new autostart is written with one.
  CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") == "start");
  desired.vms[0].autostart = true;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  CHECK(field_of(change, "state")->after == "running");
  CHECK(field_of(change, "autostart")->after == "true");
  CHECK(operations_of(changes, "nas") == "redefine, autostart on, start");
}

TEST_CASE("NICs pair by MAC when set, else by source and model", "[diff]") {
  Vm vm = small_vm("fw");
  Nic lan;
  lan.kind = NicSource::bridge;
  lan.source = "br0";
  Nic wan = lan;
  wan.source = "br1";
  vm.nics = {lan, wan};
  LiveDomain domain = live_of(vm, true);
  domain.vm.nics[0].mac = "52:54:00:00:00:01";
  domain.vm.nics[1].mac = "52:54:00:00:00:02";
  const DeviceDelta same = device_delta(vm, domain.vm);
  CHECK(same.nics_added.empty());
  CHECK(same.nics_removed.empty());

  vm.nics[1].model = "e1000e";
  const DeviceDelta changed = device_delta(vm, domain.vm);
  REQUIRE(changed.nics_added.size() == 1);
  CHECK(changed.nics_added[0].model == "e1000e");
  REQUIRE(changed.nics_removed.size() == 1);
  CHECK(changed.nics_removed[0].mac == "52:54:00:00:00:02");
}

// ---- Operations: what apply carries out, decided here once ---------------------------------

TEST_CASE("a new VM is defined, given its autostart and started", "[diff][operations]") {
  Vm vm = small_vm("nas");
  vm.autostart = true;
  vm.state = PowerState::running;
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, Live{}, diagnostics);
  CHECK(operations_of(changes, "nas") == "define, autostart on, start");
}

TEST_CASE("a running guest that keeps running is given what it can take now",
          "[diff][operations]") {
  Vm vm = small_vm("nas");
  Nic old_nic;
  old_nic.source = "default";
  old_nic.mac = "52:54:00:00:00:01";
  vm.nics.push_back(old_nic);
  Live live;
  live.domains.push_back(live_of(vm, true));
  live.networks.push_back({"default", true});
  vm.nics.clear();
  vm.disks.push_back(file_disk("/images/b.img", DiskBus::virtio));
  vm.disks.push_back(file_disk("/images/c.img", DiskBus::sata));
  vm.memory_kib = 256 * 1024;
  vm.attributes["description"] = "a note";  // a row taken live
  vm.attributes["on_crash"] = "restart";    // one that waits for a boot
  Desired desired;

  SECTION("plugs, unplugs, attributes and the balloon, not a disk on a bus without hot-plug") {
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") ==
          "redefine, unplug 52:54:00:00:00:01, plug /images/b.img, description = a note, "
          "balloon 256 MiB");
  }
  SECTION("a guest that is restarted boots it all instead") {
    vm.restart = RestartPolicy::allowed;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") == "redefine, restart");
  }
  SECTION("a guest to be stopped is stopped after the update") {
    vm.state = PowerState::stopped;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") ==
          "redefine, unplug 52:54:00:00:00:01, plug /images/b.img, description = a note, "
          "balloon 256 MiB, stop");
  }
}

TEST_CASE("a store that moves is copied with the guest shut off", "[diff][operations]") {
  Vm vm = small_vm("nas");
  vm.restart = RestartPolicy::allowed;
  vm.firmware = {FirmwareKind::uefi, "", "", "/nvram/nas_VARS.fd"};
  Vm old = vm;
  old.firmware.nvram = "/nvram/old_VARS.fd";
  Live live;
  live.domains.push_back(live_of(old, true));
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  CHECK(operations_of(run_diff(desired, live, diagnostics), "nas") ==
        "shut down, copy /nvram/old_VARS.fd to /nvram/nas_VARS.fd, redefine, start");
  CHECK(diagnostics.empty());
}

TEST_CASE("a removed VM is shut down, then undefined", "[diff][operations]") {
  Live live;
  live.domains.push_back(live_of(small_vm("old"), true));
  Diagnostics diagnostics;
  CHECK(operations_of(run_diff(Desired{}, live, diagnostics), "old") == "shut down, undefine");
}

}  // namespace
}  // namespace virtform

namespace virtform {

TEST_CASE("reordered data disks move at the next boot, with a warning naming the slots",
          "[diff][disk_layout]") {
  Vm vm = small_vm("nas");
  vm.disks = {file_disk("/images/a.img", DiskBus::scsi), file_disk("/images/b.img", DiskBus::scsi)};
  LiveDomain domain = live_of(vm, true);
  for (unsigned unit = 0; unit < 2; ++unit) {
    domain.vm.disks[unit].controller = 0;
    domain.vm.disks[unit].unit = unit;
  }
  Live live;
  live.domains.push_back(domain);
  Desired desired;
  std::swap(vm.disks[0], vm.disks[1]);
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  REQUIRE(field_of(change, "disk[/images/a.img]"));
  CHECK(field_of(change, "disk[/images/a.img]")->before == "scsi 0:0, raw");
  CHECK(field_of(change, "disk[/images/a.img]")->after == "scsi 0:1, raw");
  CHECK(field_of(change, "disk[/images/a.img]")->disruption == Disruption::next_boot);
  CHECK(change.operations.plug_disks.empty());
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].severity == Severity::warning);
  CHECK_THAT(diagnostics[0].message,
             Catch::Contains("/images/b.img: scsi 0:1 -> scsi 0:0; /images/a.img: scsi 0:0 -> "
                             "scsi 0:1"));

  // In the order the guest has them, nothing moves.
  std::swap(desired.vms[0].disks[0], desired.vms[0].disks[1]);
  diagnostics.clear();
  CHECK(change_at(run_diff(desired, live, diagnostics), "vm.nas").action == Action::none);
  CHECK(diagnostics.empty());
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a disk pinned where the running guest still has another waits for its boot",
          "[diff][disk_layout]") {
  Vm vm = small_vm("nas");
  vm.disks = {file_disk("/images/a.img", DiskBus::scsi)};
  LiveDomain domain = live_of(vm, true);
  domain.vm.disks[0].controller = 0;
  domain.vm.disks[0].unit = 0;
  domain.booted = domain.vm;
  Live live;
  live.domains.push_back(domain);
  // /dev/a moves to unit 3 at the next boot; /images/d takes its unit 0.
  vm.disks[0].controller = 0;
  vm.disks[0].unit = 3;
  Disk added = file_disk("/images/d.img", DiskBus::scsi);
  added.controller = 0;
  added.unit = 0;
  vm.disks.push_back(added);
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  REQUIRE(field_of(change, "disk[/images/d.img]"));
  CHECK(field_of(change, "disk[/images/d.img]")->disruption == Disruption::next_boot);
  CHECK(change.operations.plug_disks.empty());

  // Unpinned, it goes to a unit the guest has free, and is plugged at once.
  desired.vms[0].disks[1].controller.reset();
  desired.vms[0].disks[1].unit.reset();
  const auto free_unit = run_diff(desired, live, diagnostics);
  REQUIRE(change_at(free_unit, "vm.nas").operations.plug_disks.size() == 1);
  CHECK(change_at(free_unit, "vm.nas").operations.plug_disks[0].unit == 1u);
}

TEST_CASE("a disk pinned onto an unexpressed disk's unit is refused", "[diff][disk_layout]") {
  Vm vm = small_vm("nas");
  LiveDomain domain = live_of(vm, false);
  Disk cdrom;
  cdrom.bus = DiskBus::sata;
  cdrom.controller = 0;
  cdrom.unit = 0;
  domain.unexpressed_disks = {cdrom};
  Live live;
  live.domains.push_back(domain);
  Disk pinned = file_disk("/images/a.img", DiskBus::sata);
  pinned.controller = 0;
  pinned.unit = 0;
  vm.disks = {pinned};
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  run_diff(desired, live, diagnostics);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].severity == Severity::error);
  CHECK_THAT(diagnostics[0].message, Catch::Contains("an empty CD-ROM drive"));
}

TEST_CASE("a guest without a balloon takes a smaller memory at its next boot", "[diff]") {
  Vm vm = small_vm("nas");
  vm.attributes["balloon"] = "none";
  Live live;
  live.domains.push_back(live_of(vm, true));
  vm.memory_kib = 256 * 1024;
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;
  const auto changes = run_diff(desired, live, diagnostics);
  const Change& change = change_at(changes, "vm.nas");
  REQUIRE(field_of(change, "memory"));
  CHECK(field_of(change, "memory")->disruption == Disruption::next_boot);
  CHECK(operations_of(changes, "nas") == "redefine");

  SECTION("and until then the smaller memory is pending") {
    LiveDomain& domain = live.domains[0];
    domain.booted = domain.vm;
    domain.vm.memory_kib = vm.memory_kib;
    const auto after = run_diff(desired, live, diagnostics);
    CHECK(change_at(after, "vm.nas").action == Action::none);
    const std::vector<FieldChange>& pending = change_at(after, "vm.nas").pending_boot;
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].field == "memory");
  }
  SECTION("a guest with its balloon gives the memory back at once") {
    live.domains[0].vm.attributes["balloon"] = "virtio";
    desired.vms[0].attributes.erase("balloon");
    const auto ballooned = run_diff(desired, live, diagnostics);
    CHECK(field_of(change_at(ballooned, "vm.nas"), "memory")->disruption == Disruption::live);
    CHECK(operations_of(ballooned, "nas") == "redefine, balloon 256 MiB");
  }
}

TEST_CASE("an agent's channel plugs live only into a guest that has a virtio channel already",
          "[diff][operations]") {
  Vm vm = small_vm("nas");
  Live live;
  live.domains.push_back(live_of(vm, true));
  vm.attributes["guest_agent"] = "true";
  Desired desired;
  desired.vms.push_back(vm);
  Diagnostics diagnostics;

  // No virtio-serial controller to plug it into: libvirt cannot add one to a running guest.
  const auto first = run_diff(desired, live, diagnostics);
  CHECK(field_of(change_at(first, "vm.nas"), "guest_agent")->disruption == Disruption::next_boot);
  CHECK(operations_of(first, "nas") == "redefine");

  live.domains[0].vm.attributes["spice_agent"] = "true";
  const auto beside = run_diff(desired, live, diagnostics);
  CHECK(field_of(change_at(beside, "vm.nas"), "guest_agent")->disruption == Disruption::live);
  CHECK(operations_of(beside, "nas") == "redefine, guest_agent = true");

  // Taking one out always works.
  live.domains[0].vm.attributes = {{"guest_agent", "true"}};
  desired.vms[0].attributes["guest_agent"] = "false";
  const auto removed = run_diff(desired, live, diagnostics);
  CHECK(operations_of(removed, "nas") == "redefine, guest_agent = false");
}

}  // namespace virtform

namespace virtform {

TEST_CASE("more vCPUs up to vcpus_max reach a running guest live and fewer wait for its boot",
          "[diff][cpu]") {
  Vm booted = small_vm("nas");
  booted.vcpus = 2;
  booted.vcpus_max = 4;
  Live live;
  live.domains.push_back(live_of(booted, true));
  live.domains[0].booted = live.domains[0].vm;
  auto plan_for = [&](unsigned vcpus, unsigned most) {
    Vm vm = booted;
    vm.vcpus = vcpus;
    vm.vcpus_max = most;
    Desired desired;
    desired.vms.push_back(vm);
    Diagnostics diagnostics;
    const auto changes = run_diff(desired, live, diagnostics);
    REQUIRE_FALSE(has_errors(diagnostics));
    return change_at(changes, "vm.nas");
  };

  const Change more = plan_for(3, 4);
  REQUIRE(field_of(more, "vcpus"));
  CHECK(*field_of(more, "vcpus") == FieldChange{"vcpus", "2", "3", Disruption::live});
  CHECK(more.operations.vcpus_live == 3u);
  CHECK(more.operations.power == PowerOperation::none);

  const Change fewer = plan_for(1, 4);
  CHECK(field_of(fewer, "vcpus")->disruption == Disruption::next_boot);
  CHECK_FALSE(fewer.operations.vcpus_live);

  // Past what the guest booted with, the new maximum needs a boot first.
  const Change beyond = plan_for(6, 8);
  CHECK(field_of(beyond, "vcpus")->disruption == Disruption::next_boot);
  CHECK(field_of(beyond, "vcpus_max")->disruption == Disruption::next_boot);
  CHECK_FALSE(beyond.operations.vcpus_live);
}

namespace {

// A running guest that booted 1 GiB with its balloon at 512 MiB, as libvirt reads it back.
LiveDomain ballooned_guest(const Vm& vm) {
  LiveDomain domain = live_of(vm, true);
  domain.vm.memory_kib = 1024 * 1024;
  domain.vm.current_memory_kib = 512 * 1024;
  domain.booted = domain.vm;
  return domain;
}

// memory_max = 1 GiB with memory = `memory_mib` MiB.
Vm with_memory_max(std::uint64_t memory_mib) {
  Vm vm = small_vm("nas");
  vm.memory_kib = 1024 * 1024;
  vm.current_memory_kib = memory_mib * 1024;
  return vm;
}

std::vector<Change> diff_against(const Vm& vm, const LiveDomain& domain) {
  Desired desired;
  desired.vms.push_back(vm);
  Live live;
  live.domains.push_back(domain);
  Diagnostics diagnostics;
  return run_diff(desired, live, diagnostics);
}

}  // namespace

TEST_CASE("memory below memory_max moves a running guest's balloon live, up or down", "[diff]") {
  for (const std::uint64_t mib : {256, 768, 1024}) {
    INFO(mib << " MiB");
    const Vm vm = with_memory_max(mib);
    const auto changes = diff_against(vm, ballooned_guest(vm));
    const Change& change = change_at(changes, "vm.nas");
    REQUIRE(field_of(change, "memory"));
    CHECK(field_of(change, "memory")->before == "512 MiB");
    CHECK(field_of(change, "memory")->after == format_kib(mib * 1024));
    CHECK(field_of(change, "memory")->disruption == Disruption::live);
    CHECK_FALSE(field_of(change, "memory_max"));
    CHECK(operations_of(changes, "nas") == "redefine, balloon to " + format_kib(mib * 1024));
  }
}

TEST_CASE("the balloon as declared and libvirt's full balloon are no change", "[diff]") {
  const Vm vm = with_memory_max(512);
  CHECK(change_at(diff_against(vm, ballooned_guest(vm)), "vm.nas").action == Action::none);

  // currentMemory equal to memory: what libvirt writes for a domain that never set one.
  LiveDomain full = ballooned_guest(vm);
  full.vm.current_memory_kib = full.vm.memory_kib;
  full.booted = full.vm;
  CHECK(change_at(diff_against(with_memory_max(1024), full), "vm.nas").action == Action::none);

  // Without memory_max the balloon stays the guest owner's: a lower one is no difference.
  Vm maximum_only = small_vm("nas");
  maximum_only.memory_kib = 1024 * 1024;
  CHECK(change_at(diff_against(maximum_only, ballooned_guest(vm)), "vm.nas").action ==
        Action::none);
}

TEST_CASE("a new memory_max waits for the next boot and so does memory past the booted one",
          "[diff]") {
  Vm vm = with_memory_max(1536);
  vm.memory_kib = 2 * 1024 * 1024;
  const LiveDomain domain = ballooned_guest(with_memory_max(512));
  const auto changes = diff_against(vm, domain);
  const Change& change = change_at(changes, "vm.nas");
  REQUIRE(field_of(change, "memory_max"));
  CHECK(*field_of(change, "memory_max") ==
        FieldChange{"memory_max", "1 GiB", "2 GiB", Disruption::next_boot});
  CHECK(*field_of(change, "memory") ==
        FieldChange{"memory", "512 MiB", "1536 MiB", Disruption::next_boot});
  CHECK(operations_of(changes, "nas") == "redefine");

  SECTION("once applied, the maximum is pending and the balloon is not") {
    LiveDomain applied = domain;
    applied.vm.memory_kib = vm.memory_kib;
    applied.vm.current_memory_kib = vm.current_memory_kib;
    const auto changes_after = diff_against(vm, applied);
    const Change& settled = change_at(changes_after, "vm.nas");
    CHECK(settled.action == Action::none);
    REQUIRE(settled.pending_boot.size() == 1);
    CHECK(settled.pending_boot[0].field == "memory_max");
    CHECK(settled.pending_boot[0].before == "1 GiB");
  }
  SECTION("a smaller balloon within the booted maximum is live beside it") {
    vm.current_memory_kib = 768 * 1024;
    const auto smaller = diff_against(vm, domain);
    CHECK(field_of(change_at(smaller, "vm.nas"), "memory")->disruption == Disruption::live);
    CHECK(operations_of(smaller, "nas") == "redefine, balloon to 768 MiB");
  }
}

TEST_CASE("a guest without a balloon takes a declared memory at its next boot", "[diff]") {
  Vm vm = with_memory_max(768);
  LiveDomain domain = ballooned_guest(vm);
  domain.vm.attributes["balloon"] = "none";
  domain.booted = domain.vm;
  vm.attributes["balloon"] = "virtio";
  const auto changes = diff_against(vm, domain);
  CHECK(field_of(change_at(changes, "vm.nas"), "memory")->disruption == Disruption::next_boot);
  CHECK(operations_of(changes, "nas") == "redefine");
}

}  // namespace virtform
