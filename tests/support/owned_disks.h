#pragma once
// What plan owns of a live disk: the driver modes and the place only where the desired disk sets
// them (libvirt assigns a place, and virtform writes cache and io for block devices by default).

#include <algorithm>
#include <vector>

#include "engine/model/vm.h"

namespace virtform::test {

inline std::vector<Disk> owned_disks(std::vector<Disk> live, const std::vector<Disk>& desired) {
  for (Disk& disk : live) {
    auto wanted = std::find_if(desired.begin(), desired.end(),
                               [&](const Disk& d) { return d.source == disk.source; });
    if (wanted == desired.end()) continue;
    if (!wanted->cache) disk.cache.reset();
    if (!wanted->io) disk.io.reset();
    if (!wanted->controller) disk.controller.reset();
    if (!wanted->unit) disk.unit.reset();
  }
  return live;
}

}  // namespace virtform::test
