#include "engine/dsm/platforms.h"

#include <algorithm>
#include <array>

namespace virtform {
namespace {

// From the seed's table (xpenology.com, "DSM 7.x Loaders and Platforms"). RR's platforms.yml
// agrees on the mapping: apollolake, broadwellnk, broadwell, denverton and bromolow take
// SataPortMap; geminilake and v1000 are device-tree platforms.
constexpr std::array<DsmPlatform, 7> kPlatforms = {{
    {"DS918+", "apollolake", SlotMapping::sataportmap, OldestCpu::haswell, 8},
    {"DS3622xs+", "broadwellnk", SlotMapping::sataportmap, OldestCpu::any_x86_64, 24},
    {"DS920+", "geminilake", SlotMapping::device_tree, OldestCpu::haswell, 8},
    {"DS1621+", "v1000", SlotMapping::device_tree, OldestCpu::any_x86_64, 16},
    {"DS3617xs", "broadwell", SlotMapping::sataportmap, OldestCpu::any_x86_64, 24},
    {"DVA3221", "denverton", SlotMapping::sataportmap, OldestCpu::haswell, 16},
    {"DS3615xs", "bromolow", SlotMapping::sataportmap, OldestCpu::any_x86_64, 16},
}};

// QEMU's named x86 models that predate Haswell (no MOVBE/AVX2): what `qemu-system-x86_64 -cpu
// help` lists as Conroe ... IvyBridge and the Opteron generations, and the generic models.
// A model not listed here is not judged: newer ones (Haswell*, Broadwell*, Skylake*, EPYC*,
// `max`) show what DSM needs, and unknown vendor models might.
constexpr std::array<std::string_view, 20> kOlderThanHaswell = {
    "qemu64",      "qemu32",    "kvm64",      "kvm32",      "core2duo",   "coreduo",    "pentium",
    "pentium2",    "pentium3",  "486",        "Conroe",     "Penryn",     "Nehalem",    "Westmere",
    "SandyBridge", "IvyBridge", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4",
};

// Versioned and variant spellings name the same generation: "Nehalem-IBRS", "IvyBridge-v2".
bool is_generation(std::string_view cpu, std::string_view generation) {
  if (!cpu.starts_with(generation)) return false;
  return cpu.size() == generation.size() || cpu[generation.size()] == '-';
}

}  // namespace

std::span<const DsmPlatform> dsm_platforms() {
  return kPlatforms;
}

const DsmPlatform* find_dsm_platform(std::string_view model) {
  const auto found = std::find_if(kPlatforms.begin(), kPlatforms.end(),
                                  [&](const DsmPlatform& p) { return p.model == model; });
  return found == kPlatforms.end() ? nullptr : &*found;
}

std::string to_string(SlotMapping mapping) {
  return mapping == SlotMapping::sataportmap ? "sataportmap" : "device tree";
}

std::string to_string(OldestCpu cpu) {
  return cpu == OldestCpu::haswell ? "Haswell" : "any x86-64";
}

bool cpu_surely_older_than(const std::optional<std::string>& cpu, OldestCpu oldest) {
  if (oldest == OldestCpu::any_x86_64) return false;
  // Without a <cpu> element QEMU gives a KVM guest its qemu64-class default model.
  if (!cpu) return true;
  // Opteron_G5 (Piledriver) has no MOVBE either.
  if (is_generation(*cpu, "Opteron_G5")) return true;
  return std::any_of(kOlderThanHaswell.begin(), kOlderThanHaswell.end(),
                     [&](std::string_view old) { return is_generation(*cpu, old); });
}

}  // namespace virtform
