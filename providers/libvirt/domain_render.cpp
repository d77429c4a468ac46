// render_domain_xml (a skeleton the merge fills) and the hot-plug device functions of
// domain_xml.h.

#include <vector>

#include "providers/libvirt/device_xml.h"
#include "providers/libvirt/domain_merge.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {

namespace {

void append_text(pugi::xml_node parent, const char* name, const std::string& text) {
  xml::set_text(parent.append_child(name), text);
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

void append_root_ports(pugi::xml_node devices, const Vm& vm) {
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

// What only a new domain is given, before the merge writes the VM into it: its name, the
// x86_64 guest type, ACPI and APIC, a UTC clock, libvirt's lifecycle defaults, the q35 root
// ports and a virtio balloon. None of it is owned; a fragment may replace it.
pugi::xml_node append_skeleton(pugi::xml_document& document, const Vm& vm) {
  pugi::xml_node domain = document.append_child("domain");
  append_text(domain, "name", vm.name.empty() ? vm.key : vm.name);
  domain.append_child("vcpu").append_attribute("placement") = "static";
  pugi::xml_node type = domain.append_child("os").append_child("type");
  type.append_attribute("arch") = "x86_64";
  xml::set_text(type, "hvm");
  pugi::xml_node features = domain.append_child("features");
  features.append_child("acpi");
  features.append_child("apic");
  domain.append_child("clock").append_attribute("offset") = "utc";
  append_text(domain, "on_poweroff", "destroy");
  append_text(domain, "on_reboot", "restart");
  append_text(domain, "on_crash", "destroy");
  pugi::xml_node devices = domain.append_child("devices");
  if (is_q35(vm.machine)) append_root_ports(devices, vm);
  devices.append_child("memballoon").append_attribute("model") = "virtio";
  return domain;
}

pugi::xml_node devices_of(const pugi::xml_document& document) {
  return document.child("domain").child("devices");
}

}  // namespace

std::string render_domain_xml(const Vm& vm) {
  pugi::xml_document document;
  merge_into_domain(append_skeleton(document, vm), vm);
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

std::string render_usb_xml(const UsbDevice& device) {
  pugi::xml_document document;
  return xml::save(device_xml::append_usb(document, device));
}

std::string render_input_xml(const InputDevice& input) {
  pugi::xml_document document;
  return xml::save(device_xml::append_input(document, input));
}

namespace {

// The first <name> under the domain's <devices> that `matches`, as XML; "" when none does.
template <typename Matches>
std::string find_device_element(const std::string& domain_xml, const char* name, Matches matches) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  for (pugi::xml_node element : devices_of(domain).children(name))
    if (matches(element)) return xml::save(element);
  return "";
}

}  // namespace

std::string find_device_xml(const std::string& domain_xml, const UsbDevice& device) {
  return find_device_element(domain_xml, "hostdev", [&](const pugi::xml_node& element) {
    const auto seen = device_xml::read_usb(element);
    return seen && names_usb(device, *seen);
  });
}

std::string find_device_xml(const std::string& domain_xml, const InputDevice& input) {
  return find_device_element(domain_xml, "input", [&](const pugi::xml_node& element) {
    return device_xml::same_input(element, input);
  });
}

std::string find_device_xml(const std::string& domain_xml, const Disk& disk) {
  return find_device_element(domain_xml, "disk", [&](const pugi::xml_node& element) {
    return device_xml::same_disk(element, disk);
  });
}

std::string cdrom_with_media_xml(const std::string& domain_xml, unsigned drive,
                                 const std::string& media) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  unsigned index = 0;
  for (pugi::xml_node element : devices_of(domain).children("disk")) {
    auto cdrom = device_xml::read_cdrom(element);
    if (!cdrom || index++ != drive) continue;
    cdrom->source = media;
    cdrom->boot_order.reset();  // a media change leaves the rest of the drive as it is
    device_xml::write_cdrom_settings(element, *cdrom);
    return xml::save(element);
  }
  return "";
}

std::string console_with_password_xml(const std::string& domain_xml, const std::string& password) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  pugi::xml_node graphics = devices_of(domain).child("graphics");
  if (!graphics) return "";
  xml::set_attribute(graphics, "passwd", password);
  // An expiry another tool set was the old password's.
  graphics.remove_attribute("passwdValidTo");
  return xml::save(graphics);
}

std::string find_device_xml(const std::string& domain_xml, const Nic& nic) {
  pugi::xml_document domain = xml::load(domain_xml, "domain definition");
  std::vector<pugi::xml_node> elements;
  std::vector<Nic> live;
  for (pugi::xml_node element : devices_of(domain).children("interface")) {
    if (auto read = device_xml::read_nic(element)) {
      elements.push_back(element);
      live.push_back(*read);
    }
  }
  // Paired as the plan and the merge pair NICs.
  const int match = match_nics({nic}, live).front();
  return match < 0 ? "" : xml::save(elements[static_cast<std::size_t>(match)]);
}

}  // namespace virtform
