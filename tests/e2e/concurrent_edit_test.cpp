// An edit made with virsh while `virtform apply` waits at its prompt is refused, never
// overwritten: the step re-reads the domain just before it writes and compares it with what the
// plan saw.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

std::string stopped_guest_toml(const Session& session, const std::string& name,
                               const std::string& memory) {
  return "project = " + quoted(session.project()) + "\n[vm.edited]\nname = " + quoted(name) +
         "\ntype = \"qemu\"\nmemory = " + quoted(memory) +
         "\nstate = \"stopped\"\n[[vm.edited.disk]]\nfile = " +
         quoted((session.dir() / "edited.qcow2").string()) + "\nsize = \"16MiB\"\n";
}

TEST_CASE("an edit made while apply waits at its prompt is not overwritten", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("edited");
  std::string config = session.write_config(stopped_guest_toml(session, name, "128MiB"));
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);

  config = session.write_config(stopped_guest_toml(session, name, "192MiB"));
  REQUIRE(session.foreign_changes(session.plan_json(config)).empty());
  Process apply({VIRTFORM_BINARY, "apply", config, "-c", uri()}, {{"NO_COLOR", "1"}},
                /*own_process_group=*/false, Stdin::terminal);
  REQUIRE(apply.wait_for_output("Only 'yes' will be accepted", 2min));

  ProcessResult described =
      run_process({"virsh", "-c", uri(), "desc", name, "--config", "edited while virtform waited"});
  INFO(described.describe());
  REQUIRE(described.exit_code == 0);
  apply.write_input("yes\n");
  const ProcessResult applied = apply.wait(3min);
  INFO(applied.describe());
  CHECK(applied.exit_code == 1);
  CHECK(applied.output().find("domain '" + name +
                              "' changed since the plan (its definition was edited); run "
                              "`virtform plan` again") != std::string::npos);

  const std::string xml = libvirt.xml(name, /*inactive=*/true);
  CHECK(xml.find("<description>edited while virtform waited</description>") != std::string::npos);
  CHECK(memory_kib(xml) == 128 * 1024);

  // Planned again, the edit is kept and the memory changes.
  ProcessResult again = session.apply(config);
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  const std::string updated = libvirt.xml(name, /*inactive=*/true);
  CHECK(updated.find("<description>edited while virtform waited</description>") !=
        std::string::npos);
  CHECK(memory_kib(updated) == 192 * 1024);
}

}  // namespace
}  // namespace virtform::e2e
