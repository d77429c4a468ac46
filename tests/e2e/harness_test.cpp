// The harness itself: the sandbox must clean up exactly its own domains and devices, or every
// other end-to-end test would be unsafe to run on a real host.

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

std::string stopped_domain_xml(const std::string& name) {
  return "<domain type='qemu'><name>" + name +
         "</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>";
}

bool loop_attached(const std::string& device) {
  return run_process({"losetup", device}).exit_code == 0;
}

}  // namespace

TEST_CASE("a session removes its own domains, loop devices and files, and nothing else", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT(false);
  Session outer;
  Libvirt& libvirt = outer.libvirt();
  const std::string neighbour = outer.domain("neighbour");
  libvirt.define(stopped_domain_xml(neighbour));

  std::string mine;
  std::string device;
  std::filesystem::path dir;
  {
    Session inner;
    REQUIRE(inner.prefix() != outer.prefix());
    REQUIRE(inner.prefix().starts_with("vfe2e-"));
    mine = inner.domain("mine");
    libvirt.define(stopped_domain_xml(mine));
    const LoopDevice& loop = inner.add_loop_device(16 * 1024 * 1024);
    device = loop.device();
    REQUIRE(device.starts_with("/dev/loop"));
    REQUIRE(loop_attached(device));
    // The device shows the backing file's bytes.
    CHECK(sha256_of(device) == sha256_of(loop.backing_file().string()));
    dir = inner.dir();
    REQUIRE(std::filesystem::exists(dir));
  }
  CHECK_FALSE(libvirt.exists(mine));
  CHECK_FALSE(loop_attached(device));
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK(libvirt.exists(neighbour));
}

TEST_CASE("a session cleans up when the test throws", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT(false);
  std::string name;
  Libvirt libvirt;
  try {
    Session session;
    name = session.domain("thrown");
    libvirt.define(stopped_domain_xml(name));
    libvirt.start(name);
    REQUIRE(libvirt.is_running(name));
    throw std::runtime_error("test failure");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(libvirt.exists(name));
}

TEST_CASE("the e2e guests are built and the process runner captures output", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT(false);
  const GuestImages& guest = guest_images();
  for (const std::string& path : {guest.kernel, guest.initrd_acpi, guest.initrd_ignore}) {
    INFO(path);
    CHECK(std::filesystem::file_size(path) > 100000);
  }
  ProcessResult result = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(result.out == "out\n");
  CHECK(result.err == "err\n");
  CHECK(result.exit_code == 3);
  ProcessResult slow = run_process({"sleep", "30"}, {}, std::chrono::milliseconds(300));
  CHECK(slow.timed_out);
  CHECK(slow.exit_code == 128 + 9);
}

}  // namespace virtform::e2e
