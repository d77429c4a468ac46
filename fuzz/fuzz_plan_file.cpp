// libFuzzer target: a saved plan file -> Plan, as `virtform apply --plan FILE` reads it. A file
// that is not a virtform plan is refused with PlanFileError, which the CLI reports; anything
// else escaping (or a sanitizer report) is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/render/plan_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    virtform::Plan plan = virtform::parse_plan_json(text);
    // What apply looks at first: the summary it prints.
    (void)plan.summary();
  } catch (const virtform::PlanFileError&) {
    // A clean refusal, naming what is wrong with the file.
  }
  return 0;
}
