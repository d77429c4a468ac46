// CD-ROM drives on a running TCG guest, against the real libvirtd: ISOs made here with
// genisoimage, a new ISO put into a drive and one ejected at once (the running guest's live
// definition shows them, and it was not restarted), and a drive added waiting for the next boot.

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

constexpr auto kBootTimeout = 120s;

// An ISO 9660 image of one file that says `label`.
std::string make_iso(const Session& session, const std::string& label) {
  const std::filesystem::path content = session.dir() / ("iso-" + label);
  std::filesystem::create_directories(content);
  std::ofstream(content / "README.TXT") << label << "\n";
  const std::string iso = (session.dir() / (label + ".iso")).string();
  const ProcessResult made =
      run_process({"genisoimage", "-quiet", "-V", label, "-o", iso, content.string()});
  INFO(made.describe());
  REQUIRE(made.exit_code == 0);
  return iso;
}

std::string drive(const std::string& iso) {
  return "\n[[vm.media.disk]]\ndevice = \"cdrom\"\n" +
         (iso.empty() ? "" : "file = " + quoted(iso) + "\n");
}

// The ISO in each CD-ROM drive of a definition, in order ("" for an empty drive).
std::vector<std::string> media_of(const std::string& xml) {
  pugi::xml_document document;
  document.load_string(xml.c_str());
  std::vector<std::string> media;
  for (pugi::xml_node disk : document.child("domain").child("devices").children("disk"))
    if (std::string_view(disk.attribute("device").as_string()) == "cdrom")
      media.push_back(disk.child("source").attribute("file").as_string());
  return media;
}

}  // namespace

TEST_CASE("a new ISO reaches a running guest's CD-ROM drive live and a new drive its next boot",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("media");
  const std::string installer = make_iso(session, "INSTALLER");
  const std::string drivers = make_iso(session, "DRIVERS");
  const std::string guest = kernel_guest_toml("media", name, guest_images().initrd_ignore, "128MiB",
                                              1, "restart = \"never\"\n");

  ProcessResult created = session.apply(session.write_config(guest + drive(installer) + drive("")));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  REQUIRE(wait_for_console(libvirt, name, kGuestReady, kBootTimeout).find(kGuestReady) !=
          std::string::npos);
  CHECK(media_of(libvirt.xml(name)) == std::vector<std::string>{installer, ""});
  const int id = libvirt.id(name);

  // The installer out, the drivers into the second drive: both live.
  const std::string swapped = session.write_config(guest + drive("") + drive(drivers));
  const nlohmann::json plan = session.plan_json(swapped);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "cdrom[1]").value("disruption", "") == "live");
  CHECK(field_of(change, "cdrom[2]").value("disruption", "") == "live");
  ProcessResult applied = session.apply(swapped);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  CHECK(media_of(libvirt.xml(name)) == std::vector<std::string>{"", drivers});
  CHECK(media_of(libvirt.xml(name, true)) == std::vector<std::string>{"", drivers});
  const nlohmann::json after = session.plan_json(swapped);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());

  // A third drive is in the definition at once and in the guest after its next boot.
  const std::string grown =
      session.write_config(guest + drive("") + drive(drivers) + drive(installer));
  const nlohmann::json grow_plan = session.plan_json(grown);
  INFO(grow_plan.dump(2));
  CHECK(field_of(guest_change(session, grow_plan), "cdrom[3]").value("disruption", "") ==
        "next-boot");
  ProcessResult grew = session.apply(grown);
  INFO(grew.describe());
  REQUIRE(grew.exit_code == 0);
  CHECK(libvirt.id(name) == id);
  CHECK(media_of(libvirt.xml(name)).size() == 2);
  CHECK(media_of(libvirt.xml(name, true)) == std::vector<std::string>{"", drivers, installer});
  CHECK(std::filesystem::exists(installer));
  CHECK(std::filesystem::exists(drivers));
}

}  // namespace virtform::e2e
