#include "engine/import/importer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "engine/config/firmware.h"
#include "engine/model/values.h"
#include "engine/model/vm_fields.h"
#include "engine/plan/disk_layout.h"

namespace virtform {
namespace {

bool is_valid_key(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

// `key`, or key-2, key-3, ... when it is taken.
std::string unique_key(const std::string& key, std::set<std::string>& taken) {
  std::string candidate = key;
  for (int n = 2; !taken.insert(candidate).second; ++n) candidate = key + "-" + std::to_string(n);
  return candidate;
}

std::string file_name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "tinycore-redpill-uefi.v0.9.2.9.img" -> "tinycore-redpill-uefi-v0-9-2-9".
std::string loader_key_for(const std::string& image) {
  std::string stem = file_name_of(image);
  const auto dot = stem.rfind('.');
  if (dot != std::string::npos && dot > 0) stem.erase(dot);
  return resource_key_from(stem);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The loader disk the config makes from [vm.X.boot] is exactly this: writable, first in the boot
// order, a raw image or a qcow2 overlay on one. Only the usb bus is taken as a loader: a disk
// booted first on another bus is the guest's own system disk.
bool may_be_loader_disk(const Disk& disk) {
  return disk.kind == DiskSource::file && disk.bus == DiskBus::usb &&
         (disk.format == "raw" || disk.format == "qcow2") && !disk.readonly &&
         disk.boot_order == 1u;
}

class Importer {
 public:
  Importer(const HostFiles& files, Diagnostics& warnings) : files_(files), warnings_(warnings) {}

  Desired run(const std::vector<ImportSource>& sources) {
    desired_.project = project_of(sources);
    for (const ImportSource& source : sources) add_vm(source);
    return std::move(desired_);
  }

 private:
  // The project of the managed domains, when they have one other than the default.
  static std::string project_of(const std::vector<ImportSource>& sources) {
    for (const ImportSource& source : sources) {
      if (source.domain.managed && source.domain.vm.project != "default")
        return source.domain.vm.project;
    }
    return "default";
  }

  void warn(const Vm& vm, const std::string& message) {
    warnings_.push_back(
        {Severity::warning, "not expressed in virtform: " + message, {}, "vm." + vm.key});
  }

  std::string key_for(const LiveDomain& domain) {
    // A managed domain keeps its key, so the plan sees the same resource and no rename.
    const std::string wanted = domain.managed && is_valid_key(domain.vm.key)
                                   ? domain.vm.key
                                   : resource_key_from(domain.vm.name);
    return unique_key(wanted, keys_);
  }

  // A value libvirt has that a row's choices lack (a model virtform does not offer) is named,
  // not written: the reader would refuse the config. Left unset, the guest keeps it.
  void drop_unoffered_choices(Vm& vm) {
    for (const VmField& field : vm_fields()) {
      if (field.kind != FieldKind::choice) continue;
      const auto found = vm.attributes.find(std::string(field.key));
      if (found == vm.attributes.end() || std::find(field.choices.begin(), field.choices.end(),
                                                    found->second) != field.choices.end())
        continue;
      warn(vm, std::string(field.key) + " '" + found->second + "', which virtform does not offer");
      vm.attributes.erase(found);
    }
  }

  void add_vm(const ImportSource& source) {
    const LiveDomain& domain = source.domain;
    if (!paths_are_absolute(domain.vm)) return;
    Vm vm = domain.vm;
    vm.key = key_for(domain);
    vm.project = desired_.project;
    vm.state.reset();  // left alone: importing does not decide whether the guest runs
    vm.xml = source.fragments;
    drop_unoffered_choices(vm);
    vm.adopt = !domain.managed || domain.vm.project != desired_.project;
    // The policy virtform last applied, so that the imported config keeps it (and removal still
    // stops the guest as it did).
    if (domain.recorded_policy) {
      vm.restart = domain.recorded_policy->restart;
      vm.shutdown_timeout = domain.recorded_policy->shutdown_timeout;
      vm.force_stop = domain.recorded_policy->force_stop;
    }
    for (Diagnostic warning : source.unexpressed) {
      warning.resource = "vm." + vm.key;
      warnings_.push_back(std::move(warning));
    }
    if (domain.managed && domain.vm.project != desired_.project)
      warn(vm, "the domain belongs to the virtform project '" + domain.vm.project +
                   "'; adopting it moves it to '" + desired_.project + "'");
    take_loader(vm);
    keep_disk_places(vm);
    keep_shared_pci_slots(vm);
    for (Disk& disk : vm.disks) keep_driver_modes(disk);
    check_disks(vm);
    check_firmware(vm);
    check_serial(vm);
    check_console_password(vm);
    desired_.vms.push_back(std::move(vm));
  }

  // libvirt gives every host device a guest address; import keeps those of functions that share
  // a guest slot (a GPU and its audio as on the card), which a new definition would split.
  static void keep_shared_pci_slots(Vm& vm) {
    std::map<std::string, int> functions;
    for (const PciDevice& device : vm.pci)
      if (device.guest_address) ++functions[pci_slot(*device.guest_address)];
    for (PciDevice& device : vm.pci) {
      if (!device.guest_address || functions[pci_slot(*device.guest_address)] > 1) continue;
      device.guest_address.reset();
      device.multifunction = false;
    }
  }

  // Pins only the disks that a guest made from the config would get elsewhere: placing one disk
  // can move the next, so pins are added until the layout gives every disk its live place.
  // CD-ROM drives are placed after the disks of their bus, so they are pinned the same way.
  static void keep_disk_places(Vm& vm) {
    const Vm live = vm;
    for (std::vector<Disk>* list : {&vm.disks, &vm.cdroms}) {
      for (Disk& disk : *list) {
        disk.controller.reset();
        disk.unit.reset();
      }
    }
    for (bool pinned = true; pinned;) {
      const Vm laid_out = lay_out_disks(vm, nullptr);
      pinned = pin_moved(vm.disks, laid_out.disks, live.disks) |
               pin_moved(vm.cdroms, laid_out.cdroms, live.cdroms);
    }
  }

  // Pins each disk of `disks` whose place in `laid_out` is not the one it `had`; whether any was.
  static bool pin_moved(std::vector<Disk>& disks, const std::vector<Disk>& laid_out,
                        const std::vector<Disk>& had) {
    bool pinned = false;
    for (std::size_t i = 0; i < disks.size(); ++i) {
      const Disk& was = had[i];
      if (!disks[i].loader.empty() || !was.controller || !was.unit || disks[i].unit ||
          describe_place(laid_out[i]) == describe_place(was))
        continue;
      disks[i].controller = was.controller;
      disks[i].unit = was.unit;
      pinned = true;
    }
    return pinned;
  }

  // cache and io as the config writes them: left out where virtform writes the same by itself
  // (none and native for a whole disk), else exactly as the domain has them.
  static void keep_driver_modes(Disk& disk) {
    if (disk.kind != DiskSource::block) return;
    if (disk.cache == kBlockCache && disk.io == kBlockIo) {
      disk.cache.reset();
      disk.io.reset();
    } else if (!disk.cache) {
      disk.cache = "default";  // else virtform would write none and native
    }
  }

  // libvirt resolves a relative path against its own working directory, which the config cannot
  // know: virtform accepts absolute paths only, so such a domain is refused, not half-imported.
  bool paths_are_absolute(const Vm& vm) {
    std::vector<std::pair<std::string, std::string>> paths;  // (what, path)
    for (const Disk& disk : vm.disks) paths.emplace_back("disk source", disk.source);
    for (const Disk& cdrom : vm.cdroms)
      if (!cdrom.source.empty()) paths.emplace_back("CD-ROM image", cdrom.source);
    for (const PciDevice& device : vm.pci)
      if (device.rom) paths.emplace_back("ROM file of PCI device " + device.address, *device.rom);
    for (const Share& share : vm.shares)
      paths.emplace_back("source of share " + share.tag, share.source);
    paths.emplace_back("firmware_code", vm.firmware.code);
    paths.emplace_back("firmware_vars", vm.firmware.vars_template);
    paths.emplace_back("nvram", vm.firmware.nvram);
    if (vm.kernel) {
      paths.emplace_back("kernel", vm.kernel->kernel);
      paths.emplace_back("initrd", vm.kernel->initrd);
    }
    bool absolute = true;
    for (const auto& [what, path] : paths) {
      if (path.empty() || path.front() == '/') continue;
      warnings_.push_back({Severity::error,
                           "domain '" + vm.name + "': " + what + " '" + path +
                               "' is a relative path, which virtform cannot declare; make it "
                               "absolute in the domain (virsh edit " +
                               vm.name + ") and import again",
                           {},
                           "vm." + vm.key});
      absolute = false;
    }
    return absolute;
  }

  // The first usb file booted first that is a raw image, or a qcow2 overlay on one, becomes a
  // [loader.X] (shared when the image is), with the overlay as the VM's boot.overlay.
  void take_loader(Vm& vm) {
    auto found = std::find_if(vm.disks.begin(), vm.disks.end(), [&](const Disk& disk) {
      return may_be_loader_disk(disk) && !loader_image_of(disk).empty();
    });
    if (found == vm.disks.end()) return;
    const std::string image = loader_image_of(*found);
    if (image != found->source) found->backing = image;
    found->loader = loader_key(*found, image);
    std::rotate(vm.disks.begin(), found, found + 1);  // [vm.X.boot] is written first
  }

  // The raw image a loader disk boots: the disk itself, or the raw file beneath a qcow2 overlay;
  // "" when it is neither (a qcow2 of its own).
  std::string loader_image_of(const Disk& disk) const {
    if (disk.format == "raw") return disk.source;
    const auto overlay = files_.probe_image(disk.source);
    if (!overlay || overlay->backing_file.empty() || overlay->backing_file.front() != '/')
      return "";
    const std::string image = std::filesystem::path(overlay->backing_file).lexically_normal();
    const auto probe = files_.probe_image(image);
    // A recorded host's placeholder says nothing of the format: it stands for the loader image.
    if (!probe) return files_.is_regular_file(image) ? image : "";
    return probe->format == "raw" ? image : "";
  }

  std::string loader_key(const Disk& disk, const std::string& image) {
    for (const auto& [key, loader] : desired_.loaders)
      if (loader.image == image) return key;
    Loader loader;
    loader.key = unique_key(loader_key_for(image), loader_keys_);
    loader.image = image;
    // The digest virtform recorded for the image: declaring it keeps the content check.
    loader.sha256 = disk.sha256;
    desired_.loaders[loader.key] = loader;
    return loader.key;
  }

  void check_disks(const Vm& vm) {
    for (const Disk& disk : vm.disks) {
      // A boot order on a plain disk is not owned: it stays in the domain as it is.
      if (!disk.loader.empty()) continue;
      if (disk.kind == DiskSource::block && disk.format != "raw")
        warn(vm, "format '" + disk.format + "' of block device " + disk.source +
                     " (whole disks are raw; the plan shows the difference)");
    }
  }

  void check_firmware(Vm& vm) {
    Firmware& firmware = vm.firmware;
    if (firmware.kind != FirmwareKind::uefi || firmware.autoselect) return;
    if (firmware.vars_template.empty()) {
      // The guest's own store beside its code is no template: it is the state itself.
      const std::string vars = vars_template_for(firmware.code);
      if (vars != firmware.nvram) firmware.vars_template = vars;
    }
    if (firmware.nvram.empty())
      warn(vm, "UEFI without an NVRAM path; virtform gives it the default one");
  }

  // The template QEMU's descriptors pair with the code image; else OVMF's naming convention.
  std::string vars_template_for(const std::string& code) const {
    const std::string directory = kFirmwareDescriptorDirectory;
    for (const std::string& name : files_.list(directory)) {
      if (!ends_with(name, ".json")) continue;
      const std::string path = directory + "/" + name;
      auto text = files_.read(path);
      auto descriptor = text ? parse_firmware_descriptor(*text, path) : std::nullopt;
      if (descriptor && descriptor->executable == code && !descriptor->nvram_template.empty())
        return descriptor->nvram_template;
    }
    const auto at = code.rfind("CODE");
    if (at == std::string::npos) return "";
    std::string vars = code;
    vars.replace(at, 4, "VARS");
    return files_.exists(vars) ? vars : "";
  }

  void check_serial(Vm& vm) {
    // The walker names it (domain_ownership.h): not pty, no key owns it.
    if (vm.serial && vm.serial->type != "pty") vm.serial.reset();
  }

  // A password belongs in no config kept in git: the TOML writer leaves a commented
  // password_file under the console for the user to fill and uncomment.
  void check_console_password(const Vm& vm) {
    if (!vm.graphics || !vm.graphics->password) return;
    warnings_.push_back({Severity::warning,
                         "the console has a password, which import keeps out of the config: "
                         "write it to a file only root reads and name that file in the "
                         "commented password_file under [vm." +
                             vm.key +
                             ".graphics]; until then virtform leaves the password as it is",
                         {},
                         "vm." + vm.key});
  }

  const HostFiles& files_;
  Diagnostics& warnings_;
  Desired desired_;
  std::set<std::string> keys_;         // VM keys handed out
  std::set<std::string> loader_keys_;  // loader keys handed out
};

}  // namespace

std::string resource_key_from(const std::string& name) {
  if (name.empty()) return "vm";
  std::string key = name;
  std::replace_if(
      key.begin(), key.end(),
      [](unsigned char c) { return !(std::isalnum(c) || c == '-' || c == '_'); }, '-');
  return key;
}

Desired desired_from_live(const std::vector<ImportSource>& sources, const HostFiles& files,
                          Diagnostics& warnings) {
  return Importer(files, warnings).run(sources);
}

}  // namespace virtform
