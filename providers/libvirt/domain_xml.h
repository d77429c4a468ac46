#pragma once
// libvirt domain XML <-> model. Only what virtform owns is read or written; everything else in a
// live definition (UUID, MACs, PCI addresses, aliases, default controllers) is left untouched.

#include <string>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// XML namespace of virtform's element in <metadata>; its presence marks a domain as managed.
inline constexpr const char* kMetadataNamespace = "https://virtform.dev/xmlns/domain/1";

// The namespace of what a recording adds to a domain's <metadata> for facts the test driver
// cannot hold itself (autostart).
inline constexpr const char* kCaptureNamespace = "https://virtform.dev/xmlns/capture/1";

// Reads a domain definition into the model. The VM key comes from virtform's metadata when
// present, else the domain name. Fills managed, uuid and xml; `running` is left false.
// Parts of the domain the model cannot express are reported as warnings into `unexpressed`
// when given (used by import), never dropped from the live domain.
//
// `unowned` says which domains keep the parts no key owns (LiveDomain::unowned), which only a
// fragment is looked for in: every domain, only one whose marker records fragments, or none
// (the running definition, of which only the model is read). At a thousand domains they are
// most of what a plan holds.
enum class UnownedParts { all, if_recorded, none };
LiveDomain parse_domain_xml(const std::string& xml, Diagnostics* unexpressed = nullptr,
                            UnownedParts unowned = UnownedParts::all);

// Reads the unowned parts that a reading with UnownedParts::if_recorded left out, for every
// domain a VM's declared fragments may be looked for in: the VM's own name, or the managed
// domain it was renamed from.
void add_unowned_parts(Live& live, const Desired& desired);

// Whether a recorded domain definition says the domain starts with the host: what the test
// driver reports as autostart for a domain loaded from a recording.
bool recorded_autostart(const std::string& domain_xml);

// A complete new definition for the VM, with virtform's metadata marker: a skeleton of what only
// creation writes, merged with the VM as merge_domain_xml merges it into a live definition.
std::string render_domain_xml(const Vm& vm);

// The live definition with the owned fields of `desired` patched in and the marker added.
// Unchanged devices keep their addresses and aliases; new devices get free targets.
std::string merge_domain_xml(const std::string& live_xml, const Vm& desired);

// Takes the console passwords (<graphics passwd>, passwdValidTo) out of `xml`, as a definition
// read with VIR_DOMAIN_XML_SECURE has them; returns the first console's.
std::optional<std::string> take_console_passwords(std::string& xml);
// `xml` with the console passwords (<graphics passwd>) of `secure_xml`, the same definition as
// libvirt writes it with VIR_DOMAIN_XML_SECURE: every other read leaves them out, and a
// definition written back without them would lose a password another tool set.
std::string with_console_passwords(const std::string& xml, const std::string& secure_xml);

// A managed definition with its marker saying that the guest is to be started again once it shuts
// down (see LiveDomain::start_pending).
std::string mark_start_pending_xml(const std::string& xml);

// Device XML for hot-plug, with a target that is free in `domain_xml`.
std::string render_disk_xml(const Disk& disk, const std::string& domain_xml);
std::string render_nic_xml(const Nic& nic);
std::string render_usb_xml(const UsbDevice& device);
std::string render_input_xml(const InputDevice& input);
// The live device element matching the model (by source / MAC), for detaching.
std::string find_device_xml(const std::string& domain_xml, const Disk& disk);
std::string find_device_xml(const std::string& domain_xml, const Nic& nic);
// The USB <hostdev> that `device` names; "" when there is none.
std::string find_device_xml(const std::string& domain_xml, const UsbDevice& device);
// The <input> of the same identity; "" when there is none.
std::string find_device_xml(const std::string& domain_xml, const InputDevice& input);
// The element of the domain's CD-ROM drive `drive` (from 0, in the order the model reads them)
// with `media` in it ("" empty), for a media change; "" when the domain has no such drive.
std::string cdrom_with_media_xml(const std::string& domain_xml, unsigned drive,
                                 const std::string& media);
// The domain's first console (<graphics>) as it is, but with `password` and no expiry, for a
// password change; "" when the domain has no console.
std::string console_with_password_xml(const std::string& domain_xml, const std::string& password);

}  // namespace virtform
