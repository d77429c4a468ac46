#pragma once
// The libvirt side of engine/model/disk_options.h: where each disk option lives in a <disk>, as
// libvirt 9 writes it back. One row per option.

#include <pugixml.hpp>
#include <span>
#include <string_view>

#include "engine/model/vm.h"

namespace virtform {

struct DiskField {
  std::string_view key;   // the key of its engine row
  std::string_view path;  // below <disk> (field_path.h): "driver/@discard", "serial"
};

std::span<const DiskField> disk_fields();

// Every option the <disk> has into disk.options, in the engine row's canonical form.
void read_disk_options(const pugi::xml_node& disk_element, Disk& disk);
// Every option `disk` sets, into the <disk>; an option it leaves unset stays as it is.
void write_disk_options(pugi::xml_node disk_element, const Disk& disk);

}  // namespace virtform
