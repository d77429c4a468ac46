#include "providers/libvirt/fragment_xml.h"

#include <algorithm>

#include "engine/model/vm_fields.h"
#include "engine/system/hypervisor.h"
#include "providers/libvirt/domain_ownership.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

std::string join(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

// "domain/devices", "/devices" and "devices" alike; "domain" and "" are <domain> itself.
std::string normal_parent(std::string parent) {
  while (!parent.empty() && parent.front() == '/') parent.erase(0, 1);
  while (!parent.empty() && parent.back() == '/') parent.pop_back();
  if (parent == "domain") return "";
  if (parent.rfind("domain/", 0) == 0) parent.erase(0, 7);
  return parent;
}

std::size_t element_children(const pugi::xml_node& node) {
  std::size_t count = 0;
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) ++count;
  return count;
}

pugi::xml_node first_element(const pugi::xml_node& node) {
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) return child;
  return {};
}

// "line 1, column 8" of the offset in the fragment's own text.
std::string position_in(const std::string& text, std::ptrdiff_t offset) {
  std::size_t line = 1, column = 1;
  for (std::ptrdiff_t i = 0; i < offset && i < std::ptrdiff_t(text.size()); ++i) {
    if (text[std::size_t(i)] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "offset " + std::to_string(offset) + ", line " + std::to_string(line) + ", column " +
         std::to_string(column) + " of the fragment";
}

bool bad_prefix(const XmlElement& element) {
  const auto colon = element.name.find(':');
  if (colon != std::string::npos && element.name.substr(0, colon) != "qemu") return true;
  return std::any_of(element.children.begin(), element.children.end(), bad_prefix);
}

class FragmentReader {
 public:
  FragmentReader(const Vm& vm, Diagnostics& diagnostics) : vm_(vm), diagnostics_(diagnostics) {}

  // The fragment parsed, or nothing with the error recorded.
  bool read(XmlFragment& fragment) {
    pugi::xml_document document;
    const pugi::xml_parse_result parsed = document.load_string(fragment.xml.c_str());
    if (!parsed) {
      return fail(fragment, "is not well-formed XML: " + std::string(parsed.description()) +
                                " at " + position_in(fragment.xml, parsed.offset));
    }
    if (element_children(document) != 1)
      return fail(fragment, "must hold exactly one element; write one [[vm." + vm_.key +
                                ".xml]] per element");
    std::string parent = normal_parent(fragment.parent);
    pugi::xml_node root = first_element(document);
    if (!fragment.parent.empty() && parent.empty() && std::string(root.name()) == "domain")
      return fail(fragment, "cannot be a whole <domain>: declare its parts as fragments");
    // A wrapper says where the element goes: <devices><sound/></devices>.
    while (is_wrapper(parent, root)) {
      if (element_children(root) != 1)
        return fail(fragment, "wraps " + std::to_string(element_children(root)) + " elements in <" +
                                  root.name() + ">; write one [[vm." + vm_.key +
                                  ".xml]] per element");
      parent = std::string(root.name()) == "domain" ? "" : join(parent, root.name());
      root = first_element(root);
    }
    if (!parent.empty() && !is_fragment_parent(parent))
      return fail(fragment, "goes under '" + parent +
                                "', where fragments cannot go: <domain> itself, <devices>, "
                                "<features> or <os>");
    if (!check_root(fragment, parent, root)) return false;
    if (const auto row = row_set_under(join(parent, root.name()), vm_))
      return fail(fragment, "<" + std::string(root.name()) + "> conflicts with " + where_set(*row) +
                                ", which owns part of it; set it there, not as a fragment");
    const OwnedElement* owner = owner_of(parent, root);
    if (owner && !owner->shared)
      return fail(fragment, "<" + std::string(root.name()) + "> conflicts with " + key_in(*owner) +
                                ", which owns it; set it there, not as a fragment");
    XmlElement element = to_element(root);
    if (bad_prefix(element))
      return fail(fragment, "uses a namespace prefix other than qemu: (" +
                                std::string(kQemuNamespace) +
                                "), the only one libvirt keeps in a domain");
    fragment.parent = parent;
    fragment.element = std::move(element);
    fragment.xml = canonical_xml(fragment.element);
    return true;
  }

 private:
  // What no key owns by name yet a fragment must not take: a container of other fragments
  // (it would replace all of them), the metadata holding virtform's marker, SMM that Secure
  // Boot turns on, a default namespace libvirt would drop.
  bool check_root(const XmlFragment& fragment, const std::string& parent,
                  const pugi::xml_node& root) {
    const std::string name = root.name();
    if (name == "domain" || is_fragment_parent(name)) {
      if (!root.first_attribute())
        return fail(fragment, "nests <" + name + "> under '" +
                                  (parent.empty() ? "domain" : parent) +
                                  "'; drop the wrapper or the parent key");
      return fail(fragment, "<" + name +
                                "> with attributes cannot be a fragment: it holds elements "
                                "keys and other fragments own; a wrapper takes no attributes");
    }
    if (parent.empty() && name == "metadata")
      return fail(fragment, "<metadata> cannot be a fragment: it holds virtform's marker");
    if (parent == "features" && name == "smm" && vm_.firmware.secure_boot.value_or(false))
      return fail(fragment,
                  "<smm> conflicts with secure_boot, which turns SMM on; set it there, "
                  "not as a fragment");
    if (root.attribute("xmlns"))
      return fail(fragment, "<" + name + "> declares xmlns='" + root.attribute("xmlns").value() +
                                "', which libvirt does not keep: the element would be written "
                                "without its namespace");
    return true;
  }

  static bool is_wrapper(const std::string& parent, const pugi::xml_node& root) {
    const std::string name = root.name();
    if (root.first_attribute()) return false;
    if (name == "domain") return parent.empty();
    return is_fragment_parent(join(parent, name));
  }

  // "vcpus", "[[vm.win.disk]]": the owner in this VM's words.
  // "vapic in [vm.a.hyperv]": a row's key as the config sets it.
  std::string where_set(const std::string& row) const {
    const VmField& field = *find_vm_field(row);
    const std::string table(field_table(field));
    return std::string(field_name(field)) + " in [vm." + vm_.key +
           (table.empty() ? "" : "." + table) + "]";
  }

  std::string key_in(const OwnedElement& owner) const {
    std::string key(owner.key);
    if (const auto at = key.find("vm.X"); at != std::string::npos)
      key.replace(at, 4, "vm." + vm_.key);
    return key;
  }

  bool fail(const XmlFragment& fragment, const std::string& message) {
    diagnostics_.push_back({Severity::error, "[[vm." + vm_.key + ".xml]] " + message,
                            fragment.where, "vm." + vm_.key});
    return false;
  }

  const Vm& vm_;
  Diagnostics& diagnostics_;
};

XmlElement parse_element(const std::string& text) {
  pugi::xml_document document = xml::load(text, "XML fragment");
  return to_element(first_element(document));
}

bool is_marker_fragment(const pugi::xml_node& node) {
  const std::string name = node.name();
  return name == "xml" || name.ends_with(":xml");
}

void append_element(pugi::xml_node parent, const XmlElement& element) {
  pugi::xml_node node = parent.append_child(element.name.c_str());
  for (const auto& [name, value] : element.attributes)
    node.append_attribute(name.c_str()) = value.c_str();
  if (!element.text.empty()) node.append_child(pugi::node_pcdata).set_value(element.text.c_str());
  for (const XmlElement& child : element.children) append_element(node, child);
}

// The parent element, made when missing ("devices", "os/..." are one level deep).
pugi::xml_node parent_node(pugi::xml_node domain, const std::string& parent) {
  if (parent.empty()) return domain;
  return domain_parts::domain_child(domain, parent.c_str());
}

// Without libvirt's placement of a device: its own <address> and <alias>, not those inside it
// (a USB <hostdev>'s <source><address> says which device it is).
void strip_placement(XmlElement& element) {
  std::erase_if(element.children, [](const XmlElement& child) {
    return child.name == "address" || child.name == "alias";
  });
}

pugi::xml_node find_containing(pugi::xml_node parent, const XmlElement& wanted) {
  for (pugi::xml_node child : parent.children(wanted.name.c_str()))
    if (contains(to_element(child), wanted)) return child;
  return {};
}

// The element virtform wrote for `wanted`: of those containing it, the one that is exactly it
// (a hand-made twin that says more stays), else the first.
pugi::xml_node find_written(pugi::xml_node parent, const XmlElement& wanted) {
  const std::string exact = canonical_xml(wanted);
  for (pugi::xml_node child : parent.children(wanted.name.c_str())) {
    XmlElement element = to_element(child);
    strip_placement(element);
    if (canonical_xml(element) == exact) return child;
  }
  return find_containing(parent, wanted);
}

// Outside <devices> an element stands alone: a fragment replaces the one there (virtform's own
// <clock offset='utc'/>, say). <os><boot> repeats.
bool replaces_same_name(const std::string& parent, const std::string& name) {
  if (parent == "devices") return false;
  return !(parent == "os" && name == "boot");
}

void put(pugi::xml_node domain, const XmlFragment& fragment, const XmlElement& element) {
  pugi::xml_node parent = parent_node(domain, fragment.parent);
  if (find_containing(parent, element)) return;
  if (replaces_same_name(fragment.parent, element.name))
    xml::remove_children(parent, element.name.c_str());
  if (element.name.rfind("qemu:", 0) == 0 && !domain.attribute("xmlns:qemu"))
    domain.append_attribute("xmlns:qemu") = kQemuNamespace;
  pugi::xml_document staged;
  append_element(staged, element);
  if (fragment.parent.empty() && element.name.find(':') == std::string::npos) {
    // Where libvirt writes it among <domain>'s children.
    pugi::xml_node placed = domain_parts::domain_child(domain, element.name.c_str());
    parent.insert_copy_after(staged.first_child(), placed);
    parent.remove_child(placed);
    return;
  }
  parent.append_copy(staged.first_child());
}

bool declared(const std::vector<XmlFragment>& fragments, const XmlFragment& fragment) {
  return std::any_of(fragments.begin(), fragments.end(), [&](const XmlFragment& f) {
    return f.parent == fragment.parent && f.xml == fragment.xml;
  });
}

pugi::xml_node find_marker(pugi::xml_node domain) {
  for (pugi::xml_node child : domain.child("metadata").children())
    if (xml::in_namespace(child, kMetadataNamespace)) return child;
  return {};
}

bool importable(const XmlFragment& element) {
  if (element.parent == "devices") return element.element.name != "controller";
  return element.parent.empty() || element.parent == "features";
}

}  // namespace

std::vector<XmlFragment> importable_fragments(const std::string& domain_xml) {
  pugi::xml_document document = xml::load(domain_xml, "domain definition");
  Unowned unowned = find_unowned(document.child("domain"));
  std::vector<XmlFragment> fragments;
  for (std::size_t i = 0; i < unowned.elements.size(); ++i) {
    XmlFragment& fragment = unowned.elements[i];
    if (unowned.defaults[i] || unowned.shared[i] || !importable(fragment)) continue;
    strip_placement(fragment.element);
    fragment.xml = canonical_xml(fragment.element);
    fragments.push_back(std::move(fragment));
  }
  return fragments;
}

void read_xml_fragments(Desired& desired, Diagnostics& diagnostics) {
  for (Vm& vm : desired.vms) {
    FragmentReader reader(vm, diagnostics);
    std::vector<XmlFragment> read;
    for (XmlFragment& fragment : vm.xml)
      if (reader.read(fragment)) read.push_back(std::move(fragment));
    vm.xml = std::move(read);
  }
}

std::vector<XmlFragment> recorded_fragments(const pugi::xml_node& marker) {
  std::vector<XmlFragment> recorded;
  for (pugi::xml_node node : marker.children()) {
    if (!is_marker_fragment(node)) continue;
    XmlFragment fragment;
    fragment.parent = node.attribute("parent").as_string();
    try {
      fragment.element = parse_element(node.text().as_string());
    } catch (const SystemError&) {
      continue;  // edited by hand into nonsense: nothing virtform can take out
    }
    fragment.xml = canonical_xml(fragment.element);
    recorded.push_back(std::move(fragment));
  }
  return recorded;
}

void record_fragments(pugi::xml_node marker, const std::vector<XmlFragment>& fragments) {
  for (const XmlFragment& fragment : fragments) {
    pugi::xml_node node = marker.append_child("virtform:xml");
    node.append_attribute("parent") = fragment.parent.c_str();
    node.append_child(pugi::node_pcdata).set_value(fragment.xml.c_str());
  }
}

namespace {

// An element a fragment wrote that a key owns now (a <sound> before the sound key existed) is the
// key's to keep or change: taking the stale fragment out would drop it from the guest, though the
// plan, which compares only what no key owns, showed no removal.
bool owned_by_a_key(const std::string& parent, const pugi::xml_node& element) {
  const OwnedElement* owner = owner_of(parent, element);
  return owner && !owner->shared;
}

}  // namespace

void take_out_fragments(pugi::xml_node domain, const std::vector<XmlFragment>& desired) {
  for (const XmlFragment& stale : recorded_fragments(find_marker(domain))) {
    if (declared(desired, stale)) continue;
    pugi::xml_node parent = stale.parent.empty() ? domain : domain.child(stale.parent.c_str());
    pugi::xml_node element = find_written(parent, stale.element);
    if (element && !owned_by_a_key(stale.parent, element)) parent.remove_child(element);
  }
}

void put_fragments(pugi::xml_node domain, const std::vector<XmlFragment>& desired) {
  for (const XmlFragment& fragment : desired) put(domain, fragment, parse_element(fragment.xml));
}

std::set<std::string> fragment_disk_targets(const std::vector<XmlFragment>& fragments) {
  std::set<std::string> used;
  for (const XmlFragment& fragment : fragments) {
    if (fragment.parent != "devices") continue;
    pugi::xml_document document;
    if (!document.load_string(fragment.xml.c_str())) continue;
    const char* dev = document.child("disk").child("target").attribute("dev").as_string();
    if (*dev) used.insert(dev);
  }
  return used;
}

}  // namespace virtform
