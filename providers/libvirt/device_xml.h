#pragma once
// One device element <-> one model value. Shared by whole-domain parse, render and merge and by
// hot-plug, so a device is written and recognised the same way everywhere.

#include <optional>
#include <pugixml.hpp>
#include <set>
#include <string>

#include "engine/model/vm.h"

namespace virtform::device_xml {

// A <disk> as the model sees it, or nothing (with the reason in `why_not`) for disks it cannot
// express: cdroms, network sources, IDE buses...
std::optional<Disk> read_disk(const pugi::xml_node& disk, std::string* why_not = nullptr);
// A file-backed <disk device='cdrom'> on sata, scsi or ide, with or without media, or nothing
// with the reason (a network or host-drive CD-ROM).
std::optional<Disk> read_cdrom(const pugi::xml_node& disk, std::string* why_not = nullptr);
// An <interface> of type bridge or network, or nothing with the reason.
std::optional<Nic> read_nic(const pugi::xml_node& interface, std::string* why_not = nullptr);
// A PCI <hostdev>, or nothing with the reason (USB, SCSI and mdev host devices).
std::optional<PciDevice> read_hostdev(const pugi::xml_node& hostdev,
                                      std::string* why_not = nullptr);

// A USB <hostdev> by ids, by bus and device or by both, or nothing with the reason (a reset
// policy or a startup policy the model does not hold).
std::optional<UsbDevice> read_usb(const pugi::xml_node& hostdev, std::string* why_not = nullptr);

// A mediated <hostdev> by its UUID, or nothing with the reason (one with a ramfb).
std::optional<MdevDevice> read_mdev(const pugi::xml_node& hostdev, std::string* why_not = nullptr);

// A virtio or USB keyboard, mouse or tablet (not the USB tablet: the tablet row's) or an evdev
// <input>, or nothing with the reason (PS/2, which libvirt adds itself, and other buses).
std::optional<InputDevice> read_input(const pugi::xml_node& input, std::string* why_not = nullptr);

// A virtiofs <filesystem>, or nothing with the reason (9p and other filesystems).
std::optional<Share> read_share(const pugi::xml_node& filesystem, std::string* why_not = nullptr);

// Reads a sata or scsi disk's <address type='drive'> into its controller and unit; false for an
// address the model cannot hold (SCSI bus or target other than 0).
bool read_place(const pugi::xml_node& disk_element, Disk& disk);
// Writes the disk's place as its <address type='drive'>, or none when it has no place.
void write_place(pugi::xml_node disk_element, const Disk& disk);

// Sets a <driver> attribute (cache, io) to `mode`; removes it for "" and "default", QEMU's own.
void write_mode(pugi::xml_node driver, const char* name, const std::string& mode);

// Appends a <disk> with the given target device name; a whole block device the config leaves
// cache and io unset on gets kBlockCache and kBlockIo.
pugi::xml_node append_disk(pugi::xml_node parent, const Disk& disk, const std::string& target);
// Writes what a disk element says of the model's disk beyond its source, bus and target: the
// image format, cache and io where set, the read-only flag, the boot order, place and options
// (disk_fields.h) where set.
void write_disk_settings(pugi::xml_node disk_element, const Disk& disk);
// Appends a <disk device='cdrom'> with the given target device name.
pugi::xml_node append_cdrom(pugi::xml_node parent, const Disk& cdrom, const std::string& target);
// Puts the drive's media in (or takes it out, for ""), and writes its boot order and place.
void write_cdrom_settings(pugi::xml_node disk_element, const Disk& cdrom);
// Appends an <interface>; a <mac> only when the model sets one.
pugi::xml_node append_nic(pugi::xml_node parent, const Nic& nic);
// Points an <interface> at the NIC's source and model; its MAC and address stay.
void update_nic(pugi::xml_node interface, const Nic& nic);
// Appends a managed or unmanaged PCI <hostdev>.
pugi::xml_node append_hostdev(pugi::xml_node parent, const PciDevice& device);
// Sets a <hostdev>'s managed flag and ROM file; the rest of its <rom> stays.
void update_hostdev(pugi::xml_node hostdev, const PciDevice& device);
// Appends a USB <hostdev> found by what the device names.
pugi::xml_node append_usb(pugi::xml_node parent, const UsbDevice& device);
// Sets whether the guest starts without it; how it is found is its identity and stays.
void update_usb(pugi::xml_node hostdev, const UsbDevice& device);
// Appends a mediated <hostdev>.
pugi::xml_node append_mdev(pugi::xml_node parent, const MdevDevice& device);
// Sets its model and display; its UUID is its identity and stays.
void update_mdev(pugi::xml_node hostdev, const MdevDevice& desired);
bool same_mdev(const pugi::xml_node& element, const MdevDevice& device);
// Appends an <input>.
pugi::xml_node append_input(pugi::xml_node parent, const InputDevice& input);
// Sets an evdev input's grab, grab toggle and repeat; its identity stays.
void update_input(pugi::xml_node input, const InputDevice& desired);
// Appends a virtiofs <filesystem>.
pugi::xml_node append_share(pugi::xml_node parent, const Share& share);
// Points a <filesystem> at the share's host directory and read-only flag; the rest stays.
void update_share(pugi::xml_node filesystem, const Share& share);
// Appends a <graphics>; nothing for GraphicsType::none.
void append_graphics(pugi::xml_node parent, const Graphics& graphics);
// A <graphics>'s listen address, kListenNone for <listen type='none'/>, or "" for none given.
std::string graphics_listen(const pugi::xml_node& graphics);
// Whether a <graphics> draws with the host's GPU (<gl enable>); nothing without a <gl>.
std::optional<bool> graphics_gl(const pugi::xml_node& graphics);
// Writes <gl> as the desired console sets it (gl = false takes it out); unset leaves it alone.
void set_graphics_gl(pugi::xml_node graphics, const Graphics& desired);
// Sets a <graphics>'s listen address, "" for libvirt's default, kListenNone for no socket. Only the
// address: a password, keymap or port set by another tool stays.
void set_graphics_listen(pugi::xml_node graphics, const std::string& address);
// The port a <graphics> is fixed at (autoport='no'), or nothing when libvirt picks one.
std::optional<unsigned> fixed_graphics_port(const pugi::xml_node& graphics);
// Fixes the port; nothing leaves the element's own as it is.
void set_graphics_port(pugi::xml_node graphics, std::optional<unsigned> port);
// Appends a <serial> and the <console> on it.
void append_serial(pugi::xml_node parent, const Serial& serial);
// Gives a <serial> and its <console> (when there is one) the character device type.
void set_serial_type(pugi::xml_node serial, pugi::xml_node console, const std::string& type);

// Whether a live element is the model's device: same source, same MAC, same PCI address.
bool same_disk(const pugi::xml_node& element, const Disk& disk);
bool same_hostdev(const pugi::xml_node& element, const PciDevice& device);
bool same_share(const pugi::xml_node& element, const Share& share);
bool same_usb(const pugi::xml_node& element, const UsbDevice& device);
bool same_input(const pugi::xml_node& element, const InputDevice& input);

// Target device names (<target dev>) of every disk under <devices>, cdroms included.
std::set<std::string> used_targets(const pugi::xml_node& devices);

}  // namespace virtform::device_xml
