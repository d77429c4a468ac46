#include "providers/libvirt/domain_ownership.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>

#include "engine/model/vm_fields.h"
#include "providers/libvirt/device_xml.h"
#include "providers/libvirt/disk_fields.h"
#include "providers/libvirt/domain_fields.h"
#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

using Parts = std::span<const std::string_view>;

constexpr std::array<std::string_view, 1> kMemoryParts = {"@unit"};
constexpr std::array<std::string_view, 2> kVcpuParts = {"@placement", "@current"};
constexpr std::array<std::string_view, 3> kDomainParts = {"@type", "@id", "@xmlns:qemu"};
constexpr std::array<std::string_view, 2> kOsTypeParts = {"@arch", "@machine"};
constexpr std::array<std::string_view, 3> kLoaderParts = {"@readonly", "@type", "@secure"};
constexpr std::array<std::string_view, 1> kNvramParts = {"@template"};
// migratable='on' is libvirt's own default for host-passthrough; a topology's dies is 1 unless
// cpu.dies says otherwise.
constexpr std::array<std::string_view, 11> kCpuParts = {"@mode",
                                                        "@match",
                                                        "@check",
                                                        "@migratable",
                                                        "model",
                                                        "topology/@sockets",
                                                        "topology/@dies",
                                                        "topology/@cores",
                                                        "topology/@threads",
                                                        "feature[@policy='require']",
                                                        "feature[@policy='disable']"};
// cache and io are Disk's; virtform writes cache='none' io='native' on whole block devices. The
// options of disk_fields.h come after these.
constexpr std::array<std::string_view, 12> kDiskOwnParts = {
    "@type",        "@device",     "driver/@name", "driver/@type", "driver/@cache", "driver/@io",
    "source/@file", "source/@dev", "target/@dev",  "target/@bus",  "boot",          "readonly"};

std::span<const std::string_view> disk_parts() {
  static const std::vector<std::string_view> parts = [] {
    std::vector<std::string_view> all(kDiskOwnParts.begin(), kDiskOwnParts.end());
    for (const DiskField& field : disk_fields()) all.push_back(field.path);
    return all;
  }();
  return parts;
}
// A drive's media is its <source> whole: a new ISO replaces what libvirt noted of the old one.
constexpr std::array<std::string_view, 8> kCdromParts = {
    "@type", "@device", "driver/@name", "driver/@type", "source", "target", "boot", "readonly"};
// <target dev>: the host's tap device, which libvirt names when the guest starts.
constexpr std::array<std::string_view, 6> kNicParts = {
    "@type", "mac", "source/@bridge", "source/@network", "model/@type", "target"};
// <address>: where the guest sees it, which guest_address sets and libvirt picks otherwise.
constexpr std::array<std::string_view, 7> kHostdevParts = {
    "@mode", "@type", "@managed", "source", "rom/@file", "rom/@bar", "address"};
constexpr std::array<std::string_view, 7> kUsbParts = {
    "@mode",         "@type",          "@managed",      "source/@startupPolicy",
    "source/vendor", "source/product", "source/address"};
constexpr std::array<std::string_view, 6> kMdevParts = {
    "@mode", "@type", "@managed", "@model", "@display", "source/address/@uuid"};
constexpr std::array<std::string_view, 2> kInputParts = {"@type", "@bus"};
constexpr std::array<std::string_view, 5> kEvdevParts = {"@type", "source/@dev", "source/@grab",
                                                         "source/@grabToggle", "source/@repeat"};
constexpr std::array<std::string_view, 6> kGraphicsParts = {"@type",   "@autoport", "@port",
                                                            "@listen", "listen",    "gl"};
constexpr std::array<std::string_view, 2> kSerialParts = {"@type", "target"};
constexpr std::array<std::string_view, 6> kShareParts = {
    "@type", "@accessmode", "driver/@type", "source/@dir", "target/@dir", "readonly"};

bool is_disk(const pugi::xml_node& e) {
  return device_xml::read_disk(e).has_value();
}
bool is_cdrom(const pugi::xml_node& e) {
  return device_xml::read_cdrom(e).has_value();
}
bool is_nic(const pugi::xml_node& e) {
  return device_xml::read_nic(e).has_value();
}
bool is_hostdev(const pugi::xml_node& e) {
  return device_xml::read_hostdev(e).has_value();
}
bool is_usb(const pugi::xml_node& e) {
  return device_xml::read_usb(e).has_value();
}
bool is_mdev(const pugi::xml_node& e) {
  return device_xml::read_mdev(e).has_value();
}
bool is_emulated_input(const pugi::xml_node& e) {
  const auto input = device_xml::read_input(e);
  return input && input->type != "evdev";
}
bool is_evdev(const pugi::xml_node& e) {
  const auto input = device_xml::read_input(e);
  return input && input->type == "evdev";
}
bool is_share(const pugi::xml_node& e) {
  return device_xml::read_share(e).has_value();
}
// The model reads the first <graphics> only, and only SPICE or VNC.
bool is_graphics(const pugi::xml_node& e) {
  const std::string type = e.attribute("type").as_string();
  return !e.previous_sibling("graphics") && (type == "spice" || type == "vnc");
}
// The model reads the first <serial>; a non-pty one import leaves out.
bool is_pty_serial(const pugi::xml_node& e) {
  return !e.previous_sibling(e.name()) && std::string(e.attribute("type").as_string()) == "pty";
}
// SMM in a domain with a secure loader is what secure_boot turned on (import reads it so).
bool is_secure_smm(const pugi::xml_node& e) {
  return domain_parts::secure_boot(e.parent().parent().child("os")).value_or(false);
}
bool is_marker(const pugi::xml_node& e) {
  return xml::in_namespace(e, kMetadataNamespace);
}

// What the rows sharing an element do not say in a path of their own but write with it.
struct SharedElement {
  std::string_view path;
  bool (*expresses)(const pugi::xml_node& element);
  std::string_view written;  // a part every row's writer sets, or ""
};
constexpr SharedElement kShared[] = {
    {"features/hyperv", lists_enlightenments, "@mode"},
    {"clock", is_plain_clock, ""},
};

// A row's path split at the element it owns: the first step below <domain> or a fragment
// parent. The rest ("relaxed/@state") is its part of a shared element; empty when the row owns
// the element whole.
std::pair<std::string, std::string> split_row_path(std::string_view path) {
  std::string element;
  while (!path.empty()) {
    const auto slash = path.find('/');
    element += (element.empty() ? "" : "/") + std::string(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (!is_fragment_parent(element)) break;
  }
  return {element, std::string(path)};
}

// The config's name for what owns a shared element: the rows' table, or the one row's key.
std::string shared_owner(std::string_view row_key) {
  const VmField* field = find_vm_field(row_key);
  const std::string_view table = field ? field_table(*field) : std::string_view();
  return table.empty() ? std::string(row_key) : "[vm.X." + std::string(table) + "]";
}

// The rows' shared elements with their parts, in row order; the parts' text lives here.
std::vector<OwnedElement> shared_elements() {
  static std::deque<std::string> texts;
  static std::deque<std::vector<std::string_view>> parts;
  std::vector<OwnedElement> shared;
  std::vector<std::vector<std::string_view>*> parts_of;
  for (const DomainField& field : domain_fields()) {
    // Named, not a structured binding: clang 14 cannot capture one in the lambda below.
    const auto split = split_row_path(field.path);
    const auto& element = split.first;
    if (split.second.empty()) continue;
    auto found = std::find_if(shared.begin(), shared.end(),
                              [&](const OwnedElement& e) { return e.path == element; });
    if (found == shared.end()) {
      const std::string& path = texts.emplace_back(element);
      const std::string& key = texts.emplace_back(shared_owner(field.key));
      parts_of.push_back(&parts.emplace_back());
      bool (*expresses)(const pugi::xml_node&) = nullptr;
      for (const SharedElement& entry : kShared) {
        if (entry.path != path) continue;
        expresses = entry.expresses;
        if (!entry.written.empty()) parts_of.back()->push_back(entry.written);
      }
      shared.push_back({path, key, expresses, {}, true});
      found = shared.end() - 1;
    }
    parts_of[static_cast<std::size_t>(found - shared.begin())]->push_back(
        texts.emplace_back(split.second));
  }
  for (std::size_t i = 0; i < shared.size(); ++i) shared[i].parts = *parts_of[i];
  return shared;
}

std::vector<OwnedElement> make_owned() {
  std::vector<OwnedElement> owned = {
      {"", "the domain type (type)", nullptr, kDomainParts},
      {"name", "name", nullptr, {}},
      {"uuid", "the domain's identity", nullptr, {}},
      {"metadata/virtform:vm", "virtform's marker", is_marker, {}},
      {"memory", "memory", nullptr, kMemoryParts},
      {"currentMemory", "memory", nullptr, kMemoryParts},
      {"vcpu", "vcpus", nullptr, kVcpuParts},
      {"os/type", "machine", nullptr, kOsTypeParts},
      // Every loader and store: a ROM one in a fragment would take the UEFI loader's place.
      {"os/loader", "firmware", nullptr, kLoaderParts},
      {"os/nvram", "nvram", nullptr, kNvramParts},
      {"os/firmware", "firmware", nullptr, {}},
      {"os/kernel", "kernel", nullptr, {}},
      {"os/initrd", "initrd", nullptr, {}},
      {"os/cmdline", "cmdline", nullptr, {}},
      // The boot order is the disks': a fragment's <boot dev> would override theirs.
      {"os/boot", "[[vm.X.disk]] (their order is the boot order)", nullptr, {}},
      // Whole, whatever it says: a fragment would replace the one the cpu key writes.
      {"cpu", "cpu", nullptr, kCpuParts},
      {"features/smm", "secure_boot", is_secure_smm, {}},
      {"devices/disk", "[[vm.X.disk]]", is_disk, disk_parts()},
      {"devices/disk", "[[vm.X.disk]] device = \"cdrom\"", is_cdrom, kCdromParts},
      {"devices/interface", "[[vm.X.nic]]", is_nic, kNicParts},
      {"devices/hostdev", "[[vm.X.pci]]", is_hostdev, kHostdevParts},
      {"devices/hostdev", "[[vm.X.usb]]", is_usb, kUsbParts},
      {"devices/hostdev", "[[vm.X.mdev]]", is_mdev, kMdevParts},
      {"devices/input", "[[vm.X.input]]", is_emulated_input, kInputParts},
      {"devices/input", "[[vm.X.input]] type = \"evdev\"", is_evdev, kEvdevParts},
      {"devices/filesystem", "[[vm.X.share]]", is_share, kShareParts},
      {"devices/graphics", "[vm.X.graphics]", is_graphics, kGraphicsParts},
      {"devices/serial", "[vm.X.serial]", is_pty_serial, kSerialParts},
      {"devices/console", "[vm.X.serial]", is_pty_serial, kSerialParts},
  };
  // A row on a part of a shared element (a <hyperv> switch) is owned through the shared
  // element's entry below; rows that share a whole element (watchdog and its action) own it
  // once, in the first one's name.
  for (const DomainField& field : domain_fields()) {
    if (!split_row_path(field.path).second.empty()) continue;
    const bool taken = std::any_of(owned.begin(), owned.end(), [&](const OwnedElement& entry) {
      return entry.path == field.path && entry.expresses == field.expresses;
    });
    if (!taken) owned.push_back({field.path, field.key, field.expresses, {}});
  }
  // <cpu> is owned whole by the entry above, parts and all.
  for (const OwnedElement& shared : shared_elements())
    if (shared.path != "cpu") owned.push_back(shared);
  return owned;
}

const std::vector<OwnedElement>& owned_table() {
  static const std::vector<OwnedElement> table = make_owned();
  return table;
}

// What a domain gets without asking: libvirt 9's additions to a minimal q35 and i440fx domain
// (defined and read back with `virsh dumpxml --inactive`), and what virtform's own skeleton
// (domain_render.cpp) writes. '*' stands for any value; beyond <address> and <alias>, the element
// must be exactly this.
struct DefaultElement {
  const char* parent;
  const char* xml;
};
constexpr DefaultElement kDefaults[] = {
    {"", "<clock offset='utc'/>"},
    {"", "<on_poweroff>destroy</on_poweroff>"},
    {"", "<on_reboot>restart</on_reboot>"},
    {"", "<resource><partition>/machine</partition></resource>"},
    {"", "<seclabel type='dynamic' model='*' relabel='yes'/>"},
    {"os", "<boot dev='hd'/>"},
    {"features", "<acpi/>"},
    {"features", "<apic/>"},
    {"devices", "<emulator>*</emulator>"},
    {"devices", "<controller type='usb' index='*' model='qemu-xhci'/>"},
    {"devices", "<controller type='usb' index='*' model='piix3-uhci'/>"},
    {"devices", "<controller type='sata' index='*'/>"},
    {"devices", "<controller type='scsi' index='*' model='virtio-scsi'/>"},
    {"devices", "<controller type='pci' index='*' model='pcie-root'/>"},
    {"devices", "<controller type='pci' index='*' model='pci-root'/>"},
    // What a legacy PCI device (an i6300esb watchdog, an ich6 or ac97 sound card) brings on q35.
    {"devices",
     "<controller type='pci' index='*' model='pcie-to-pci-bridge'>"
     "<model name='pcie-pci-bridge'/></controller>"},
    // What a virtio channel (guest_agent, spice_agent) brings.
    {"devices", "<controller type='virtio-serial' index='*'/>"},
    {"devices",
     "<controller type='pci' index='*' model='pcie-root-port'><model name='pcie-root-port'/>"
     "<target chassis='*' port='*'/></controller>"},
    {"devices", "<input type='mouse' bus='ps2'/>"},
    {"devices", "<input type='keyboard' bus='ps2'/>"},
    {"devices", "<audio id='*' type='none'/>"},
    {"devices", "<audio id='*' type='spice'/>"},
    {"devices", "<memballoon model='virtio'/>"},
    {"devices", "<video><model type='cirrus' vram='16384' heads='1' primary='yes'/></video>"},
};

bool is_placement(const XmlElement& element) {
  return element.name == "address" || element.name == "alias";
}

bool matches_pattern(const XmlElement& live, const XmlElement& pattern) {
  if (live.name != pattern.name || live.attributes.size() != pattern.attributes.size())
    return false;
  for (std::size_t i = 0; i < live.attributes.size(); ++i) {
    const auto& [name, value] = pattern.attributes[i];
    if (live.attributes[i].first != name || (value != "*" && live.attributes[i].second != value))
      return false;
  }
  if (pattern.text != "*" && live.text != pattern.text) return false;
  std::vector<const XmlElement*> children;
  for (const XmlElement& child : live.children)
    if (!is_placement(child)) children.push_back(&child);
  if (children.size() != pattern.children.size()) return false;
  for (std::size_t i = 0; i < children.size(); ++i)
    if (!matches_pattern(*children[i], pattern.children[i])) return false;
  return true;
}

const std::vector<std::pair<std::string, XmlElement>>& default_elements() {
  static const std::vector<std::pair<std::string, XmlElement>> parsed = [] {
    std::vector<std::pair<std::string, XmlElement>> all;
    for (const DefaultElement& entry : kDefaults) {
      pugi::xml_document document = xml::load(entry.xml, "libvirt default");
      all.emplace_back(entry.parent, to_element(document.first_child()));
    }
    return all;
  }();
  return parsed;
}

std::string join(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

bool listed(Parts parts, const std::string& part) {
  return std::find(parts.begin(), parts.end(), part) != parts.end();
}

bool has_parts_below(Parts parts, const std::string& prefix) {
  return std::any_of(parts.begin(), parts.end(),
                     [&](std::string_view part) { return part.starts_with(prefix + "/"); });
}

// What tells an owned element from its siblings in a message: "disk vda", "interface 52:54:...".
std::string identify(const pugi::xml_node& element) {
  std::string name = element.name();
  for (const char* detail : {element.child("target").attribute("dev").as_string(),
                             element.child("mac").attribute("address").as_string(),
                             element.attribute("type").as_string()})
    if (*detail && name != "domain") return name + " " + detail;
  return name;
}

// Why the reader of a device's path did not take it: "SCSI target or bus other than 0".
std::string why_not_owned(const pugi::xml_node& element) {
  std::string why_not;
  const std::string name = element.name();
  if (name == "disk" && std::string_view(element.attribute("device").as_string()) == "cdrom") {
    device_xml::read_cdrom(element, &why_not);
  } else if (name == "disk") {
    device_xml::read_disk(element, &why_not);
  }
  if (name == "interface") device_xml::read_nic(element, &why_not);
  const std::string_view type = element.attribute("type").as_string();
  if (name == "hostdev" && type == "usb") {
    device_xml::read_usb(element, &why_not);
  } else if (name == "hostdev" && type == "mdev") {
    device_xml::read_mdev(element, &why_not);
  } else if (name == "hostdev") {
    device_xml::read_hostdev(element, &why_not);
  }
  if (name == "filesystem") device_xml::read_share(element, &why_not);
  if (name == "input") device_xml::read_input(element, &why_not);
  return why_not;
}

class Walker {
 public:
  Unowned run(const pugi::xml_node& domain) {
    container(domain, "");
    return std::move(found_);
  }

 private:
  void container(const pugi::xml_node& node, const std::string& path) {
    // <domain> itself owns only its listed attributes (the first row).
    if (path.empty()) check_attributes(node, owned_table().front(), "", "domain");
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string child_path = join(path, child.name());
      if (is_fragment_parent(child_path) || child_path == "metadata") {
        container(child, child_path);
      } else if (const OwnedElement* owner = owner_of(path, child)) {
        check_parts(child, *owner, "", identify(child));
        if (owner->shared) add_element(path, child, true);
      } else if (path == "metadata") {
        // Other tools' notes (libosinfo's, say): named, never a fragment, as their namespace
        // declarations would not survive one.
        found_.parts.push_back("metadata " + std::string(child.name()));
      } else {
        add_element(path, child, false);
      }
    }
  }

  void add_element(const std::string& path, const pugi::xml_node& child, bool shared) {
    XmlElement element = to_element(child);
    found_.defaults.push_back(!shared && is_default_element(path, element));
    found_.reasons.push_back(shared ? "" : why_not_owned(child));
    found_.shared.push_back(shared);
    found_.elements.push_back({path, canonical_xml(element), std::move(element), {}});
  }

  void check_attributes(const pugi::xml_node& node, const OwnedElement& owner,
                        const std::string& prefix, const std::string& who) {
    for (pugi::xml_attribute attribute : node.attributes()) {
      const std::string name = attribute.name();
      if (name.rfind("xmlns", 0) == 0 || listed(owner.parts, prefix + "@" + name) ||
          picked_by(prefix, name))
        continue;
      note(who, prefix, name + "='" + attribute.value() + "'");
    }
  }

  void check_parts(const pugi::xml_node& node, const OwnedElement& owner, const std::string& prefix,
                   const std::string& who) {
    if (owner.parts.empty()) return;
    check_attributes(node, owner, prefix, who);
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string name = child.name();
      const std::string part = prefix + step_of(child, prefix, owner.parts);
      if (name == "address" || name == "alias" || listed(owner.parts, part)) continue;
      if (has_parts_below(owner.parts, part)) {
        check_parts(child, owner, part + "/", who);
      } else {
        note(who, prefix, "<" + describe_element(to_element(child)) + ">");
      }
    }
  }

  // "timer[@name='rtc']" where a part picks the child by an attribute, else its name.
  static std::string step_of(const pugi::xml_node& child, const std::string& prefix, Parts parts) {
    for (pugi::xml_attribute attribute : child.attributes()) {
      const std::string picked =
          std::string(child.name()) + "[@" + attribute.name() + "='" + attribute.value() + "']";
      if (listed(parts, prefix + picked) || has_parts_below(parts, prefix + picked)) return picked;
    }
    return child.name();
  }

  // Whether the prefix's last step picks its element by the attribute `name`: said by the step.
  static bool picked_by(const std::string& prefix, const std::string& name) {
    const auto last = prefix.rfind('/', prefix.size() < 2 ? 0 : prefix.size() - 2);
    const std::string step = prefix.substr(last == std::string::npos ? 0 : last + 1);
    return step.find("[@" + name + "='") != std::string::npos;
  }

  void note(const std::string& who, const std::string& prefix, const std::string& what) {
    std::string within = prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1) + " ";
    // "timer[@name='rtc']" as the element reads: "timer name='rtc'".
    for (auto at = within.find("[@"); at != std::string::npos; at = within.find("[@"))
      within.replace(at, 2, " ");
    for (auto at = within.find("']"); at != std::string::npos; at = within.find("']"))
      within.replace(at, 2, "'");
    found_.parts.push_back(who + ": " + within + what);
  }

  Unowned found_;
};

}  // namespace

std::span<const OwnedElement> owned_elements() {
  return owned_table();
}

const OwnedElement* owner_of(const std::string& parent, const pugi::xml_node& element) {
  const std::string path = join(parent, element.name());
  for (const OwnedElement& owned : owned_table()) {
    if (owned.path.empty()) continue;
    const bool by_name = owned.path == path;
    // The marker is found by its namespace, whatever prefix it was written with.
    const bool marker = owned.expresses == is_marker && parent == "metadata";
    if ((by_name || marker) && (!owned.expresses || owned.expresses(element))) return &owned;
  }
  return nullptr;
}

std::optional<std::string> row_set_under(const std::string& path, const Vm& vm) {
  for (const DomainField& field : domain_fields()) {
    const auto [element, part] = split_row_path(field.path);
    if (!part.empty() && element == path && vm.attributes.count(std::string(field.key)))
      return std::string(field.key);
  }
  return std::nullopt;
}

bool is_fragment_parent(const std::string& path) {
  return path != "domain" && std::find(std::begin(kFragmentParents), std::end(kFragmentParents),
                                       path) != std::end(kFragmentParents);
}

bool is_default_element(const std::string& parent, const XmlElement& element) {
  return std::any_of(default_elements().begin(), default_elements().end(), [&](const auto& entry) {
    return entry.first == parent && matches_pattern(element, entry.second);
  });
}

Unowned find_unowned(const pugi::xml_node& domain) {
  return Walker().run(domain);
}

XmlElement to_element(const pugi::xml_node& node) {
  XmlElement element;
  element.name = node.name();
  for (pugi::xml_attribute attribute : node.attributes()) {
    const std::string name = attribute.name();
    if (name == "xmlns" || name.rfind("xmlns:", 0) == 0) continue;
    element.attributes.emplace_back(name, attribute.value());
  }
  std::sort(element.attributes.begin(), element.attributes.end());
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_element) {
      element.children.push_back(to_element(child));
    } else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
      element.text += child.value();
    }
  }
  const auto first = element.text.find_first_not_of(" \t\r\n");
  const auto last = element.text.find_last_not_of(" \t\r\n");
  element.text = first == std::string::npos ? "" : element.text.substr(first, last - first + 1);
  return element;
}

std::string describe_element(const XmlElement& element) {
  std::string text = element.name;
  for (const auto& [name, value] : element.attributes)
    if (name == "type" || name == "model" || name == "name" || name == "dev" || name == "device" ||
        name == "mode" || name == "bus" || name == "offset")
      text += " " + name + "='" + value + "'";
  // A video by its model, a disk by its target.
  for (const XmlElement& child : element.children)
    if (child.name == "model")
      for (const auto& [name, value] : child.attributes)
        if (name == "type") text += " model='" + value + "'";
  for (const XmlElement& child : element.children) {
    if (child.name != "target") continue;
    std::string target;
    for (const auto& [name, value] : child.attributes)
      if (name == "dev") target = "target " + value;
    for (const auto& [name, value] : child.attributes)
      if (name == "bus") target += (target.empty() ? "on bus '" : " on bus '") + value + "'";
    if (!target.empty()) text += " (" + target + ")";
  }
  return text;
}

}  // namespace virtform
