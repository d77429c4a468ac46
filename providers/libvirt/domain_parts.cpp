#include "providers/libvirt/domain_parts.h"

#include <algorithm>
#include <random>

#include "engine/model/digest.h"
#include "engine/model/vm_fields.h"
#include "engine/plan/model_json.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform::domain_parts {

namespace {

// Element names in the order libvirt writes them, where new ones are put.
const std::vector<std::string> kDomainOrder = {
    "name",      "uuid",      "genid",         "title",     "description", "metadata",
    "maxMemory", "memory",    "currentMemory", "blkiotune", "memtune",     "memoryBacking",
    "vcpu",      "iothreads", "cputune",       "resource",  "sysinfo",     "bootloader",
    "os",        "features",  "cpu",           "clock",     "on_poweroff", "on_reboot",
    "on_crash",  "pm",        "devices"};
const std::vector<std::string> kOsOrder = {"type",   "firmware", "loader", "nvram",   "kernel",
                                           "initrd", "cmdline",  "boot",   "bootmenu"};

// Any controller of the type will do, even libvirt's slower defaults (lsilogic, piix3-uhci):
// it is not virtio-scsi's place to replace what a live guest already uses. Only "none" is unusable.
bool has_usable_controller(const pugi::xml_node& devices, const char* type) {
  for (pugi::xml_node controller : devices.children("controller")) {
    if (std::string(controller.attribute("type").as_string()) == type &&
        std::string(controller.attribute("model").as_string()) != "none") {
      return true;
    }
  }
  return false;
}

// A controller of the type at `index`, even one of libvirt's slower default models; an element
// without an index is libvirt's index 0.
bool has_controller(const pugi::xml_node& devices, const char* type, unsigned index) {
  for (pugi::xml_node controller : devices.children("controller")) {
    if (std::string(controller.attribute("type").as_string()) == type &&
        controller.attribute("index").as_uint(0) == index &&
        std::string(controller.attribute("model").as_string()) != "none")
      return true;
  }
  return false;
}

pugi::xml_node add_controller(pugi::xml_node devices, const char* type, const char* model) {
  // A USB controller with model='none' forbids USB devices; it has to go before one is added.
  for (pugi::xml_node controller = devices.child("controller"); controller;) {
    pugi::xml_node next = controller.next_sibling("controller");
    if (std::string(controller.attribute("type").as_string()) == type &&
        std::string(controller.attribute("model").as_string()) == "none") {
      devices.remove_child(controller);
    }
    controller = next;
  }
  pugi::xml_node controller = devices.append_child("controller");
  controller.append_attribute("type") = type;
  if (model) controller.append_attribute("model") = model;
  return controller;
}

// A random (version 4) UUID: libvirt would make one at define, but the marker must record it.
std::string random_uuid() {
  std::random_device random;
  unsigned char bytes[16];
  for (unsigned char& byte : bytes) byte = static_cast<unsigned char>(random());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(bytes, sizeof bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// The domain's UUID, given one first if it has none (a new definition).
std::string domain_uuid(pugi::xml_node domain) {
  pugi::xml_node uuid = domain.child("uuid");
  if (!uuid) uuid = insert_ordered(domain, "uuid", kDomainOrder);
  if (std::string(uuid.text().as_string()).empty()) xml::set_text(uuid, random_uuid());
  return uuid.text().as_string();
}

// "1:" and 64 bits of SHA-256 over the owned fields as a saved plan writes them (the policy,
// recorded beside it, left out): enough to tell one applied definition from another, in a few
// bytes of every domain's XML. The number is the layout's version.
std::string applied_digest(const Vm& vm) {
  nlohmann::json owned = vm_to_json(vm);
  for (const char* policy : {"restart", "shutdown_timeout_s", "force_stop", "adopt"})
    owned.erase(policy);
  return "1:" + sha256_hex(owned.dump()).substr(0, 16);
}

}  // namespace

pugi::xml_node insert_ordered(pugi::xml_node parent, const char* name,
                              const std::vector<std::string>& order) {
  auto rank = [&](const std::string& element) {
    auto it = std::find(order.begin(), order.end(), element);
    return it == order.end() ? -1 : int(it - order.begin());
  };
  int own = rank(name);
  pugi::xml_node after;
  for (pugi::xml_node child : parent.children()) {
    int other = rank(child.name());
    if (other >= 0 && other < own) after = child;
    if (other > own)
      return after ? parent.insert_child_after(name, after)
                   : parent.insert_child_before(name, child);
  }
  return after ? parent.insert_child_after(name, after) : parent.append_child(name);
}

void set_marker(pugi::xml_node domain, const Vm& vm) {
  pugi::xml_node metadata = domain.child("metadata");
  if (!metadata) metadata = insert_ordered(domain, "metadata", kDomainOrder);
  pugi::xml_node marker;
  for (pugi::xml_node child : metadata.children())
    if (xml::in_namespace(child, kMetadataNamespace)) marker = child;
  if (!marker) {
    marker = metadata.append_child("virtform:vm");
    marker.append_attribute("xmlns:virtform") = kMetadataNamespace;
  }
  xml::set_attribute(marker, "key", vm.key);
  xml::set_attribute(marker, "project", vm.project);
  // Binds the marker to this domain: a copy of the definition under another UUID is not ours.
  xml::set_attribute(marker, "uuid", domain_uuid(domain));
  // What removal needs once the config no longer declares the VM.
  xml::set_attribute(marker, "restart", to_string(vm.restart));
  xml::set_attribute(marker, "force-stop", vm.force_stop ? "yes" : "no");
  xml::set_attribute(marker, "shutdown-timeout", std::to_string(vm.shutdown_timeout.count()));
  xml::set_attribute(marker, "applied", applied_digest(vm));
  // Every definition virtform writes settles a restart that had timed out.
  marker.remove_attribute("start-pending");
  // Loader images whose content the config names: a new image then shows in the plan.
  while (pugi::xml_node image = marker.first_child()) marker.remove_child(image);
  for (const Disk& disk : vm.disks) {
    if (!disk.sha256) continue;
    pugi::xml_node image = marker.append_child("virtform:image");
    image.append_attribute("path") = disk.source.c_str();
    image.append_attribute("sha256") = disk.sha256->c_str();
  }
  record_fragments(marker, vm.xml);
  // The TPM is the VM's while it declares one: taken out when [vm.X.tpm] goes, never otherwise.
  if (sets_table(vm, "tpm")) marker.append_child("virtform:tpm");
}

bool records_tpm(const pugi::xml_node& domain) {
  for (pugi::xml_node child : domain.child("metadata").children()) {
    if (!xml::in_namespace(child, kMetadataNamespace)) continue;
    for (pugi::xml_node record : child.children()) {
      const std::string name = record.name();
      if (name == "tpm" || name.ends_with(":tpm")) return true;
    }
  }
  return false;
}

namespace {

void set_bios(pugi::xml_node os) {
  os.remove_attribute("firmware");
  xml::remove_children(os, "firmware");
  xml::remove_children(os, "loader");
  xml::remove_children(os, "nvram");
}

// The <os><firmware> features libvirt's autoselection must match.
void set_firmware_feature(pugi::xml_node os, const char* name, bool enabled) {
  pugi::xml_node features = os_child(os, "firmware");
  pugi::xml_node feature = features.find_child_by_attribute("feature", "name", name);
  if (!feature) {
    feature = features.append_child("feature");
    feature.append_attribute("enabled");
    feature.append_attribute("name") = name;
  }
  xml::set_attribute(feature, "enabled", enabled ? "yes" : "no");
}

// libvirt's pick at each start: no image path, only the features it must have.
void set_autoselected(pugi::xml_node os, const Firmware& firmware) {
  xml::set_attribute(os, "firmware", "efi");
  pugi::xml_node loader = os.child("loader");
  if (loader && !std::string(loader.text().as_string()).empty()) {
    // A pinned image and its template: libvirt refuses them beside its own choice.
    xml::remove_children(os, "loader");
    os.child("nvram").remove_attribute("template");
  }
  if (!firmware.secure_boot) return;
  const bool secure = *firmware.secure_boot;
  set_firmware_feature(os, "secure-boot", secure);
  // Keys enrolled or not is the guest's own choice within Secure Boot (an empty key store is
  // one): asked for only when nothing says, and never without Secure Boot.
  pugi::xml_node keys =
      os.child("firmware").find_child_by_attribute("feature", "name", "enrolled-keys");
  if (secure && !keys) set_firmware_feature(os, "enrolled-keys", true);
  if (!secure && keys) set_firmware_feature(os, "enrolled-keys", false);
  if (pugi::xml_node pathless = os.child("loader")) {
    if (secure) {
      xml::set_attribute(pathless, "secure", "yes");
    } else {
      pathless.remove_attribute("secure");
    }
  }
}

void set_pinned(pugi::xml_node os, const Firmware& firmware) {
  pugi::xml_node loader = os.child("loader");
  // Unset, Secure Boot stays as the domain has it, with a new image too.
  std::optional<bool> secure = firmware.secure_boot;
  if (!secure && secure_boot(os).value_or(false)) secure = true;
  if (loader.text().as_string() != firmware.code || os.attribute("firmware")) {
    // An explicit code path replaces libvirt's own pick, which may have other requirements.
    os.remove_attribute("firmware");
    xml::remove_children(os, "firmware");
    xml::remove_children(os, "loader");
    loader = insert_ordered(os, "loader", kOsOrder);
    loader.append_attribute("readonly") = "yes";
    loader.append_attribute("type") = "pflash";
    xml::set_text(loader, firmware.code);
  }
  if (secure.value_or(false)) {
    xml::set_attribute(loader, "secure", "yes");
  } else if (secure) {
    loader.remove_attribute("secure");
  }
}

// Secure Boot keeps its variables out of the guest's reach only with SMM on.
void enable_smm(pugi::xml_node domain) {
  pugi::xml_node features = domain_child(domain, "features");
  pugi::xml_node smm = features.child("smm");
  if (!smm) smm = features.append_child("smm");
  xml::set_attribute(smm, "state", "on");
}

}  // namespace

void set_firmware(pugi::xml_node domain, const Firmware& firmware) {
  pugi::xml_node os = domain_child(domain, "os");
  if (firmware.kind == FirmwareKind::bios) {
    set_bios(os);
    return;
  }
  const bool live_uefi = os.attribute("firmware") ||
                         std::string(os.child("loader").attribute("type").as_string()) == "pflash";
  if (firmware.autoselect) {
    set_autoselected(os, firmware);
  } else if (!firmware.code.empty()) {
    set_pinned(os, firmware);
  } else {
    // Not resolved from the descriptors: libvirt's pick, or the one the domain has.
    if (!live_uefi) xml::set_attribute(os, "firmware", "efi");
    return;
  }
  if (firmware.secure_boot.value_or(false)) enable_smm(domain);
  if (firmware.vars_template.empty() && firmware.nvram.empty()) return;
  // libvirt's choice with the store libvirt names itself: nothing to write.
  if (firmware.autoselect && !os.child("nvram") &&
      firmware.nvram == default_nvram_path(domain.child("name").text().as_string()))
    return;
  pugi::xml_node nvram = os_child(os, "nvram");
  if (!firmware.vars_template.empty() && !firmware.autoselect)
    xml::set_attribute(nvram, "template", firmware.vars_template);
  if (!firmware.nvram.empty()) xml::set_text(nvram, firmware.nvram);
}

std::optional<bool> secure_boot(const pugi::xml_node& os) {
  if (os.child("loader").attribute("secure").as_bool(false)) return true;
  if (pugi::xml_node feature =
          os.child("firmware").find_child_by_attribute("feature", "name", "secure-boot"))
    return feature.attribute("enabled").as_bool(false);
  return std::nullopt;
}

void set_kernel(pugi::xml_node os, const DirectKernel& kernel) {
  auto set_or_remove = [&](const char* name, const std::string& value) {
    if (value.empty()) {
      xml::remove_children(os, name);
      return;
    }
    pugi::xml_node element = os.child(name);
    if (!element) element = insert_ordered(os, name, kOsOrder);
    xml::set_text(element, value);
  };
  set_or_remove("kernel", kernel.kernel);
  set_or_remove("initrd", kernel.initrd);
  set_or_remove("cmdline", kernel.cmdline);
}

// Every controller index up to the highest a disk of the bus sits on: libvirt would fill a gap
// with its own default model (lsilogic for scsi), which a guest may lack the driver for.
void add_indexed_controllers(pugi::xml_node devices, const std::vector<Disk>& disks, DiskBus bus,
                             unsigned first_added, const char* model) {
  std::optional<unsigned> highest;
  for (const Disk& disk : disks)
    if (disk.bus == bus) highest = std::max(highest.value_or(0), disk.controller.value_or(0));
  if (!highest) return;
  const std::string type = to_string(bus);
  for (unsigned index = first_added; index <= *highest; ++index) {
    if (has_controller(devices, type.c_str(), index)) continue;
    pugi::xml_node controller = add_controller(devices, type.c_str(), model);
    controller.append_attribute("index") = index;
  }
}

void add_disk_controllers(pugi::xml_node devices, const std::vector<Disk>& disks) {
  auto on = [&](DiskBus bus) {
    return std::any_of(disks.begin(), disks.end(), [&](const Disk& d) { return d.bus == bus; });
  };
  add_indexed_controllers(devices, disks, DiskBus::scsi, 0, "virtio-scsi");
  // SATA controller 0 is libvirt's to add: q35 has it built in, at the chipset's own address.
  add_indexed_controllers(devices, disks, DiskBus::sata, 1, nullptr);
  if (on(DiskBus::usb) && !has_usable_controller(devices, "usb")) {
    add_controller(devices, "usb", "qemu-xhci");
  }
}

pugi::xml_node domain_child(pugi::xml_node domain, const char* name) {
  pugi::xml_node child = domain.child(name);
  return child ? child : insert_ordered(domain, name, kDomainOrder);
}

pugi::xml_node os_child(pugi::xml_node os, const char* name) {
  pugi::xml_node child = os.child(name);
  return child ? child : insert_ordered(os, name, kOsOrder);
}

}  // namespace virtform::domain_parts
