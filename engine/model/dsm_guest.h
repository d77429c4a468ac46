#pragma once
// A VM declared as a Synology DSM (XPEnology) guest: [vm.X.dsm], or profile = "dsm".

#include <optional>
#include <string>

#include "engine/model/diagnostic.h"

namespace virtform {

struct DsmGuest {
  std::string model = "DS918+";  // a model of engine/dsm/platforms.h
  // What the loader's user_config.json holds (extra_cmdline), when the config says: plan checks
  // them against the map the disk layout gives.
  std::optional<std::string> sata_port_map;
  std::optional<std::string> disk_idx_map;
  // The loader carries the acpid extension, so DSM shuts down on ACPI's power button.
  bool acpid = false;
  // Config only: the table (or the profile key), and the two values.
  Location where;
  Location sata_port_map_where;
  Location disk_idx_map_where;

  bool operator==(const DsmGuest&) const = default;
};

}  // namespace virtform
