// The apply lock is the daemon's, not the URI text's: two spellings of the URI of one libvirtd
// take the same lock.

#include "providers/host/apply_lock.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "providers/libvirt/libvirt_hypervisor.h"
#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// The same daemon through the local socket named outright: "qemu:///system" ->
// "qemu+unix:///system".
std::string unix_spelling(const std::string& uri) {
  const std::size_t separator = uri.find("://");
  if (separator == std::string::npos || uri.substr(0, separator).find('+') != std::string::npos)
    return uri;
  return uri.substr(0, separator) + "+unix" + uri.substr(separator);
}

TEST_CASE("an apply through another spelling of the daemon's URI waits for the same lock",
          "[e2e][apply_lock]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string other = unix_spelling(uri());
  REQUIRE(other != uri());
  const std::string config =
      session.write_config("[vm.a]\nname = " + quoted(session.domain("a")) +
                           "\ntype = \"qemu\"\nmemory = \"64MiB\"\nstate = \"stopped\"\n");
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());

  const std::string locks = (session.dir() / "locks").string();
  setenv("VIRTFORM_LOCK_DIR", locks.c_str(), 1);
  LibvirtHypervisor hypervisor(uri());
  const auto held = ApplyLock::acquire(hypervisor.daemon(), "virtform apply");
  unsetenv("VIRTFORM_LOCK_DIR");

  const ProcessResult refused =
      run_process({VIRTFORM_BINARY, "apply", config, "-c", other, "--auto-approve"},
                  {{"NO_COLOR", "1"}, {"VIRTFORM_LOCK_DIR", locks}}, std::chrono::minutes(2));
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("another apply is running against") != std::string::npos);
  CHECK(refused.err.find("pid " + std::to_string(getpid())) != std::string::npos);
  CHECK_FALSE(session.libvirt().exists(session.domain("a")));
}

}  // namespace
}  // namespace virtform::e2e
