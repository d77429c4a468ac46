// Whole disks handed to a guest, against the real host: a loop device holding a mounted file
// system is refused with the reason, an unused one is attached, and the plan after apply is empty.

#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024;

std::string whole_disk_toml(const Session& session, const std::string& device) {
  return "[vm.nas]\nname = " + quoted(session.domain("nas")) +
         "\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"stopped\"\n"
         "\n[[vm.nas.disk]]\nsource = " +
         quoted(device) + "\nbus = \"scsi\"\n";
}

// Mounts a file system made on the device for as long as it lives, and unmounts it after.
class MountedFileSystem {
 public:
  MountedFileSystem(const std::string& device, const std::filesystem::path& where) : where_(where) {
    ProcessResult made = run_process({"mkfs.ext4", "-q", "-F", device});
    REQUIRE(made.exit_code == 0);
    std::filesystem::create_directories(where_);
    REQUIRE(mount(device.c_str(), where_.c_str(), "ext4", 0, nullptr) == 0);
  }
  ~MountedFileSystem() { umount2(where_.c_str(), MNT_DETACH); }

 private:
  std::filesystem::path where_;
};

TEST_CASE("a mounted whole disk is refused, and an unused one is attached and stays in sync",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("nas");

  const LoopDevice& busy = session.add_loop_device(64 * kMiB);
  {
    MountedFileSystem mounted(busy.device(), session.dir() / "mnt");
    const std::string config = session.write_config(whole_disk_toml(session, busy.device()));
    ProcessResult refused = session.virtform({"plan", config, "-c", uri(), "--no-color"});
    INFO(refused.describe());
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("mounted") != std::string::npos);
    CHECK(refused.err.find(session.dir().string() + "/mnt") != std::string::npos);
    ProcessResult not_applied =
        session.virtform({"apply", config, "-c", uri(), "--auto-approve", "--no-color"});
    CHECK(not_applied.exit_code == 1);
    CHECK_FALSE(libvirt.exists(name));
  }

  const LoopDevice& unused = session.add_loop_device(64 * kMiB);
  const std::string before = sha256_of(unused.device());
  const std::string config = session.write_config(whole_disk_toml(session, unused.device()));
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  REQUIRE(libvirt.exists(name));
  CHECK(libvirt.xml(name, true).find("<source dev='" + unused.device() + "'") != std::string::npos);

  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  CHECK(sha256_of(unused.device()) == before);
}

TEST_CASE("a disk mounted after plan --out is not handed to the guest by apply --plan", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("nas");
  const LoopDevice& disk = session.add_loop_device(64 * kMiB);
  const std::string config = session.write_config(whole_disk_toml(session, disk.device()));
  const std::string plan_file = (session.dir() / "plan.json").string();
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());
  ProcessResult planned = session.virtform({"plan", config, "-c", uri(), "--out", plan_file});
  INFO(planned.describe());
  REQUIRE(planned.exit_code == 0);

  MountedFileSystem mounted(disk.device(), session.dir() / "mnt");
  ProcessResult refused = session.virtform({"apply", "--plan", plan_file, "--auto-approve"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("the host changed since this plan was made") != std::string::npos);
  CHECK(refused.err.find("mounted at " + (session.dir() / "mnt").string()) != std::string::npos);
  CHECK_FALSE(session.libvirt().exists(name));
}

}  // namespace
}  // namespace virtform::e2e
