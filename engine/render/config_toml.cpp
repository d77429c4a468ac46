#include "engine/render/config_toml.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "engine/config/firmware.h"
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

// What the config assumes when a disk file's format is not written.
std::string default_format_for(const std::string& file) {
  return ends_with(file, ".qcow2") ? "qcow2" : "raw";
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

  void add_vm(const ImportSource& source) {
    const LiveDomain& domain = source.domain;
    if (!paths_are_absolute(domain.vm)) return;
    Vm vm = domain.vm;
    vm.key = key_for(domain);
    vm.project = desired_.project;
    vm.state.reset();  // left alone: importing does not decide whether the guest runs
    vm.xml = source.fragments;
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
    for (Disk& disk : vm.disks) keep_driver_modes(disk);
    check_disks(vm);
    check_firmware(vm);
    check_serial(vm);
    desired_.vms.push_back(std::move(vm));
  }

  // Pins only the disks that a guest made from the config would get elsewhere: placing one disk
  // can move the next, so pins are added until the layout gives every disk its live place.
  static void keep_disk_places(Vm& vm) {
    const Vm live = vm;
    for (Disk& disk : vm.disks) {
      disk.controller.reset();
      disk.unit.reset();
    }
    for (bool pinned = true; pinned;) {
      pinned = false;
      const Vm laid_out = lay_out_disks(vm, nullptr);
      for (std::size_t i = 0; i < vm.disks.size(); ++i) {
        const Disk& was = live.disks[i];
        if (!vm.disks[i].loader.empty() || !was.controller || !was.unit || vm.disks[i].unit ||
            describe_place(laid_out.disks[i]) == describe_place(was))
          continue;
        vm.disks[i].controller = was.controller;
        vm.disks[i].unit = was.unit;
        pinned = true;
      }
    }
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
    for (const PciDevice& device : vm.pci)
      if (device.rom) paths.emplace_back("ROM file of PCI device " + device.address, *device.rom);
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

  const HostFiles& files_;
  Diagnostics& warnings_;
  Desired desired_;
  std::set<std::string> keys_;         // VM keys handed out
  std::set<std::string> loader_keys_;  // loader keys handed out
};

// ---- Writing TOML ----------------------------------------------------------------------------

// "4 GiB" -> "4GiB", as the docs write sizes.
std::string size_text(std::uint64_t kib) {
  std::string text = format_kib(kib);
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  return text;
}

class TomlWriter {
 public:
  void line(const std::string& text) { out_ << text << "\n"; }
  void blank() { out_ << "\n"; }
  void string(const std::string& key, const std::string& value) {
    line(key + " = " + toml_string(value));
  }
  void integer(const std::string& key, std::uint64_t value) {
    line(key + " = " + std::to_string(value));
  }
  void boolean(const std::string& key, bool value) {
    line(key + " = " + (value ? "true" : "false"));
  }
  void text_block(const std::string& text) { out_ << text; }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

void write_loaders(TomlWriter& out, const Desired& desired) {
  for (const auto& [key, loader] : desired.loaders) {
    out.line("[loader." + key + "]");
    out.string("image", loader.image);
    if (loader.sha256) out.string("sha256", *loader.sha256);
    out.blank();
  }
}

void write_firmware(TomlWriter& out, const Firmware& firmware) {
  out.string("firmware", to_string(firmware.kind));
  if (firmware.kind != FirmwareKind::uefi) return;
  if (firmware.autoselect) out.boolean("firmware_autoselect", true);
  // Said when the guest has it, or when libvirt's choice is told to go without it.
  if (firmware.secure_boot && (*firmware.secure_boot || firmware.autoselect))
    out.boolean("secure_boot", *firmware.secure_boot);
  // The code exactly as the guest has it: another would change its firmware. Its template only
  // when known; the guest's store exists, so the plan needs none.
  if (!firmware.code.empty() && !firmware.autoselect) {
    out.string("firmware_code", firmware.code);
    if (!firmware.vars_template.empty()) out.string("firmware_vars", firmware.vars_template);
  }
  if (!firmware.nvram.empty()) out.string("nvram", firmware.nvram);
}

// The attribute rows of `table` ("" for [vm.X] itself) the VM has, but for what a domain has
// when nothing sets them. Returns whether it wrote any.
bool write_attribute_rows(TomlWriter& out, const Vm& vm, std::string_view table) {
  bool wrote = false;
  for (const VmField& field : vm_fields()) {
    const auto found = vm.attributes.find(std::string(field.key));
    if (field_table(field) != table || found == vm.attributes.end() || found->second == field.unset)
      continue;
    const std::string key(field_name(field));
    if (field.kind == FieldKind::boolean) {
      out.boolean(key, found->second == "true");
    } else if (field.kind == FieldKind::integer) {
      out.line(key + " = " + found->second);
    } else {
      out.string(key, found->second);
    }
    wrote = true;
  }
  return wrote;
}

// [vm.X.hyperv], [vm.X.clock], ...: each sub-table of rows the VM has a value in.
void write_attribute_tables(TomlWriter& out, const std::string& table, const Vm& vm) {
  for (std::string_view sub : field_tables()) {
    TomlWriter rows;
    if (!write_attribute_rows(rows, vm, sub)) continue;
    out.line("[" + table + "." + std::string(sub) + "]");
    out.text_block(rows.text());
    out.blank();
  }
}

void write_scalars(TomlWriter& out, const Vm& vm) {
  out.string("name", vm.name);
  out.string("type", to_string(vm.type));
  out.string("memory", size_text(vm.memory_kib));
  out.integer("vcpus", vm.vcpus);
  out.string("machine", vm.machine);
  write_firmware(out, vm.firmware);
  if (vm.cpu) out.string("cpu", *vm.cpu);
  if (vm.kernel) {
    out.string("kernel", vm.kernel->kernel);
    if (!vm.kernel->initrd.empty()) out.string("initrd", vm.kernel->initrd);
    if (!vm.kernel->cmdline.empty()) out.string("cmdline", vm.kernel->cmdline);
  }
  if (vm.state) out.string("state", to_string(*vm.state));
  if (vm.autostart) out.boolean("autostart", *vm.autostart);
  write_attribute_rows(out, vm, "");
  const Vm defaults;
  if (vm.restart != defaults.restart) out.string("restart", to_string(vm.restart));
  if (vm.shutdown_timeout != defaults.shutdown_timeout)
    out.string("shutdown_timeout", std::to_string(vm.shutdown_timeout.count()) + "s");
  if (vm.force_stop) out.boolean("force_stop", true);
  if (vm.adopt) out.boolean("adopt", true);
}

// [vm.X.boot]: `overlay` only where it is not the default one.
void write_boot(TomlWriter& out, const std::string& table, const Disk& disk, const Vm& vm,
                const Desired& desired) {
  out.line("[" + table + ".boot]");
  out.string("loader", disk.loader);
  out.string("bus", to_string(disk.bus));
  if (disk.backing.empty()) {
    out.boolean("overlay", false);
  } else if (disk.source != default_overlay_path(vm, desired.loaders.at(disk.loader))) {
    out.string("overlay", disk.source);
  }
  out.blank();
}

void write_disk(TomlWriter& out, const std::string& table, const Disk& disk) {
  out.line("[[" + table + ".disk]]");
  const bool block = disk.kind == DiskSource::block;
  out.string(block ? "source" : "file", disk.source);
  out.string("bus", to_string(disk.bus));
  if (!block && disk.format != default_format_for(disk.source)) out.string("format", disk.format);
  if (disk.readonly) out.boolean("readonly", true);
  if (disk.controller) out.integer("controller", *disk.controller);
  if (disk.unit) out.integer("unit", *disk.unit);
  if (disk.cache) out.string("cache", *disk.cache);
  if (disk.io) out.string("io", *disk.io);
  out.blank();
}

void write_nic(TomlWriter& out, const std::string& table, const Nic& nic) {
  out.line("[[" + table + ".nic]]");
  out.string(to_string(nic.kind), nic.source);
  out.string("model", nic.model);
  // The live MAC pairs this entry with its interface, whatever else changes.
  if (nic.mac) out.string("mac", *nic.mac);
  out.blank();
}

void write_pci(TomlWriter& out, const std::string& table, const PciDevice& device) {
  out.line("[[" + table + ".pci]]");
  out.string("address", device.address);
  if (device.bind) out.string("bind", *device.bind);
  if (!device.managed && !device.bind) out.boolean("managed", false);
  if (device.rom) out.string("rom", *device.rom);
  out.blank();
}

void write_vm(TomlWriter& out, const Vm& vm, const Desired& desired, const Diagnostics& warnings) {
  const std::string table = "vm." + vm.key;
  out.line("[" + table + "]");
  for (const Diagnostic& warning : warnings) {
    if (warning.resource != table) continue;
    std::string message = warning.message;
    const std::string prefix = "not expressed in virtform: ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    out.line("# not expressed: " + message);
  }
  write_scalars(out, vm);
  out.blank();
  for (const Disk& disk : vm.disks) {
    if (disk.loader.empty()) {
      write_disk(out, table, disk);
    } else {
      write_boot(out, table, disk, vm, desired);
    }
  }
  for (const Nic& nic : vm.nics) write_nic(out, table, nic);
  for (const PciDevice& device : vm.pci) write_pci(out, table, device);
  if (vm.graphics && vm.graphics->type != GraphicsType::none) {
    out.line("[" + table + ".graphics]");
    out.string("type", to_string(vm.graphics->type));
    if (!vm.graphics->listen.empty()) out.string("listen", vm.graphics->listen);
    out.blank();
  }
  if (vm.serial) {
    out.line("[" + table + ".serial]");
    out.string("type", vm.serial->type);
    out.blank();
  }
  write_attribute_tables(out, table, vm);
  for (const XmlFragment& fragment : vm.xml) {
    out.line("[[" + table + ".xml]]");
    if (!fragment.parent.empty()) out.string("parent", fragment.parent);
    out.string("xml", fragment.xml);
    out.blank();
  }
}

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

std::string render_config_toml(const Desired& desired, const Diagnostics& warnings) {
  TomlWriter out;
  if (desired.project != "default") {
    out.string("project", desired.project);
    out.blank();
  }
  write_loaders(out, desired);
  for (const Vm& vm : desired.vms) write_vm(out, vm, desired, warnings);
  std::string text = out.text();
  while (text.size() > 1 && text.ends_with("\n\n")) text.pop_back();
  return text;
}

std::string toml_string(const std::string& text) {
  std::string quoted = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\t':
        quoted += "\\t";
        break;
      case '\r':
        quoted += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04X", c);
          quoted += escape;
        } else {
          quoted += static_cast<char>(c);
        }
    }
  }
  return quoted + "\"";
}

}  // namespace virtform
