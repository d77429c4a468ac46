// Failures of the host under an apply: a full disk, an NVRAM directory that cannot be written, a
// missing loader image or firmware file, and libvirt refusing one definition in the middle of a
// plan. Each must end with an error naming what failed, and leave nothing half-done that the
// next plan does not show.

#include <catch2/catch.hpp>

#include "tests/faults/fault_helpers.h"
#include "tests/support/temp_dir.h"

namespace virtform::e2e {
namespace {

using testing::read_file;

constexpr std::uint64_t kMiB = 1024ULL * 1024;

std::string stopped_vm(const Session& session, const std::string& key,
                       const std::string& extra = "") {
  return "\n[vm." + key + "]\nname = " + quoted(session.domain(key)) +
         "\ntype = \"qemu\"\nmemory = \"64MiB\"\nstate = \"stopped\"\n" + extra;
}

std::string created_disk(const std::string& key, const std::string& path) {
  return "\n[[vm." + key + ".disk]]\nfile = " + quoted(path) + "\nsize = \"16MiB\"\n";
}

bool mentions(const ProcessResult& result, const std::string& text) {
  return result.output().find(text) != std::string::npos;
}

// The plan's change of the image file `path`, or null.
nlohmann::json image_change(const nlohmann::json& plan, const std::string& path) {
  for (const nlohmann::json& change : plan["changes"])
    if (change.value("kind", "") == "image" && change.value("name", "") == path) return change;
  return nullptr;
}

void require_converged(Session& session, const std::string& config) {
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  ProcessResult again = detailed_plan(session, config);
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

}  // namespace

TEST_CASE("a full disk fails image creation and plan --out by name and leaves no partial file",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  TmpfsMount disk(session.dir() / "full", 4 * kMiB);
  const std::string image = (disk.path() / "system.qcow2").string();
  const std::string saved = (disk.path() / "plan.json").string();
  const std::string config = session.write_config(
      stopped_vm(session, "full", created_disk("full", image)) + stopped_vm(session, "other"));

  // A plan saved while there was room, then the disk fills up.
  ProcessResult first = session.virtform({"plan", config, "-c", uri(), "--out", saved});
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  const std::string saved_before = read_file(saved);
  REQUIRE(saved_before.find("\"changes\"") != std::string::npos);
  disk.fill();

  // Saving the plan again fails with the file and the reason; the earlier plan stays whole.
  ProcessResult no_room = session.virtform({"plan", config, "-c", uri(), "--out", saved});
  INFO(no_room.describe());
  CHECK(no_room.exit_code == 1);
  CHECK(mentions(no_room, saved));
  CHECK(mentions(no_room, "No space left on device"));
  CHECK(read_file(saved) == saved_before);
  CHECK(unexpected_files(disk.path(), {"filler", "plan.json"}).empty());

  // The image cannot be made: apply names it; the VM that needs it waits, the other is defined.
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  CHECK(applied.exit_code == 1);
  CHECK(mentions(applied, image));
  CHECK(mentions(applied, "No space left on device"));
  CHECK_FALSE(std::filesystem::exists(image));
  CHECK(unexpected_files(disk.path(), {"filler", "plan.json"}).empty());
  CHECK_FALSE(libvirt.exists(session.domain("full")));
  CHECK(libvirt.is_managed(session.domain("other")));

  // The next plan shows exactly what is left: the image and its VM.
  const nlohmann::json plan = session.plan_json(config);
  CHECK(image_change(plan, image).value("action", "") == "create");
  std::vector<nlohmann::json> left = changes_inside(plan, session.prefix());
  REQUIRE(left.size() == 1);
  CHECK(left[0].value("address", "") == "vm.full");
  CHECK(left[0].value("action", "") == "create");

  // With room again, apply finishes the work.
  std::filesystem::remove(disk.path() / "filler");
  require_converged(session, config);
  CHECK(image_info(image).value("format", "") == "qcow2");
}

TEST_CASE("an unwritable NVRAM directory fails the start by name, and the plan shows the start",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("uefi");
  TmpfsMount nvram(session.dir() / "nvram", 4 * kMiB);
  nvram.set_read_only(true);
  const std::string vars = (nvram.path() / (name + "_VARS.fd")).string();
  // UEFI firmware with no disk to boot: it sits in its shell, which is all the test needs.
  const std::string config = session.write_config(
      "[vm.uefi]\nname = " + quoted(name) +
      "\ntype = \"qemu\"\nmachine = \"q35\"\nfirmware = \"uefi\"\nmemory = \"128MiB\"\n"
      "nvram = " +
      quoted(vars) + "\nstate = \"running\"\n");

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  CHECK(applied.exit_code == 1);
  CHECK(mentions(applied, vars));
  CHECK(mentions(applied, "Read-only file system"));
  // Defined (and marked) but not started: that is what the next plan shows, and nothing else.
  CHECK(libvirt.is_managed(name));
  CHECK_FALSE(libvirt.is_running(name));
  CHECK_FALSE(std::filesystem::exists(vars));
  std::vector<nlohmann::json> left = changes_inside(session.plan_json(config), session.prefix());
  REQUIRE(left.size() == 1);
  CHECK(left[0].value("action", "") == "update");
  CHECK(field_names(left[0]) == std::vector<std::string>{"state"});

  nvram.set_read_only(false);
  require_converged(session, config);
  CHECK(libvirt.is_running(name));
  CHECK(std::filesystem::exists(vars));
  libvirt.remove(name);  // before the NVRAM file system goes
}

TEST_CASE("a missing loader image or firmware file is refused by name before anything is done",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;

  // A UEFI code image (QEMU's "loader") that is not there.
  const std::string code = (session.dir() / "OVMF_CODE.fd").string();
  const std::string uefi = session.write_config(
      stopped_vm(session, "uefi",
                 "machine = \"q35\"\nfirmware = \"uefi\"\nfirmware_code = " + quoted(code) +
                     "\nfirmware_vars = \"/usr/share/OVMF/OVMF_VARS_4M.fd\"\n"));
  ProcessResult no_code = session.virtform({"apply", uefi, "-c", uri(), "--auto-approve"});
  INFO(no_code.describe());
  CHECK(no_code.exit_code == 1);
  CHECK(mentions(no_code, "firmware_code " + code + " does not exist"));
  CHECK(domains_under(session).empty());

  // A USB boot image that is not there: plan and apply refuse, and apply does nothing at all,
  // not even the other VM or the images.
  const std::string loader = (session.dir() / "loader.img").string();
  const std::string data = (session.dir() / "usb-data.qcow2").string();
  const std::string plain = (session.dir() / "plain.qcow2").string();
  const std::string toml =
      "[loader.boot]\nimage = " + quoted(loader) + "\n" +
      stopped_vm(session, "usb",
                 "\n[vm.usb.boot]\nloader = \"boot\"\n" + created_disk("usb", data)) +
      stopped_vm(session, "plain", created_disk("plain", plain));
  std::string config = session.write_config(toml);
  ProcessResult plan_refused = session.virtform({"plan", config, "-c", uri()});
  INFO(plan_refused.describe());
  CHECK(plan_refused.exit_code == 1);
  CHECK(mentions(plan_refused, "loader image " + loader + " does not exist"));
  ProcessResult apply_refused = session.virtform({"apply", config, "-c", uri(), "--auto-approve"});
  INFO(apply_refused.describe());
  CHECK(apply_refused.exit_code == 1);
  CHECK(mentions(apply_refused, "loader image " + loader + " does not exist"));
  CHECK(domains_under(session).empty());
  CHECK_FALSE(std::filesystem::exists(data));
  CHECK_FALSE(std::filesystem::exists(plain));

  // With the image in place, everything is done.
  session.add_raw_image("loader.img", kMiB);
  require_converged(session, config);

  // A loader that disappears between a saved plan and its apply: the plan is refused as stale.
  const std::string late = session.add_raw_image("late.img", kMiB);
  config =
      session.write_config(toml + "\n[loader.late]\nimage = " + quoted(late) + "\n" +
                           stopped_vm(session, "late", "\n[vm.late.boot]\nloader = \"late\"\n"));
  const std::string saved = (session.dir() / "late-plan.json").string();
  ProcessResult planned = session.virtform({"plan", config, "-c", uri(), "--out", saved});
  INFO(planned.describe());
  REQUIRE(planned.exit_code == 0);
  // Meant to be refused; were it not, it must still stay inside the sandbox.
  REQUIRE(session.foreign_changes(nlohmann::json::parse(read_file(saved))).empty());
  std::filesystem::remove(late);
  ProcessResult stale = session.virtform({"apply", "--plan", saved, "-c", uri(), "--auto-approve"});
  INFO(stale.describe());
  CHECK(stale.exit_code == 1);
  CHECK(mentions(stale, late));
  CHECK_FALSE(session.libvirt().exists(session.domain("late")));
}

TEST_CASE("libvirt refusing one definition mid-plan: named, the rest done, the next plan shows it",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string image = (session.dir() / "refused.qcow2").string();
  // libvirt knows no such machine type and says so when asked to define the domain.
  auto toml = [&](const std::string& machine) {
    return stopped_vm(session, "first") +
           stopped_vm(session, "refused",
                      "machine = " + quoted(machine) + "\n" + created_disk("refused", image)) +
           stopped_vm(session, "last");
  };
  std::string config = session.write_config(toml("pc-q35-99.9"));
  ProcessResult applied = session.apply(config, {"--parallelism", "1"});
  INFO(applied.describe());
  CHECK(applied.exit_code == 1);
  CHECK(mentions(applied, "cannot define domain '" + session.domain("refused") + "'"));
  CHECK(mentions(applied, "pc-q35-99.9"));
  CHECK(libvirt.is_managed(session.domain("first")));
  CHECK(libvirt.is_managed(session.domain("last")));
  CHECK_FALSE(libvirt.exists(session.domain("refused")));

  // Its image was made, whole; only the definition is left, and the plan says so.
  CHECK(image_info(image).value("virtual-size", 0ULL) == 16 * kMiB);
  const nlohmann::json plan = session.plan_json(config);
  CHECK(image_change(plan, image).is_null());
  std::vector<nlohmann::json> left = changes_inside(plan, session.prefix());
  REQUIRE(left.size() == 1);
  CHECK(left[0].value("address", "") == "vm.refused");
  CHECK(left[0].value("action", "") == "create");

  config = session.write_config(toml("q35"));
  require_converged(session, config);
  CHECK(libvirt.is_managed(session.domain("refused")));
}

}  // namespace virtform::e2e
