#pragma once
// [[vm.X.xml]] on the libvirt side: the config's text parsed and checked against what the keys
// own, fragments written into and taken out of a definition, and virtform's record of them in
// its marker, so that removing one from the config removes what virtform added and nothing else.

#include <pugixml.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// The namespace of libvirt's QEMU extensions (<qemu:commandline>); the one prefix a fragment
// may use.
inline constexpr const char* kQemuNamespace = "http://libvirt.org/schemas/domain/qemu/1.0";

// Parses every VM's fragments: malformed XML, a parent no fragment can go under and an element
// a key owns are errors at the fragment's xml key. A wrapper names the parent
// (<devices><sound/></devices>). Each fragment's xml becomes its canonical text.
void read_xml_fragments(Desired& desired, Diagnostics& diagnostics);

// The fragments the marker records virtform having written.
std::vector<XmlFragment> recorded_fragments(const pugi::xml_node& marker);
// Records `fragments` in the marker, after what it holds.
void record_fragments(pugi::xml_node marker, const std::vector<XmlFragment>& fragments);

// What import writes as fragments for a definition: the elements no key owns and libvirt did not
// add by itself, directly under <domain>, <features> or <devices> (not controllers, whose PCI
// layout virtform redraws on a change of chipset), without libvirt's <address> and <alias> of the
// device itself (a USB <hostdev>'s <source><address> is which device it is).
std::vector<XmlFragment> importable_fragments(const std::string& domain_xml);

// Takes out of the definition the fragments the marker recorded and `desired` no longer
// declares. Runs before the marker is rewritten.
void take_out_fragments(pugi::xml_node domain, const std::vector<XmlFragment>& desired);
// Puts in each declared fragment the definition is missing. Runs after the keys' writers, so
// the elements they own come first (the model reads a domain's first <graphics>).
void put_fragments(pugi::xml_node domain, const std::vector<XmlFragment>& desired);
// The target names of the fragments' disks (a CD-ROM's sda): put in after the keys' disks, yet
// theirs to keep.
std::set<std::string> fragment_disk_targets(const std::vector<XmlFragment>& fragments);

}  // namespace virtform
