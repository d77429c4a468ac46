// ci/sweep-e2e.sh, run between the test steps of CI: what a test process left behind when it was
// killed (its domains, a tmpfs mount, a loop device) is removed, and what a test process that is
// still running has is not.

#include <signal.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "tests/faults/fault_helpers.h"

namespace virtform::e2e {
namespace {

std::string minimal_domain_xml(const std::string& name) {
  return "<domain type='qemu'><name>" + name +
         "</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>";
}

// A test process that dies by SIGKILL after it defined a domain named after its PID (from a
// definition whose name is NAME), and mounted a tmpfs and attached a loop device in a temp
// directory named after it too: what a crashed test leaves. Prints the domain and the directory
// first, so that the test can clean up whatever step of it fails.
constexpr const char* kDyingTestScript = R"(set -eu
uri=$1 xml=$2
name="vfe2e-$$-swept"
dir="/var/tmp/virtform-e2e-$$-dying"
echo "$name $dir"
mkdir "$dir"
echo "${xml//NAME/$name}" >"$dir/swept.xml"
virsh -q -c "$uri" define "$dir/swept.xml" >/dev/null
mkdir -p "$dir/mnt"
mount -t tmpfs -o size=1m tmpfs "$dir/mnt"
truncate -s 1M "$dir/loop.img"
losetup --find "$dir/loop.img"
kill -KILL $$
)";

// The loop devices backed by `file`, as losetup lists them.
std::string loop_devices_of(const std::string& file) {
  return run_process({"losetup", "-n", "-O", "NAME", "-j", file}).out;
}

bool is_mounted(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line))
    if (line.find(" " + path + " ") != std::string::npos) return true;
  return false;
}

// Removes what the dying script made if the sweep did not, so that a failing test leaves nothing.
class Leftovers {
 public:
  explicit Leftovers(Libvirt& libvirt) : libvirt_(libvirt) {}
  ~Leftovers() {
    try {
      if (!domain.empty()) libvirt_.remove(domain);
    } catch (const std::exception& error) {
      std::cerr << "sweep test: cannot remove " << domain << ": " << error.what() << '\n';
    }
    if (dir.empty()) return;
    umount2((dir / "mnt").c_str(), MNT_DETACH);
    std::istringstream devices(loop_devices_of((dir / "loop.img").string()));
    for (std::string device; devices >> device;) run_process({"losetup", "-d", device});
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  Leftovers(const Leftovers&) = delete;
  Leftovers& operator=(const Leftovers&) = delete;

  std::string domain;         // the dead test's domain, once known
  std::filesystem::path dir;  // and its temp directory

 private:
  Libvirt& libvirt_;
};

}  // namespace

TEST_CASE("the CI sweep removes what a killed test left behind, and spares a running test's",
          "[faults]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT(false);
  Session session;
  // This test's own domain, mount and loop device: a running test's, to be kept.
  const std::string kept = session.domain("kept");
  session.libvirt().define(minimal_domain_xml(kept));
  TmpfsMount live_mount(session.dir() / "live", 1 << 20);
  const LoopDevice& live_loop = session.add_loop_device(1 << 20);

  Leftovers leftovers(session.libvirt());
  ProcessResult died = run_process(
      {"bash", "-c", kDyingTestScript, "dying-test", uri(), minimal_domain_xml("NAME")});
  INFO(died.describe());
  std::istringstream printed(died.out);
  std::string dir;
  printed >> leftovers.domain >> dir;
  leftovers.dir = dir;
  REQUIRE(leftovers.domain.starts_with("vfe2e-"));
  REQUIRE(died.exit_code == 128 + SIGKILL);
  REQUIRE(dir.starts_with("/var/tmp/virtform-e2e-"));
  REQUIRE(session.libvirt().exists(leftovers.domain));
  const std::string mount_point = dir + "/mnt";
  const std::string backing_file = dir + "/loop.img";
  REQUIRE(is_mounted(mount_point));
  REQUIRE_FALSE(loop_devices_of(backing_file).empty());

  const std::string sweep = std::string(VIRTFORM_SOURCE_DIR) + "/ci/sweep-e2e.sh";
  const std::map<std::string, std::string> environment{{"VIRTFORM_E2E_URI", uri()}};
  ProcessResult swept = run_process({"bash", sweep}, environment);
  INFO(swept.describe());
  CHECK(swept.exit_code == 0);
  CHECK(swept.out.find("domain " + leftovers.domain) != std::string::npos);
  CHECK(swept.out.find("mount " + mount_point) != std::string::npos);
  CHECK(swept.out.find("loop device") != std::string::npos);
  CHECK_FALSE(session.libvirt().exists(leftovers.domain));
  CHECK_FALSE(is_mounted(mount_point));
  CHECK(loop_devices_of(backing_file).empty());

  CHECK(session.libvirt().exists(kept));
  CHECK(is_mounted(live_mount.path().string()));
  CHECK(loop_devices_of(live_loop.backing_file().string()).find(live_loop.device()) !=
        std::string::npos);

  ProcessResult again = run_process({"bash", sweep}, environment);
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("nothing left behind") != std::string::npos);
}

}  // namespace virtform::e2e
