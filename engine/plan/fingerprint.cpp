#include "engine/plan/fingerprint.h"

#include <set>

#include "engine/model/digest.h"
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
    print.emplace("domain " + domain.vm.name,
                  sha256_hex(domain.xml + (domain.running ? "|running" : "|stopped") +
                             (domain.vm.autostart.value_or(false) ? "|autostart" : "")));
  }
}

void add_named_resources(const Desired& desired, const Live& live, Fingerprint& print) {
  for (const Vm& vm : desired.vms) {
    for (const Nic& nic : vm.nics) {
      if (nic.kind == NicSource::network) {
        const LiveNetwork* network = live.find_network(nic.source);
        print["network " + nic.source] = !network          ? "absent"
                                         : network->active ? "active"
                                                           : "inactive";
      }
    }
    for (const Disk& disk : vm.disks)
      if (disk.kind == DiskSource::file)
        print["file " + disk.source] = live.file_exists(disk.source) ? "present" : "absent";
    for (const PciDevice& device : vm.pci) {
      const PciFunction* function = live.devices.find_pci(device.address);
      print["pci " + device.address] = function ? "driver=" + function->driver : "absent";
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
