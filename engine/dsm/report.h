#pragma once
// What plan and `virtform host` show for a DSM guest: its model and, for a sataportmap model,
// the slot map of the desired layout and of the live guest's.

#include <optional>
#include <string>

#include "engine/dsm/platforms.h"
#include "engine/dsm/slot_map.h"
#include "engine/model/vm.h"

namespace virtform {

struct DsmReport {
  std::string model;         // "DS918+"
  std::string architecture;  // "apollolake"
  SlotMapping mapping = SlotMapping::sataportmap;
  // The map of the layout shown: none for a device-tree model, whose loader builds the slots.
  std::optional<DsmSlotMap> map;
  // The map of the guest as it is now, when there is one and it differs: the loader must be
  // rebuilt with the new values.
  std::optional<DsmSlotMap> live_map;

  bool operator==(const DsmReport&) const = default;
};

// The report for `vm` (which must be a DSM guest of a known model), against its live domain's
// model when there is one.
DsmReport dsm_report(const Vm& vm, const Vm* live);

// The live domain that is `vm`'s guest: by name, or the managed domain of its key.
const LiveDomain* find_live_guest(const Vm& vm, const Live& live);

}  // namespace virtform
