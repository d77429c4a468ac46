#include "providers/libvirt/domain_xml.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "providers/libvirt/device_xml.h"
#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_ownership.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {

namespace {

void warn(Diagnostics* unexpressed, const Vm& vm, const std::string& message) {
  if (!unexpressed) return;
  unexpressed->push_back(
      {Severity::warning, "not expressed in virtform: " + message, {}, "vm." + vm.key});
}

// virtform's metadata marker, or an empty node when the domain is not managed.
pugi::xml_node find_marker(const pugi::xml_node& domain) {
  for (pugi::xml_node child : domain.child("metadata").children()) {
    std::string name = child.name();
    bool is_vm = name == "vm" || (name.size() > 3 && name.compare(name.size() - 3, 3, ":vm") == 0);
    if (is_vm && xml::in_namespace(child, kMetadataNamespace)) return child;
  }
  return {};
}

// libvirt prints UUIDs in lower case with dashes; one typed by hand may differ in case only.
bool same_uuid(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The lifecycle policy the marker records, when it records one whole and well-formed.
std::optional<LifecyclePolicy> read_policy(const pugi::xml_node& marker) {
  const auto restart = enum_from_name(kRestartPolicyNames, marker.attribute("restart").as_string());
  const std::string force_stop = marker.attribute("force-stop").as_string();
  const pugi::xml_attribute timeout = marker.attribute("shutdown-timeout");
  if (!restart || (force_stop != "yes" && force_stop != "no")) return std::nullopt;
  const long long seconds = timeout.as_llong(-1);
  // The config's own bounds: apply adds the timeout to a clock in nanoseconds.
  if (seconds < 0 || seconds > std::numeric_limits<int>::max() ||
      std::to_string(seconds) != timeout.as_string())
    return std::nullopt;
  return LifecyclePolicy{*restart, std::chrono::seconds(seconds), force_stop == "yes"};
}

void read_identity(const pugi::xml_node& domain, LiveDomain& live, Diagnostics* unexpressed) {
  Vm& vm = live.vm;
  vm.name = domain.child("name").text().as_string();
  live.uuid = domain.child("uuid").text().as_string();
  const pugi::xml_node marker = find_marker(domain);
  // A marker without a UUID was written before markers recorded one: trusted, and bound to
  // this domain at its next update.
  const std::string marker_uuid = marker.attribute("uuid").as_string();
  live.copied = !marker.empty() && !marker_uuid.empty() && !same_uuid(marker_uuid, live.uuid);
  live.managed = !marker.empty() && !live.copied;
  if (live.managed) live.recorded_policy = read_policy(marker);
  live.recorded_tpm = live.managed && domain_parts::records_tpm(domain);
  live.start_pending = live.managed && marker.attribute("start-pending").as_bool(false);
  const std::string key = marker.attribute("key").as_string();
  vm.key = key.empty() ? vm.name : key;
  // Markers written before projects existed belong to the default project.
  vm.project = marker.attribute("project").as_string("default");
  const std::string type = domain.attribute("type").as_string();
  const auto known = enum_from_name(kDomainTypeNames, type);
  vm.type = known.value_or(DomainType::kvm);
  if (!known) warn(unexpressed, vm, "domain type '" + type + "'");
}

void read_resources(const pugi::xml_node& domain, Vm& vm) {
  if (auto kib = xml::size_kib(domain.child("memory"))) vm.memory_kib = *kib;
  vm.current_memory_kib = xml::size_kib(domain.child("currentMemory"));
  const pugi::xml_node vcpu = domain.child("vcpu");
  vm.vcpus = vcpu.text().as_uint(1);
  // A current count below the <vcpu> count: the guest can be given more while it runs.
  if (const pugi::xml_attribute current = vcpu.attribute("current")) {
    vm.vcpus_max = vm.vcpus;
    vm.vcpus = current.as_uint(vm.vcpus);
  }
}

void read_os(const pugi::xml_node& os, Vm& vm) {
  vm.machine = os.child("type").attribute("machine").as_string();
  pugi::xml_node loader = os.child("loader");
  bool pflash = std::string(loader.attribute("type").as_string()) == "pflash";
  bool efi = std::string(os.attribute("firmware").as_string()) == "efi";
  if (pflash || efi) {
    vm.firmware.kind = FirmwareKind::uefi;
    vm.firmware.autoselect = efi;
    vm.firmware.code = loader.text().as_string();
    vm.firmware.vars_template = os.child("nvram").attribute("template").as_string();
    vm.firmware.nvram = os.child("nvram").text().as_string();
    // libvirt 9.0 names the store of its own choice only in the running definition; it is
    // this one, and a rename or a new path must copy it like any other.
    if (efi && vm.firmware.nvram.empty()) vm.firmware.nvram = default_nvram_path(vm.name);
    vm.firmware.secure_boot = domain_parts::secure_boot(os);
  }
  if (pugi::xml_node kernel = os.child("kernel")) {
    vm.kernel = DirectKernel{kernel.text().as_string(), os.child("initrd").text().as_string(),
                             os.child("cmdline").text().as_string()};
  }
}

void read_disks(const pugi::xml_node& devices, LiveDomain& live) {
  for (pugi::xml_node element : devices.children("disk")) {
    if (auto disk = device_xml::read_disk(element)) {
      live.vm.disks.push_back(*disk);
      continue;
    }
    if (auto cdrom = device_xml::read_cdrom(element)) {
      live.vm.cdroms.push_back(*cdrom);
      continue;
    }
    pugi::xml_node source = element.child("source");
    Disk other;
    other.kind = source.attribute("dev") ? DiskSource::block : DiskSource::file;
    other.source = source.attribute("file").as_string(source.attribute("dev").as_string());
    other.readonly = element.child("readonly") ||
                     std::string(element.attribute("device").as_string()) == "cdrom";
    // Its unit is not free for a declared disk.
    if (auto bus = xml::disk_bus(element.child("target").attribute("bus").as_string())) {
      other.bus = *bus;
      if (has_units(other.bus)) device_xml::read_place(element, other);
    }
    if (!other.source.empty() || other.unit) live.unexpressed_disks.push_back(other);
  }
}

void read_nics(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("interface"))
    if (auto nic = device_xml::read_nic(element)) vm.nics.push_back(*nic);
}

// A SCSI host device sits at a unit of a guest SCSI controller as a disk would: that unit is not
// free for a declared disk.
void hold_scsi_hostdev_places(const pugi::xml_node& devices, LiveDomain& live) {
  for (pugi::xml_node element : devices.children("hostdev")) {
    if (std::string(element.attribute("type").as_string()) != "scsi") continue;
    Disk held;
    held.bus = DiskBus::scsi;
    if (device_xml::read_place(element, held) && held.unit) live.unexpressed_disks.push_back(held);
  }
}

void read_hostdevs(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("hostdev"))
    if (auto device = device_xml::read_hostdev(element)) vm.pci.push_back(*device);
}

void read_usb(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("hostdev"))
    if (auto device = device_xml::read_usb(element)) vm.usb.push_back(*device);
}

void read_mdevs(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("hostdev"))
    if (auto device = device_xml::read_mdev(element)) vm.mdevs.push_back(*device);
}

void read_inputs(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("input"))
    if (auto input = device_xml::read_input(element)) vm.inputs.push_back(*input);
}

void read_shares(const pugi::xml_node& devices, Vm& vm) {
  for (pugi::xml_node element : devices.children("filesystem"))
    if (auto share = device_xml::read_share(element)) vm.shares.push_back(*share);
}

void read_graphics(const pugi::xml_node& devices, Vm& vm) {
  vm.graphics = Graphics{};
  pugi::xml_node element = devices.child("graphics");
  if (!element) return;
  std::string type = element.attribute("type").as_string();
  if (type == "spice" || type == "vnc") {
    vm.graphics->type = type == "spice" ? GraphicsType::spice : GraphicsType::vnc;
    vm.graphics->listen = device_xml::graphics_listen(element);
    vm.graphics->port = device_xml::fixed_graphics_port(element);
    vm.graphics->gl = device_xml::graphics_gl(element);
    if (pugi::xml_attribute node = element.child("gl").attribute("rendernode"))
      vm.graphics->rendernode = node.value();
  }
}

void read_serial(const pugi::xml_node& devices, Vm& vm) {
  if (pugi::xml_node serial = devices.child("serial")) {
    vm.serial = Serial{serial.attribute("type").as_string("pty")};
  }
}

// What no key owns, kept for the fragments the config declares; named for import.
void read_unowned(const pugi::xml_node& domain, LiveDomain& live, Diagnostics* unexpressed) {
  Unowned unowned = find_unowned(domain);
  if (unexpressed) {
    for (std::size_t i = 0; i < unowned.elements.size(); ++i) {
      if (unowned.defaults[i] || unowned.shared[i]) continue;
      const XmlFragment& element = unowned.elements[i];
      // The device reader's own account where it has one: it says what it could not take.
      const std::string& reason = unowned.reasons[i];
      warn(unexpressed, live.vm,
           (element.parent.empty() ? "" : element.parent + "/") +
               (reason.empty() ? describe_element(element.element) : reason));
    }
    for (const std::string& part : unowned.parts) warn(unexpressed, live.vm, part);
  }
  live.unowned = std::move(unowned.elements);
}

// The loader image contents virtform recorded when it last wrote the definition.
void read_image_digests(const pugi::xml_node& marker, Vm& vm) {
  for (pugi::xml_node image : marker.children()) {
    const std::string name = image.name();
    if (name != "image" && !name.ends_with(":image")) continue;
    const std::string path = image.attribute("path").as_string();
    for (Disk& disk : vm.disks)
      if (disk.source == path) disk.sha256 = image.attribute("sha256").as_string();
  }
}

}  // namespace

LiveDomain parse_domain_xml(const std::string& text, Diagnostics* unexpressed,
                            UnownedParts unowned) {
  pugi::xml_document document = xml::load(text, "domain definition");
  pugi::xml_node domain = document.child("domain");
  LiveDomain live;
  live.xml = text;
  read_identity(domain, live, unexpressed);
  Vm& vm = live.vm;
  read_resources(domain, vm);
  read_os(domain.child("os"), vm);
  pugi::xml_node devices = domain.child("devices");
  read_disks(devices, live);
  hold_scsi_hostdev_places(devices, live);
  read_image_digests(find_marker(domain), vm);
  read_nics(devices, vm);
  read_hostdevs(devices, vm);
  read_usb(devices, vm);
  read_mdevs(devices, vm);
  read_inputs(devices, vm);
  read_shares(devices, vm);
  read_graphics(devices, vm);
  read_serial(devices, vm);
  read_attributes(domain, vm);
  vm.xml = recorded_fragments(find_marker(domain));
  if (unowned == UnownedParts::all || (unowned == UnownedParts::if_recorded && !vm.xml.empty()))
    read_unowned(domain, live, unexpressed);
  return live;
}

void add_unowned_parts(Live& live, const Desired& desired) {
  for (const Vm& vm : desired.vms) {
    if (vm.xml.empty()) continue;
    for (LiveDomain& domain : live.domains) {
      const bool its_domain =
          domain.vm.name == vm.name || (domain.managed && domain.vm.key == vm.key);
      if (!its_domain || !domain.unowned.empty()) continue;
      pugi::xml_document document = xml::load(domain.xml, "domain definition");
      domain.unowned = find_unowned(document.child("domain")).elements;
    }
  }
}

bool recorded_autostart(const std::string& domain_xml) {
  if (domain_xml.find(kCaptureNamespace) == std::string::npos) return false;
  pugi::xml_document document;
  if (!document.load_string(domain_xml.c_str())) return false;
  for (pugi::xml_node child : document.child("domain").child("metadata").children()) {
    const std::string name = child.name();
    if ((name == "autostart" || name.ends_with(":autostart")) &&
        xml::in_namespace(child, kCaptureNamespace)) {
      return true;
    }
  }
  return false;
}

}  // namespace virtform
