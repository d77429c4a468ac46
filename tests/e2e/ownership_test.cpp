// Domains virtform did not create: a name clash is an error until the VM says adopt = true, and a
// domain nobody declared is never touched.

#include <catch2/catch.hpp>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

// A plain stopped domain defined behind virtform's back.
std::string unmanaged_domain_xml(const std::string& name) {
  return "<domain type='qemu'><name>" + name +
         "</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>";
}

std::string adopt_toml(const std::string& name, bool adopt) {
  return "[vm.adopted]\nname = " + quoted(name) +
         "\ntype = \"qemu\"\nmachine = \"q35\"\nmemory = \"192MiB\"\nvcpus = 1\n" +
         (adopt ? "adopt = true\n" : "");
}

}  // namespace

TEST_CASE("an unmanaged domain is adopted only when asked, and others are never touched", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("adopted");
  const std::string bystander = session.domain("bystander");
  libvirt.define(unmanaged_domain_xml(name));
  libvirt.define(unmanaged_domain_xml(bystander));
  const std::string bystander_xml = libvirt.xml(bystander, true);
  REQUIRE_FALSE(libvirt.is_managed(name));

  // Same name, no adopt: an error that says how to take it over.
  std::string config = session.write_config(adopt_toml(name, false));
  ProcessResult refused = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(refused.output().find(name) != std::string::npos);
  CHECK(refused.output().find("adopt = true") != std::string::npos);
  CHECK_FALSE(libvirt.is_managed(name));

  // With adopt = true the existing domain is updated in place, not created anew.
  config = session.write_config(adopt_toml(name, true));
  nlohmann::json plan = session.plan_json(config);
  std::vector<nlohmann::json> ours = changes_inside(plan, session.prefix());
  REQUIRE(ours.size() == 1);
  INFO(ours[0].dump(2));
  CHECK(ours[0].value("name", "") == name);
  CHECK(ours[0].value("action", "") == "update");
  CHECK(field_of(ours[0], "memory").value("after", "") == "192 MiB");
  const std::string uuid_before = domain_uuid(libvirt.xml(name, true));

  ProcessResult adopted = session.apply(config);
  INFO(adopted.describe());
  REQUIRE(adopted.exit_code == 0);
  CHECK(libvirt.is_managed(name));
  CHECK(domain_uuid(libvirt.xml(name, true)) == uuid_before);
  CHECK(memory_kib(libvirt.xml(name, true)) == 192 * 1024);
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);

  // The undeclared, unmanaged domain is exactly as it was.
  REQUIRE(libvirt.exists(bystander));
  CHECK_FALSE(libvirt.is_managed(bystander));
  CHECK(libvirt.xml(bystander, true) == bystander_xml);
}

}  // namespace virtform::e2e
