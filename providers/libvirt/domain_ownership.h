#pragma once
// Which parts of domain XML virtform's keys own, said once: import names everything else
// ("not expressed"), the fragment pass refuses a [[vm.X.xml]] that would take an owned element,
// and a declared fragment is looked for among the rest.

#include <optional>
#include <pugixml.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/vm.h"
#include "engine/model/xml_fragment.h"

namespace virtform {

struct OwnedElement {
  std::string_view path;  // below <domain>: "memory", "os/loader", "devices/disk"
  std::string_view key;   // what owns it, in the config's words: "memory", "[[vm.X.disk]]"
  // Whether the key expresses this element of the path (a CD-ROM <disk> it does not); nullptr
  // for every one.
  bool (*expresses)(const pugi::xml_node& element);
  // What of it the key expresses, besides its text: "@bus" (an attribute), "target" (a child
  // whole), "target/@dev" (a child's attribute). Empty: all of it. Anything else in it is named
  // by import; <address> and <alias>, libvirt's placement of a device, never are.
  std::span<const std::string_view> parts;
  // Shared by attribute rows (domain_fields.h), each owning a part of it ("relaxed/@state" of
  // <hyperv>): the element is owned only where the VM sets one of them. Elsewhere a fragment
  // may still declare it whole, and the reader keeps it among the unowned elements for that.
  bool shared = false;
};

// Every owned element, the vm_fields rows' included.
std::span<const OwnedElement> owned_elements();

// The entry owning `element`, found under `parent` ("" for <domain>), or nullptr.
const OwnedElement* owner_of(const std::string& parent, const pugi::xml_node& element);

// The first row the VM sets that lives in a part of the element at `path` ("features/hyperv"),
// or nothing.
std::optional<std::string> row_set_under(const std::string& path, const Vm& vm);

// Parents a fragment may go under: the containers whose children are owned one by one.
bool is_fragment_parent(const std::string& path);

// Whether a domain defined from the imported config would get the element anyway: libvirt adds
// it to a minimal domain of the machine type, or virtform's own skeleton writes it.
bool is_default_element(const std::string& parent, const XmlElement& element);

struct Unowned {
  std::vector<XmlFragment> elements;  // no key owns them; libvirt's defaults included
  std::vector<bool> defaults;         // for each of them: is_default_element
  std::vector<std::string> reasons;   // for each: why its path's key does not take it, or ""
  // For each: a shared element (OwnedElement::shared) its rows express, kept only for the
  // fragments that may declare it; import neither names it whole nor writes it as a fragment.
  std::vector<bool> shared;
  // Unowned parts of owned elements, and unowned metadata: "disk vda: driver discard='unmap'".
  std::vector<std::string> parts;
};

// Walks the whole definition.
Unowned find_unowned(const pugi::xml_node& domain);

// The element and everything below it as a plain tree, namespace declarations left out.
XmlElement to_element(const pugi::xml_node& node);
// "sound model='ich9'": the element's name and the attributes that tell it from its siblings.
std::string describe_element(const XmlElement& element);

}  // namespace virtform
