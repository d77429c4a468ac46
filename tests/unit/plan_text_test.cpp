// The plan as people read it: what a running guest has not booted yet is never hidden behind
// "the host matches the configuration".

#include "engine/render/plan_text.h"

#include <catch2/catch.hpp>

#include "engine/render/plan_json.h"

namespace virtform {
namespace {

Plan plan_with_pending_vcpus() {
  Plan plan;
  plan.uri = "test:///default";
  Change change;
  change.address = "vm.nas";
  change.name = "nas";
  change.running = true;
  change.pending_boot = {{"vcpus", "1", "2 (pending next boot)", Disruption::next_boot}};
  Vm vm;
  vm.key = "nas";
  vm.name = "nas";
  change.desired = vm;
  plan.changes.push_back(change);
  return plan;
}

TEST_CASE("a plan with nothing to do still shows what running guests have not booted",
          "[plan_text]") {
  const std::string text = render_plan_text(plan_with_pending_vcpus(), TextStyle{false});
  CHECK(text.find("The host matches the configuration") == std::string::npos);
  CHECK(text.find("running guests have changes pending their next boot") != std::string::npos);
  CHECK(text.find("  ~ vm.nas \"nas\"\n      ~ vcpus: 1 -> 2 (pending next boot)\n") !=
        std::string::npos);

  Plan matching = plan_with_pending_vcpus();
  matching.changes[0].pending_boot.clear();
  CHECK(render_plan_text(matching, TextStyle{false}) ==
        "No changes. The host matches the configuration.\n");
}

TEST_CASE("pending next-boot fields survive a saved plan", "[plan_text][saved-plan]") {
  const Plan plan = plan_with_pending_vcpus();
  const Plan loaded = parse_plan_json(render_plan_json(plan));
  const Change* change = loaded.find("vm.nas");
  REQUIRE(change);
  CHECK(change->pending_boot == plan.changes[0].pending_boot);
}

}  // namespace
}  // namespace virtform
