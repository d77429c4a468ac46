// A disk added to a running guest is a live change: it is hot-plugged (on one of the spare root
// ports virtform gives q35 guests), the guest keeps running, and the plan after is empty.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <pugixml.hpp>
#include <sstream>
#include <vector>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {
namespace {

TEST_CASE("a disk added to a running guest is hot-plugged without a restart", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("plug");
  const std::string base = kernel_guest_toml("plug", name, guest_images().initrd_ignore, "128MiB",
                                             1, "restart = \"never\"\n");
  std::string config = session.write_config(base);
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));
  const int id = libvirt.id(name);

  const std::string image = (session.dir() / "hot.qcow2").string();
  config = session.write_config(base + "\n[[vm.plug.disk]]\nfile = " + quoted(image) +
                                "\nsize = \"32MiB\"\nbus = \"virtio\"\n");
  const nlohmann::json plan = session.plan_json(config);
  const std::vector<nlohmann::json> ours = changes_inside(plan, session.prefix());
  nlohmann::json guest;
  for (const nlohmann::json& change : ours)
    if (change.value("kind", "") == "vm") guest = change;
  INFO(plan.dump(2));
  REQUIRE(guest.is_object());
  CHECK(field_of(guest, "disk[" + image + "]").value("disruption", "") == "live");
  CHECK(guest.value("disruption", "") == "live");

  ProcessResult plugged = session.apply(config);
  INFO(plugged.describe());
  REQUIRE(plugged.exit_code == 0);
  CHECK(libvirt.id(name) == id);
  CHECK(libvirt.xml(name).find(image) != std::string::npos);        // the running guest has it
  CHECK(libvirt.xml(name, true).find(image) != std::string::npos);  // and so does its definition
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

TEST_CASE("a guest whose own virtio disks fill the first ports still takes a hot-plugged one",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("full");
  std::string base = kernel_guest_toml("full", name, guest_images().initrd_ignore, "128MiB", 1,
                                       "restart = \"never\"\n");
  for (int i = 0; i < 5; ++i)
    base += "\n[[vm.full.disk]]\nfile = " +
            quoted((session.dir() / ("own" + std::to_string(i) + ".qcow2")).string()) +
            "\nsize = \"16MiB\"\nbus = \"virtio\"\n";
  std::string config = session.write_config(base);
  ProcessResult created = session.apply(config);
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));

  const std::string image = (session.dir() / "hot.qcow2").string();
  config = session.write_config(base + "\n[[vm.full.disk]]\nfile = " + quoted(image) +
                                "\nsize = \"16MiB\"\nbus = \"virtio\"\n");
  ProcessResult plugged = session.apply(config);
  INFO(plugged.describe());
  REQUIRE(plugged.exit_code == 0);
  CHECK(libvirt.xml(name).find(image) != std::string::npos);  // in the running guest
}

// The guest as an older definition left it: every root port taken by its own devices.
std::string without_spare_root_ports(const std::string& domain_xml) {
  pugi::xml_document document;
  REQUIRE(document.load_string(domain_xml.c_str()));
  pugi::xml_node devices = document.child("domain").child("devices");
  for (pugi::xml_node controller = devices.child("controller"); controller;) {
    pugi::xml_node next = controller.next_sibling("controller");
    if (std::string(controller.attribute("model").as_string()) == "pcie-root-port")
      devices.remove_child(controller);
    controller = next;
  }
  std::ostringstream out;
  document.save(out);
  return out.str();
}

TEST_CASE("a hot-plug the running guest did not take fails the apply and shows as pending",
          "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  const std::string name = session.domain("noslot");
  const std::string running = kernel_guest_toml("noslot", name, guest_images().initrd_ignore,
                                                "128MiB", 1, "restart = \"never\"\n");
  std::string stopped = running;
  stopped.replace(stopped.find("state = \"running\""), 17, "state = \"stopped\"");
  ProcessResult created = session.apply(session.write_config(stopped));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  // libvirt adds back the ports its devices' addresses name, and no spare one.
  libvirt.define(without_spare_root_ports(libvirt.xml(name, /*inactive=*/true)));
  ProcessResult started = session.apply(session.write_config(running));
  INFO(started.describe());
  REQUIRE(started.exit_code == 0);
  REQUIRE(libvirt.is_running(name));

  // libvirt leaves one port free when it lays them out itself: the second disk finds none.
  const std::string first = (session.dir() / "late1.qcow2").string();
  const std::string second = (session.dir() / "late2.qcow2").string();
  std::string disks;
  for (const std::string& image : {first, second})
    disks +=
        "\n[[vm.noslot.disk]]\nfile = " + quoted(image) + "\nsize = \"16MiB\"\nbus = \"virtio\"\n";
  const std::string config = session.write_config(running + disks);
  ProcessResult plugged = session.apply(config);
  INFO(plugged.describe());
  CHECK(plugged.exit_code == 1);
  CHECK(plugged.output().find("the running guest did not take disk " + second) !=
        std::string::npos);
  CHECK(libvirt.xml(name).find(first) != std::string::npos);
  CHECK(libvirt.xml(name).find(second) == std::string::npos);
  CHECK(libvirt.xml(name, /*inactive=*/true).find(second) != std::string::npos);

  ProcessResult after = session.virtform({"plan", config, "-c", uri()});
  INFO(after.describe());
  CHECK(after.out.find("Pending next boot:") != std::string::npos);
  CHECK(after.out.find("disk[" + second +
                       "]: not in the running guest -> attached (pending next boot)") !=
        std::string::npos);
  const nlohmann::json plan = session.plan_json(config);
  REQUIRE(plan["pending_next_boot"].size() == 1);
  CHECK(plan["pending_next_boot"][0]["address"] == "vm.noslot");
  CHECK(plan["pending_next_boot"][0]["fields"].size() == 1);
}

// A host bridge of the test's own, with nothing on it, removed again when the test ends.
class TestBridge {
 public:
  TestBridge() : name_("vfbr" + std::to_string(getpid() % 1000000)) {
    REQUIRE(run_process({"ip", "link", "add", name_, "type", "bridge"}).exit_code == 0);
    REQUIRE(run_process({"ip", "link", "set", name_, "up"}).exit_code == 0);
  }
  ~TestBridge() { run_process({"ip", "link", "del", name_}); }
  TestBridge(const TestBridge&) = delete;
  TestBridge& operator=(const TestBridge&) = delete;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// The MACs of a domain definition's interfaces, in order.
std::vector<std::string> macs_of(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  std::vector<std::string> macs;
  for (pugi::xml_node nic : document.child("domain").child("devices").children("interface"))
    macs.emplace_back(nic.child("mac").attribute("address").as_string());
  return macs;
}

TEST_CASE("a NIC hot-plugged without a declared MAC has one MAC live and persistent", "[e2e]") {
  VIRTFORM_E2E_REQUIRE_ENVIRONMENT();
  Session session;
  Libvirt& libvirt = session.libvirt();
  TestBridge bridge;
  const std::string name = session.domain("nic");
  const std::string base = kernel_guest_toml("nic", name, guest_images().initrd_ignore, "128MiB", 1,
                                             "restart = \"never\"\n");
  ProcessResult created = session.apply(session.write_config(base));
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  REQUIRE(libvirt.is_running(name));

  const std::string config =
      session.write_config(base + "\n[[vm.nic.nic]]\nbridge = " + quoted(bridge.name()) + "\n");
  ProcessResult plugged = session.apply(config);
  INFO(plugged.describe());
  REQUIRE(plugged.exit_code == 0);
  const std::vector<std::string> live = macs_of(libvirt.xml(name));
  REQUIRE(live.size() == 1);
  CHECK(macs_of(libvirt.xml(name, /*inactive=*/true)) == live);
  ProcessResult again = session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

}  // namespace
}  // namespace virtform::e2e
