#pragma once
// Runs read(0) ... read(count - 1) on a few threads and gives the results in index order, as one
// loop would: libvirt's round trips leave a thread waiting, so several calls in flight on one
// connection finish sooner, and the caller still sees one deterministic result.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace virtform {

// Each result lands in the slot of its index, whichever thread made it and whenever. The calling
// thread is one of the `threads` (at least 1; never more than `count`), so 1 is a plain loop.
//
// A read that throws stops the others from taking new indices, and the error of the lowest index
// that failed is rethrown once all have stopped. That is the error one loop would have thrown:
// indices are taken in increasing order, so every index below a failed one was taken before it,
// and is finished (and its error kept) before this returns.
template <typename Read>
auto read_in_order(std::size_t count, std::size_t threads, const Read& read)
    -> std::vector<decltype(read(std::size_t{}))> {
  std::vector<decltype(read(std::size_t{}))> results(count);
  std::vector<std::exception_ptr> errors(count);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    while (!failed.load()) {
      const std::size_t index = next.fetch_add(1);
      if (index >= count) return;
      try {
        results[index] = read(index);
      } catch (...) {
        errors[index] = std::current_exception();
        failed.store(true);
      }
    }
  };
  {
    const std::size_t helpers = std::min(std::max<std::size_t>(threads, 1), count);
    std::vector<std::jthread> pool;
    for (std::size_t i = 1; i < helpers; ++i) {
      // Out of threads (a process or cgroup limit): fewer helpers give the same result.
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;
      }
    }
    work();
  }  // the helpers are joined here
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace virtform
