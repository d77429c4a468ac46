#pragma once
// [[vm.X.xml]]: an element of domain XML the vocabulary has no key for, declared as it is and
// owned as a whole. The engine holds it as a plain tree (no XML library here); the libvirt
// provider parses the config's text into it and writes it into the domain.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model/diagnostic.h"

namespace virtform {

// One element, canonical: attributes sorted by name without namespace declarations, text
// trimmed, whitespace between elements gone.
struct XmlElement {
  std::string name;  // qualified as written: "sound", "qemu:commandline"
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string text;
  std::vector<XmlElement> children;

  bool operator==(const XmlElement&) const = default;
};

// Whether `live` says everything `wanted` says: the same name, each of wanted's attributes with
// the same value, its text when it has one, and each of its children said by a child of live of
// its own. What libvirt adds (an <address>, an <alias>, a default attribute) is no difference.
bool contains(const XmlElement& live, const XmlElement& wanted);

// The element as one line of XML, attributes in single quotes: what plans show, the marker
// records and import writes.
std::string canonical_xml(const XmlElement& element);

struct XmlFragment {
  // Where the element goes, as a path of elements below <domain>: "" for <domain> itself,
  // "devices", "features", "os".
  std::string parent;
  // Canonical text of `element` once parsed; before that, the config's text as written.
  std::string xml;
  XmlElement element;  // filled by the provider's fragment pass (fragment_xml.h)
  Location where;      // config only: the fragment's xml key

  // "devices/sound", "qemu:commandline".
  std::string path() const { return parent.empty() ? element.name : parent + "/" + element.name; }
  bool operator==(const XmlFragment&) const = default;
};

// Where a fragment may go, as `parent` is written: "domain" (the default) for <domain> itself, and
// the containers whose children keys own one by one.
inline constexpr std::string_view kFragmentParents[] = {"domain", "devices", "features", "os"};

// The plan's field for a fragment: "xml[devices/sound]".
std::string fragment_label(const XmlFragment& fragment);

}  // namespace virtform
