#pragma once
// `virtform host`'s output: the host inventory (engine/checks/host_inventory.h) as a table or as
// JSON.

#include <string>

#include "engine/checks/host_inventory.h"

namespace virtform {

// Human table: a block per IOMMU group, then the disks. No colour; ends with a newline.
std::string render_host_text(const HostInventory& inventory);
// The same as JSON (pretty-printed), for scripts.
std::string render_host_json(const HostInventory& inventory);

}  // namespace virtform
