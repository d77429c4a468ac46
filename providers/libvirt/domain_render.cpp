// render_domain_xml and the hot-plug device functions of domain_xml.h.

#include <set>

#include "engine/system/hypervisor.h"
#include "providers/libvirt/device_xml.h"
#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {

namespace {

void append_text(pugi::xml_node parent, const char* name, const std::string& text) {
  xml::set_text(parent.append_child(name), text);
}

void append_size(pugi::xml_node parent, const char* name, std::uint64_t kib) {
  pugi::xml_node element = parent.append_child(name);
  element.append_attribute("unit") = "KiB";
  xml::set_text(element, std::to_string(kib));
}

void render_os(pugi::xml_node domain, const Vm& vm) {
  pugi::xml_node os = domain.append_child("os");
  pugi::xml_node type = os.append_child("type");
  type.append_attribute("arch") = "x86_64";
  type.append_attribute("machine") = vm.machine.c_str();
  xml::set_text(type, "hvm");
  domain_parts::set_firmware(domain, vm.firmware);
  if (vm.kernel) domain_parts::set_kernel(os, *vm.kernel);
}

void render_features(pugi::xml_node domain) {
  pugi::xml_node features = domain_parts::domain_child(domain, "features");
  features.append_child("acpi");
  features.append_child("apic");
}

// The targets of the fragments' disks (a CD-ROM's sda): written after the keys' disks, yet
// theirs to keep.
std::set<std::string> fragment_targets(const std::vector<XmlFragment>& fragments) {
  std::set<std::string> used;
  for (const XmlFragment& fragment : fragments) {
    if (fragment.parent != "devices") continue;
    pugi::xml_document document;
    if (!document.load_string(fragment.xml.c_str())) continue;
    const char* dev = document.child("disk").child("target").attribute("dev").as_string();
    if (*dev) used.insert(dev);
  }
  return used;
}

void render_disks(pugi::xml_node devices, const Vm& vm) {
  const std::vector<Disk>& disks = vm.disks;
  std::set<std::string> used = fragment_targets(vm.xml);
  for (const Disk& disk : disks) {
    std::string target = xml::disk_target(disk, used);
    used.insert(target);
    device_xml::append_disk(devices, disk, target);
  }
  domain_parts::add_disk_controllers(devices, disks);
}

// q35 has no hot-pluggable slot of its own: libvirt gives each device a root port and no more,
// and puts the guest's own devices on the ports a definition lists first. So the ports are
// counted as one per device that takes one, plus a few spare ones, which let disks and NICs be
// hot-plugged into the running guest later.
constexpr std::size_t kSpareRootPorts = 4;

// Devices that take a PCIe root port of their own on q35: virtio disks, NICs, host devices, the
// virtio-scsi and USB controllers, the balloon. Counted generously: a spare port costs nothing.
std::size_t devices_on_root_ports(const Vm& vm) {
  std::size_t count = vm.nics.size() + vm.pci.size() + 3;  // USB, SCSI controllers, balloon
  for (const Disk& disk : vm.disks)
    if (disk.bus == DiskBus::virtio) ++count;
  return count;
}

void render_devices(pugi::xml_node domain, const Vm& vm) {
  pugi::xml_node devices = domain.append_child("devices");
  render_disks(devices, vm);
  if (is_q35(vm.machine)) {
    // Controllers without an index take the first free one, and index 0 must be the root.
    pugi::xml_node root = devices.append_child("controller");
    root.append_attribute("type") = "pci";
    root.append_attribute("index") = "0";
    root.append_attribute("model") = "pcie-root";
    const std::size_t ports = devices_on_root_ports(vm) + kSpareRootPorts;
    for (std::size_t port = 0; port < ports; ++port) {
      pugi::xml_node controller = devices.append_child("controller");
      controller.append_attribute("type") = "pci";
      controller.append_attribute("model") = "pcie-root-port";
    }
  }
  for (const Nic& nic : vm.nics) device_xml::append_nic(devices, nic);
  for (const PciDevice& device : vm.pci) device_xml::append_hostdev(devices, device);
  if (vm.graphics) device_xml::append_graphics(devices, *vm.graphics);
  if (vm.serial) device_xml::append_serial(devices, *vm.serial);
  devices.append_child("memballoon").append_attribute("model") = "virtio";
}

pugi::xml_node devices_of(const pugi::xml_document& document) {
  return document.child("domain").child("devices");
}

std::string save_or_empty(const pugi::xml_node& node) {
  return node ? xml::save(node) : "";
}

}  // namespace

std::string render_domain_xml(const Vm& vm) {
  pugi::xml_document document;
  pugi::xml_node domain = document.append_child("domain");
  domain.append_attribute("type") = to_string(vm.type).c_str();
  append_text(domain, "name", vm.name.empty() ? vm.key : vm.name);
  domain_parts::set_marker(domain, vm);
  append_size(domain, "memory", vm.memory_kib);
  append_size(domain, "currentMemory", vm.memory_kib);
  pugi::xml_node vcpu = domain.append_child("vcpu");
  vcpu.append_attribute("placement") = "static";
  xml::set_text(vcpu, std::to_string(vm.vcpus));
  render_os(domain, vm);
  render_features(domain);
  if (vm.cpu) domain_parts::write_cpu(domain.append_child("cpu"), *vm.cpu);
  domain.append_child("clock").append_attribute("offset") = "utc";
  append_text(domain, "on_poweroff", "destroy");
  append_text(domain, "on_reboot", "restart");
  append_text(domain, "on_crash", "destroy");
  render_devices(domain, vm);
  write_attributes(domain, vm);
  write_fragments(domain, vm.xml);
  return xml::save(document);
}

std::string render_disk_xml(const Disk& disk, const std::string& domain_xml) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  std::string target = xml::disk_target(disk, device_xml::used_targets(devices_of(domain)));
  pugi::xml_document document;
  return xml::save(device_xml::append_disk(document, disk, target));
}

std::string render_nic_xml(const Nic& nic) {
  pugi::xml_document document;
  return xml::save(device_xml::append_nic(document, nic));
}

std::string find_device_xml(const std::string& domain_xml, const Disk& disk) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  for (pugi::xml_node element : devices_of(domain).children("disk")) {
    if (device_xml::same_disk(element, disk)) return xml::save(element);
  }
  return "";
}

std::string find_device_xml(const std::string& domain_xml, const Nic& nic) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  pugi::xml_node fallback;
  for (pugi::xml_node element : devices_of(domain).children("interface")) {
    auto live = device_xml::read_nic(element);
    if (!live) continue;
    if (nic.mac) {
      if (live->mac == nic.mac) return xml::save(element);
    } else if (!fallback && live->kind == nic.kind && live->source == nic.source &&
               live->model == nic.model) {
      fallback = element;
    }
  }
  return save_or_empty(fallback);
}

}  // namespace virtform
