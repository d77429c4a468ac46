// A saved plan against the real libvirtd: applied as saved when nothing moved, refused with the
// reason once the domain it looked at was changed behind virtform's back.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

std::string stopped_vm(const Session& session, const std::string& memory) {
  return "[vm.saved]\nname = " + quoted(session.domain("saved")) +
         "\ntype = \"qemu\"\nmemory = " + quoted(memory) + "\nstate = \"stopped\"\n";
}

TEST_CASE("a saved plan is refused once the host changed, and applied as saved otherwise",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  const std::string name = session.domain("saved");
  std::string config = session.write_config(stopped_vm(session, "128MiB"));
  REQUIRE(session.apply(config).exit_code == 0);

  config = session.write_config(stopped_vm(session, "192MiB"));
  const std::string saved = (session.dir() / "plan.json").string();
  ProcessResult planned =
      session.virtform({"plan", config, "-c", uri(), "--out", saved, "--no-color"});
  INFO(planned.describe());
  REQUIRE(planned.exit_code == 0);

  // Someone edits the domain with virsh after the plan was reviewed.
  REQUIRE(run_process({"virsh", "-c", uri(), "setmem", name, "100M", "--config"}).exit_code == 0);
  ProcessResult refused = session.virtform({"apply", "--plan", saved, "--auto-approve"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("the host changed since this plan was made") != std::string::npos);
  CHECK(refused.err.find("domain " + name) != std::string::npos);

  ProcessResult replanned =
      session.virtform({"plan", config, "-c", uri(), "--out", saved, "--no-color"});
  REQUIRE(replanned.exit_code == 0);
  ProcessResult applied = session.virtform({"apply", "--plan", saved, "--auto-approve"});
  INFO(applied.describe());
  CHECK(applied.exit_code == 0);
  ProcessResult after = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(after.describe());
  CHECK(after.exit_code == 0);
}

}  // namespace
}  // namespace virtform::e2e
