// [vm.X.tpm] against the real libvirtd: a TCG guest on q35 with an emulated TPM 2.0 starts (libvirt
// runs swtpm for it), reads back as declared, and its TPM's state survives the domain being
// redefined and the table being taken out of the configuration.

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& xml, const std::string& what) {
  return xml.find(what) != std::string::npos;
}

nlohmann::json only_change(Session& session, const std::string& config) {
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  const std::vector<nlohmann::json> changes = changes_inside(plan, session.prefix());
  REQUIRE(changes.size() == 1);
  return changes[0];
}

void apply_ok(Session& session, const std::string& config) {
  const ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
}

void plans_nothing(Session& session, const std::string& config) {
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  CHECK(changes_inside(plan, session.prefix()).empty());
}

TEST_CASE("an emulated TPM 2.0 starts under swtpm and its state outlives redefinition and removal",
          "[e2e][tpm]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  KeptStateRemover kept_state;
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("tpm");
  auto guest = [&](const std::string& policy_lines, const std::string& tables) {
    return kernel_guest_toml("win", name, guest_images().initrd_ignore, "128MiB", 1,
                             "machine = \"q35\"\nrestart = \"never\"\n" + policy_lines) +
           tables;
  };
  const std::string tpm_table =
      "\n[vm.win.tpm]\nmodel = \"tpm-crb\"\nbackend = \"emulator\"\nversion = \"2.0\"\n";

  const std::string declared = session.write_config(guest("", tpm_table));
  const ProcessResult created = session.apply(declared);
  if (libvirt.exists(name)) kept_state.add_tpm_of(domain_uuid(libvirt.xml(name, true)), name);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const std::string uuid = domain_uuid(libvirt.xml(name, true));
  const std::filesystem::path state =
      std::filesystem::path("/var/lib/libvirt/swtpm") / uuid / "tpm2" / "tpm2-00.permall";
  // swtpm made the TPM's state when the guest started with it.
  CHECK(wait_until([&] { return std::filesystem::exists(state); }, 30s));
  const std::string running = libvirt.xml(name);
  INFO(running);
  CHECK(has(running, "<tpm model='tpm-crb'>"));
  CHECK(has(running, "<backend type='emulator' version='2.0'/>"));
  plans_nothing(session, declared);

  // Redefined for another change, the guest keeps its TPM and the TPM its state.
  const std::string described =
      session.write_config(guest("description = \"has a TPM\"\n", tpm_table));
  apply_ok(session, described);
  CHECK(has(libvirt.xml(name, true), "<description>has a TPM</description>"));
  CHECK(has(libvirt.xml(name, true), "<tpm model='tpm-crb'>"));
  CHECK(std::filesystem::exists(state));
  plans_nothing(session, described);

  // Taken out of the configuration, the TPM leaves the definition at the next boot, and the plan
  // says where its state stays.
  const std::string without = session.write_config(guest("description = \"has a TPM\"\n", ""));
  const nlohmann::json change = only_change(session, without);
  INFO(change.dump(2));
  CHECK(field_of(change, "tpm").value("before", "") == "tpm-crb, emulator 2.0");
  CHECK(field_of(change, "tpm").value("disruption", "") == "next-boot");
  CHECK(has(change.value("reason", ""),
            "the TPM's state stays on the host in "
            "/var/lib/libvirt/swtpm/" +
                uuid));
  apply_ok(session, without);
  CHECK_FALSE(has(libvirt.xml(name, true), "<tpm"));
  CHECK(has(libvirt.xml(name), "<tpm model='tpm-crb'>"));  // what the guest booted
  CHECK(std::filesystem::exists(state));
  plans_nothing(session, without);

  // Declared again, the TPM comes back onto the same state.
  const std::string again = session.write_config(guest("description = \"has a TPM\"\n", tpm_table));
  const nlohmann::json back = only_change(session, again);
  INFO(back.dump(2));
  CHECK(field_of(back, "tpm.model").value("disruption", "") == "next-boot");
  apply_ok(session, again);
  CHECK(has(libvirt.xml(name, true), "<tpm model='tpm-crb'>"));
  CHECK(std::filesystem::exists(state));
}

}  // namespace
}  // namespace virtform::e2e
