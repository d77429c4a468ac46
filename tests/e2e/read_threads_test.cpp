// plan against the real libvirtd reads the domains on several threads over one connection: its
// output is the same, line for line, as when they are read one by one.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

constexpr int kVms = 24;

// kVms stopped guests; with `grown`, every third has more memory and one more VM is declared.
std::string fleet_toml(const Session& session, bool grown) {
  std::string toml = "project = " + quoted(session.project()) + "\n";
  for (int i = 0; i < kVms; ++i) {
    const std::string key = "fleet" + std::to_string(i);
    const int mib = grown && i % 3 == 0 ? 192 : 128;
    toml += "\n[vm." + key + "]\nname = " + quoted(session.domain(key)) +
            "\ntype = \"qemu\"\nmemory = \"" + std::to_string(mib) +
            "MiB\"\nstate = \"stopped\"\n[[vm." + key + ".nic]]\nnetwork = \"default\"\n";
  }
  if (grown) {
    toml += "\n[vm.extra]\nname = " + quoted(session.domain("extra")) +
            "\ntype = \"qemu\"\nmemory = \"128MiB\"\nstate = \"stopped\"\n";
  }
  return toml;
}

}  // namespace

TEST_CASE("plan of a fleet is the same read with one thread or many", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  ProcessResult applied = session.apply(session.write_config(fleet_toml(session, false)));
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);

  const std::string config = session.write_config(fleet_toml(session, true));
  auto plan = [&](const std::string& threads) {
    ProcessResult result = session.virtform(
        {"plan", config, "-c", uri(), "--detailed-exitcode", "--read-threads", threads});
    INFO(result.describe());
    CHECK(result.exit_code == 2);
    return result.out;
  };
  const std::string serial = plan("1");
  CHECK(serial.find("Plan: 1 to add, 8 to change, 0 to destroy.") != std::string::npos);
  for (const char* threads : {"4", "8", "64"}) {
    INFO(threads << " threads");
    CHECK(plan(threads) == serial);
  }
}

}  // namespace virtform::e2e
