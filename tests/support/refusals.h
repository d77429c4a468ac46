#pragma once
// Tables of config refusals: lines of a VM [vm.a], each read alone, give one located error.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/loaded_config.h"

namespace virtform::testing {

struct Refusal {
  std::string lines;    // below [vm.a], which is line 1
  int line;             // where the one diagnostic points
  std::string message;  // a part of its message
};

inline void check_refusals(const std::vector<Refusal>& refusals) {
  for (const Refusal& refusal : refusals) {
    INFO(refusal.lines);
    const auto loaded = load_vm_a(refusal.lines);
    INFO(formatted(loaded.diagnostics));
    REQUIRE(loaded.diagnostics.size() == 1);
    CHECK_THAT(loaded.diagnostics[0].message, Catch::Contains(refusal.message));
    CHECK(loaded.diagnostics[0].where.line == refusal.line);
  }
}

}  // namespace virtform::testing
