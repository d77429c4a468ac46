// read_in_order on real threads: results land in index order whatever order they finish in, a
// failure reports the lowest failing index as one loop would, and one thread is a plain loop.

#include "providers/libvirt/ordered_parallel.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace virtform {
namespace {

using namespace std::chrono_literals;

// Later indices finish first: index i waits (count - i) x 200 us.
std::string slow_then_fast(std::size_t index, std::size_t count) {
  std::this_thread::sleep_for(std::chrono::microseconds(200 * (count - index)));
  return "result " + std::to_string(index);
}

}  // namespace

TEST_CASE("read_in_order keeps the index order whatever order the reads finish in",
          "[ordered_parallel]") {
  constexpr std::size_t kCount = 40;
  for (std::size_t threads : {1, 2, 8, 64}) {
    INFO(threads << " threads");
    const std::vector<std::string> results = read_in_order(
        kCount, threads, [&](std::size_t index) { return slow_then_fast(index, kCount); });
    REQUIRE(results.size() == kCount);
    for (std::size_t i = 0; i < kCount; ++i) CHECK(results[i] == "result " + std::to_string(i));
  }
  CHECK(read_in_order(0, 8, [](std::size_t) { return 1; }).empty());
}

TEST_CASE("read_in_order runs the reads on at most the threads asked, the caller among them",
          "[ordered_parallel]") {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  auto record = [&](std::size_t) {
    std::this_thread::sleep_for(2ms);  // long enough for every thread to take some
    std::lock_guard lock(mutex);
    seen.insert(std::this_thread::get_id());
    return 0;
  };
  read_in_order(32, 1, record);
  CHECK(seen == std::set{std::this_thread::get_id()});

  seen.clear();
  read_in_order(32, 4, record);
  CHECK(seen.size() <= 4);
  CHECK(seen.size() >= 2);
  CHECK(seen.count(std::this_thread::get_id()) == 1);

  seen.clear();
  read_in_order(3, 16, record);  // no more threads than reads
  CHECK(seen.size() <= 3);
}

TEST_CASE("read_in_order reports the lowest failing index, even when a later one fails first",
          "[ordered_parallel]") {
  // Index 3 fails late, index 9 fails at once: one loop would have met 3 first.
  auto read = [](std::size_t index) -> int {
    if (index == 3) {
      std::this_thread::sleep_for(30ms);
      throw std::runtime_error("cannot read 3");
    }
    if (index == 9) throw std::runtime_error("cannot read 9");
    return static_cast<int>(index);
  };
  for (std::size_t threads : {1, 4, 16}) {
    INFO(threads << " threads");
    CHECK_THROWS_WITH(read_in_order(100, threads, read), "cannot read 3");
  }
}

TEST_CASE("read_in_order stops taking new reads once one has failed", "[ordered_parallel]") {
  std::atomic<std::size_t> reads{0};
  auto read = [&](std::size_t index) -> int {
    ++reads;
    if (index == 0) throw std::runtime_error("cannot read 0");
    std::this_thread::sleep_for(1ms);
    return 0;
  };
  CHECK_THROWS_WITH(read_in_order(1000, 4, read), "cannot read 0");
  // Each thread finishes at most the read it had taken when the first one failed.
  CHECK(reads.load() < 500);
}

}  // namespace virtform
