#include "engine/checks/cpu_pinning.h"

#include <algorithm>
#include <array>

#include "engine/model/values.h"
#include "engine/model/vm_fields.h"

namespace virtform {
namespace {

constexpr std::array<const char*, 3> kPinRows = {"cpu.pinning.vcpus", "cpu.pinning.emulator",
                                                 "cpu.pinning.iothreads"};

// Each set of the row's value, as CPUs: one for a cpusets row, the one for the emulator's.
std::vector<std::set<unsigned>> pinned_sets(const std::string& key, const std::string& value) {
  std::vector<std::set<unsigned>> sets;
  const std::vector<std::string> texts =
      key == "cpu.pinning.emulator" ? std::vector<std::string>{value} : cpusets_of(value);
  for (const std::string& text : texts)
    sets.push_back(parse_cpuset(text).value_or(std::set<unsigned>{}));
  return sets;
}

std::string listed(const std::set<unsigned>& cpus) {
  return cpus.empty() ? "none" : cpuset_text(cpus);
}

class PinningCheck {
 public:
  PinningCheck(const Vm& vm, const HostCpus& host, Diagnostics& diagnostics)
      : vm_(vm), host_(host), diagnostics_(diagnostics) {}

  void run() {
    for (const char* key : kPinRows) {
      const auto value = vm_.attributes.find(key);
      if (value == vm_.attributes.end()) continue;
      for (const std::set<unsigned>& cpus : pinned_sets(key, value->second)) known_cpus(key, cpus);
    }
    const auto vcpus = vm_.attributes.find("cpu.pinning.vcpus");
    if (vcpus == vm_.attributes.end() || failed_) return;
    const std::vector<std::set<unsigned>> pins = pinned_sets(vcpus->first, vcpus->second);
    smt_siblings(pins);
    one_node(pins);
  }

 private:
  void known_cpus(const std::string& key, const std::set<unsigned>& cpus) {
    for (unsigned cpu : cpus) {
      if (!host_.present.count(cpu)) {
        report(Severity::error, key,
               key + " names host CPU " + std::to_string(cpu) +
                   ", which the host does not have "
                   "(it has " +
                   listed(host_.present) + ")");
      } else if (!host_.online.count(cpu)) {
        report(Severity::error, key,
               key + " names host CPU " + std::to_string(cpu) + ", which is offline (online: " +
                   listed(host_.online) + "): bring it online, or pin another");
      } else {
        continue;
      }
      failed_ = true;
      return;
    }
  }

  // With `threads` > 1 the guest takes vCPUs 0 and 1 (and so on) for one core's threads: on host
  // CPUs that are not siblings they share no cache, and the guest schedules for the wrong core.
  void smt_siblings(const std::vector<std::set<unsigned>>& pins) {
    const unsigned threads = std::stoul(attribute_or("cpu.threads", "1"));
    if (threads < 2 || host_.siblings.empty()) return;
    for (std::size_t first = 0; first + threads <= pins.size(); first += threads) {
      std::set<unsigned> cpus;
      for (std::size_t i = first; i < first + threads; ++i)
        cpus.insert(pins[i].begin(), pins[i].end());
      if (cpus.empty()) continue;
      const auto siblings = host_.siblings.find(*cpus.begin());
      if (siblings == host_.siblings.end() ||
          std::includes(siblings->second.begin(), siblings->second.end(), cpus.begin(), cpus.end()))
        continue;
      report(Severity::warning, "cpu.pinning.vcpus",
             "vCPUs " + std::to_string(first) + (threads == 2 ? " and " : " to ") +
                 std::to_string(first + threads - 1) +
                 " are one core's threads in the guest (cpu.threads = " + std::to_string(threads) +
                 "), but run on host CPUs " + cpuset_text(cpus) +
                 ", which are not one core's: pin "
                 "them to SMT siblings, such as " +
                 cpuset_text(siblings->second));
      return;
    }
  }

  void one_node(const std::vector<std::set<unsigned>>& pins) {
    std::set<unsigned> nodes;
    for (const std::set<unsigned>& cpus : pins)
      for (unsigned cpu : cpus)
        if (const auto node = host_.node.find(cpu); node != host_.node.end())
          nodes.insert(node->second);
    if (nodes.size() < 2) return;
    report(Severity::warning, "cpu.pinning.vcpus",
           "the guest's vCPUs run on host CPUs of NUMA nodes " + cpuset_text(nodes) +
               ": its memory is on one of them, which the others reach more slowly; pin them "
               "within one node");
  }

  std::string attribute_or(const std::string& key, const std::string& otherwise) const {
    const auto found = vm_.attributes.find(key);
    return found == vm_.attributes.end() ? otherwise : found->second;
  }

  void report(Severity severity, const std::string& key, std::string message) {
    diagnostics_.push_back({severity, std::move(message), vm_.where_set(key), "vm." + vm_.key});
  }

  const Vm& vm_;
  const HostCpus& host_;
  Diagnostics& diagnostics_;
  bool failed_ = false;
};

}  // namespace

void check_cpu_pinning(const Desired& desired, const HostCpus& host, Diagnostics& diagnostics) {
  if (host.present.empty()) return;
  for (const Vm& vm : desired.vms) PinningCheck(vm, host, diagnostics).run();
}

}  // namespace virtform
