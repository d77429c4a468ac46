// A DSM guest's slot map in plan text (with the loader line once per guest, changed or not) and
// in the JSON plan, which reads back to the same report.

#include "engine/render/dsm_render.h"

#include <catch2/catch.hpp>

#include "engine/render/plan_json.h"
#include "engine/render/plan_text.h"

namespace virtform {
namespace {

Vm seed_layout(const std::string& key) {
  Vm vm;
  vm.key = key;
  vm.name = key;
  vm.dsm = DsmGuest{};
  Disk loader;
  loader.source = "/images/" + key + ".qcow2";
  loader.bus = DiskBus::usb;
  loader.loader = "tcrp";
  loader.boot_order = 1;
  vm.disks.push_back(loader);
  for (const char* serial : {"A", "B"}) {
    Disk disk;
    disk.kind = DiskSource::block;
    disk.source = "/dev/disk/by-id/ata-" + key + serial;
    disk.bus = DiskBus::scsi;
    vm.disks.push_back(disk);
  }
  return vm;
}

Change vm_change(const Vm& vm, Action action) {
  Change change;
  change.address = "vm." + vm.key;
  change.name = vm.name;
  change.action = action;
  change.desired = vm;
  change.dsm = dsm_report(vm, nullptr);
  return change;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

}  // namespace

TEST_CASE("plan text shows each DSM guest's map and loader line once, changed or not", "[dsm]") {
  Plan plan;
  plan.uri = "test:///default";
  plan.changes.push_back(vm_change(seed_layout("nas"), Action::create));
  plan.changes.push_back(vm_change(seed_layout("backup"), Action::none));
  const std::string text = render_plan_text(plan, TextStyle{false});
  CHECK_THAT(text, Catch::Contains(
                       "DSM guests: the disk slot map their loader's user_config.json must hold\n"
                       "  vm.nas \"nas\" (DS918+, apollolake)\n"
                       "      SataPortMap = \"12\", DiskIdxMap = \"1000\"\n"
                       "        sata0 (q35 built-in AHCI): 1 port from index 0x10 (past the "
                       "drives: no disks)\n"
                       "        scsi0 (virtio-scsi): 2 ports from index 0x00\n"
                       "        drive 1: /dev/disk/by-id/ata-nasA (scsi0 unit 0)\n"
                       "        drive 2: /dev/disk/by-id/ata-nasB (scsi0 unit 1)\n"));
  CHECK(count(text, "jq '.extra_cmdline.SataPortMap = \"12\"") == 2);
  CHECK(count(text, "./rploader.sh build ds918p-<DSM version>") == 2);
  CHECK(count(text, "vm.backup \"backup\" (DS918+") == 1);

  Plan quiet;
  quiet.changes.push_back(vm_change(seed_layout("nas"), Action::none));
  const std::string unchanged = render_plan_text(quiet, TextStyle{false});
  CHECK(unchanged.starts_with("No changes."));
  CHECK(count(unchanged, "jq '") == 1);
}

TEST_CASE("plan text says a device-tree model has no map, and shows the live one", "[dsm]") {
  Vm tree = seed_layout("nas");
  tree.dsm->model = "DS920+";
  Plan plan;
  plan.changes.push_back(vm_change(tree, Action::none));
  const std::string text = render_plan_text(plan, TextStyle{false});
  CHECK_THAT(text, Catch::Contains("builds a device tree from the controllers it finds at boot"));
  CHECK(text.find("SataPortMap = \"") == std::string::npos);

  Vm live = seed_layout("nas");
  live.disks.pop_back();
  Change change = vm_change(seed_layout("nas"), Action::update);
  change.dsm = dsm_report(seed_layout("nas"), &live);
  Plan changed;
  changed.changes.push_back(change);
  CHECK_THAT(render_plan_text(changed, TextStyle{false}),
             Catch::Contains("the guest now has SataPortMap = \"11\", DiskIdxMap = \"1000\": "
                             "rebuild the loader with the values above\n"));
}

TEST_CASE("the JSON plan carries each DSM report and reads it back", "[dsm]") {
  Plan plan;
  plan.uri = "test:///default";
  Vm interleaved = seed_layout("nas");
  interleaved.disks[1].bus = DiskBus::sata;
  Vm live = seed_layout("nas");
  Change change = vm_change(interleaved, Action::update);
  change.dsm = dsm_report(interleaved, &live);
  REQUIRE(change.dsm->live_map);
  plan.changes.push_back(change);
  Vm tree = seed_layout("other");
  tree.dsm->model = "DS1621+";
  plan.changes.push_back(vm_change(tree, Action::create));
  const Plan read = parse_plan_json(render_plan_json(plan));
  REQUIRE(read.find("vm.nas") != nullptr);
  CHECK(read.find("vm.nas")->dsm == plan.changes[0].dsm);
  CHECK(read.find("vm.other")->dsm == plan.changes[1].dsm);
  const auto json = nlohmann::json::parse(render_plan_json(plan));
  CHECK(json["dsm_guests"][0]["map"]["loader_command"] == rploader_command(*change.dsm->map));
  CHECK(json["dsm_guests"][1]["slot_mapping"] == "device_tree");
  CHECK_FALSE(json["dsm_guests"][1].contains("map"));
}

TEST_CASE("the loader's build command names the model's platform id", "[dsm]") {
  CHECK(rploader_platform_id("DS918+") == "ds918p");
  CHECK(rploader_platform_id("DS3622xs+") == "ds3622xsp");
  CHECK(rploader_platform_id("DVA3221") == "dva3221");
}

}  // namespace virtform
