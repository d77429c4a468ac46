// profile = "windows11" against the real libvirtd: a TCG guest boots the host's Secure Boot OVMF
// with SMM, swtpm's TPM 2.0 and the profile's enlightenments, clock, tablet and guest agent
// channel in its live definition, and plans nothing once applied.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

bool has(const std::string& xml, const std::string& what) {
  return xml.find(what) != std::string::npos;
}

TEST_CASE("a windows11 guest boots Secure Boot OVMF with the profile's settings", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  KeptStateRemover kept_state;  // the TPM's state, which libvirt keeps past the domain
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("win11");
  // QEMU sets Hyper-V's VP index (and what needs it) only through KVM: on this TCG guest the
  // profile leaves them out by itself and gives the rest.
  const std::string guest = kernel_guest_toml("win", name, guest_images().initrd_ignore, "256MiB",
                                              2, "profile = \"windows11\"\nmachine = \"q35\"\n");
  const std::string config = session.write_config(guest);

  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  nlohmann::json change;
  for (const nlohmann::json& each : changes_inside(plan, session.prefix())) change = each;
  REQUIRE(change.is_object());
  CHECK(field_of(change, "firmware").value("after", "").find("(profile windows11)") !=
        std::string::npos);
  CHECK(field_of(change, "guest_agent").value("after", "") == "true (profile windows11)");
  CHECK(field_of(change, "hyperv.relaxed").value("after", "") == "true (profile windows11)");
  CHECK(field_of(change, "hyperv.vpindex").is_null());

  const ProcessResult applied = session.apply(config);
  if (libvirt.exists(name)) kept_state.add_tpm_of(domain_uuid(libvirt.xml(name, true)), name);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const std::string live = libvirt.xml(name);
  INFO(live);
  CHECK(has(live, "secure='yes'"));
  CHECK(has(live, "OVMF_CODE_4M.ms.fd"));
  CHECK(has(live, "<smm state='on'"));
  CHECK(has(live, "<relaxed state='on'/>"));
  CHECK(has(live, "<spinlocks state='on' retries='8191'/>"));
  CHECK_FALSE(has(live, "<vpindex"));
  CHECK(has(live, "<clock offset='localtime'>"));
  CHECK(has(live, "<timer name='hypervclock' present='yes'/>"));
  CHECK(has(live, "org.qemu.guest_agent.0"));
  CHECK(has(live, "<input type='tablet' bus='usb'>"));
  CHECK(has(live, "<tpm model='tpm-crb'>"));
  CHECK(has(live, "<backend type='emulator' version='2.0'"));

  const nlohmann::json again = session.plan_json(config);
  INFO(again.dump(2));
  CHECK(changes_inside(again, session.prefix()).empty());
}

}  // namespace
}  // namespace virtform::e2e
