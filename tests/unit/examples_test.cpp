// Every example, planned and applied against the demo host (libvirt's test driver plus the
// recorded host files), then planned again: nothing is left to do. And the definitions virtform
// writes for them are valid by libvirt's own schema.

#include "tests/support/examples.h"

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/apply/step_runner.h"
#include "engine/config/config.h"
#include "engine/passes.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/pipeline.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kSource = VIRTFORM_SOURCE_DIR;

// The demo host copied aside: apply creates image files under its root, and the committed tree
// must stay as it is.
struct DemoHost {
  TempDir dir{"virtform-demo"};
  std::string root;
  std::unique_ptr<LibvirtHypervisor> hypervisor;

  DemoHost() {
    fs::copy(kSource + "/examples/demo-host", dir.path(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    root = dir / "root";
    hypervisor = std::make_unique<LibvirtHypervisor>("test://" + (dir / "host.xml"));
  }

  Plan plan(const std::string& example) {
    return testing::plan_in_process(*hypervisor, root, {kSource + "/examples/" + example});
  }

  bool apply(const Plan& plan) { return testing::apply_in_process(*hypervisor, root, plan); }
};

std::string errors_of(const Plan& plan) {
  std::string text;
  for (const Diagnostic& diagnostic : plan.diagnostics)
    if (diagnostic.severity == Severity::error) text += format(diagnostic) + "\n";
  return text;
}

TEST_CASE("every example applies on the demo host and then plans no changes", "[examples]") {
  for (const std::string& example : testing::example_names()) {
    INFO("example " << example);
    DemoHost host;
    const Plan first = host.plan(example);
    INFO(errors_of(first));
    REQUIRE_FALSE(has_errors(first.diagnostics));
    REQUIRE(first.has_changes());
    REQUIRE(host.apply(first));
    const Plan second = host.plan(example);
    INFO(errors_of(second));
    CHECK_FALSE(has_errors(second.diagnostics));
    for (const Change& change : second.changes) {
      INFO(change.address);
      CHECK(change.action == Action::none);
    }
  }
}

TEST_CASE("the definitions written for the examples pass virt-xml-validate", "[examples]") {
  TempDir dir;
  for (const std::string& example : testing::example_names()) {
    DemoHost host;
    RootedHostFiles files(host.root);
    Diagnostics diagnostics;
    Desired desired = load_config({kSource + "/examples/" + example}, diagnostics);
    resolve_firmware(desired, files, diagnostics);
    for (const Vm& vm : desired.vms) {
      const std::string path = dir / (vm.key + ".xml");
      std::ofstream(path) << render_domain_xml(vm);
      const std::string command = "virt-xml-validate " + path + " domain >/dev/null 2>&1";
      INFO(example << ": " << render_domain_xml(vm));
      const int status = std::system(command.c_str());
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
  }
}

}  // namespace
}  // namespace virtform
