#include "engine/apply/executor.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace virtform {

bool ApplyResult::ok() const {
  return std::all_of(steps.begin(), steps.end(),
                     [](const StepResult& s) { return s.status == StepStatus::done; });
}

int ApplyResult::count(StepStatus status) const {
  return static_cast<int>(std::count_if(steps.begin(), steps.end(),
                                        [&](const StepResult& s) { return s.status == status; }));
}

namespace {

class Scheduler {
 public:
  Scheduler(const std::vector<Step>& steps, const StepAction& action, const ProgressHook& progress)
      : steps_(steps), action_(action), progress_(progress) {
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      index_[steps_[i].id] = i;
      waiting_on_.push_back(steps_[i].after.size());
    }
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      for (const std::string& id : steps_[i].after) dependents_[index_.at(id)].push_back(i);
      if (waiting_on_[i] == 0) ready_.push_back(i);
    }
  }

  ApplyResult run(int parallelism) {
    const int workers = std::max(1, std::min<int>(parallelism, static_cast<int>(steps_.size())));
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) threads.emplace_back([this] { work(); });
    for (std::thread& thread : threads) thread.join();
    return std::move(result_);
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [this] { return !ready_.empty() || finished_ == steps_.size(); });
      if (ready_.empty()) return;
      const std::size_t next = ready_.front();
      ready_.pop_front();
      lock.unlock();
      StepResult result = perform(steps_[next]);
      lock.lock();
      settle(next, std::move(result));
      changed_.notify_all();
    }
  }

  StepResult perform(const Step& step) {
    StepResult result{step.id, StepStatus::done, "", {}};
    const auto start = std::chrono::steady_clock::now();
    notify({ProgressEvent::Kind::started, step.id, "", {}});
    try {
      action_(step);
    } catch (const std::exception& error) {
      result.status = StepStatus::failed;
      result.message = error.what();
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    notify({result.status == StepStatus::done ? ProgressEvent::Kind::finished
                                              : ProgressEvent::Kind::failed,
            step.id, result.message, result.elapsed});
    return result;
  }

  // Called with the lock held: records the result and releases or skips the dependents.
  void settle(std::size_t step, StepResult result) {
    const bool failed = result.status != StepStatus::done;
    const std::string cause = result.id;
    result_.steps.push_back(std::move(result));
    ++finished_;
    for (std::size_t dependent : dependents_[step]) {
      if (failed) {
        skip(dependent, cause);
      } else if (--waiting_on_[dependent] == 0 && !skipped_.count(dependent)) {
        ready_.push_back(dependent);
      }
    }
  }

  void skip(std::size_t step, const std::string& cause) {
    if (!skipped_.insert(step).second) return;
    const std::string message = "not done because " + cause + " did not succeed";
    notify({ProgressEvent::Kind::skipped, steps_[step].id, message, {}});
    result_.steps.push_back({steps_[step].id, StepStatus::skipped, message, {}});
    ++finished_;
    for (std::size_t dependent : dependents_[step]) skip(dependent, cause);
  }

  void notify(const ProgressEvent& event) {
    if (progress_) {
      std::lock_guard guard(progress_mutex_);
      progress_(event);
    }
  }

  const std::vector<Step>& steps_;
  const StepAction& action_;
  const ProgressHook& progress_;
  std::map<std::string, std::size_t> index_;
  std::map<std::size_t, std::vector<std::size_t>> dependents_;
  std::vector<std::size_t> waiting_on_;
  std::deque<std::size_t> ready_;
  std::set<std::size_t> skipped_;
  std::size_t finished_ = 0;
  ApplyResult result_;
  std::mutex mutex_;
  std::mutex progress_mutex_;
  std::condition_variable changed_;
};

}  // namespace

ApplyResult execute(const std::vector<Step>& steps, const StepAction& action, int parallelism,
                    const ProgressHook& progress) {
  if (steps.empty()) return {};
  return Scheduler(steps, action, progress).run(parallelism);
}

}  // namespace virtform
