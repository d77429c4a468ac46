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

// The loader disk is the VM's qcow2 overlay on the image (read_boot chose qcow2), or the image.
void attach(Disk& disk, const Vm& vm, const Loader& loader) {
  disk.sha256 = loader.sha256;
  if (disk.format != "qcow2") {
    disk.source = loader.image;
    return;
  }
  disk.backing = loader.image;
  if (disk.source.empty()) disk.source = default_overlay_path(vm, loader);
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
        attach(disk, vm, found->second);
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

// A loader image attached itself (overlay = false) is written by its guest: no other guest may
// read it through an overlay, whose contents would no longer match what is beneath them.
void check_loader_writers(const Desired& desired, Diagnostics& diagnostics) {
  std::map<std::string, const Vm*> writers;
  for (const Vm& vm : desired.vms)
    for (const Disk& disk : vm.disks)
      if (!disk.loader.empty() && disk.backing.empty()) writers.emplace(disk.source, &vm);
  for (const Vm& vm : desired.vms) {
    for (const Disk& disk : vm.disks) {
      const auto writer = writers.find(disk.backing);
      if (disk.backing.empty() || writer == writers.end()) continue;
      diagnostics.push_back(
          {Severity::error,
           "loader." + disk.loader + "'s image " + disk.backing + " is attached itself by " +
               resource_of(*writer->second) + " (boot.overlay = false), which writes to it, so " +
               resource_of(vm) + " cannot boot from it through an overlay; give " +
               resource_of(*writer->second) + " an overlay too",
           disk.where, resource_of(vm)});
    }
  }
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
    // A loader image boots several guests through their overlays: each overlay is its guest's.
    for (const Disk& disk : vm.disks)
      claim(disks, disk.source, "disk", vm, disk.where, diagnostics);
    for (const PciDevice& device : vm.pci) {
      claim(devices, device.address, "PCI device", vm, device.where, diagnostics);
    }
  }
}

}  // namespace

void resolve_references(Desired& desired, Diagnostics& diagnostics) {
  attach_loader_images(desired, diagnostics);
  check_claims(desired, diagnostics);
  check_loader_writers(desired, diagnostics);
}

}  // namespace virtform
