// The host-device part of `virtform plan` on a large host: read a generated sysfs tree of M PCI
// functions in realistic IOMMU groups (tests/support's generator, real files and symlinks) and
// run every passthrough check for a configuration that passes whole groups to guests.
//
//   bench_host_devices [DEVICES] [REPEATS]     default 2000 devices, 3 repeats; prints the median

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/checks/passthrough.h"
#include "providers/sysfs/sysfs_reader.h"
#include "support/sysfs_fixture.h"

namespace virtform {
namespace {

// A guest per group with `stride` spacing, taking every endpoint of the group (not its root
// port), as a real passthrough config does; group viability then has work to do.
Desired passthrough_config(const testing::FixtureHost& host, int stride) {
  Desired desired;
  desired.project = "vfbench";
  for (const testing::FixturePci& function : host.pci) {
    if (function.parent.empty() || function.group % stride != 0) continue;
    const std::string key = "guest" + std::to_string(function.group);
    if (desired.vms.empty() || desired.vms.back().key != key) {
      Vm vm;
      vm.key = key;
      vm.name = key;
      vm.project = desired.project;
      desired.vms.push_back(vm);
    }
    PciDevice device;
    device.address = function.address;
    device.vendor = function.ids.substr(0, 4);
    device.device = function.ids.substr(5, 4);
    desired.vms.back().pci.push_back(device);
  }
  return desired;
}

struct Sample {
  double read_ms = 0;
  double check_ms = 0;
  double cpu_ms = 0;  // CPU time of the whole process (all reader threads): on a loaded machine
                      // the wall time includes waiting for a core, this does not
  std::size_t functions = 0;
  std::size_t groups = 0;
  std::size_t diagnostics = 0;
};

double process_cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

Sample measure_once(const std::string& root, const Desired& desired) {
  Sample sample;
  const double cpu_start = process_cpu_ms();
  const auto read_start = std::chrono::steady_clock::now();
  Live live;
  live.devices = read_host_devices(root);
  sample.read_ms = milliseconds_since(read_start);
  const auto check_start = std::chrono::steady_clock::now();
  Diagnostics diagnostics;
  check_passthrough(desired, live, live.devices, diagnostics);
  sample.check_ms = milliseconds_since(check_start);
  sample.cpu_ms = process_cpu_ms() - cpu_start;
  sample.functions = live.devices.pci.size();
  sample.groups = live.devices.iommu_groups.size();
  sample.diagnostics = diagnostics.size();
  return sample;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int run(int device_count, int repeats) {
  const testing::FixtureHost host = testing::generated_host(device_count);
  const testing::FixtureTree tree(host);
  const Desired desired = passthrough_config(host, 4);
  std::vector<double> reads, checks, totals, cpus;
  Sample sample;
  for (int i = 0; i < repeats; ++i) {
    sample = measure_once(tree.root(), desired);
    reads.push_back(sample.read_ms);
    checks.push_back(sample.check_ms);
    totals.push_back(sample.read_ms + sample.check_ms);
    cpus.push_back(sample.cpu_ms);
  }
  if (sample.functions != host.pci.size()) {
    std::fprintf(stderr, "bench_host_devices: read %zu functions, wrote %zu\n", sample.functions,
                 host.pci.size());
    return 1;
  }
  std::printf(
      "BENCH_HOST devices=%zu groups=%zu guests=%zu diagnostics=%zu read_ms=%.2f check_ms=%.2f "
      "total_ms=%.2f cpu_ms=%.2f\n",
      sample.functions, sample.groups, desired.vms.size(), sample.diagnostics, median(reads),
      median(checks), median(totals), median(cpus));
  return 0;
}

}  // namespace
}  // namespace virtform

int main(int argc, char** argv) {
  const int devices = argc > 1 ? std::stoi(argv[1]) : 2000;
  const int repeats = argc > 2 ? std::max(1, std::stoi(argv[2])) : 3;
  return virtform::run(devices, repeats);
}
