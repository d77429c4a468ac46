#pragma once
// Walks a plan's steps in dependency order, independent ones in parallel. A failed step stops
// everything that depends on it; the rest goes on. The result says what was and was not done.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "engine/plan/plan.h"

namespace virtform {

enum class StepStatus { done, failed, skipped };

struct StepResult {
  std::string id;
  StepStatus status = StepStatus::skipped;
  std::string message;  // the error of a failed step, the failed dependency of a skipped one
  std::chrono::milliseconds elapsed{0};
};

struct ApplyResult {
  std::vector<StepResult> steps;  // in the order they finished

  bool ok() const;
  int count(StepStatus status) const;
};

// What apply reports as it goes.
struct ProgressEvent {
  enum class Kind { started, finished, failed, skipped, waiting } kind;
  std::string step_id;
  std::string message;  // failures, waits ("waiting for DSM to shut down")
  std::chrono::milliseconds elapsed{0};
};
using ProgressHook = std::function<void(const ProgressEvent&)>;

// Carries out one step; throws on failure with a message for the user.
using StepAction = std::function<void(const Step&)>;

// Runs the steps with at most `parallelism` at once (1 = strictly in order).
ApplyResult execute(const std::vector<Step>& steps, const StepAction& action, int parallelism,
                    const ProgressHook& progress);

}  // namespace virtform
