#pragma once
// Domain-level pieces written the same way by render (into a new domain) and merge (into a live
// one): the managed marker, firmware, CPU, direct kernel boot and the controllers disks need.

#include <optional>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "engine/model/vm.h"

namespace virtform::domain_parts {

// Adds or updates virtform's marker in <metadata>, creating <metadata> where libvirt puts it.
void set_marker(pugi::xml_node domain, const Vm& vm);
// Whether the domain's marker records that virtform wrote its TPM.
bool records_tpm(const pugi::xml_node& domain);

// Rewrites <os>'s loader, nvram and firmware attribute for the firmware kind, and the SMM that
// Secure Boot needs. A UEFI firmware with no code path asks libvirt to pick one
// (firmware='efi'); a live choice it made is kept.
void set_firmware(pugi::xml_node domain, const Firmware& firmware);
// Whether <os> asks for Secure Boot: true with a secure loader, else the secure-boot feature
// libvirt's autoselection picks by; nothing when neither says.
std::optional<bool> secure_boot(const pugi::xml_node& os);
// Rewrites <os>'s kernel, initrd and cmdline.
void set_kernel(pugi::xml_node os, const DirectKernel& kernel);

// Adds a virtio-scsi controller when a disk is on scsi and a qemu-xhci USB controller when a
// disk is on usb, unless the devices already have a usable one.
void add_disk_controllers(pugi::xml_node devices, const std::vector<Disk>& disks);

// Inserts a new child called `name` among `parent`'s children following `order` (the element
// names in the order libvirt's schema expects them); appended when no neighbour is known.
pugi::xml_node insert_ordered(pugi::xml_node parent, const char* name,
                              const std::vector<std::string>& order);
// The domain's child `name`, inserted where libvirt puts it when there is none.
pugi::xml_node domain_child(pugi::xml_node domain, const char* name);
// The same within <os>.
pugi::xml_node os_child(pugi::xml_node os, const char* name);

}  // namespace virtform::domain_parts
