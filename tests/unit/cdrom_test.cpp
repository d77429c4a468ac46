// CD-ROM drives ([[vm.X.disk]] device = "cdrom"): what the config refuses, the drives libvirt 9
// writes back (tests/fixtures/libvirt/qemu-install-media.xml, `virsh dumpxml --inactive` of such
// a guest on qemu:///system), import, and plans against the test driver: drives pair by their
// order, so a new ISO is a media change a running guest takes at once. The change itself needs
// virDomainUpdateDeviceFlags, which only a real libvirtd has: tests/e2e/cdrom_test.cpp.

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/import/importer.h"
#include "engine/render/config_toml.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "support/loaded_config.h"
#include "support/plan_changes.h"
#include "support/refusals.h"
#include "support/temp_dir.h"
#include "tests/support/pipeline.h"

namespace virtform {
namespace {

using testing::field_of;
using testing::formatted;
using testing::load_config_from;
using testing::vm_change;

constexpr char kGuest[] = "[vm.a]\nname = \"vfcdromtest\"\ntype = \"qemu\"\nmemory = \"128MiB\"\n";

std::string drive(const std::string& keys) {
  return "[[vm.a.disk]]\ndevice = \"cdrom\"\n" + keys;
}

// The demo host with the two ISOs the tests put in drives.
struct IsoHost : testing::DemoHostCopy {
  IsoHost() : DemoHostCopy("virtform-cdrom") {
    for (const char* iso : {"/iso/install.iso", "/iso/drivers.iso"}) {
      std::filesystem::create_directories(root + "/iso");
      dir.write_file("root" + std::string(iso), "");
    }
  }
};

void check_nothing_to_do(const Plan& plan) {
  INFO(formatted(plan.diagnostics));
  CHECK_FALSE(has_errors(plan.diagnostics));
  for (const Change& change : plan.changes) {
    INFO(change.address);
    CHECK(change.fields.empty());
  }
}

}  // namespace

TEST_CASE("a CD-ROM drive takes only the keys of a drive and a bus that has drives", "[cdrom]") {
  testing::check_refusals({
      {drive("file = \"/iso/a.iso\"\nsize = \"1GiB\"\n"), 5,
       "size does not apply to a CD-ROM drive (device = \"cdrom\")"},
      {drive("file = \"/iso/a.iso\"\ncache = \"none\"\n"), 5,
       "cache does not apply to a CD-ROM drive"},
      {drive("source = \"/dev/sr0\"\n"), 4, "source does not apply to a CD-ROM drive"},
      {drive("bus = \"virtio\"\n"), 4,
       "a CD-ROM drive sits on the sata, scsi or ide bus; got \"virtio\""},
      {drive("bus = \"ide\"\n"), 4,
       "bus = \"ide\" needs a pc (i440fx) machine; a q35 machine has no IDE controller: use "
       "bus = \"sata\""},
      {drive("file = \"iso/a.iso\"\n"), 4, "file must be an absolute path"},
      {"[[vm.a.disk]]\ndevice = \"dvd\"\n", 3, "device must be one of \"disk\", \"cdrom\""},
      {"[[vm.a.disk]]\nfile = \"/a.img\"\nbus = \"ide\"\n", 4,
       "bus = \"ide\" is for CD-ROM drives (device = \"cdrom\")"},
      {"[[vm.a.disk]]\nfile = \"/a.img\"\nboot = 1\n" + drive("boot = 1\n"), 7,
       "boot = 1 is already taken by disk /a.img at "},
      {drive("bus = \"sata\"\nunit = 1\n") + drive("bus = \"sata\"\nunit = 1\n"), 6,
       "disk (an empty CD-ROM drive) is pinned to sata controller 0 unit 1, which disk (an "
       "empty CD-ROM drive) at "},
  });
}

TEST_CASE("CD-ROM drives read as the config declares them, on ide only on a pc machine",
          "[cdrom]") {
  const auto loaded =
      load_config_from(std::string("[vm.a]\nmachine = \"pc\"\n") +
                           drive("file = \"/iso/a.iso\"\nbus = \"ide\"\nboot = 2\n") + drive(""),
                       "a.toml");
  INFO(formatted(loaded.diagnostics));
  REQUIRE(loaded.diagnostics.empty());
  const Vm& vm = loaded.vm();
  CHECK(vm.disks.empty());
  REQUIRE(vm.cdroms.size() == 2);
  CHECK(vm.cdroms[0].source == "/iso/a.iso");
  CHECK(vm.cdroms[0].bus == DiskBus::ide);
  CHECK(vm.cdroms[0].boot_order == 2u);
  CHECK(vm.cdroms[0].readonly);
  CHECK(vm.cdroms[1].source.empty());
  CHECK(vm.cdroms[1].bus == DiskBus::sata);
}

TEST_CASE("CD-ROM drives read back as libvirt 9 writes them and import as drives", "[cdrom]") {
  const std::string xml = testing::libvirt_fixture("qemu-install-media.xml");
  Diagnostics warnings;
  const LiveDomain live = parse_domain_xml(xml, &warnings);
  INFO(formatted(warnings));
  CHECK(warnings.empty());
  REQUIRE(live.vm.cdroms.size() == 3);
  CHECK(live.vm.cdroms[0].source == "/var/lib/libvirt/iso/Win11.iso");
  CHECK(live.vm.cdroms[0].boot_order == 2u);
  CHECK(live.vm.cdroms[0].unit == 0u);
  CHECK(live.vm.cdroms[1].source == "/var/lib/libvirt/iso/virtio-win.iso");
  CHECK(live.vm.cdroms[1].unit == 1u);
  CHECK(live.vm.cdroms[2].source.empty());
  CHECK(live.vm.cdroms[2].bus == DiskBus::scsi);
  CHECK(live.unexpressed_disks.empty());

  ImportSource source{live, {}, {}};
  const Desired imported = desired_from_live({source}, RootedHostFiles("/"), warnings);
  const std::string toml = render_config_toml(imported, warnings);
  INFO(toml);
  CHECK(toml.find("[[vm.vfxmltest-install-media.disk]]\ndevice = \"cdrom\"\nfile = "
                  "\"/var/lib/libvirt/iso/Win11.iso\"\nbus = \"sata\"\nboot = 2\n") !=
        std::string::npos);
  CHECK(toml.find("not expressed") == std::string::npos);

  // Merged back unchanged, each drive keeps its media, target and address.
  const std::string merged = merge_domain_xml(xml, live.vm);
  CHECK(parse_domain_xml(merged).vm.cdroms == live.vm.cdroms);
  CHECK(merged.find("<target dev='sdc' bus='scsi' />") != std::string::npos);
}

TEST_CASE("drives pair by their order: a new ISO is a media change a running guest takes live",
          "[cdrom]") {
  IsoHost host;
  const std::string running = std::string(kGuest) + "state = \"running\"\n";
  const Plan created = host.plan_of(running + drive("file = \"/iso/install.iso\"\n") + drive(""));
  INFO(formatted(created.diagnostics));
  REQUIRE_FALSE(has_errors(created.diagnostics));
  const Change& made = vm_change(created);
  REQUIRE(field_of(made, "cdrom[1]"));
  CHECK(field_of(made, "cdrom[1]")->after == "sata 0:0, /iso/install.iso");
  CHECK(field_of(made, "cdrom[2]")->after == "sata 0:1, empty");
  REQUIRE(host.apply(created));
  check_nothing_to_do(host.plan_of(running + drive("file = \"/iso/install.iso\"\n") + drive("")));
  const auto domain = host.hypervisor->read_domain("vfcdromtest");
  REQUIRE(domain);
  CHECK(domain->xml.find("device='cdrom'") != std::string::npos);

  // The drivers into the empty second drive, the first ejected: both drives stay where they are.
  const Plan swapped = host.plan_of(running + drive("") + drive("file = \"/iso/drivers.iso\"\n"));
  const Change& swap = vm_change(swapped);
  REQUIRE(field_of(swap, "cdrom[1]"));
  CHECK(field_of(swap, "cdrom[1]")->before == "sata 0:0, /iso/install.iso");
  CHECK(field_of(swap, "cdrom[1]")->after == "sata 0:0, empty");
  CHECK(field_of(swap, "cdrom[1]")->disruption == Disruption::live);
  CHECK(field_of(swap, "cdrom[2]")->after == "sata 0:1, /iso/drivers.iso");
  CHECK(field_of(swap, "cdrom[2]")->disruption == Disruption::live);
  CHECK(swap.disruption == Disruption::live);
  CHECK(swap.operations.media_changes ==
        std::vector<MediaChange>{{0, ""}, {1, "/iso/drivers.iso"}});

  // A third drive cannot be plugged into a running guest's sata bus: it waits for the boot.
  const Plan grown = host.plan_of(running + drive("file = \"/iso/install.iso\"\n") + drive("") +
                                  drive("file = \"/iso/drivers.iso\"\n"));
  const Change& grow = vm_change(grown);
  REQUIRE(field_of(grow, "cdrom[3]"));
  CHECK(field_of(grow, "cdrom[3]")->before.empty());
  CHECK(field_of(grow, "cdrom[3]")->disruption == Disruption::next_boot);
  CHECK(grow.operations.media_changes.empty());
}

TEST_CASE("drives leave a stopped guest's definition with the config and their ISOs stay",
          "[cdrom]") {
  IsoHost host;
  const Plan created = host.plan_of(std::string(kGuest) + drive("file = \"/iso/install.iso\"\n"));
  REQUIRE(host.apply(created));
  REQUIRE(host.hypervisor->read_domain("vfcdromtest")->vm.cdroms.size() == 1);
  const Plan removal = host.plan_of(kGuest);
  REQUIRE(field_of(vm_change(removal), "cdrom[1]"));
  CHECK(field_of(vm_change(removal), "cdrom[1]")->after.empty());
  REQUIRE(host.apply(removal));
  CHECK(host.hypervisor->read_domain("vfcdromtest")->vm.cdroms.empty());
  CHECK(std::filesystem::exists(host.root + "/iso/install.iso"));
}

TEST_CASE("a drive's ISO must be a file on the host", "[cdrom]") {
  IsoHost host;
  const Plan plan = host.plan_of(std::string(kGuest) + drive("file = \"/iso/missing.iso\"\n"));
  INFO(formatted(plan.diagnostics));
  REQUIRE(plan.diagnostics.size() == 1);
  CHECK(plan.diagnostics[0].message ==
        "CD-ROM image /iso/missing.iso does not exist; put the ISO there, or leave out file for "
        "an empty drive");
  CHECK(plan.diagnostics[0].where.line == 5);
}

}  // namespace virtform
