#pragma once
// The plan for machines: versioned JSON rendered from the same Plan value as the text.
// schemas/plan.schema.json documents the format.

#include <string>

#include "engine/plan/plan.h"

namespace virtform {

// {"format_version": "1", "uri": ..., "changes": [...], "steps": [...], "summary": {...},
//  "diagnostics": [...]}. Changes without an action are left out.
std::string render_plan_json(const Plan& plan);

}  // namespace virtform
