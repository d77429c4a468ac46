#include "engine/config/references.h"

#include <map>
#include <vector>

#include "engine/config/keys.h"

namespace virtform {
namespace {

std::string resource_of(const Vm& vm) {
  return "vm." + vm.key;
}

// " (defined at dsm.toml:3:1)" or "" when the place is unknown.
std::string at(const Location& where) {
  return where.empty() ? "" : " at " + where.str();
}

void attach_loader_images(Desired& desired, Diagnostics& diagnostics) {
  std::vector<std::string> defined;
  for (const auto& [key, loader] : desired.loaders) defined.push_back(key);
  std::vector<std::string_view> candidates(defined.begin(), defined.end());
  for (Vm& vm : desired.vms) {
    std::erase_if(vm.disks, [&](Disk& disk) {
      if (disk.loader.empty()) return false;
      auto found = desired.loaders.find(disk.loader);
      if (found != desired.loaders.end()) {
        disk.source = found->second.image;
        disk.sha256 = found->second.sha256;
        return false;
      }
      std::string message = "boot.loader \"" + disk.loader + "\" is not defined";
      if (auto suggestion = keys::nearest(disk.loader, candidates)) {
        message += "; did you mean \"" + *suggestion + "\"?";
      } else if (candidates.empty()) {
        message += "; define it as [loader." + disk.loader + "] with image = \"...\"";
      }
      diagnostics.push_back({Severity::error, message, disk.where, resource_of(vm)});
      return true;
    });
  }
}

// The first place a thing was claimed, to name it when it is claimed again.
struct Claim {
  const Vm* vm;
  Location where;
};

// Reports `thing` when it was already claimed; records the claim otherwise.
void claim(std::map<std::string, Claim>& claims, const std::string& thing, const std::string& what,
           const Vm& vm, const Location& where, Diagnostics& diagnostics) {
  auto [it, inserted] = claims.try_emplace(thing, Claim{&vm, where});
  if (inserted) return;
  const Claim& first = it->second;
  std::string owner = first.vm == &vm ? "twice in " + resource_of(vm)
                                      : "by " + resource_of(*first.vm) + " and " + resource_of(vm);
  diagnostics.push_back({Severity::error,
                         what + " " + thing + " is used " + owner + " (first" + at(first.where) +
                             "); a " + what + " can belong to one guest only",
                         where, resource_of(vm)});
}

void check_claims(const Desired& desired, Diagnostics& diagnostics) {
  std::map<std::string, Claim> disks, devices, names;
  for (const Vm& vm : desired.vms) {
    auto [it, inserted] = names.try_emplace(vm.name, Claim{&vm, vm.where});
    if (!inserted) {
      diagnostics.push_back({Severity::error,
                             "domain name \"" + vm.name + "\" is used by " +
                                 resource_of(*it->second.vm) + at(it->second.where) + " and " +
                                 resource_of(vm) + "; libvirt domain names must be unique",
                             vm.where, resource_of(vm)});
    }
    for (const Disk& disk : vm.disks) {
      // One loader image may boot several guests: that is what [loader.X] is for.
      if (!disk.loader.empty()) continue;
      claim(disks, disk.source, "disk", vm, disk.where, diagnostics);
    }
    for (const PciDevice& device : vm.pci) {
      claim(devices, device.address, "PCI device", vm, device.where, diagnostics);
    }
  }
}

}  // namespace

void resolve_references(Desired& desired, Diagnostics& diagnostics) {
  attach_loader_images(desired, diagnostics);
  check_claims(desired, diagnostics);
}

}  // namespace virtform
