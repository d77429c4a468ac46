#include "engine/render/config_toml.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "engine/model/disk_options.h"
#include "engine/model/vm_fields.h"

namespace virtform {
namespace {

// What the config assumes when a disk file's format is not written.
std::string default_format_for(const std::string& file) {
  return file.ends_with(".qcow2") ? "qcow2" : "raw";
}

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

// `key = [items]`, the items already written as TOML values and joined.
std::string array_line(const std::string& key, const std::string& items) {
  std::string line = key;
  line += " = [";
  line += items;
  line += ']';
  return line;
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
    } else if (field.kind == FieldKind::names) {
      std::string list;
      for (const std::string& name : names_of(found->second)) {
        if (!list.empty()) list += ", ";
        list += toml_string(name);
      }
      out.line(array_line(key, list));
    } else if (field.kind == FieldKind::cpusets) {
      std::string list;
      for (const std::string& set : cpusets_of(found->second)) {
        const bool one_cpu = set.find_first_not_of("0123456789") == std::string::npos;
        if (!list.empty()) list += ", ";
        list += one_cpu ? set : toml_string(set);
      }
      out.line(array_line(key, list));
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

// A balloon set below the maximum is the guest's memory, under memory_max. Without a balloon
// nothing holds memory back, and the maximum alone is written (the config refuses the pair).
void write_memory(TomlWriter& out, const Vm& vm) {
  const std::uint64_t current = current_memory_of(vm);
  if (current == vm.memory_kib || !has_balloon(vm)) {
    out.string("memory", size_text(vm.memory_kib));
    return;
  }
  out.string("memory", size_text(current));
  out.string("memory_max", size_text(vm.memory_kib));
}

void write_scalars(TomlWriter& out, const Vm& vm) {
  out.string("name", vm.name);
  out.string("type", to_string(vm.type));
  write_memory(out, vm);
  out.integer("vcpus", vm.vcpus);
  if (vm.vcpus_max) out.integer("vcpus_max", *vm.vcpus_max);
  out.string("machine", vm.machine);
  write_firmware(out, vm.firmware);
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

// Each option in the table's order, an integer row as a TOML integer.
void write_disk_options(TomlWriter& out, const Disk& disk) {
  for (const DiskOption& option : disk_options()) {
    const auto found = disk.options.find(std::string(option.field.key));
    if (found == disk.options.end()) continue;
    if (option.field.kind == FieldKind::integer)
      out.line(found->first + " = " + found->second);
    else
      out.string(found->first, found->second);
  }
}

void write_cdrom(TomlWriter& out, const std::string& table, const Disk& cdrom) {
  out.line("[[" + table + ".disk]]");
  out.string("device", "cdrom");
  if (!cdrom.source.empty()) out.string("file", cdrom.source);
  out.string("bus", to_string(cdrom.bus));
  if (cdrom.controller) out.integer("controller", *cdrom.controller);
  if (cdrom.unit) out.integer("unit", *cdrom.unit);
  if (cdrom.boot_order) out.integer("boot", *cdrom.boot_order);
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
  if (disk.boot_order) out.integer("boot", *disk.boot_order);
  write_disk_options(out, disk);
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
  if (device.rombar) out.boolean("rombar", *device.rombar);
  if (device.guest_address) out.string("guest_address", *device.guest_address);
  out.blank();
}

void write_usb(TomlWriter& out, const std::string& table, const UsbDevice& device) {
  out.line("[[" + table + ".usb]]");
  if (!device.vendor.empty()) {
    out.string("vendor", device.vendor);
    out.string("product", device.product);
  }
  if (!device.port.empty()) out.string("port", device.port);
  if (!device.serial.empty()) out.string("serial", device.serial);
  // A port or serial finds the bus and device anew at each plan.
  if (device.bus && !is_placed_by_host(device)) {
    out.integer("bus", *device.bus);
    out.integer("device", *device.device);
  }
  if (device.optional) out.boolean("optional", true);
  out.blank();
}

void write_mdev(TomlWriter& out, const std::string& table, const MdevDevice& device) {
  out.line("[[" + table + ".mdev]]");
  out.string("uuid", device.uuid);
  if (device.model != "vfio-pci") out.string("model", device.model);
  if (device.display) out.boolean("display", true);
  out.blank();
}

void write_input(TomlWriter& out, const std::string& table, const InputDevice& input) {
  out.line("[[" + table + ".input]]");
  out.string("type", input.type);
  if (input.type != "evdev") {
    out.string("bus", input.bus);
  } else {
    out.string("source", input.source);
    if (input.grab) out.boolean("grab", true);
    if (!input.grab_toggle.empty()) out.string("grab_toggle", input.grab_toggle);
    if (input.repeat) out.boolean("repeat", true);
  }
  out.blank();
}

void write_share(TomlWriter& out, const std::string& table, const Share& share) {
  out.line("[[" + table + ".share]]");
  out.string("source", share.source);
  out.string("tag", share.tag);
  if (share.readonly) out.boolean("readonly", true);
  out.blank();
}

// A source already declared is kept; a password the console has but no source names is left
// for the user to put in a file, never written here.
void write_console_password_source(TomlWriter& out, const Vm& vm) {
  const Graphics& graphics = *vm.graphics;
  if (!graphics.password_file.empty()) {
    out.string("password_file", graphics.password_file);
  } else if (!graphics.password_env.empty()) {
    out.string("password_env", graphics.password_env);
  } else if (graphics.password) {
    out.line("# password_file = " + toml_string("/etc/virtform/" + vm.key + ".console-password"));
  }
}

void write_vm(TomlWriter& out, const Vm& vm, const Desired& desired, const Diagnostics& warnings) {
  const std::string table = "vm." + vm.key;
  out.line("[" + table + "]");
  for (const Diagnostic& warning : warnings) {
    if (warning.resource != table) continue;
    std::string message = warning.message;
    const std::string prefix = "not expressed in virtform: ";
    if (message.rfind(prefix, 0) == 0) message.replace(0, prefix.size(), "not expressed: ");
    out.line("# " + message);
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
  for (const Disk& cdrom : vm.cdroms) write_cdrom(out, table, cdrom);
  for (const Nic& nic : vm.nics) write_nic(out, table, nic);
  for (const PciDevice& device : vm.pci) write_pci(out, table, device);
  for (const UsbDevice& device : vm.usb) write_usb(out, table, device);
  for (const MdevDevice& device : vm.mdevs) write_mdev(out, table, device);
  for (const InputDevice& input : vm.inputs) write_input(out, table, input);
  for (const Share& share : vm.shares) write_share(out, table, share);
  if (vm.graphics && vm.graphics->type != GraphicsType::none) {
    out.line("[" + table + ".graphics]");
    out.string("type", to_string(vm.graphics->type));
    if (!vm.graphics->listen.empty()) out.string("listen", vm.graphics->listen);
    if (vm.graphics->port) out.integer("port", *vm.graphics->port);
    if (vm.graphics->gl.value_or(false)) out.boolean("gl", true);
    if (vm.graphics->rendernode) out.string("rendernode", *vm.graphics->rendernode);
    write_console_password_source(out, vm);
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
