#pragma once
// The plan for machines: versioned JSON rendered from the same Plan value as the text.
// schemas/plan.schema.json documents the format.

#include <stdexcept>
#include <string>

#include "engine/plan/plan.h"

namespace virtform {

// {"format_version": "2", "uri": ..., "changes": [...], "steps": [...], "summary": {...},
//  "diagnostics": [...], "declared": [...], "fingerprint": {...}, "config_digest": ...}.
// Changes without an action are left out of "changes"; a VM's change carries its "operations",
// and "declared" holds every declared VM, so a saved plan can be applied, and checked for
// staleness, without the configuration or the diff. Version 2 added the operations: a plan of
// version 1 has none to carry out.
std::string render_plan_json(const Plan& plan);

// Reads a plan written by render_plan_json. Throws PlanFileError naming what is wrong with it.
Plan parse_plan_json(const std::string& text);

class PlanFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace virtform
