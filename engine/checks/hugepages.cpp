#include "engine/checks/hugepages.h"

#include <algorithm>
#include <map>

#include "engine/model/values.h"
#include "engine/model/vm_fields.h"

namespace virtform {
namespace {

constexpr const char* kKey = "memory_backing.hugepages";

struct Demand {
  const Vm* vm;
  std::uint64_t pages;
};

std::string pool_path(std::uint64_t page_kib) {
  return "/sys/kernel/mm/hugepages/hugepages-" + std::to_string(page_kib) + "kB";
}

std::string sizes_of(const HostDevices& host) {
  std::string text;
  for (const HugePagePool& pool : host.hugepages)
    text += (text.empty() ? "" : ", ") + whole_unit_size(pool.page_kib);
  return text;
}

// The guest already runs on huge pages of this size: the host's free count no longer has them.
bool holds_its_pages(const Vm& vm, const Live& live) {
  const LiveDomain* domain = live.find_domain(vm.name);
  if (!domain || !domain->running || !domain->booted) return false;
  const auto running = domain->booted->attributes.find(kKey);
  return running != domain->booted->attributes.end() && running->second == vm.attributes.at(kKey);
}

class HugepageCheck {
 public:
  HugepageCheck(const Live& live, Diagnostics& diagnostics)
      : live_(live), host_(live.devices), diagnostics_(diagnostics) {}

  void add(const Vm& vm) {
    const auto value = vm.attributes.find(kKey);
    if (value == vm.attributes.end() || value->second == "none" || host_.hugepages.empty()) return;
    const std::uint64_t page =
        hugepage_kib(value->second) ? hugepage_kib(value->second) : host_.default_hugepage_kib;
    if (page == 0) return;
    if (!pool_of(page)) {
      report(Severity::error, vm,
             "the host has no " + whole_unit_size(page) + " huge pages (it has " + sizes_of(host_) +
                 "): name one of those sizes");
      return;
    }
    if (holds_its_pages(vm, live_)) return;
    demands_[page].push_back({&vm, (vm.memory_kib + page - 1) / page});
  }

  void warn_short_pools() {
    for (const auto& [page, demands] : demands_) {
      std::uint64_t needed = 0;
      for (const Demand& demand : demands) needed += demand.pages;
      const HugePagePool& pool = *pool_of(page);
      if (needed <= pool.free) continue;
      const std::string who = demands.size() == 1 ? "the guest needs "
                                                  : "the " + std::to_string(demands.size()) +
                                                        " guests that take them need ";
      for (const Demand& demand : demands)
        report(Severity::warning, *demand.vm,
               "the host has " + std::to_string(pool.free) + " free " + whole_unit_size(page) +
                   " huge pages, and " + who + std::to_string(needed) +
                   ": libvirt would not start it. Reserve more: echo " +
                   std::to_string(pool.total + needed - pool.free) + " > " + pool_path(page) +
                   "/nr_hugepages (or hugepages= on the kernel's command line, at boot)");
    }
  }

 private:
  const HugePagePool* pool_of(std::uint64_t page) const {
    const auto found =
        std::find_if(host_.hugepages.begin(), host_.hugepages.end(),
                     [&](const HugePagePool& pool) { return pool.page_kib == page; });
    return found == host_.hugepages.end() ? nullptr : &*found;
  }

  void report(Severity severity, const Vm& vm, std::string message) {
    diagnostics_.push_back({severity, std::move(message), vm.where_set(kKey), "vm." + vm.key});
  }

  const Live& live_;
  const HostDevices& host_;
  Diagnostics& diagnostics_;
  std::map<std::uint64_t, std::vector<Demand>> demands_;  // by page size, in config order
};

}  // namespace

void check_hugepages(const Desired& desired, const Live& live, Diagnostics& diagnostics) {
  HugepageCheck check(live, diagnostics);
  for (const Vm& vm : desired.vms) check.add(vm);
  check.warn_short_pools();
}

}  // namespace virtform
