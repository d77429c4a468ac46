// [[vm.X.share]] against the real libvirtd: a TCG guest with its memory shared and a host
// directory over virtiofs starts (libvirt runs virtiofsd for it), and plans nothing after.

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

bool has(const std::string& xml, const std::string& what) {
  return xml.find(what) != std::string::npos;
}

TEST_CASE("a guest with a virtiofs share and shared memory starts and plans nothing after",
          "[e2e][share]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("share");
  const std::filesystem::path shared = session.dir() / "shared";
  std::filesystem::create_directories(shared);
  const std::string config = session.write_config(
      kernel_guest_toml("nas", name, guest_images().initrd_ignore, "128MiB", 1,
                        "machine = \"q35\"\n") +
      "\n[vm.nas.memory_backing]\nsource = \"memfd\"\naccess = \"shared\"\n" +
      "\n[[vm.nas.share]]\nsource = " + quoted(shared.string()) + "\ntag = \"media\"\n");

  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const std::string running = libvirt.xml(name);
  INFO(running);
  CHECK(has(running, "<driver type='virtiofs'/>"));
  // libvirt found virtiofsd through QEMU's vhost-user descriptor and runs it for the guest.
  CHECK(has(running, "<binary path='/usr/lib/qemu/virtiofsd'/>"));
  CHECK(has(running, "<source dir='" + shared.string() + "'/>"));
  CHECK(has(running, "<target dir='media'/>"));
  CHECK(has(running, "<access mode='shared'/>"));
  CHECK(has(running, "<source type='memfd'/>"));

  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK(changes_inside(after, session.prefix()).empty());
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

}  // namespace
}  // namespace virtform::e2e
