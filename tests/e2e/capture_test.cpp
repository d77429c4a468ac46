// virtform capture against the real libvirtd and this machine's real sysfs (read only): a plan
// against the recording, with no daemon involved, is the plan against the live host.

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// A stopped q35 guest with one raw disk.
std::string disk_guest_toml(const std::string& key, const std::string& name,
                            const std::string& image, const std::string& memory) {
  return "[vm." + key + "]\nname = " + quoted(name) +
         "\ntype = \"qemu\"\nmachine = \"q35\"\nmemory = " + quoted(memory) +
         "\nvcpus = 1\nstate = \"stopped\"\n\n[[vm." + key + ".disk]]\nfile = " + quoted(image) +
         "\nbus = \"virtio\"\n\n";
}

// What must agree between two plans of the same config: everything but where they were made.
nlohmann::json comparable(const nlohmann::json& plan) {
  nlohmann::json kept;
  for (const char* key : {"changes", "steps", "summary", "diagnostics"}) {
    if (plan.contains(key)) kept[key] = plan[key];
  }
  return kept;
}

}  // namespace

TEST_CASE("a plan against a capture of this host equals the live plan", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string stopped_image = session.add_raw_image("stopped.img", 16 << 20);
  const std::string added_image = session.add_raw_image("added.img", 16 << 20);
  const GuestImages& guest = guest_images();
  const std::string running = session.domain("running");
  const std::string stopped = session.domain("stopped");

  const std::string running_v1 =
      kernel_guest_toml("running", running, guest.initrd_acpi, "128MiB", 1, "autostart = true\n");
  std::string config = session.write_config(
      running_v1 + disk_guest_toml("stopped", stopped, stopped_image, "192MiB"));
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  REQUIRE(session.libvirt().is_running(running));

  // Something to show: memory of the stopped guest, vCPUs of the running one (next boot), a
  // new VM whose disk sits beside an existing one.
  const std::string running_v2 =
      kernel_guest_toml("running", running, guest.initrd_acpi, "128MiB", 2, "autostart = true\n");
  config = session.write_config(
      running_v2 + disk_guest_toml("stopped", stopped, stopped_image, "256MiB") +
      disk_guest_toml("added", session.domain("added"), added_image, "128MiB"));

  const std::string snapshot = (session.dir() / "snapshot").string();
  ProcessResult captured = session.virtform({"capture", snapshot, "-c", uri()});
  INFO(captured.describe());
  REQUIRE(captured.exit_code == 0);

  const nlohmann::json live = session.plan_json(config);
  ProcessResult offline = session.virtform({"plan", config, "--host", snapshot, "--json"});
  INFO(offline.describe());
  REQUIRE(offline.exit_code == 0);
  const nlohmann::json recorded = nlohmann::json::parse(offline.out);

  CHECK(changes_inside(live, session.prefix()).size() == 3);
  CHECK(recorded.value("uri", "").starts_with("test://"));
  CHECK(comparable(recorded).dump(2) == comparable(live).dump(2));

  // Capturing again into the same directory replaces the recording; a foreign one is refused.
  ProcessResult again = session.virtform({"capture", snapshot, "-c", uri()});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  ProcessResult refused = session.virtform({"capture", session.dir().string(), "-c", uri()});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("no previous capture") != std::string::npos);
}

}  // namespace virtform::e2e

namespace virtform::e2e {

TEST_CASE("capture strips secrets from QEMU arguments and network disk URLs", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("secrets");
  session.libvirt().define(
      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>" + name +
      "</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices>"
      "<disk type='network' device='cdrom'><driver name='qemu' type='raw'/>"
      "<source protocol='http' name='/images/boot.iso' query='token=TOKENSECRET'>"
      "<host name='images.example' port='80'/></source><target dev='sda' "
      "bus='sata'/><readonly/></disk>"
      "</devices><qemu:commandline><qemu:arg value='-object'/>"
      "<qemu:arg value='secret,id=s0,data=ARGSECRET,,more,format=raw'/></qemu:commandline>"
      "</domain>");
  const std::string snapshot = (session.dir() / "snapshot").string();
  ProcessResult captured = session.virtform({"capture", snapshot, "-c", uri()});
  INFO(captured.describe());
  REQUIRE(captured.exit_code == 0);
  std::ifstream in(snapshot + "/host.xml");
  const std::string host_xml{std::istreambuf_iterator<char>(in), {}};
  REQUIRE(host_xml.find(name) != std::string::npos);
  for (const char* secret : {"TOKENSECRET", "ARGSECRET", "more,format"}) {
    INFO(secret);
    CHECK(host_xml.find(secret) == std::string::npos);
  }
  CHECK(host_xml.find("secret,id=s0,data=(stripped),format=raw") != std::string::npos);
  CHECK(host_xml.find("/images/boot.iso") != std::string::npos);
}

}  // namespace virtform::e2e
