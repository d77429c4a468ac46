#pragma once
// Small pugixml helpers shared by the domain XML reader, renderer and merger: loading and
// saving in libvirt's own layout, units, namespaced metadata, PCI addresses and disk targets.

#include <cstdint>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <string>

#include "engine/model/vm.h"

namespace virtform::xml {

// Parses XML text; throws SystemError naming `what` when it is not well-formed.
pugi::xml_document load(const std::string& text, const std::string& what);
// Serialises a node the way libvirt lays out its XML: two-space indent, single quotes.
std::string save(const pugi::xml_node& node);

// A size element (<memory unit='GiB'>4</memory>) in KiB; nothing for an unknown unit or text.
std::optional<std::uint64_t> size_kib(const pugi::xml_node& element);

// Whether `element` lives in the XML namespace `uri`, through its prefix or a default xmlns.
bool in_namespace(const pugi::xml_node& element, const std::string& uri);

// "0000:08:00.0" from a libvirt <address domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>;
// nothing when an attribute is not a number.
std::optional<std::string> pci_address(const pugi::xml_node& address);
// Sets domain/bus/slot/function attributes on `address` from "0000:08:00.0".
void set_pci_address(pugi::xml_node address, const std::string& canonical);

// Target device prefix for a bus: "vd" for virtio, "sd" for scsi, sata and usb.
std::string target_prefix(DiskBus bus);
// The first target name with the bus's prefix not in `used`: vda, vdb, ..., vdz, vdaa, ...
std::string free_target(DiskBus bus, const std::set<std::string>& used);
// The target name for `disk`: a loader disk takes the last letter ("sdz"), as DSM guests name
// their loader, so it never takes a data disk's "sda"; other disks the first free name.
std::string disk_target(const Disk& disk, const std::set<std::string>& used);
// Disk bus from libvirt's name, nothing for buses the model cannot express (ide, fdc, ...).
std::optional<DiskBus> disk_bus(const std::string& name);

// The first child with `name`, appended when missing.
pugi::xml_node child_or_append(pugi::xml_node parent, const char* name);
// Sets an attribute, adding it when missing.
void set_attribute(pugi::xml_node node, const char* name, const std::string& value);
// Replaces the element's text content.
void set_text(pugi::xml_node node, const std::string& text);
// Removes every child called `name`.
void remove_children(pugi::xml_node parent, const char* name);

}  // namespace virtform::xml
