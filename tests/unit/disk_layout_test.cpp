#include "engine/plan/disk_layout.h"

#include <catch2/catch.hpp>

namespace virtform {
namespace {

Disk disk_on(DiskBus bus, const std::string& source) {
  Disk disk;
  disk.kind = DiskSource::block;
  disk.source = source;
  disk.bus = bus;
  return disk;
}

Disk placed(Disk disk, unsigned controller, unsigned unit) {
  disk.controller = controller;
  disk.unit = unit;
  return disk;
}

Disk loader_on(DiskBus bus) {
  Disk disk = disk_on(bus, "/var/lib/virtform/images/dsm.tcrp.qcow2");
  disk.kind = DiskSource::file;
  disk.loader = "tcrp";
  disk.boot_order = 1;
  return disk;
}

// Each disk's place as "source=scsi 0:1", in the VM's order.
std::vector<std::string> places(const Vm& vm) {
  std::vector<std::string> result;
  for (const Disk& disk : vm.disks) result.push_back(disk.source + "=" + describe_place(disk));
  return result;
}

LiveDomain live_with(std::vector<Disk> disks) {
  LiveDomain live;
  live.vm.disks = std::move(disks);
  return live;
}

}  // namespace

TEST_CASE("a new guest's data disks fill units from 0 and the loader never shifts them",
          "[disk_layout]") {
  Vm vm;
  vm.disks = {loader_on(DiskBus::usb), disk_on(DiskBus::scsi, "/dev/a"),
              disk_on(DiskBus::scsi, "/dev/b"), disk_on(DiskBus::virtio, "/dev/c")};
  CHECK(places(lay_out_disks(vm, nullptr)) ==
        std::vector<std::string>{"/var/lib/virtform/images/dsm.tcrp.qcow2=", "/dev/a=scsi 0:0",
                                 "/dev/b=scsi 0:1", "/dev/c="});
}

TEST_CASE("a loader on the data disks' bus takes the end of controller 0", "[disk_layout]") {
  Vm vm;
  vm.disks = {loader_on(DiskBus::sata), disk_on(DiskBus::sata, "/dev/a"),
              disk_on(DiskBus::sata, "/dev/b")};
  CHECK(places(lay_out_disks(vm, nullptr)) ==
        std::vector<std::string>{"/var/lib/virtform/images/dsm.tcrp.qcow2=sata 0:5",
                                 "/dev/a=sata 0:0", "/dev/b=sata 0:1"});
  vm.disks[0].bus = DiskBus::scsi;
  CHECK(describe_place(lay_out_disks(vm, nullptr).disks[0]) == "scsi 0:6");
}

TEST_CASE("pinned disks keep their place and the others fill around them", "[disk_layout]") {
  Vm vm;
  vm.disks = {disk_on(DiskBus::scsi, "/dev/a"), placed(disk_on(DiskBus::scsi, "/dev/b"), 0, 0),
              placed(disk_on(DiskBus::scsi, "/dev/c"), 2, 3)};
  CHECK(places(lay_out_disks(vm, nullptr)) ==
        std::vector<std::string>{"/dev/a=scsi 0:1", "/dev/b=scsi 0:0", "/dev/c=scsi 2:3"});
}

TEST_CASE("a full AHCI controller spills onto the next one", "[disk_layout]") {
  Vm vm;
  for (int i = 0; i < 7; ++i)
    vm.disks.push_back(disk_on(DiskBus::sata, "/dev/d" + std::to_string(i)));
  const Vm laid_out = lay_out_disks(vm, nullptr);
  CHECK(describe_place(laid_out.disks[5]) == "sata 0:5");
  CHECK(describe_place(laid_out.disks[6]) == "sata 1:0");
}

TEST_CASE("disks a guest already has stay where they are", "[disk_layout]") {
  // An earlier layout put the loader at sda, so libvirt placed the data disks at units 1 and 2.
  const LiveDomain live = live_with({placed(disk_on(DiskBus::scsi, "/dev/a"), 0, 1),
                                     placed(disk_on(DiskBus::scsi, "/dev/b"), 0, 2)});
  Vm vm;
  vm.disks = {loader_on(DiskBus::usb), disk_on(DiskBus::scsi, "/dev/a"),
              disk_on(DiskBus::scsi, "/dev/b"), disk_on(DiskBus::scsi, "/dev/new")};
  const Vm laid_out = lay_out_disks(vm, &live);
  CHECK(places(laid_out) ==
        std::vector<std::string>{"/var/lib/virtform/images/dsm.tcrp.qcow2=", "/dev/a=scsi 0:1",
                                 "/dev/b=scsi 0:2", "/dev/new=scsi 0:0"});
  CHECK(moved_disks(laid_out, live.vm).empty());
}

TEST_CASE("reordered disks swap into each other's places, named as moves", "[disk_layout]") {
  const LiveDomain live = live_with({placed(disk_on(DiskBus::scsi, "/dev/a"), 0, 0),
                                     placed(disk_on(DiskBus::scsi, "/dev/b"), 0, 1)});
  Vm vm;
  vm.disks = {disk_on(DiskBus::scsi, "/dev/b"), disk_on(DiskBus::scsi, "/dev/a")};
  const Vm laid_out = lay_out_disks(vm, &live);
  CHECK(places(laid_out) == std::vector<std::string>{"/dev/b=scsi 0:0", "/dev/a=scsi 0:1"});
  CHECK(moved_disks(laid_out, live.vm) ==
        std::vector<std::string>{"/dev/b: scsi 0:1 -> scsi 0:0", "/dev/a: scsi 0:0 -> scsi 0:1"});
}

TEST_CASE("a disk that changes bus is named as a move", "[disk_layout]") {
  const LiveDomain live = live_with({placed(disk_on(DiskBus::sata, "/dev/a"), 0, 0)});
  Vm vm;
  vm.disks = {disk_on(DiskBus::scsi, "/dev/a")};
  const Vm laid_out = lay_out_disks(vm, &live);
  CHECK(moved_disks(laid_out, live.vm) == std::vector<std::string>{"/dev/a: sata 0:0 -> scsi 0:0"});
  vm.disks = {disk_on(DiskBus::virtio, "/dev/a")};
  CHECK(moved_disks(lay_out_disks(vm, &live), live.vm) ==
        std::vector<std::string>{"/dev/a: sata 0:0 -> virtio"});
}

TEST_CASE("units held by unexpressed disks and by the running guest are not free",
          "[disk_layout]") {
  LiveDomain live;
  Disk cdrom = placed(disk_on(DiskBus::sata, "/iso/install.iso"), 0, 0);
  live.unexpressed_disks = {cdrom};
  // The config removed /dev/old; the running guest keeps it until it next boots.
  Vm booted;
  booted.disks = {placed(disk_on(DiskBus::scsi, "/dev/old"), 0, 0)};
  live.booted = booted;
  Vm vm;
  vm.disks = {disk_on(DiskBus::sata, "/dev/a"), disk_on(DiskBus::scsi, "/dev/b")};
  CHECK(places(lay_out_disks(vm, &live)) ==
        std::vector<std::string>{"/dev/a=sata 0:1", "/dev/b=scsi 0:1"});
}

TEST_CASE("a pin wins over a live place another disk has", "[disk_layout]") {
  const LiveDomain live = live_with({placed(disk_on(DiskBus::scsi, "/dev/a"), 0, 0)});
  Vm vm;
  vm.disks = {disk_on(DiskBus::scsi, "/dev/a"), placed(disk_on(DiskBus::scsi, "/dev/b"), 0, 0)};
  CHECK(places(lay_out_disks(vm, &live)) ==
        std::vector<std::string>{"/dev/a=scsi 0:1", "/dev/b=scsi 0:0"});
}

}  // namespace virtform

namespace virtform {

TEST_CASE("a controller pinned without a unit takes its first free unit", "[disk_layout]") {
  Vm vm;
  Disk pinned = disk_on(DiskBus::scsi, "/dev/b");
  pinned.controller = 1;
  vm.disks = {disk_on(DiskBus::scsi, "/dev/a"), pinned};
  CHECK(places(lay_out_disks(vm, nullptr)) ==
        std::vector<std::string>{"/dev/a=scsi 0:0", "/dev/b=scsi 1:0"});
  // A disk the guest has on that controller stays at its unit; one elsewhere moves onto it.
  const LiveDomain live = live_with({placed(disk_on(DiskBus::scsi, "/dev/b"), 1, 4)});
  CHECK(describe_place(lay_out_disks(vm, &live).disks[1]) == "scsi 1:4");
  const LiveDomain elsewhere = live_with({placed(disk_on(DiskBus::scsi, "/dev/b"), 0, 4)});
  CHECK(describe_place(lay_out_disks(vm, &elsewhere).disks[1]) == "scsi 1:0");
}

TEST_CASE("a new disk avoids every unit the running guest still has", "[disk_layout]") {
  // The config moves /dev/a from unit 0 to unit 3: the guest keeps it at 0 until it boots.
  LiveDomain live = live_with({placed(disk_on(DiskBus::scsi, "/dev/a"), 0, 0)});
  live.booted = live.vm;
  Vm vm;
  vm.disks = {placed(disk_on(DiskBus::scsi, "/dev/a"), 0, 3), disk_on(DiskBus::scsi, "/dev/d")};
  const Vm laid_out = lay_out_disks(vm, &live);
  CHECK(describe_place(laid_out.disks[1]) == "scsi 0:1");
  CHECK_FALSE(place_held_by_other(laid_out.disks[1], *live.booted));
  // Pinned onto the unit the guest still uses, the new disk must wait for the boot.
  Disk onto = placed(disk_on(DiskBus::scsi, "/dev/d"), 0, 0);
  CHECK(place_held_by_other(onto, *live.booted));
}

TEST_CASE("a pin onto a unexpressed disk's unit, or onto a full controller, is a conflict",
          "[disk_layout]") {
  LiveDomain live;
  live.vm.name = "nas";
  Disk empty_cdrom = placed(disk_on(DiskBus::sata, ""), 0, 0);
  live.unexpressed_disks = {empty_cdrom};
  Vm vm;
  vm.disks = {placed(disk_on(DiskBus::sata, "/dev/a"), 0, 0)};
  const Vm pinned = lay_out_disks(vm, &live);  // the conflicts point into it
  auto conflicts = layout_conflicts(pinned, &live);
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].second ==
        "disk /dev/a is pinned to sata 0:0, where domain 'nas' has a disk virtform does not "
        "express (an empty CD-ROM drive); pin another unit, or detach that disk first");
  // Unpinned, it goes around the empty drive.
  vm.disks[0].controller.reset();
  vm.disks[0].unit.reset();
  CHECK(describe_place(lay_out_disks(vm, &live).disks[0]) == "sata 0:1");
  CHECK(layout_conflicts(lay_out_disks(vm, &live), &live).empty());

  Vm full;
  for (int i = 0; i < 7; ++i) {
    Disk disk = disk_on(DiskBus::sata, "/dev/f" + std::to_string(i));
    disk.controller = 0;
    full.disks.push_back(disk);
  }
  const Vm full_laid_out = lay_out_disks(full, nullptr);
  conflicts = layout_conflicts(full_laid_out, nullptr);
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].first->source == "/dev/f6");
}

}  // namespace virtform
