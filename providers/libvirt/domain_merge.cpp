// merge_domain_xml of domain_xml.h and the pass of domain_merge.h: patch the owned fields of a VM
// into a definition.

#include "providers/libvirt/domain_merge.h"

#include <algorithm>
#include <set>
#include <vector>

#include "engine/system/hypervisor.h"
#include "providers/libvirt/collection_merge.h"
#include "providers/libvirt/device_xml.h"
#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {

namespace {

// PCI controllers and guest PCI addresses of one chipset do not fit the other (pcie-root vs
// pci-root); on a switch between q35 and i440fx libvirt lays them out afresh.
void forget_pci_layout(pugi::xml_node devices) {
  for (pugi::xml_node device = devices.first_child(); device;) {
    pugi::xml_node next = device.next_sibling();
    bool pci_controller = std::string(device.name()) == "controller" &&
                          std::string(device.attribute("type").as_string()) == "pci";
    if (pci_controller) {
      devices.remove_child(device);
    } else if (pugi::xml_node address = device.child("address");
               std::string(address.attribute("type").as_string()) == "pci") {
      device.remove_child(address);
    }
    device = next;
  }
}

using domain_parts::domain_child;

void set_size(pugi::xml_node element, std::uint64_t kib) {
  xml::set_attribute(element, "unit", "KiB");
  xml::set_text(element, std::to_string(kib));
}

// With memory_max, the config declares the balloon (currentMemory) too. Without, it declares the
// maximum only and the balloon is the guest's owner's: one set below the maximum is kept, and only
// lowered to a smaller maximum; one at the maximum (or absent) follows the maximum, so a larger
// memory reaches the guest.
std::uint64_t current_memory_kib(pugi::xml_node domain, const Vm& desired) {
  if (desired.current_memory_kib) return current_memory_of(desired);
  const auto live_max = xml::size_kib(domain.child("memory"));
  const auto live_current = xml::size_kib(domain.child("currentMemory"));
  if (!live_max || !live_current || *live_current >= *live_max) return desired.memory_kib;
  return std::min(*live_current, desired.memory_kib);
}

// With vcpus_max, vcpus is the current count. Without, a current count a user set below the
// <vcpu> count is theirs, kept as long as it fits.
void merge_vcpus(pugi::xml_node vcpu, const Vm& desired) {
  const unsigned most = most_vcpus(desired);
  xml::set_text(vcpu, std::to_string(most));
  if (desired.vcpus_max && desired.vcpus < most) {
    xml::set_attribute(vcpu, "current", std::to_string(desired.vcpus));
  } else if (desired.vcpus_max || vcpu.attribute("current").as_uint(0) > most) {
    vcpu.remove_attribute("current");
  }
}

void merge_resources(pugi::xml_node domain, const Vm& desired) {
  xml::set_attribute(domain, "type", to_string(desired.type));
  const std::uint64_t current_kib = current_memory_kib(domain, desired);
  set_size(domain_child(domain, "memory"), desired.memory_kib);
  set_size(domain_child(domain, "currentMemory"), current_kib);
  merge_vcpus(domain_child(domain, "vcpu"), desired);
}

void merge_os(pugi::xml_node domain, const Vm& desired) {
  pugi::xml_node os = domain_child(domain, "os");
  pugi::xml_node type = os.child("type");
  if (!type) type = domain_parts::insert_ordered(os, "type", {"type"});
  std::string live_machine = type.attribute("machine").as_string();
  if (!same_machine(desired.machine, live_machine)) {
    // A definition that names no machine yet (a new domain's skeleton) has no other chipset's
    // layout to forget.
    if (!live_machine.empty() && is_q35(desired.machine) != is_q35(live_machine)) {
      forget_pci_layout(domain.child("devices"));
    }
    xml::set_attribute(type, "machine", desired.machine);
  }
  domain_parts::set_firmware(domain, desired.firmware);
  if (desired.kernel) domain_parts::set_kernel(os, *desired.kernel);
  // libvirt refuses <os><boot dev> next to per-device boot order, which virtform's disks carry.
  const auto has_order = [](const Disk& disk) { return disk.boot_order.has_value(); };
  bool ordered = std::any_of(desired.disks.begin(), desired.disks.end(), has_order) ||
                 std::any_of(desired.cdroms.begin(), desired.cdroms.end(), has_order);
  if (ordered) xml::remove_children(os, "boot");
}

// Target names a new or moved disk must not take: every disk's under <devices>, and those of the
// fragments' disks, which are put in after the keys'.
std::set<std::string> taken_targets(const pugi::xml_node& devices,
                                    const std::set<std::string>& fragment_targets) {
  std::set<std::string> taken = device_xml::used_targets(devices);
  taken.insert(fragment_targets.begin(), fragment_targets.end());
  return taken;
}

// Moves a kept disk element to the desired bus, under a target name free there.
void move_to_bus(pugi::xml_node element, const Disk& desired,
                 const std::set<std::string>& fragment_targets) {
  pugi::xml_node target = element.child("target");
  auto live_bus = xml::disk_bus(target.attribute("bus").as_string());
  if (live_bus == desired.bus) return;
  std::set<std::string> taken = taken_targets(element.parent(), fragment_targets);
  taken.erase(target.attribute("dev").as_string());
  xml::set_attribute(target, "dev", xml::disk_target(desired, taken));
  xml::set_attribute(target, "bus", to_string(desired.bus));
  // The old bus's address means nothing on the new one; libvirt assigns a fresh one unless the
  // layout placed the disk.
  xml::remove_children(element, "address");
}

// Updates a kept disk element to the desired bus, format, readonly flag and boot order.
void update_disk(pugi::xml_node element, const Disk& desired,
                 const std::set<std::string>& fragment_targets) {
  move_to_bus(element, desired, fragment_targets);
  device_xml::write_disk_settings(element, desired);
}

// CD-ROM drives pair in order, as the plan pairs them: the first declared drive is the guest's
// first, whatever ISO is in it.
std::vector<int> pair_in_order(const std::vector<Disk>& desired,
                               const std::vector<Candidate<Disk>>& candidates) {
  std::vector<int> pairs(desired.size(), -1);
  for (std::size_t d = 0; d < desired.size() && d < candidates.size(); ++d)
    pairs[d] = static_cast<int>(d);
  return pairs;
}

DeviceCollection<Disk> cdrom_collection(const std::set<std::string>& fragment_targets) {
  return {"disk", device_xml::read_cdrom, pair_in_order,
          [&fragment_targets](pugi::xml_node element, const Disk& cdrom) {
            move_to_bus(element, cdrom, fragment_targets);
            device_xml::write_cdrom_settings(element, cdrom);
          },
          [&fragment_targets](pugi::xml_node devices, const Disk& cdrom) {
            const std::string target =
                xml::disk_target(cdrom, taken_targets(devices, fragment_targets));
            device_xml::append_cdrom(devices, cdrom, target);
          }};
}

DeviceCollection<Disk> disk_collection(const std::set<std::string>& fragment_targets) {
  return {"disk", device_xml::read_disk, pair_by_identity<Disk, device_xml::same_disk>,
          [&fragment_targets](pugi::xml_node element, const Disk& disk) {
            update_disk(element, disk, fragment_targets);
          },
          [&fragment_targets](pugi::xml_node devices, const Disk& disk) {
            const std::string target =
                xml::disk_target(disk, taken_targets(devices, fragment_targets));
            device_xml::append_disk(devices, disk, target);
          }};
}

// Paired as the plan paired them, so the NIC the plan showed as kept is the one updated.
std::vector<int> pair_nics(const std::vector<Nic>& desired,
                           const std::vector<Candidate<Nic>>& candidates) {
  std::vector<Nic> live;
  for (const Candidate<Nic>& candidate : candidates) live.push_back(candidate.item);
  return match_nics(desired, live);
}

const DeviceCollection<Nic> kNics = {"interface", device_xml::read_nic, pair_nics,
                                     device_xml::update_nic, device_xml::append_nic};

const DeviceCollection<PciDevice> kHostdevs = {
    "hostdev", device_xml::read_hostdev, pair_by_identity<PciDevice, device_xml::same_hostdev>,
    device_xml::update_hostdev, device_xml::append_hostdev};

const DeviceCollection<UsbDevice> kUsb = {"hostdev", device_xml::read_usb,
                                          pair_by_identity<UsbDevice, device_xml::same_usb>,
                                          device_xml::update_usb, device_xml::append_usb};
const DeviceCollection<MdevDevice> kMdevs = {"hostdev", device_xml::read_mdev,
                                             pair_by_identity<MdevDevice, device_xml::same_mdev>,
                                             device_xml::update_mdev, device_xml::append_mdev};
const DeviceCollection<InputDevice> kInputs = {
    "input", device_xml::read_input, pair_by_identity<InputDevice, device_xml::same_input>,
    device_xml::update_input, device_xml::append_input};
const DeviceCollection<Share> kShares = {"filesystem", device_xml::read_share,
                                         pair_by_identity<Share, device_xml::same_share>,
                                         device_xml::update_share, device_xml::append_share};

void merge_devices(pugi::xml_node devices, const Vm& desired) {
  const std::set<std::string> fragment_targets = fragment_disk_targets(desired.xml);
  merge_collection(devices, disk_collection(fragment_targets), desired.disks);
  merge_collection(devices, cdrom_collection(fragment_targets), desired.cdroms);
  std::vector<Disk> on_controllers = desired.disks;
  on_controllers.insert(on_controllers.end(), desired.cdroms.begin(), desired.cdroms.end());
  domain_parts::add_disk_controllers(devices, on_controllers);
  merge_collection(devices, kNics, desired.nics);
  merge_collection(devices, kHostdevs, desired.pci);
  merge_collection(devices, kUsb, desired.usb);
  merge_collection(devices, kMdevs, desired.mdevs);
  merge_collection(devices, kInputs, desired.inputs);
  merge_collection(devices, kShares, desired.shares);
}

// libvirt gives a SPICE guest a SPICE audio backend and refuses it once SPICE is gone.
void drop_spice_audio(pugi::xml_node devices) {
  for (pugi::xml_node audio = devices.child("audio"); audio;) {
    pugi::xml_node next = audio.next_sibling("audio");
    if (std::string(audio.attribute("type").as_string()) == "spice") devices.remove_child(audio);
    audio = next;
  }
}

// The password virtform writes replaces the console's, and whatever expiry another tool gave
// the old one; none leaves both alone.
void set_console_password(pugi::xml_node graphics, const std::optional<std::string>& password) {
  if (!password) return;
  xml::set_attribute(graphics, "passwd", *password);
  graphics.remove_attribute("passwdValidTo");
}

// What a console keeps across a change of protocol: VNC and SPICE both take these.
const char* const kKeptGraphicsAttributes[] = {"passwd", "passwdValidTo", "connected", "keymap"};

void merge_graphics(pugi::xml_node devices, const std::optional<Graphics>& desired) {
  if (!desired) return;
  if (desired->type != GraphicsType::spice) drop_spice_audio(devices);
  pugi::xml_node live = devices.child("graphics");
  if (desired->type == GraphicsType::none) {
    xml::remove_children(devices, "graphics");
    return;
  }
  if (live && to_string(desired->type) == live.attribute("type").as_string()) {
    if (device_xml::graphics_listen(live) != desired->listen)
      device_xml::set_graphics_listen(live, desired->listen);
    device_xml::set_graphics_port(live, desired->port);
    device_xml::set_graphics_gl(live, *desired);
    set_console_password(live, desired->password);
    return;
  }
  pugi::xml_document fresh;
  device_xml::append_graphics(fresh, *desired);
  pugi::xml_node graphics = fresh.first_child();
  if (!live) {
    set_console_password(graphics, desired->password);
    devices.append_copy(graphics);
    return;
  }
  for (const char* name : kKeptGraphicsAttributes)
    if (pugi::xml_attribute kept = live.attribute(name))
      xml::set_attribute(graphics, name, kept.as_string());
  set_console_password(graphics, desired->password);
  if (!desired->port)
    device_xml::set_graphics_port(graphics, device_xml::fixed_graphics_port(live));
  devices.insert_copy_before(graphics, live);
  devices.remove_child(live);
}

void merge_serial(pugi::xml_node devices, const std::optional<Serial>& desired) {
  if (!desired) return;
  pugi::xml_node serial = devices.child("serial");
  if (!serial) {
    device_xml::append_serial(devices, *desired);
    return;
  }
  if (desired->type == serial.attribute("type").as_string()) return;
  device_xml::set_serial_type(serial, devices.child("console"), desired->type);
}

}  // namespace

std::string mark_start_pending_xml(const std::string& xml) {
  pugi::xml_document document = xml::load(xml, "domain definition");
  pugi::xml_node marker;
  for (pugi::xml_node child : document.child("domain").child("metadata").children())
    if (xml::in_namespace(child, kMetadataNamespace)) marker = child;
  if (!marker) throw SystemError("the domain does not carry virtform's marker");
  xml::set_attribute(marker, "start-pending", "yes");
  return xml::save(document);
}

std::optional<std::string> take_console_passwords(std::string& xml) {
  if (xml.find(" passwd=") == std::string::npos) return std::nullopt;
  pugi::xml_document document = xml::load(xml, "domain definition");
  const pugi::xml_node devices = document.child("domain").child("devices");
  std::optional<std::string> first;
  if (const pugi::xml_attribute password = devices.child("graphics").attribute("passwd"))
    first = password.value();
  for (pugi::xml_node graphics : devices.children("graphics")) {
    graphics.remove_attribute("passwd");
    graphics.remove_attribute("passwdValidTo");
  }
  xml = xml::save(document);
  return first;
}

std::string with_console_passwords(const std::string& xml, const std::string& secure_xml) {
  pugi::xml_document document = xml::load(xml, "domain definition");
  const pugi::xml_document secure = xml::load(secure_xml, "domain definition");
  pugi::xml_node graphics = document.child("domain").child("devices").child("graphics");
  pugi::xml_node holding = secure.child("domain").child("devices").child("graphics");
  for (; graphics && holding;
       graphics = graphics.next_sibling("graphics"), holding = holding.next_sibling("graphics")) {
    if (std::string_view(graphics.attribute("type").as_string()) !=
        holding.attribute("type").as_string())
      continue;
    for (const char* name : {"passwd", "passwdValidTo"})
      if (const pugi::xml_attribute kept = holding.attribute(name);
          kept && !graphics.attribute(name))
        xml::set_attribute(graphics, name, kept.value());
  }
  return xml::save(document);
}

void merge_into_domain(pugi::xml_node domain, const Vm& desired) {
  take_out_fragments(domain, desired.xml);  // first: they read what the marker recorded
  take_out_undeclared_tpm(domain, desired);
  domain_parts::set_marker(domain, desired);
  merge_resources(domain, desired);
  merge_os(domain, desired);
  pugi::xml_node devices = domain_child(domain, "devices");
  merge_devices(devices, desired);
  merge_graphics(devices, desired.graphics);
  merge_serial(devices, desired.serial);
  write_attributes(domain, desired);
  put_fragments(domain, desired.xml);
}

std::string merge_domain_xml(const std::string& live_xml, const Vm& desired) {
  pugi::xml_document document = xml::load(live_xml, "live domain definition");
  merge_into_domain(document.child("domain"), desired);
  return xml::save(document);
}

}  // namespace virtform
