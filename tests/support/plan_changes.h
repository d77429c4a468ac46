#pragma once
// Looking into a plan's changes, for tests that check what one VM's change says.

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "engine/plan/plan.h"

namespace virtform::testing {

// The change's field named `name`, or nullptr.
inline const FieldChange* field_of(const Change& change, const std::string& name) {
  for (const FieldChange& field : change.fields)
    if (field.field == name) return &field;
  return nullptr;
}

// The plan's first VM change; fails the test when there is none.
inline const Change& vm_change(const Plan& plan) {
  for (const Change& change : plan.changes)
    if (change.kind == ResourceKind::vm) return change;
  FAIL("the plan has no VM");
  throw std::logic_error("unreachable");
}

}  // namespace virtform::testing
