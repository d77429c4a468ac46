#include "engine/apply/executor.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace virtform {
namespace {

Step step(const std::string& id, std::vector<std::string> after = {}) {
  Step result;
  result.id = id;
  result.after = std::move(after);
  return result;
}

TEST_CASE("steps run after what they depend on, at every parallelism", "[apply]") {
  const std::vector<Step> steps = {step("image"), step("define", {"image"}),
                                   step("start", {"define"}), step("other")};
  for (int parallelism : {1, 2, 4}) {
    std::mutex mutex;
    std::vector<std::string> order;
    const ApplyResult result = execute(
        steps,
        [&](const Step& s) {
          std::lock_guard guard(mutex);
          order.push_back(s.id);
        },
        parallelism, nullptr);
    CHECK(result.ok());
    auto at = [&](const std::string& id) { return std::find(order.begin(), order.end(), id); };
    CHECK(at("image") < at("define"));
    CHECK(at("define") < at("start"));
    CHECK(order.size() == 4);
  }
}

TEST_CASE("a failed step skips its dependents and the rest goes on", "[apply]") {
  const std::vector<Step> steps = {step("define-a"), step("start-a", {"define-a"}),
                                   step("after-start-a", {"start-a"}), step("define-b")};
  std::atomic<int> ran{0};
  const ApplyResult result = execute(
      steps,
      [&](const Step& s) {
        ++ran;
        if (s.id == "define-a") throw std::runtime_error("libvirt said no");
      },
      2, nullptr);
  CHECK_FALSE(result.ok());
  CHECK(ran == 2);
  CHECK(result.count(StepStatus::done) == 1);
  CHECK(result.count(StepStatus::failed) == 1);
  CHECK(result.count(StepStatus::skipped) == 2);
  for (const StepResult& r : result.steps) {
    if (r.id == "define-a") CHECK(r.message == "libvirt said no");
    if (r.id == "after-start-a") CHECK(r.message.find("define-a") != std::string::npos);
  }
}

TEST_CASE("independent steps run in parallel up to the limit", "[apply]") {
  std::vector<Step> steps;
  for (int i = 0; i < 6; ++i) steps.push_back(step("s" + std::to_string(i)));
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  auto action = [&](const Step&) {
    const int now = ++running;
    int seen = peak;
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    --running;
  };
  execute(steps, action, 3, nullptr);
  CHECK(peak == 3);
  peak = 0;
  execute(steps, action, 1, nullptr);
  CHECK(peak == 1);
}

TEST_CASE("progress reports each step's start and end", "[apply]") {
  std::vector<std::string> events;
  execute(
      {step("a")}, [](const Step&) {}, 1,
      [&](const ProgressEvent& event) {
        events.push_back(event.step_id +
                         (event.kind == ProgressEvent::Kind::started ? " started" : " finished"));
      });
  CHECK(events == std::vector<std::string>{"a started", "a finished"});
}

}  // namespace
}  // namespace virtform
