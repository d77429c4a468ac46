// Guest memory on a running TCG guest, against the real libvirtd: memory under memory_max moves
// the guest's balloon at once, down and up (the guest runs the virtio balloon driver, and its
// live definition's <currentMemory> follows), and a new memory_max waits for its next boot.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

// A TCG guest boots its kernel in well under this; its balloon driver moves in seconds.
constexpr auto kBootTimeout = 120s;
constexpr auto kBalloonTimeout = 60s;

std::string pending_fields(const nlohmann::json& plan, const std::string& name) {
  for (const nlohmann::json& entry : plan.value("pending_next_boot", nlohmann::json::array()))
    if (entry.value("name", "") == name) return entry.at("fields").dump();
  return "";
}

}  // namespace

TEST_CASE("memory under memory_max moves a running guest's balloon live both ways", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("balloon");
  auto config_with = [&](const std::string& memory, const std::string& memory_max) {
    return session.write_config(
        kernel_guest_toml("balloon", name, guest_images().initrd_ignore, memory, 1,
                          "restart = \"never\"\nmemory_max = \"" + memory_max + "\"\n"));
  };
  ProcessResult created = session.apply(config_with("256MiB", "256MiB"));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const std::string console = wait_for_console(libvirt, name, kGuestReady, kBootTimeout);
  REQUIRE(console.find(kGuestReady) != std::string::npos);
  const int id = libvirt.id(name);

  for (const std::uint64_t mib : {160, 224}) {
    INFO(mib << " MiB");
    const std::string config = config_with(std::to_string(mib) + "MiB", "256MiB");
    const nlohmann::json plan = session.plan_json(config);
    INFO(plan.dump(2));
    const nlohmann::json change = guest_change(session, plan);
    REQUIRE(change.is_object());
    CHECK(field_of(change, "memory").value("disruption", "") == "live");
    CHECK(change.at("operations").value("current_memory_kib", 0ull) == mib * 1024);
    ProcessResult applied = session.apply(config);
    INFO(applied.describe());
    REQUIRE(applied.exit_code == 0);
    CHECK(libvirt.id(name) == id);  // not restarted
    CHECK(size_kib(libvirt.xml(name, true), "currentMemory") == mib * 1024);
    // The running guest's own definition shows the balloon once its driver has moved it.
    CHECK(wait_until([&] { return size_kib(libvirt.xml(name), "currentMemory") == mib * 1024; },
                     kBalloonTimeout));
    CHECK(memory_kib(libvirt.xml(name)) == 256 * 1024);
    const nlohmann::json after = session.plan_json(config);
    INFO(after.dump(2));
    CHECK_FALSE(guest_change(session, after).is_object());
    CHECK(pending_fields(after, name).empty());
  }

  // A larger maximum waits for the guest's next boot, and is pending until then.
  const std::string config = config_with("224MiB", "320MiB");
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const nlohmann::json change = guest_change(session, plan);
  REQUIRE(change.is_object());
  CHECK(field_of(change, "memory_max").value("disruption", "") == "next-boot");
  CHECK_FALSE(field_of(change, "memory").is_object());
  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);
  CHECK(memory_kib(libvirt.xml(name, true)) == 320 * 1024);
  CHECK(memory_kib(libvirt.xml(name)) == 256 * 1024);
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  CHECK_FALSE(guest_change(session, after).is_object());
  CHECK(pending_fields(after, name).find("memory_max") != std::string::npos);
}

}  // namespace virtform::e2e
