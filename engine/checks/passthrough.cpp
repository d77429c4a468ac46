#include "engine/checks/passthrough.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>

#include "engine/model/text.h"

namespace virtform {

namespace {

std::string vm_label(const Vm& vm) {
  return "vm." + vm.key;
}

// "0000:08:00.1 (Audio device, 1002:1637)"
std::string describe(const PciFunction& function) {
  return function.address + " (" + pci_class_name(function.class_code) + ", " + function.ids() +
         ")";
}

std::string disk_key(const HostDevices& host, const std::string& source) {
  const BlockDevice* block = host.resolve_block(source);
  return block != nullptr ? block->name : source;
}

// Spellings of one path ("/a//b", "/a/./b") claim the same file.
std::string image_key(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

void add_claim(std::vector<Claimant>& claimants, const Claimant& claimant) {
  for (const auto& existing : claimants) {
    if (existing.label == claimant.label) return;
  }
  claimants.push_back(claimant);
}

void add_vm_claims(const Vm& vm, const Claimant& claimant, const HostDevices& host,
                   Claims& claims) {
  for (const auto& device : vm.pci) add_claim(claims.pci[device.address], claimant);
  for (const auto& device : vm.mdevs) add_claim(claims.mdevs[device.uuid], claimant);
  for (const auto& disk : vm.disks) {
    if (disk.kind == DiskSource::block) {
      add_claim(claims.disks[disk_key(host, disk.source)], claimant);
    } else {
      Claimant image_claimant = claimant;
      image_claimant.readonly = disk.readonly;
      add_claim(claims.images[image_key(disk.source)], image_claimant);
      // The loader image beneath an overlay is only read: guests share it.
      image_claimant.readonly = true;
      if (!disk.backing.empty()) add_claim(claims.images[image_key(disk.backing)], image_claimant);
    }
  }
}

std::vector<std::string> labels_of(const std::map<std::string, std::vector<Claimant>>& map,
                                   const std::string& key) {
  std::vector<std::string> labels;
  if (const auto it = map.find(key); it != map.end()) {
    for (const auto& claimant : it->second) labels.push_back(claimant.label);
  }
  return labels;
}

std::vector<std::string> others(std::vector<std::string> labels, const std::string& self) {
  labels.erase(std::remove(labels.begin(), labels.end(), self), labels.end());
  return labels;
}

// What the host still does with a disk, or "" when nothing: "mounted at /srv; swap; held by md0".
std::string host_use(const BlockDevice& block) {
  std::vector<std::string> uses;
  if (!block.mountpoints.empty()) uses.push_back("mounted at " + join(block.mountpoints, ", "));
  if (block.swap) uses.push_back("active swap");
  if (!block.holders.empty()) uses.push_back("held by " + join(block.holders, ", "));
  return join(uses, "; ");
}

// Reports problems of one VM; keeps the context every rule needs in one place.
class VmChecker {
 public:
  VmChecker(const Vm& vm, const HostDevices& host, const Claims& claims, Diagnostics& diagnostics)
      : vm_(vm), host_(host), claims_(claims), diagnostics_(diagnostics), label_(vm_label(vm)) {
    for (const auto& device : vm.pci) passed_.insert(device.address);
  }

  void run() {
    if (!vm_.pci.empty()) check_host_support();
    for (const auto& device : vm_.pci) check_device(device);
    for (const auto& device : vm_.mdevs) check_mdev(device);
    for (const auto& disk : vm_.disks) {
      if (disk.kind == DiskSource::block) check_disk(disk);
      if (disk.kind == DiskSource::file) check_image_claims(disk);
    }
  }

 private:
  void report(Severity severity, const Location& where, std::string message) {
    diagnostics_.push_back({severity, std::move(message), where, label_});
  }

  void check_host_support() {
    const Location& where = vm_.pci.front().where;
    if (!host_.iommu_enabled) {
      report(Severity::error, where,
             label_ +
                 " passes PCI devices, but the host's IOMMU is off (no /sys/class/iommu, no "
                 "IOMMU groups): enable SVM/VT-d and IOMMU in the firmware setup, boot with "
                 "amd_iommu=on or intel_iommu=on, and check `dmesg | grep -i iommu`");
    }
    if (!host_.vfio_available) {
      report(Severity::error, where,
             label_ +
                 " passes PCI devices, but the vfio-pci driver cannot be found: install "
                 "the kernel's vfio modules and load them with `modprobe vfio-pci`");
    }
    for (const auto& device : vm_.pci) {
      if (device.bind && !host_.vfio_loaded && host_.vfio_available) {
        report(Severity::error, device.where,
               device.address + " is to be bound to " + *device.bind +
                   " by virtform, but the vfio_pci module is not loaded: run `modprobe vfio-pci` "
                   "and add it to /etc/modules-load.d/, or use managed = true");
        return;
      }
    }
  }

  // Where devices with the expected ids are now, as advice for a stale address.
  std::string relocation_hint(const PciDevice& device) const {
    if (!device.vendor || !device.device) {
      return "run `virtform host` to find the device's address";
    }
    std::vector<std::string> found;
    for (const auto* function : host_.find_pci_by_ids(*device.vendor, *device.device)) {
      found.push_back(function->address);
    }
    const std::string ids = *device.vendor + ":" + *device.device;
    if (found.empty()) return "no " + ids + " device is on this host at all";
    return "a " + ids + " device is now at " + join(found, ", ") +
           " (addresses move after BIOS "
           "updates and card changes): set address = \"" +
           found.front() + "\"";
  }

  bool check_identity(const PciDevice& device, const PciFunction* function) {
    if (function == nullptr) {
      report(Severity::error, device.where,
             "no PCI device at " + device.address + " on this host; " + relocation_hint(device));
      return false;
    }
    const bool vendor_differs = device.vendor && *device.vendor != function->vendor;
    const bool device_differs = device.device && *device.device != function->device;
    if (vendor_differs || device_differs) {
      report(Severity::error, device.where,
             device.address + " is " + describe(*function) + ", not the expected " +
                 device.vendor.value_or(function->vendor) + ":" +
                 device.device.value_or(function->device) + "; " + relocation_hint(device));
      return false;
    }
    return true;
  }

  void check_device(const PciDevice& device) {
    const PciFunction* function = host_.find_pci(device.address);
    if (!check_identity(device, function)) return;
    check_group(device, *function);
    check_pci_claims(device);
    check_storage_controller(device, *function);
    if (function->boot_vga) warn_boot_vga(device, *function);
    warn_siblings(device, *function);
  }

  void check_group(const PciDevice& device, const PciFunction& function) {
    if (!function.iommu_group || !checked_groups_.insert(*function.iommu_group).second) return;
    const auto blockers = group_blockers(host_, *function.iommu_group, label_, claims_);
    if (blockers.empty()) return;
    std::vector<std::string> listed;
    for (const auto& blocker : blockers) {
      listed.push_back(describe(*blocker.function) + " " + blocker.reason);
    }
    report(Severity::error, device.where,
           "IOMMU group " + std::to_string(*function.iommu_group) + " of " + device.address +
               " is not viable: " + join(listed, ", ") +
               ". A group goes to one guest as a whole: pass these to " + label_ +
               " as well, unbind them or bind them to vfio-pci, or move the device into a group "
               "of its own (ACS or ARI in the firmware setup, another slot)");
  }

  // libvirt takes a mediated device the host has made, for one guest at a time; making one (a
  // vGPU type of a parent GPU) is the host's own setup.
  void check_mdev(const MdevDevice& device) {
    if (!host_.mdevs.count(device.uuid)) {
      report(Severity::error, device.where,
             "mediated device " + device.uuid +
                 " does not exist on the host (/sys/bus/mdev/devices): make it first, for "
                 "example with mdevctl start -u " +
                 device.uuid + " -p <parent GPU> --type <vGPU type>");
      return;
    }
    const auto rivals = others(labels_of(claims_.mdevs, device.uuid), label_);
    if (!rivals.empty())
      report(Severity::error, device.where,
             "mediated device " + device.uuid + " is also claimed by " + join(rivals, ", ") +
                 "; it can belong to one guest only: remove it from all but one");
  }

  void check_pci_claims(const PciDevice& device) {
    const auto rivals = others(claims_.pci_labels(device.address), label_);
    if (rivals.empty()) return;
    report(Severity::error, device.where,
           device.address + " is also claimed by " + join(rivals, ", ") +
               "; a PCI function can belong to one guest only: remove it from all but one");
  }

  void check_storage_controller(const PciDevice& device, const PciFunction& function) {
    std::vector<std::string> problems;
    for (const auto& block : host_.blocks) {
      if (block.controller != device.address) continue;
      if (const std::string use = host_use(block); !use.empty()) {
        problems.push_back(block.name + " " + use);
      }
      const auto disk_owners = claims_.disk_labels(block.name);
      if (!disk_owners.empty()) {
        problems.push_back(block.name + " given as a whole disk to " + join(disk_owners, ", "));
      }
    }
    if (problems.empty()) return;
    report(Severity::error, device.where,
           device.address + " (" + pci_class_name(function.class_code) +
               ") controls disks still in use: " + join(problems, "; ") +
               ". Passing the controller would pull them out from under their users: unmount "
               "them, stop their swap, md/LVM/dm-crypt users or guests first, or pass only the "
               "free disks as whole disks");
  }

  void warn_boot_vga(const PciDevice& device, const PciFunction& function) {
    std::string message = device.address + " (" + pci_class_name(function.class_code) +
                          ") is the host's boot GPU: the host console goes dark while " + label_ +
                          " runs, and the firmware has already initialised it";
    if (!device.rom) message += "; set rom = to a dumped vBIOS so the guest can re-initialise it";
    report(Severity::warning, device.where, std::move(message));
  }

  // Functions of one physical device from one vendor belong together (GPU + HDMI audio): a
  // guest driver that finds half of them fails, e.g. Windows' "Error 43" on an APU without its
  // audio. Siblings from another vendor (an APU's PSP and USB controllers) are separate devices.
  void warn_siblings(const PciDevice& device, const PciFunction& function) {
    std::vector<std::string> missing;
    for (const auto* sibling : host_.siblings(device.address)) {
      if (sibling->vendor == function.vendor && !sibling->is_bridge &&
          !passed_.contains(sibling->address)) {
        missing.push_back(describe(*sibling));
      }
    }
    if (missing.empty()) return;
    report(Severity::warning, device.where,
           device.address + " is one function of a multi-function device whose sibling " +
               join(missing, ", ") + (missing.size() == 1 ? " is" : " are") + " not passed to " +
               label_ +
               "; guest drivers often need all of them (a GPU without its audio function gives "
               "Windows \"Error 43\"): add a [[vm." +
               vm_.key + ".pci]] entry for each");
  }

  void check_disk(const Disk& disk) {
    const BlockDevice* block = host_.resolve_block(disk.source);
    // A missing source is reported by the host file checks, with the config's words.
    if (block == nullptr) return;
    if (const std::string use = host_use(*block); !use.empty()) {
      report(Severity::error, disk.where,
             disk.source + " (" + block->name + ") is in use on the host: " + use +
                 ". A guest writing to it would corrupt it: unmount it (and remove it from "
                 "/etc/fstab), swapoff it, or stop its md/LVM/dm-crypt users first");
    }
    const auto rivals = others(claims_.disk_labels(block->name), label_);
    if (!rivals.empty()) {
      report(Severity::error, disk.where,
             disk.source + " (" + block->name + ") is also given to " + join(rivals, ", ") +
                 "; two guests writing one disk destroy its file systems: keep it in one");
    }
    const std::string by_id = block->preferred_by_id_path();
    if (!disk.source.starts_with("/dev/disk/by-id/") && !by_id.empty()) {
      report(Severity::warning, disk.where,
             disk.source +
                 " is a kernel name that can point at another disk after a reboot or "
                 "a new drive; use source = \"" +
                 by_id + "\" (the same disk, " + format_disk_size(block->size_bytes) +
                 (block->model.empty() ? "" : " " + block->model) + ")");
    }
  }

  // Two guests writing one image corrupt it as surely as a shared disk; an image every guest
  // only reads (an installer ISO) can be shared. Declared VMs sharing a file are refused by the
  // config's own claim check already; here the rivals are the domains virtform does not manage.
  // An image file, a loader overlay or a loader image attached itself: no domain virtform does
  // not manage may write it too. The image beneath an overlay is only read, so readers share it.
  void check_image_claims(const Disk& disk) {
    const bool whole_loader = !disk.loader.empty() && disk.backing.empty();
    const std::string fix = whole_loader ? "give this VM an overlay (remove boot.overlay = false)"
                                         : "keep it in one, or set readonly = true on every " +
                                               std::string("guest that uses it");
    check_writers(disk.source, disk.readonly, disk.where, fix);
    if (!disk.backing.empty())
      check_writers(disk.backing, true, disk.where,
                    "keep loader." + disk.loader + "'s image out of other guests, or give " +
                        "them overlays on it");
  }

  void check_writers(const std::string& path, bool readonly, const Location& where,
                     const std::string& fix) {
    const auto found = claims_.images.find(image_key(path));
    if (found == claims_.images.end()) return;
    std::vector<std::string> rivals;
    for (const Claimant& claimant : found->second) {
      if (claimant.declared || (readonly && claimant.readonly)) continue;
      rivals.push_back(claimant.label);
    }
    if (rivals.empty()) return;
    report(Severity::error, where,
           path + " is also used by " + join(rivals, ", ") +
               "; two guests writing one image destroy its file systems: " + fix);
  }

  const Vm& vm_;
  const HostDevices& host_;
  const Claims& claims_;
  Diagnostics& diagnostics_;
  std::string label_;             // "vm.<key>"
  std::set<std::string> passed_;  // addresses this VM passes
  std::set<int> checked_groups_;  // groups already judged, one message per group
};

}  // namespace

std::vector<std::string> Claims::pci_labels(const std::string& address) const {
  return labels_of(pci, address);
}

std::vector<std::string> Claims::disk_labels(const std::string& name) const {
  return labels_of(disks, name);
}

Claims collect_claims(const Desired& desired, const Live& live, const HostDevices& host,
                      bool include_undeclared_managed) {
  Claims claims;
  std::set<std::string> declared_names;
  for (const auto& vm : desired.vms) {
    declared_names.insert(vm.name);
    add_vm_claims(vm, {vm_label(vm), vm.name, true}, host, claims);
  }
  for (const auto& domain : live.domains) {
    if (declared_names.contains(domain.vm.name)) continue;
    // This plan removes its own project's undeclared domains; another project's stay, and keep
    // their disks, images and devices.
    if (domain.managed && domain.vm.project == desired.project && !include_undeclared_managed)
      continue;
    // Disks virtform cannot express (an IDE disk) use their storage all the same.
    Vm uses = domain.vm;
    std::copy_if(domain.unexpressed_disks.begin(), domain.unexpressed_disks.end(),
                 std::back_inserter(uses.disks), [](const Disk& d) { return !d.source.empty(); });
    add_vm_claims(uses, {"domain '" + domain.vm.name + "'", domain.vm.name, false}, host, claims);
  }
  return claims;
}

std::vector<GroupBlocker> group_blockers(const HostDevices& host, int group,
                                         const std::string& claimant_label, const Claims& claims) {
  std::vector<GroupBlocker> blockers;
  const auto members = host.iommu_groups.find(group);
  if (members == host.iommu_groups.end()) return blockers;
  for (const auto& address : members->second) {
    const PciFunction* function = host.find_pci(address);
    if (function == nullptr) continue;
    const auto owners = claims.pci_labels(address);
    if (std::find(owners.begin(), owners.end(), claimant_label) != owners.end()) continue;
    if (!owners.empty()) {
      blockers.push_back({function, "passed to " + join(owners, ", ")});
      continue;
    }
    const std::string& driver = function->driver;
    if (function->is_bridge || driver.empty() || driver == "vfio-pci" || driver == "pci-stub") {
      continue;
    }
    blockers.push_back({function, "on host driver " + driver});
  }
  return blockers;
}

void check_passthrough(const Desired& desired, const Live& live, const HostDevices& host,
                       Diagnostics& diagnostics) {
  const Claims claims = collect_claims(desired, live, host, false);
  for (const auto& vm : desired.vms) VmChecker(vm, host, claims, diagnostics).run();
}

}  // namespace virtform
