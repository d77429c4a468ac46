// A stopped VM through its whole life against the real libvirtd: create with file, qcow2 and
// whole-disk (loop device) disks, an empty plan, a change of memory, vcpus and a disk, and
// deletion that keeps every disk byte for byte.

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

struct LifecycleDisks {
  std::string qcow2;  // created by apply from `size`
  std::string raw;    // made by the test, random contents
  std::string extra;  // added by the second config
  std::string whole;  // a loop device on scsi
};

std::string lifecycle_toml(const Session& session, const LifecycleDisks& disks,
                           const std::string& memory, unsigned vcpus, bool with_extra,
                           bool with_nic) {
  std::string toml = "[vm.life]\nname = " + quoted(session.domain("life")) +
                     "\ntype = \"qemu\"\nmachine = \"q35\"\nmemory = " + quoted(memory) +
                     "\nvcpus = " + std::to_string(vcpus) + "\nstate = \"stopped\"\n";
  toml += "\n[[vm.life.disk]]\nfile = " + quoted(disks.qcow2) +
          "\nformat = \"qcow2\"\nsize = \"64MiB\"\nbus = \"virtio\"\n";
  toml += "\n[[vm.life.disk]]\nfile = " + quoted(disks.raw) + "\nbus = \"virtio\"\n";
  toml += "\n[[vm.life.disk]]\nsource = " + quoted(disks.whole) + "\nbus = \"scsi\"\n";
  if (with_extra)
    toml += "\n[[vm.life.disk]]\nfile = " + quoted(disks.extra) + "\nbus = \"sata\"\n";
  if (with_nic) toml += "\n[[vm.life.nic]]\nnetwork = \"default\"\nmodel = \"virtio\"\n";
  return toml;
}

std::map<std::string, std::string> checksums(const std::vector<std::string>& paths) {
  std::map<std::string, std::string> sums;
  for (const std::string& path : paths) sums[path] = sha256_of(path);
  return sums;
}

int count_actions(const nlohmann::json& plan, const std::string& action) {
  int count = 0;
  for (const nlohmann::json& change : plan["changes"])
    count += change.value("action", "") == action;
  return count;
}

int detailed_plan_exit(const Session& session, const std::string& config) {
  ProcessResult result = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(result.describe());
  if (result.exit_code == 1) FAIL("plan failed");
  return result.exit_code;
}

}  // namespace

TEST_CASE("a stopped VM is created, changed field by field and deleted keeping its disks",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("life");
  LifecycleDisks disks;
  disks.qcow2 = (session.dir() / "created.qcow2").string();
  disks.raw = session.add_raw_image("data.raw", 4 * kMiB);
  disks.extra = session.add_raw_image("extra.raw", 2 * kMiB);
  disks.whole = session.add_loop_device(256 * kMiB).device();
  // The NIC needs only the network's definition because the guest never starts.
  const bool with_nic = libvirt.has_network("default");
  if (!with_nic) WARN("no libvirt network \"default\": the lifecycle VM gets no NIC");

  // Create.
  std::string config =
      session.write_config(lifecycle_toml(session, disks, "128MiB", 1, false, with_nic));
  nlohmann::json plan = session.plan_json(config);
  std::vector<nlohmann::json> ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  CHECK(ours[0].value("action", "") == "create");
  CHECK(ours[0].value("address", "") == "vm.life");
  // The summary counts every resource created (the VM, and any image file it needs).
  CHECK(plan["summary"].value("add", -1) == count_actions(plan, "create"));

  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.exists(name));
  CHECK_FALSE(libvirt.is_running(name));
  CHECK(libvirt.is_managed(name));
  CHECK(memory_kib(libvirt.xml(name, true)) == 128 * 1024);
  REQUIRE(std::filesystem::exists(disks.qcow2));
  ProcessResult info = run_process({"qemu-img", "info", "--output=json", "-U", disks.qcow2});
  nlohmann::json image = nlohmann::json::parse(info.out);
  CHECK(image.value("format", "") == "qcow2");
  CHECK(image.value("virtual-size", 0ULL) == 64 * kMiB);

  // Nothing left to do: libvirt's normalisation of the definition is not drift.
  CHECK(detailed_plan_exit(session, config) == 0);

  // Change memory and vcpus, and add a disk.
  config = session.write_config(lifecycle_toml(session, disks, "192MiB", 2, true, with_nic));
  CHECK(detailed_plan_exit(session, config) == 2);
  plan = session.plan_json(config);
  ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  const nlohmann::json& update = ours[0];
  INFO(update.dump(2));
  CHECK(update.value("action", "") == "update");
  CHECK(field_names(update) ==
        std::vector<std::string>{"disk[" + disks.extra + "]", "memory", "vcpus"});
  // A stopped guest is not disturbed by anything.
  CHECK(update.value("disruption", "") == "none");
  for (const nlohmann::json& field : update["fields"])
    CHECK(field.value("disruption", "") == "none");
  CHECK(field_of(update, "memory").value("before", "") == "128 MiB");
  CHECK(field_of(update, "memory").value("after", "") == "192 MiB");
  CHECK(plan["summary"].value("change", -1) == 1);

  ProcessResult changed = session.apply(config);
  INFO(changed.describe());
  REQUIRE(changed.exit_code == 0);
  const std::string definition = libvirt.xml(name, true);
  CHECK(memory_kib(definition) == 192 * 1024);
  CHECK(vcpu_count(definition) == 2);
  CHECK(definition.find(disks.extra) != std::string::npos);
  CHECK(detailed_plan_exit(session, config) == 0);

  // Remove the VM from the config: only the definition goes.
  const std::vector<std::string> kept = {disks.qcow2, disks.raw, disks.extra, disks.whole};
  const std::map<std::string, std::string> before = checksums(kept);
  config = session.write_config("# every VM removed\n");
  plan = session.plan_json(config);
  ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  CHECK(ours[0].value("action", "") == "delete");
  CHECK(ours[0].value("name", "") == name);
  CHECK(plan["summary"].value("destroy", -1) == 1);

  ProcessResult deleted = session.apply(config);
  INFO(deleted.describe());
  REQUIRE(deleted.exit_code == 0);
  CHECK_FALSE(libvirt.exists(name));
  for (const std::string& path : kept) REQUIRE(std::filesystem::exists(path));
  CHECK(checksums(kept) == before);
  CHECK(detailed_plan_exit(session, config) == 0);
}

}  // namespace virtform::e2e
