// check_host_files on existing images: the format and size in their headers, planned against the
// demo host (libvirt's test driver) with real images made by qemu-img.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/plan/plan.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "support/pipeline.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;
const std::string kImages = "/var/lib/libvirt/images";

struct DemoHost : testing::DemoHostCopy {
  DemoHost() : DemoHostCopy("virtform-host-check") {}

  void qcow2(const std::string& path, const std::string& size) {
    const ProcessResult made =
        Process({"qemu-img", "create", "-q", "-f", "qcow2", root + path, size}).wait();
    REQUIRE(made.exit_code == 0);
  }

  // A VM with one image disk; `disk_keys` are added to its [[vm.win.disk]] table.
  Plan plan(const std::string& file, const std::string& disk_keys = "") {
    const std::string config = dir / "win.toml";
    std::ofstream(config) << "[vm.win]\nname = \"win\"\ntype = \"qemu\"\nmemory = \"1GiB\"\n\n"
                          << "[[vm.win.disk]]\nfile = \"" << file << "\"\n"
                          << disk_keys;
    return testing::plan_in_process(*hypervisor, root, {config});
  }
};

std::string errors_of(const Plan& plan) {
  std::string text;
  for (const Diagnostic& diagnostic : plan.diagnostics)
    if (diagnostic.severity == Severity::error) text += format(diagnostic) + "\n";
  return text;
}

}  // namespace

TEST_CASE("an existing qcow2 named .img is not attached raw", "[host_check]") {
  DemoHost host;
  host.qcow2(kImages + "/win.img", "2G");
  const Plan refused = host.plan(kImages + "/win.img");
  const std::string errors = errors_of(refused);
  INFO(errors);
  CHECK(errors.find("win.toml:6:1: error: vm.win: disk file " + kImages + "/win.img is a qcow2 " +
                    "image, " + "but the config attaches it as raw") != std::string::npos);
  CHECK(errors.find("set format = \"qcow2\"") != std::string::npos);
  CHECK(refused.steps.empty());

  const Plan declared = host.plan(kImages + "/win.img", "format = \"qcow2\"\n");
  CHECK(errors_of(declared).empty());
  CHECK_FALSE(declared.steps.empty());
}

TEST_CASE("a raw image declared qcow2 is refused", "[host_check]") {
  DemoHost host;
  std::ofstream(host.root + kImages + "/data.qcow2") << std::string(4096, '\0');
  const std::string errors = errors_of(host.plan(kImages + "/data.qcow2"));
  CHECK(errors.find("data.qcow2 is a raw image, but the config attaches it as qcow2") !=
        std::string::npos);
  CHECK(errors.find("set format = \"raw\"") != std::string::npos);
}

TEST_CASE("a declared size that is not the existing image's is refused", "[host_check]") {
  DemoHost host;
  host.qcow2(kImages + "/win.qcow2", "3G");
  const std::string errors = errors_of(host.plan(kImages + "/win.qcow2", "size = \"4GiB\"\n"));
  CHECK(errors.find("win.qcow2 exists with a size of 3 GiB (3221225472 bytes), not the declared "
                    "4 GiB") != std::string::npos);
  CHECK(errors_of(host.plan(kImages + "/win.qcow2", "size = \"3GiB\"\n")).empty());

  std::ofstream(host.root + kImages + "/raw.img") << std::string(1 << 20, '\0');
  CHECK(errors_of(host.plan(kImages + "/raw.img", "size = \"2MiB\"\n"))
            .find("raw.img exists with a size of 1 MiB") != std::string::npos);
  CHECK(errors_of(host.plan(kImages + "/raw.img", "size = \"1MiB\"\n")).empty());
}

TEST_CASE("an image of a domain virtform does not manage is not given to a new VM",
          "[host_check]") {
  DemoHost host;  // its unmanaged 'homeassistant' runs from haos_ova.qcow2
  host.qcow2(kImages + "/haos_ova.qcow2", "1G");
  const Plan plan = host.plan(kImages + "/haos_ova.qcow2");
  const std::string errors = errors_of(plan);
  CHECK(errors.find("haos_ova.qcow2 is also used by domain 'homeassistant'") != std::string::npos);
  CHECK(plan.steps.empty());
}

TEST_CASE("an existing loader overlay must read through to its loader's image", "[host_check]") {
  DemoHost host;
  host.dir.write_file("root" + kImages + "/tcrp.img", std::string(1 << 20, 'T'));
  const std::string config = host.dir.write_file(
      "nas.toml", "[loader.tcrp]\nimage = \"" + kImages + "/tcrp.img\"\n[vm.nas]\ntype = " +
                      "\"qemu\"\n[vm.nas.boot]\nloader = \"tcrp\"\n");
  auto plan_with_overlay_over = [&](const std::string& backing) {
    fs::remove(host.root + kImages + "/nas.tcrp.qcow2");
    const ProcessResult made =
        Process({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "raw",
                 host.root + kImages + "/nas.tcrp.qcow2", "1M"})
            .wait();
    REQUIRE(made.exit_code == 0);
    return testing::plan_in_process(*host.hypervisor, host.root, {config});
  };

  const std::string errors = errors_of(plan_with_overlay_over(kImages + "/other.img"));
  CHECK(errors.find("nas.toml:6:10: error: vm.nas: loader overlay " + kImages +
                    "/nas.tcrp.qcow2 is a qcow2 image over " + kImages +
                    "/other.img, not an overlay on loader.tcrp's image " + kImages +
                    "/tcrp.img: it is not this VM's overlay.") != std::string::npos);

  // Its own overlay is attached as it is: nothing to make.
  const Plan kept = plan_with_overlay_over(kImages + "/tcrp.img");
  INFO(errors_of(kept));
  CHECK_FALSE(has_errors(kept.diagnostics));
  CHECK(kept.find("image." + kImages + "/nas.tcrp.qcow2") == nullptr);
}

}  // namespace virtform
