#pragma once
// Options of one disk described once, as engine/model/vm_fields.h describes a VM's attributes:
// each row is its key in [[vm.X.disk]], its value kind and bounds, the buses that take it, the
// rule it keeps with the disk's other keys, and its documentation. Values live in Disk::options
// as canonical text, absent when the configuration leaves the option alone, so the model, the
// plan's JSON, import's TOML and the diff carry every row without code of their own. The libvirt
// provider's matching table (providers/libvirt/disk_fields.cpp) reads and writes each one in a
// <disk>. A running guest takes none of them before its next boot.

#include <span>
#include <string>
#include <string_view>

#include "engine/model/vm_fields.h"

namespace virtform {

struct Disk;
struct Vm;
enum class DiskBus;

struct DiskOption {
  // key (in [[vm.X.disk]]), kind, choices, bounds, the characters a text refuses, what a disk
  // has when nothing sets it, and the docs' meaning, as a VM row has them.
  VmField field;
  // The buses whose disks take it; empty: every bus.
  std::span<const DiskBus> buses = {};
  // A rule across the disk's keys or its VM's: what is wrong with `value` and how to fix it, or
  // "" when it holds. nullptr: no such rule.
  std::string (*conflict)(const Vm& vm, const Disk& disk, const std::string& value) = nullptr;
};

// Every disk option, in the order plans show them.
std::span<const DiskOption> disk_options();
const DiskOption* find_disk_option(std::string_view key);

// Whether a disk on `bus` may set the option.
bool takes_option(const DiskOption& option, DiskBus bus);

// The option's value the way the config and libvirt agree on it: a WWN in lower case without
// libvirt's optional "0x", every other value as it is.
std::string canonical_option(const DiskOption& option, const std::string& value);

// The highest boot order a disk may take: libvirt reads it as an unsigned int, and no guest has
// more boot devices than this.
inline constexpr unsigned kLastBootOrder = 9999;

}  // namespace virtform
