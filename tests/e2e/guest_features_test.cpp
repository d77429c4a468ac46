// A Windows/GPU guest's settings against the real libvirtd: the hyperv preset, kvm_hidden, the
// clock and power management reach the persistent definition of a running TCG guest as next-boot
// changes, read back from libvirt's XML as declared (no drift), and stay pending until it boots.

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// The sub-tables after the guest's own; kernel_guest_toml ends with its [vm.X.serial].
std::string features_toml(const std::string& key) {
  return "\n[vm." + key + ".hyperv]\npreset = \"windows\"\nvendor_id = \"KVMKVMKVM\"\n" + "\n[vm." +
         key + ".clock]\noffset = \"localtime\"\nrtc_tickpolicy = \"catchup\"\n" +
         "pit_tickpolicy = \"delay\"\nhpet = false\n" +  //
         "\n[vm." + key + ".pm]\nsuspend_to_mem = false\nsuspend_to_disk = false\n";
}

bool has(const std::string& xml, const std::string& what) {
  return xml.find(what) != std::string::npos;
}

TEST_CASE("hyperv, kvm_hidden, clock and pm wait for a running guest's next boot", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("win");
  const std::string guest = kernel_guest_toml("win", name, guest_images().initrd_ignore, "128MiB",
                                              1, "restart = \"never\"\n");
  ProcessResult created = session.apply(session.write_config(guest));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);

  const std::string declared =
      kernel_guest_toml("win", name, guest_images().initrd_ignore, "128MiB", 1,
                        "restart = \"never\"\nkvm_hidden = true\nvmport = false\n"
                        "ioapic = \"qemu\"\n") +
      features_toml("win");
  const std::string config = session.write_config(declared);
  const nlohmann::json plan = session.plan_json(config);
  INFO(plan.dump(2));
  nlohmann::json change;
  for (const nlohmann::json& each : changes_inside(plan, session.prefix())) change = each;
  REQUIRE(change.is_object());
  for (const char* field :
       {"kvm_hidden", "vmport", "ioapic", "hyperv.relaxed", "hyperv.spinlocks", "hyperv.stimer",
        "hyperv.vendor_id", "clock.offset", "clock.hpet", "clock.hypervclock", "pm.suspend_to_mem"})
    CHECK(field_of(change, field).value("disruption", "") == "next-boot");
  CHECK(field_of(change, "hyperv.relaxed").value("after", "") == "true (preset windows)");
  CHECK(field_of(change, "hyperv.vendor_id").value("after", "") == "KVMKVMKVM");

  ProcessResult applied = session.apply(config);
  INFO(applied.describe());
  REQUIRE(applied.exit_code == 0);
  CHECK(libvirt.id(name) == id);  // not restarted
  const std::string inactive = libvirt.xml(name, true);
  INFO(inactive);
  CHECK(has(inactive, "<hyperv mode='custom'>"));
  for (const char* element : {"<relaxed state='on'/>",
                              "<vapic state='on'/>",
                              "<spinlocks state='on' retries='8191'/>",
                              "<vpindex state='on'/>",
                              "<runtime state='on'/>",
                              "<synic state='on'/>",
                              "<stimer state='on'/>",
                              "<reset state='on'/>",
                              "<vendor_id state='on' value='KVMKVMKVM'/>",
                              "<frequencies state='on'/>",
                              "<tlbflush state='on'/>",
                              "<ipi state='on'/>",
                              "<hidden state='on'/>",
                              "<vmport state='off'/>",
                              "<ioapic driver='qemu'/>",
                              "<clock offset='localtime'>",
                              "<timer name='rtc' tickpolicy='catchup'/>",
                              "<timer name='pit' tickpolicy='delay'/>",
                              "<timer name='hpet' present='no'/>",
                              "<timer name='hypervclock' present='yes'/>",
                              "<suspend-to-mem enabled='no'/>",
                              "<suspend-to-disk enabled='no'/>"})
    CHECK(has(inactive, element));
  // The running guest keeps what it booted.
  const std::string running = libvirt.xml(name);
  CHECK_FALSE(has(running, "<hyperv"));
  CHECK_FALSE(has(running, "<hidden state='on'/>"));

  // Nothing left to do; the next boot's changes are pending.
  const nlohmann::json after = session.plan_json(config);
  INFO(after.dump(2));
  nlohmann::json settled;
  for (const nlohmann::json& each : changes_inside(after, session.prefix())) settled = each;
  CHECK_FALSE(settled.is_object());
  std::string pending;
  for (const nlohmann::json& entry : after.value("pending_next_boot", nlohmann::json::array()))
    if (entry.value("name", "") == name) pending = entry.at("fields").dump();
  for (const char* field :
       {"kvm_hidden", "vmport", "ioapic", "hyperv.stimer", "clock.offset", "pm.suspend_to_disk"})
    CHECK(pending.find(field) != std::string::npos);
}

}  // namespace
}  // namespace virtform::e2e
