#pragma once
// The Synology models the XPEnology loaders (TinyCore RedPill, ARPL, RR) build for, as data:
// the platform each runs on, how its loader tells DSM which disk sits in which slot, and the
// host CPU it needs. Validation, the slot map and the docs all read this one table.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace virtform {

// How the loader maps the guest's disks to DSM's drive slots.
enum class SlotMapping {
  sataportmap,  // kernel arguments SataPortMap / DiskIdxMap, from the layout
  device_tree,  // the loader builds a device tree from the controllers it finds at boot
};

// The oldest host CPU generation the model's DSM kernel runs on.
enum class OldestCpu {
  any_x86_64,
  haswell,  // needs MOVBE, AVX2 and friends: Haswell or newer
};

struct DsmPlatform {
  std::string_view model;         // "DS918+", as the loaders' model lists spell it
  std::string_view architecture;  // "apollolake": the loaders' platform name
  SlotMapping mapping = SlotMapping::sataportmap;
  OldestCpu oldest_cpu = OldestCpu::any_x86_64;
  unsigned max_threads = 8;  // DSM uses at most this many CPU threads
};

// Every model, in the order the docs list them.
std::span<const DsmPlatform> dsm_platforms();
// The model named `model` (exact spelling), or nullptr.
const DsmPlatform* find_dsm_platform(std::string_view model);

std::string to_string(SlotMapping mapping);  // "sataportmap", "device tree"
std::string to_string(OldestCpu cpu);        // "any x86-64", "Haswell"

// Whether the guest CPU `cpu` (the VM's cpu key; unset is libvirt's default, a qemu64-class
// model) surely lacks what `oldest` needs. Only models known to be older say yes: host CPU
// modes, `max`, Haswell and newer, and models not known here say no.
bool cpu_surely_older_than(const std::optional<std::string>& cpu, OldestCpu oldest);

}  // namespace virtform
