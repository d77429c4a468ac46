// libFuzzer target: a saved plan file -> Plan, as `virtform apply --plan FILE` reads it. A file
// that is not a virtform plan is refused with PlanFileError, which the CLI reports; anything
// else escaping (or a sanitizer report) is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/render/plan_json.h"
#include "engine/render/plan_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const virtform::Plan plan = virtform::parse_plan_json(text);
    // What apply does with it before any step: the plan shown for confirmation, with and
    // without colour; and the same document written back, as plan --out would.
    (void)plan.summary();
    (void)virtform::render_plan_text(plan, virtform::TextStyle{true});
    (void)virtform::render_plan_text(plan, virtform::TextStyle{false});
    (void)virtform::render_plan_json(plan);
  } catch (const virtform::PlanFileError&) {
    // A clean refusal, naming what is wrong with the file.
  }
  return 0;
}
