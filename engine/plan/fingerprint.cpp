#include "engine/plan/fingerprint.h"

#include <set>

#include "engine/model/digest.h"
#include "engine/model/text.h"
#include "engine/plan/model_json.h"

namespace virtform {

namespace {

std::set<std::string> named_domains(const Desired& desired, const Live& live) {
  std::set<std::string> names;
  for (const Vm& vm : desired.vms) names.insert(vm.name);
  for (const LiveDomain& domain : live.domains)
    if (domain.managed) names.insert(domain.vm.name);
  return names;
}

// One pass over the live domains (a lookup per name would be quadratic); a named domain that is
// absent is recorded by omission: its absence is what the plan saw.
void add_domains(const Desired& desired, const Live& live, Fingerprint& print) {
  const std::set<std::string> names = named_domains(desired, live);
  for (const LiveDomain& domain : live.domains) {
    if (names.count(domain.vm.name) == 0) continue;
    print.emplace("domain " + domain.vm.name, domain_fingerprint(domain));
  }
}

// What the safety checks read about a whole disk: whether the host itself still uses it.
std::string block_state(const HostDevices& devices, const std::string& path) {
  const BlockDevice* block = devices.resolve_block(path);
  if (!block) return "absent";
  std::string state = block->name;
  if (!block->mountpoints.empty()) state += ", mounted at " + join(block->mountpoints, " ");
  if (!block->holders.empty()) state += ", held by " + join(block->holders, " ");
  if (block->swap) state += ", swap";
  return state;
}

// What the passthrough checks read about a function: its driver and its IOMMU group's members
// with theirs.
std::string pci_state(const HostDevices& devices, const std::string& address) {
  const PciFunction* function = devices.find_pci(address);
  if (!function) return "absent";
  std::string state = "driver=" + function->driver;
  if (!function->iommu_group) return state;
  state += ", group " + std::to_string(*function->iommu_group) + ":";
  auto group = devices.iommu_groups.find(*function->iommu_group);
  if (group == devices.iommu_groups.end()) return state;
  for (const std::string& member : group->second) {
    const PciFunction* other = devices.find_pci(member);
    state += " " + member + "=" + (other ? other->driver : "?");
  }
  return state;
}

// Which domains use each disk source, image and PCI address: what the claim checks read.
using Claims = std::map<std::string, std::vector<std::string>>;

Claims claims_of(const Live& live) {
  Claims claims;
  for (const LiveDomain& domain : live.domains) {
    for (const Disk& disk : domain.vm.disks) claims[disk.source].push_back(domain.vm.name);
    for (const PciDevice& device : domain.vm.pci) claims[device.address].push_back(domain.vm.name);
  }
  return claims;
}

// The domains other than the VM's own that already use `source`.
std::string claimants(const Claims& claims, const Vm& vm, const std::string& source) {
  std::vector<std::string> others;
  if (auto found = claims.find(source); found != claims.end())
    for (const std::string& name : found->second)
      if (name != vm.name) others.push_back(name);
  return others.empty() ? "none" : join(others, " ");
}

void add_named_resources(const Desired& desired, const Live& live, Fingerprint& print) {
  const Claims claims = claims_of(live);
  for (const Vm& vm : desired.vms) {
    for (const Nic& nic : vm.nics) {
      if (nic.kind == NicSource::network) {
        const LiveNetwork* network = live.find_network(nic.source);
        print["network " + nic.source] = !network          ? "absent"
                                         : network->active ? "active"
                                                           : "inactive";
      }
    }
    for (const Disk& disk : vm.disks) {
      if (disk.kind == DiskSource::file)
        print["file " + disk.source] = live.file_exists(disk.source) ? "present" : "absent";
      else
        print["disk " + disk.source] = block_state(live.devices, disk.source);
      print["claims on " + disk.source] = claimants(claims, vm, disk.source);
    }
    for (const PciDevice& device : vm.pci) {
      print["pci " + device.address] = pci_state(live.devices, device.address);
      print["claims on " + device.address] = claimants(claims, vm, device.address);
    }
  }
}

// Digests say only that something moved; plain states say how.
std::string describe_change(const std::string& resource, const std::string& then,
                            const std::string& now) {
  constexpr std::size_t kDigestLength = 64;
  if (then.size() == kDigestLength && now.size() == kDigestLength)
    return resource + " was redefined, started, stopped or had its autostart changed";
  return resource + ": " + then + " -> " + now;
}

}  // namespace

std::string domain_fingerprint(const LiveDomain& domain) {
  return sha256_hex(domain.xml + (domain.running ? "|running" : "|stopped") +
                    (domain.vm.autostart.value_or(false) ? "|autostart" : ""));
}

Fingerprint fingerprint(const Desired& desired, const Live& live) {
  Fingerprint print;
  add_domains(desired, live, print);
  add_named_resources(desired, live, print);
  return print;
}

std::string config_digest(const Desired& desired) {
  nlohmann::json model = {{"project", desired.project}, {"vms", nlohmann::json::array()}};
  for (const Vm& vm : desired.vms) model["vms"].push_back(vm_to_json(vm));
  for (const auto& [key, loader] : desired.loaders)
    model["loaders"][key] = {{"image", loader.image}, {"sha256", loader.sha256.value_or("")}};
  return sha256_hex(model.dump());
}

std::vector<std::string> staleness(const Fingerprint& then, const Fingerprint& now) {
  std::vector<std::string> reasons;
  for (const auto& [resource, digest] : then) {
    auto found = now.find(resource);
    if (found == now.end()) {
      reasons.push_back(resource + " is gone");
    } else if (found->second != digest) {
      reasons.push_back(describe_change(resource, digest, found->second));
    }
  }
  for (const auto& [resource, digest] : now)
    if (!then.count(resource)) reasons.push_back(resource + " appeared");
  return reasons;
}

}  // namespace virtform
