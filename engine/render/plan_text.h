#pragma once
// The plan for people: Terraform-style, from the Plan value only.

#include <string>

#include "engine/plan/plan.h"

namespace virtform {

struct TextStyle {
  bool color = true;
};

// Every change with its action symbol, per-field before -> after with the disruption a running
// guest would feel, and the summary line; "No changes." when there is nothing to do.
std::string render_plan_text(const Plan& plan, const TextStyle& style);

// Diagnostics, one per line, errors in red and warnings in yellow.
std::string render_diagnostics(const Diagnostics& diagnostics, const TextStyle& style);

}  // namespace virtform
