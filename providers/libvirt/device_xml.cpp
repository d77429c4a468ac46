#include "providers/libvirt/device_xml.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "providers/libvirt/disk_fields.h"
#include "providers/libvirt/xml_support.h"

namespace virtform::device_xml {

namespace {

void explain(std::string* why_not, const std::string& reason) {
  if (why_not) *why_not = reason;
}

std::string describe_disk(const pugi::xml_node& disk) {
  return "disk type='" + std::string(disk.attribute("type").as_string()) + "' device='" +
         disk.attribute("device").as_string("disk") + "' (target " +
         disk.child("target").attribute("dev").as_string("?") + ")";
}

std::optional<std::string> disk_source(const pugi::xml_node& disk, DiskSource kind) {
  pugi::xml_node source = disk.child("source");
  const char* attribute = kind == DiskSource::block ? "dev" : "file";
  if (!source.attribute(attribute)) return std::nullopt;
  return source.attribute(attribute).value();
}

std::optional<DiskBus> bus_of(const pugi::xml_node& target) {
  if (target.attribute("bus")) return xml::disk_bus(target.attribute("bus").value());
  // Older definitions may leave the bus out; libvirt then derives it from the name.
  std::string dev = target.attribute("dev").as_string();
  if (dev.rfind("vd", 0) == 0) return DiskBus::virtio;
  return std::nullopt;
}

}  // namespace

void write_mode(pugi::xml_node driver, const char* name, const std::string& mode) {
  if (mode.empty() || mode == "default") {
    driver.remove_attribute(name);
    return;
  }
  xml::set_attribute(driver, name, mode);
}

bool read_place(const pugi::xml_node& element, Disk& disk) {
  pugi::xml_node address = element.child("address");
  if (!address || std::string(address.attribute("type").as_string()) != "drive") return true;
  // The model places a disk by controller and unit; a disk on another SCSI target or bus is
  // left as it is, unexpressed.
  if (address.attribute("bus").as_uint(0) != 0 || address.attribute("target").as_uint(0) != 0)
    return false;
  disk.controller = address.attribute("controller").as_uint(0);
  disk.unit = address.attribute("unit").as_uint(0);
  return true;
}

void write_place(pugi::xml_node element, const Disk& disk) {
  xml::remove_children(element, "address");
  if (!disk.controller || !disk.unit) return;
  pugi::xml_node address = element.append_child("address");
  address.append_attribute("type") = "drive";
  address.append_attribute("controller") = *disk.controller;
  address.append_attribute("bus") = 0;
  address.append_attribute("target") = 0;
  address.append_attribute("unit") = *disk.unit;
}

// The boot order a device element gives, if any.
std::optional<unsigned> read_boot_order(const pugi::xml_node& element) {
  if (pugi::xml_node boot = element.child("boot")) return boot.attribute("order").as_uint();
  return std::nullopt;
}

void write_boot_order(pugi::xml_node element, const Disk& disk) {
  // Owned only where the config sets it; a boot order someone gave a device by hand stays.
  if (!disk.boot_order) return;
  xml::set_attribute(xml::child_or_append(element, "boot"), "order",
                     std::to_string(*disk.boot_order));
}

std::optional<Disk> read_disk(const pugi::xml_node& element, std::string* why_not) {
  std::string type = element.attribute("type").as_string();
  std::string device = element.attribute("device").as_string("disk");
  if (device != "disk" || (type != "block" && type != "file")) {
    explain(why_not, describe_disk(element));
    return std::nullopt;
  }
  if (std::string_view(element.child("target").attribute("bus").as_string()) == "ide") {
    explain(why_not, describe_disk(element) + " on bus 'ide'");
    return std::nullopt;
  }
  Disk disk;
  disk.kind = type == "block" ? DiskSource::block : DiskSource::file;
  auto source = disk_source(element, disk.kind);
  auto bus = bus_of(element.child("target"));
  if (!source || !bus) {
    explain(why_not, describe_disk(element) + (source ? " on bus '" : " without a source") +
                         (source ? element.child("target").attribute("bus").as_string() : "") +
                         (source ? "'" : ""));
    return std::nullopt;
  }
  disk.source = *source;
  disk.bus = *bus;
  if (has_units(disk.bus) && !read_place(element, disk)) {
    explain(why_not, describe_disk(element) + " on a SCSI target or bus other than 0");
    return std::nullopt;
  }
  pugi::xml_node driver = element.child("driver");
  disk.format = driver.attribute("type").as_string("raw");
  if (driver.attribute("cache")) disk.cache = driver.attribute("cache").value();
  if (driver.attribute("io")) disk.io = driver.attribute("io").value();
  disk.readonly = bool(element.child("readonly"));
  disk.boot_order = read_boot_order(element);
  read_disk_options(element, disk);
  return disk;
}

std::optional<Disk> read_cdrom(const pugi::xml_node& element, std::string* why_not) {
  const std::string_view type = element.attribute("type").as_string();
  const std::string_view device = element.attribute("device").as_string();
  pugi::xml_node target = element.child("target");
  const auto bus = xml::disk_bus(target.attribute("bus").as_string());
  if (device != "cdrom" || type != "file" ||
      (bus != DiskBus::sata && bus != DiskBus::scsi && bus != DiskBus::ide)) {
    explain(why_not,
            describe_disk(element) + " on bus '" + target.attribute("bus").as_string() + "'");
    return std::nullopt;
  }
  Disk cdrom;
  cdrom.readonly = true;
  cdrom.bus = *bus;
  cdrom.source = element.child("source").attribute("file").as_string();
  if (has_units(cdrom.bus) && !read_place(element, cdrom)) {
    explain(why_not, describe_disk(element) + " on a SCSI target or bus other than 0");
    return std::nullopt;
  }
  cdrom.boot_order = read_boot_order(element);
  return cdrom;
}

std::optional<Nic> read_nic(const pugi::xml_node& element, std::string* why_not) {
  std::string type = element.attribute("type").as_string();
  const auto kind = enum_from_name(kNicSourceNames, type);
  if (!kind) {
    explain(why_not, "interface type='" + type + "'");
    return std::nullopt;
  }
  Nic nic;
  nic.kind = *kind;
  nic.source = element.child("source").attribute(type.c_str()).as_string();
  nic.model = element.child("model").attribute("type").as_string();
  if (pugi::xml_node mac = element.child("mac")) nic.mac = mac.attribute("address").as_string();
  return nic;
}

std::optional<PciDevice> read_hostdev(const pugi::xml_node& element, std::string* why_not) {
  std::string mode = element.attribute("mode").as_string();
  std::string type = element.attribute("type").as_string();
  if (mode != "subsystem" || type != "pci") {
    explain(why_not, "hostdev mode='" + mode + "' type='" + type + "'");
    return std::nullopt;
  }
  const auto canonical = xml::pci_address(element.child("source").child("address"));
  if (!canonical) {
    explain(why_not, "hostdev whose PCI address is not made of numbers");
    return std::nullopt;
  }
  PciDevice device;
  device.address = *canonical;
  device.managed = std::string(element.attribute("managed").as_string("no")) == "yes";
  if (pugi::xml_node rom = element.child("rom"); rom.attribute("file")) {
    device.rom = rom.attribute("file").value();
  }
  if (pugi::xml_attribute bar = element.child("rom").attribute("bar"))
    device.rombar = std::string_view(bar.value()) == "on";
  if (pugi::xml_node address = element.child("address");
      std::string_view(address.attribute("type").as_string()) == "pci") {
    device.guest_address = xml::pci_address(address);
    device.multifunction = std::string_view(address.attribute("multifunction").as_string()) == "on";
  }
  return device;
}

namespace {

// A USB id as libvirt writes it ("0x046d") in the model's form ("046d"), or "" for another.
std::string usb_id(const pugi::xml_node& element) {
  const std::string_view text = element.attribute("id").as_string();
  const std::string_view digits = text.starts_with("0x") ? text.substr(2) : text;
  if (digits.empty() || digits.size() > 4 ||
      digits.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
    return "";
  std::string id = std::string(4 - digits.size(), '0') + std::string(digits);
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return id;
}

// A bus or device number, read as libvirt reads it (base 0: "0x1f" is hex); nothing when it is
// not one.
std::optional<unsigned> usb_number(const pugi::xml_attribute& attribute) {
  const char* text = attribute.as_string();
  char* end = nullptr;
  const unsigned long number = std::strtoul(text, &end, 0);
  if (!*text || *end || number == 0 || number > 0xfff) return std::nullopt;
  return static_cast<unsigned>(number);
}

}  // namespace

std::optional<UsbDevice> read_usb(const pugi::xml_node& element, std::string* why_not) {
  const std::string mode = element.attribute("mode").as_string();
  const std::string type = element.attribute("type").as_string();
  const pugi::xml_node source = element.child("source");
  const std::string policy = source.attribute("startupPolicy").as_string("mandatory");
  if (mode != "subsystem" || type != "usb" || source.attribute("guestReset") ||
      (policy != "mandatory" && policy != "optional")) {
    explain(why_not, "hostdev mode='" + mode + "' type='" + type + "' with startupPolicy '" +
                         policy + "'" + (source.attribute("guestReset") ? " and guestReset" : ""));
    return std::nullopt;
  }
  UsbDevice device;
  device.optional = policy == "optional";
  if (source.child("vendor")) {
    device.vendor = usb_id(source.child("vendor"));
    device.product = usb_id(source.child("product"));
  }
  if (const pugi::xml_node address = source.child("address")) {
    device.bus = usb_number(address.attribute("bus"));
    device.device = usb_number(address.attribute("device"));
  }
  const bool ids = !device.vendor.empty() && !device.product.empty();
  const bool place = device.bus && device.device;
  if ((source.child("vendor") && !ids) || (source.child("address") && !place) || !(ids || place)) {
    explain(why_not, "USB hostdev whose ids or bus and device are not numbers");
    return std::nullopt;
  }
  return device;
}

std::optional<MdevDevice> read_mdev(const pugi::xml_node& element, std::string* why_not) {
  const std::string mode = element.attribute("mode").as_string();
  const std::string type = element.attribute("type").as_string();
  MdevDevice device;
  device.uuid = element.child("source").child("address").attribute("uuid").as_string();
  std::transform(device.uuid.begin(), device.uuid.end(), device.uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  device.model = element.attribute("model").as_string();
  device.display = std::string_view(element.attribute("display").as_string()) == "on";
  if (mode != "subsystem" || type != "mdev" || device.uuid.empty() || element.attribute("ramfb")) {
    explain(why_not, "hostdev mode='" + mode + "' type='" + type + "'" +
                         (element.attribute("ramfb") ? " with ramfb" : ""));
    return std::nullopt;
  }
  return device;
}

std::optional<InputDevice> read_input(const pugi::xml_node& element, std::string* why_not) {
  InputDevice input;
  input.type = element.attribute("type").as_string();
  input.bus = element.attribute("bus").as_string();
  if (input.type == "evdev") {
    const pugi::xml_node source = element.child("source");
    input.bus.clear();
    input.source = source.attribute("dev").as_string();
    input.grab = std::string_view(source.attribute("grab").as_string()) == "all";
    input.grab_toggle = source.attribute("grabToggle").as_string();
    input.repeat = std::string_view(source.attribute("repeat").as_string()) == "on";
    if (!input.source.empty()) return input;
  } else if ((input.type == "keyboard" || input.type == "mouse" || input.type == "tablet") &&
             (input.bus == "virtio" || (input.bus == "usb" && input.type != "tablet"))) {
    return input;
  }
  explain(why_not, "input type='" + input.type + "' bus='" + input.bus + "'");
  return std::nullopt;
}

std::optional<Share> read_share(const pugi::xml_node& element, std::string* why_not) {
  const std::string type = element.attribute("type").as_string("mount");
  const std::string driver = element.child("driver").attribute("type").as_string("path");
  if (type != "mount" || driver != "virtiofs") {
    explain(why_not, "filesystem type='" + type + "' with driver '" + driver + "'");
    return std::nullopt;
  }
  Share share;
  share.source = element.child("source").attribute("dir").as_string();
  share.tag = element.child("target").attribute("dir").as_string();
  share.readonly = bool(element.child("readonly"));
  if (share.source.empty() || share.tag.empty()) {
    explain(why_not, "virtiofs filesystem without a source directory or a tag");
    return std::nullopt;
  }
  return share;
}

namespace {

// What a new disk gets where the config leaves cache and io unset: a whole host disk bypasses
// the host cache, which keeps the guest's writes honest.
Disk with_block_defaults(Disk disk) {
  if (disk.kind != DiskSource::block) return disk;
  if (!disk.cache && !disk.io) disk.io = kBlockIo;
  if (!disk.cache) disk.cache = kBlockCache;
  return disk;
}

}  // namespace

pugi::xml_node append_disk(pugi::xml_node parent, const Disk& disk, const std::string& target) {
  bool block = disk.kind == DiskSource::block;
  pugi::xml_node element = parent.append_child("disk");
  element.append_attribute("type") = block ? "block" : "file";
  element.append_attribute("device") = "disk";
  pugi::xml_node driver = element.append_child("driver");
  driver.append_attribute("name") = "qemu";
  // Whole host disks are raw.
  if (block) driver.append_attribute("type") = "raw";
  element.append_child("source").append_attribute(block ? "dev" : "file") = disk.source.c_str();
  pugi::xml_node target_node = element.append_child("target");
  target_node.append_attribute("dev") = target.c_str();
  target_node.append_attribute("bus") = to_string(disk.bus).c_str();
  write_disk_settings(element, with_block_defaults(disk));
  return element;
}

void write_disk_settings(pugi::xml_node element, const Disk& disk) {
  pugi::xml_node driver = xml::child_or_append(element, "driver");
  if (disk.kind == DiskSource::file) xml::set_attribute(driver, "type", disk.format);
  if (disk.cache) write_mode(driver, "cache", *disk.cache);
  if (disk.io) write_mode(driver, "io", *disk.io);
  write_boot_order(element, disk);
  if (disk.readonly && !element.child("readonly")) element.append_child("readonly");
  if (!disk.readonly) xml::remove_children(element, "readonly");
  if (disk.controller && disk.unit) write_place(element, disk);
  write_disk_options(element, disk);
}

pugi::xml_node append_cdrom(pugi::xml_node parent, const Disk& cdrom, const std::string& target) {
  pugi::xml_node element = parent.append_child("disk");
  element.append_attribute("type") = "file";
  element.append_attribute("device") = "cdrom";
  pugi::xml_node driver = element.append_child("driver");
  driver.append_attribute("name") = "qemu";
  driver.append_attribute("type") = "raw";
  pugi::xml_node target_node = element.append_child("target");
  target_node.append_attribute("dev") = target.c_str();
  target_node.append_attribute("bus") = to_string(cdrom.bus).c_str();
  element.append_child("readonly");
  write_cdrom_settings(element, cdrom);
  return element;
}

void write_cdrom_settings(pugi::xml_node element, const Disk& cdrom) {
  if (cdrom.source.empty()) {
    xml::remove_children(element, "source");
  } else {
    pugi::xml_node source = element.child("source");
    if (!source) source = element.insert_child_after("source", element.child("driver"));
    // A new ISO replaces the old one whole: what libvirt noted of the old (its index, a
    // startupPolicy) is not the new one's.
    if (cdrom.source != source.attribute("file").as_string()) {
      source.remove_attributes();
      source.append_attribute("file") = cdrom.source.c_str();
    }
  }
  write_boot_order(element, cdrom);
  if (cdrom.controller && cdrom.unit) write_place(element, cdrom);
}

pugi::xml_node append_nic(pugi::xml_node parent, const Nic& nic) {
  pugi::xml_node element = parent.append_child("interface");
  element.append_attribute("type") = to_string(nic.kind).c_str();
  if (nic.mac) element.append_child("mac").append_attribute("address") = nic.mac->c_str();
  update_nic(element, nic);
  return element;
}

void update_nic(pugi::xml_node element, const Nic& desired) {
  std::string type = to_string(desired.kind);
  auto live = read_nic(element);
  if (live->kind != desired.kind || live->source != desired.source) {
    xml::set_attribute(element, "type", type);
    pugi::xml_node source = xml::child_or_append(element, "source");
    source.remove_attributes();
    source.append_attribute(type.c_str()) = desired.source.c_str();
  }
  if (live->model != desired.model) {
    xml::set_attribute(xml::child_or_append(element, "model"), "type", desired.model);
  }
}

namespace {

// The guest's <address> of a host device, which libvirt keeps after <rom>.
void set_guest_address(pugi::xml_node element, const PciDevice& desired) {
  pugi::xml_node address = xml::child_or_append(element, "address");
  xml::set_attribute(address, "type", "pci");
  xml::set_pci_address(address, *desired.guest_address);
  if (desired.multifunction)
    xml::set_attribute(address, "multifunction", "on");
  else
    address.remove_attribute("multifunction");
}

}  // namespace

pugi::xml_node append_hostdev(pugi::xml_node parent, const PciDevice& device) {
  pugi::xml_node element = parent.append_child("hostdev");
  element.append_attribute("mode") = "subsystem";
  element.append_attribute("type") = "pci";
  xml::set_pci_address(element.append_child("source").append_child("address"), device.address);
  update_hostdev(element, device);
  return element;
}

void update_hostdev(pugi::xml_node element, const PciDevice& desired) {
  xml::set_attribute(element, "managed", desired.managed ? "yes" : "no");
  if (desired.rom) {
    xml::set_attribute(xml::child_or_append(element, "rom"), "file", *desired.rom);
  } else if (pugi::xml_node rom = element.child("rom")) {
    rom.remove_attribute("file");
  }
  if (desired.rombar)
    xml::set_attribute(xml::child_or_append(element, "rom"), "bar", *desired.rombar ? "on" : "off");
  if (pugi::xml_node rom = element.child("rom"); rom && !rom.first_attribute())
    element.remove_child(rom);
  if (desired.guest_address) set_guest_address(element, desired);
}

pugi::xml_node append_share(pugi::xml_node parent, const Share& share) {
  pugi::xml_node element = parent.append_child("filesystem");
  element.append_attribute("type") = "mount";
  element.append_attribute("accessmode") = "passthrough";
  element.append_child("driver").append_attribute("type") = "virtiofs";
  element.append_child("source").append_attribute("dir") = share.source.c_str();
  element.append_child("target").append_attribute("dir") = share.tag.c_str();
  update_share(element, share);
  return element;
}

void update_share(pugi::xml_node element, const Share& share) {
  xml::set_attribute(xml::child_or_append(element, "source"), "dir", share.source);
  if (share.readonly) {
    xml::child_or_append(element, "readonly");
  } else {
    xml::remove_children(element, "readonly");
  }
}

void append_graphics(pugi::xml_node parent, const Graphics& graphics) {
  if (graphics.type == GraphicsType::none) return;
  pugi::xml_node element = parent.append_child("graphics");
  element.append_attribute("type") = to_string(graphics.type).c_str();
  if (graphics.listen != kListenNone) element.append_attribute("autoport") = "yes";
  set_graphics_port(element, graphics.port);
  set_graphics_listen(element, graphics.listen);
  set_graphics_gl(element, graphics);
}

std::string graphics_listen(const pugi::xml_node& graphics) {
  const pugi::xml_node listen = graphics.child("listen");
  if (std::string_view(listen.attribute("type").as_string()) == kListenNone) return kListenNone;
  return graphics.attribute("listen").as_string(listen.attribute("address").as_string());
}

std::optional<bool> graphics_gl(const pugi::xml_node& graphics) {
  const pugi::xml_node gl = graphics.child("gl");
  if (!gl) return std::nullopt;
  return std::string_view(gl.attribute("enable").as_string()) == "yes";
}

void set_graphics_gl(pugi::xml_node graphics, const Graphics& desired) {
  if (!desired.gl) return;
  if (!*desired.gl) {
    xml::remove_children(graphics, "gl");
    return;
  }
  pugi::xml_node gl = xml::child_or_append(graphics, "gl");
  xml::set_attribute(gl, "enable", "yes");
  if (desired.rendernode) xml::set_attribute(gl, "rendernode", *desired.rendernode);
}

std::optional<unsigned> fixed_graphics_port(const pugi::xml_node& graphics) {
  if (std::string_view(graphics.attribute("autoport").as_string("no")) == "yes")
    return std::nullopt;
  const int port = graphics.attribute("port").as_int(-1);
  if (port <= 0) return std::nullopt;
  return static_cast<unsigned>(port);
}

void set_graphics_port(pugi::xml_node graphics, std::optional<unsigned> port) {
  if (!port) return;
  xml::set_attribute(graphics, "port", std::to_string(*port));
  xml::set_attribute(graphics, "autoport", "no");
}

void set_graphics_listen(pugi::xml_node graphics, const std::string& address) {
  if (address.empty() || address == kListenNone) {
    graphics.remove_attribute("listen");
    xml::remove_children(graphics, "listen");
    if (address == kListenNone) graphics.prepend_child("listen").append_attribute("type") = "none";
    return;
  }
  xml::set_attribute(graphics, "listen", address);
  pugi::xml_node listen = graphics.child("listen");
  if (!listen) listen = graphics.prepend_child("listen");
  listen.remove_attributes();
  listen.append_attribute("type") = "address";
  listen.append_attribute("address") = address.c_str();
}

void append_serial(pugi::xml_node parent, const Serial& serial) {
  pugi::xml_node element = parent.append_child("serial");
  element.append_child("target").append_attribute("port") = 0;
  pugi::xml_node console = parent.append_child("console");
  pugi::xml_node target = console.append_child("target");
  target.append_attribute("type") = "serial";
  target.append_attribute("port") = 0;
  set_serial_type(element, console, serial.type);
}

void set_serial_type(pugi::xml_node serial, pugi::xml_node console, const std::string& type) {
  // The old type's source (a pty path, a file) does not fit the new one.
  for (pugi::xml_node element : {serial, console}) {
    if (!element) continue;
    xml::set_attribute(element, "type", type);
    xml::remove_children(element, "source");
  }
}

bool same_disk(const pugi::xml_node& element, const Disk& disk) {
  std::string type = element.attribute("type").as_string();
  if (type != to_string(disk.kind)) return false;
  if (std::string(element.attribute("device").as_string("disk")) != "disk") return false;
  auto source = disk_source(element, disk.kind);
  return source && *source == disk.source;
}

bool same_hostdev(const pugi::xml_node& element, const PciDevice& device) {
  auto live = read_hostdev(element);
  return live && live->address == device.address;
}

pugi::xml_node append_usb(pugi::xml_node parent, const UsbDevice& device) {
  pugi::xml_node element = parent.append_child("hostdev");
  element.append_attribute("mode") = "subsystem";
  element.append_attribute("type") = "usb";
  pugi::xml_node source = element.append_child("source");
  if (!device.vendor.empty()) {
    source.append_child("vendor").append_attribute("id") = ("0x" + device.vendor).c_str();
    source.append_child("product").append_attribute("id") = ("0x" + device.product).c_str();
  }
  if (device.bus) {
    pugi::xml_node address = source.append_child("address");
    address.append_attribute("bus") = *device.bus;
    address.append_attribute("device") = *device.device;
  }
  update_usb(element, device);
  return element;
}

void update_usb(pugi::xml_node element, const UsbDevice& desired) {
  pugi::xml_node source = element.child("source");
  if (desired.optional)
    xml::set_attribute(source, "startupPolicy", "optional");
  else
    source.remove_attribute("startupPolicy");
}

pugi::xml_node append_mdev(pugi::xml_node parent, const MdevDevice& device) {
  pugi::xml_node element = parent.append_child("hostdev");
  element.append_attribute("mode") = "subsystem";
  element.append_attribute("type") = "mdev";
  element.append_child("source").append_child("address").append_attribute("uuid") =
      device.uuid.c_str();
  update_mdev(element, device);
  return element;
}

void update_mdev(pugi::xml_node element, const MdevDevice& desired) {
  xml::set_attribute(element, "model", desired.model);
  xml::set_attribute(element, "display", desired.display ? "on" : "off");
}

bool same_mdev(const pugi::xml_node& element, const MdevDevice& device) {
  auto live = read_mdev(element);
  return live && live->uuid == device.uuid;
}

pugi::xml_node append_input(pugi::xml_node parent, const InputDevice& input) {
  pugi::xml_node element = parent.append_child("input");
  element.append_attribute("type") = input.type.c_str();
  if (input.type != "evdev") {
    element.append_attribute("bus") = input.bus.c_str();
    return element;
  }
  element.append_child("source").append_attribute("dev") = input.source.c_str();
  update_input(element, input);
  return element;
}

void update_input(pugi::xml_node element, const InputDevice& desired) {
  if (desired.type != "evdev") return;
  pugi::xml_node source = element.child("source");
  auto set = [&](const char* name, bool on, const std::string& value) {
    if (on)
      xml::set_attribute(source, name, value);
    else
      source.remove_attribute(name);
  };
  set("grab", desired.grab, "all");
  set("grabToggle", !desired.grab_toggle.empty(), desired.grab_toggle);
  set("repeat", desired.repeat, "on");
}

bool same_input(const pugi::xml_node& element, const InputDevice& input) {
  auto live = read_input(element);
  return live && input_identity(*live) == input_identity(input);
}

bool same_usb(const pugi::xml_node& element, const UsbDevice& device) {
  auto live = read_usb(element);
  return live && usb_identity(*live) == usb_identity(device);
}

bool same_share(const pugi::xml_node& element, const Share& share) {
  auto live = read_share(element);
  return live && live->tag == share.tag;
}

std::set<std::string> used_targets(const pugi::xml_node& devices) {
  std::set<std::string> used;
  for (pugi::xml_node disk : devices.children("disk")) {
    used.insert(disk.child("target").attribute("dev").as_string());
  }
  return used;
}

}  // namespace virtform::device_xml
