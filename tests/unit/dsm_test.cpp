// Plan-time checks of DSM guests against their disk layout: each rule refuses or warns where the
// config says the thing, and the guest's change carries its slot map.

#include "engine/checks/dsm.h"

#include <catch2/catch.hpp>

#include "engine/config/config.h"

namespace virtform {
namespace {

struct Checked {
  Desired desired;
  Diagnostics diagnostics;  // the plan stage's only
  std::vector<Change> changes;
};

std::string disks(int count, const std::string& bus) {
  std::string text;
  for (int i = 1; i <= count; ++i)
    text += "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-" + bus + std::to_string(i) +
            "\"\nbus = \"" + bus + "\"\n";
  return text;
}

const std::string kHead =
    "[loader.tcrp]\nimage = \"/images/tcrp.img\"\n"
    "[vm.nas]\ncpu = \"host-passthrough\"\n";
const std::string kUsbLoader = "[vm.nas.boot]\nloader = \"tcrp\"\n";

Checked check(const std::string& text, const Live& live = {}) {
  Checked checked;
  Diagnostics loading;
  checked.desired = load_config_text(text, "dsm.toml", loading);
  INFO(text);
  for (const Diagnostic& d : loading) INFO(format(d));
  REQUIRE_FALSE(has_errors(loading));
  Change change;
  change.address = "vm.nas";
  change.name = "nas";
  checked.changes.push_back(change);
  check_dsm_guests(checked.desired, live, checked.changes, checked.diagnostics);
  return checked;
}

std::vector<Diagnostic> matching(const Checked& checked, Severity severity,
                                 const std::string& text) {
  std::vector<Diagnostic> found;
  for (const Diagnostic& d : checked.diagnostics)
    if (d.severity == severity && d.message.find(text) != std::string::npos) found.push_back(d);
  return found;
}

// The line of the `number`th [[vm.nas.disk]] header in `text`.
int disk_line(const std::string& text, int number) {
  int line = 1, seen = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text.compare(at, 15, "[[vm.nas.disk]]") == 0 && (at == 0 || text[at - 1] == '\n') &&
        ++seen == number)
      return line;
    if (text[at] == '\n') ++line;
  }
  return 0;
}

}  // namespace

TEST_CASE("the seed's layout: its map on the change, no error", "[dsm]") {
  const Checked checked =
      check(kHead +
            "[vm.nas.dsm]\nsata_port_map = \"12\"\ndisk_idx_map = \"1000\"\nacpid = "
            "true\n" +
            kUsbLoader + disks(2, "scsi"));
  CHECK(checked.diagnostics.empty());
  REQUIRE(checked.changes[0].dsm);
  const DsmReport& report = *checked.changes[0].dsm;
  CHECK(report.model == "DS918+");
  CHECK(report.architecture == "apollolake");
  REQUIRE(report.map);
  CHECK(report.map->sata_port_map == "12");
  CHECK(report.map->disk_idx_map == "1000");
  CHECK_FALSE(report.live_map);
}

TEST_CASE("loader values that disagree with the layout are refused, naming both", "[dsm]") {
  const std::string text = kHead +
                           "[vm.nas.dsm]\nsata_port_map = \"11\"\ndisk_idx_map = \"1000\"\n" +
                           kUsbLoader + disks(2, "scsi");
  const auto errors = matching(check(text), Severity::error, "do not match");
  REQUIRE(errors.size() == 1);
  CHECK(format(errors[0]) ==
        "dsm.toml:6:17: error: vm.nas: the loader's SataPortMap = \"11\" and DiskIdxMap = "
        "\"1000\" do not match this disk layout, which needs SataPortMap = \"12\" and DiskIdxMap "
        "= \"1000\": set sata_port_map = \"12\" and disk_idx_map = \"1000\" here and in the "
        "loader's user_config.json, then rebuild the loader");
  // One value given alone is checked alone.
  const std::string indices =
      kHead + "[vm.nas.dsm]\ndisk_idx_map = \"0000\"\n" + kUsbLoader + disks(2, "scsi");
  const auto wrong = matching(check(indices), Severity::error, "DiskIdxMap = \"0000\"");
  REQUIRE(wrong.size() == 1);
  CHECK(wrong[0].where.line == 6);
}

TEST_CASE("more than 8 disks on one controller is refused for sataportmap models", "[dsm]") {
  const std::string nine = kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(9, "scsi");
  const auto errors = matching(check(nine), Severity::error, "scsi0 (virtio-scsi) needs 9 ports");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].where.line == disk_line(nine, 9));
  CHECK(errors[0].message.find("at most 8 disks per controller") != std::string::npos);
  CHECK(matching(check(kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(8, "scsi")), Severity::error,
                 "ports")
            .empty());
  // A device-tree model's loader lays out the slots itself.
  CHECK(
      matching(check(kHead + "[vm.nas.dsm]\nmodel = \"DS920+\"\n" + kUsbLoader + disks(9, "scsi")),
               Severity::error, "ports")
          .empty());
}

TEST_CASE("a data disk beside the loader is refused", "[dsm]") {
  SECTION("on the loader's usb bus") {
    const std::string text = kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(1, "usb");
    const auto errors = matching(check(text), Severity::error, "the loader's bus");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.line == disk_line(text, 1));
  }
  SECTION("on the loader's sata controller") {
    const std::string text = kHead +
                             "[vm.nas.dsm]\n[vm.nas.boot]\nloader = \"tcrp\"\nbus = \"sata\"\n" +
                             disks(1, "sata");
    CHECK(matching(check(text), Severity::error, "is on sata0, the loader's controller").size() ==
          1);
  }
  SECTION("not on another controller of that bus") {
    const Checked checked =
        check(kHead + "[vm.nas.dsm]\n[vm.nas.boot]\nloader = \"tcrp\"\nbus = \"sata\"\n" +
              disks(1, "sata") + "controller = 1\nunit = 0\n");
    std::string found;
    for (const Diagnostic& d : checked.diagnostics) found += format(d) + "\n";
    INFO(found);
    CHECK_FALSE(has_errors(checked.diagnostics));
  }
}

TEST_CASE("a virtio-blk data disk in a DSM guest is warned about", "[dsm]") {
  const std::string text = kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(1, "virtio");
  const auto warnings = matching(check(text), Severity::warning, "virtio-blk");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].where.line == disk_line(text, 1));
  CHECK(warnings[0].message.find("set bus = \"scsi\"") != std::string::npos);
}

TEST_CASE("a device-tree model shows no map and ignores loader values", "[dsm]") {
  const Checked checked =
      check(kHead + "[vm.nas.dsm]\nmodel = \"DS1621+\"\nsata_port_map = \"1\"\n" + kUsbLoader +
            disks(2, "scsi"));
  REQUIRE(checked.changes[0].dsm);
  CHECK(checked.changes[0].dsm->mapping == SlotMapping::device_tree);
  CHECK_FALSE(checked.changes[0].dsm->map);
  CHECK_FALSE(has_errors(checked.diagnostics));
  const auto warnings = matching(checked, Severity::warning, "builds a device tree");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].where.line == 7);
}

TEST_CASE("a layout change that changes the map warns that the loader must be rebuilt", "[dsm]") {
  const std::string text = kHead + "[vm.nas.dsm]\nacpid = true\n" + kUsbLoader + disks(3, "scsi");
  Live live;
  LiveDomain domain;
  domain.vm = check(kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(2, "scsi")).desired.vms[0];
  live.domains.push_back(domain);
  const Checked checked = check(text, live);
  const auto warnings = matching(checked, Severity::warning, "rebuild the loader");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].message.find("from SataPortMap = \"12\", DiskIdxMap = \"1000\" to "
                                 "SataPortMap = \"13\", DiskIdxMap = \"1000\"") !=
        std::string::npos);
  REQUIRE(checked.changes[0].dsm->live_map);
  CHECK(checked.changes[0].dsm->live_map->sata_port_map == "12");
  // The same layout live: nothing to rebuild.
  LiveDomain same;
  same.vm = check(text).desired.vms[0];
  CHECK(matching(check(text, Live{{same}, {}, {}, {}, {}}), Severity::warning, "rebuild").empty());
}

// A live domain of `text`'s guest, laid out as a fresh guest would be.
Live live_guest(const std::string& text) {
  Live live;
  LiveDomain domain;
  domain.vm = check(text).desired.vms[0];
  live.domains.push_back(domain);
  return live;
}

TEST_CASE("a disk inserted between the seed's keeps their drives", "[dsm]") {
  const std::string seed = kHead + "[vm.nas.dsm]\nacpid = true\n" + kUsbLoader;
  const std::string first = "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-A\"\n";
  const std::string second = "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-B\"\n";
  const std::string added = "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-NEW\"\n";
  Live live = live_guest(seed + first + second);
  live.domains[0].vm.disks[1].controller = 0;
  live.domains[0].vm.disks[1].unit = 0;
  live.domains[0].vm.disks[2].controller = 0;
  live.domains[0].vm.disks[2].unit = 1;
  const Checked checked = check(seed + first + added + second, live);
  const DsmSlotMap& map = *checked.changes[0].dsm->map;
  CHECK(map.sata_port_map == "13");
  CHECK(map.disk_idx_map == "1000");
  REQUIRE(map.slots.size() == 3);
  CHECK(map.slots[0].source == "/dev/disk/by-id/ata-A");
  CHECK(map.slots[1].source == "/dev/disk/by-id/ata-B");
  CHECK(map.slots[1].drive == 2);
  CHECK(map.slots[2].source == "/dev/disk/by-id/ata-NEW");
  const auto warnings = matching(checked, Severity::warning, "rebuild the loader");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].message.find("drives move") == std::string::npos);
}

TEST_CASE("a map change names the drives that move", "[dsm]") {
  // A sata disk on q35's built-in controller comes before every virtio-scsi drive.
  const std::string head = kHead + "[vm.nas.dsm]\nacpid = true\n" + kUsbLoader;
  const Checked checked =
      check(head + disks(2, "scsi") + disks(1, "sata"), live_guest(head + disks(2, "scsi")));
  const auto warnings = matching(checked, Severity::warning, "rebuild the loader");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].message.find(
            "to SataPortMap = \"12\", DiskIdxMap = \"0001\"; drives move "
            "(/dev/disk/by-id/ata-scsi1: drive 1 -> 2; /dev/disk/by-id/ata-scsi2: drive 2 -> 3)") !=
        std::string::npos);
}

TEST_CASE("more than 16 data disks in all are refused, naming the count", "[dsm]") {
  std::string text = kHead + "[vm.nas.dsm]\n" + kUsbLoader;
  for (int controller = 0; controller < 3; ++controller)
    for (int unit = 0; unit < 6; ++unit)
      text += "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-" + std::to_string(controller) +
              "-" + std::to_string(unit) + "\"\ncontroller = " + std::to_string(controller) +
              "\nunit = " + std::to_string(unit) + "\n";
  const auto errors = matching(check(text), Severity::error, "maxdisks");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message ==
        "the 18 data disks take drive slots up to 18, past the 16 a DS918+'s loader maps (its "
        "maxdisks): remove 2 of them");
  CHECK(errors[0].where.line == disk_line(text, 17));
  // Units with gaps can need more slots than there are disks.
  const std::string gaps = kHead + "[vm.nas.dsm]\n" + kUsbLoader +
                           "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-a\"\nunit = 7\n"
                           "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-b\"\n"
                           "controller = 1\nunit = 7\n"
                           "[[vm.nas.disk]]\nsource = \"/dev/disk/by-id/ata-c\"\n"
                           "controller = 2\nunit = 0\n";
  const auto gap_errors = matching(check(gaps), Severity::error, "maxdisks");
  REQUIRE(gap_errors.size() == 1);
  CHECK(gap_errors[0].message.find("the 3 data disks take drive slots up to 17") == 0);
  CHECK(gap_errors[0].message.find("without gaps") != std::string::npos);
  CHECK(gap_errors[0].where.line == disk_line(gaps, 3));
  CHECK(matching(check(kHead + "[vm.nas.dsm]\n" + kUsbLoader + disks(8, "scsi") + disks(6, "sata")),
                 Severity::error, "maxdisks")
            .empty());
}

TEST_CASE("a loader past a SataPortMap digit is refused at the loader", "[dsm]") {
  // The loader keeps the place a hand-made guest gave it: scsi0 unit 12 needs 13 ports.
  const std::string text = kHead +
                           "[vm.nas.dsm]\n[vm.nas.boot]\nloader = \"tcrp\"\n"
                           "bus = \"scsi\"\n" +
                           disks(2, "sata");
  Live live = live_guest(text);
  for (Disk& disk : live.domains[0].vm.disks)
    if (!disk.loader.empty()) {
      disk.controller = 0;
      disk.unit = 12;
    }
  const Checked checked = check(text, live);
  const auto errors = matching(checked, Severity::error, "the loader sits at unit 12");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message ==
        "the loader sits at unit 12 of scsi0 (virtio-scsi), but SataPortMap gives a controller "
        "one digit, at most 9 ports, and the kernel must reach the loader: set bus = \"usb\" in "
        "[vm.nas.boot], or move the loader to a unit below 9");
  CHECK(errors[0].where.line == 7);  // loader = "tcrp"
  CHECK(matching(check(text), Severity::error, "the loader sits").empty());
}

TEST_CASE("a DSM guest that cannot shut down cleanly is warned about", "[dsm]") {
  const std::string layout = kUsbLoader + disks(1, "scsi");
  const auto warnings =
      matching(check(kHead + "[vm.nas.dsm]\n" + layout), Severity::warning, "acpid extension");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].where.line == 5);
  CHECK(warnings[0].message.find("waits 120s and times out") != std::string::npos);
  CHECK(matching(check(kHead + "force_stop = true\n[vm.nas.dsm]\n" + layout), Severity::warning,
                 "acpid")
            .empty());
  CHECK(matching(check(kHead + "[vm.nas.dsm]\nacpid = true\n" + layout), Severity::warning, "acpid")
            .empty());
}

}  // namespace virtform
