#include "providers/libvirt/xml_support.h"

#include <cstdio>
#include <limits>
#include <sstream>

#include "engine/system/hypervisor.h"

namespace virtform::xml {

pugi::xml_document load(const std::string& text, const std::string& what) {
  pugi::xml_document document;
  pugi::xml_parse_result result = document.load_string(text.c_str());
  if (!result) {
    throw SystemError(what + " is not well-formed XML: " + result.description() + " at offset " +
                      std::to_string(result.offset));
  }
  return document;
}

std::string save(const pugi::xml_node& node) {
  std::ostringstream out;
  node.print(
      out, "  ",
      pugi::format_indent | pugi::format_attribute_single_quote | pugi::format_no_declaration);
  return out.str();
}

namespace {

// KiB per unit, following libvirt's rules: k/KiB, M/MiB... are powers of 1024; KB, MB... of 1000.
std::optional<double> kib_per_unit(const std::string& unit) {
  if (unit.empty() || unit == "k" || unit == "K" || unit == "KiB") return 1.0;
  if (unit == "b" || unit == "B" || unit == "bytes") return 1.0 / 1024;
  if (unit == "KB") return 1000.0 / 1024;
  if (unit == "M" || unit == "MiB") return 1024.0;
  if (unit == "MB") return 1e6 / 1024;
  if (unit == "G" || unit == "GiB") return 1024.0 * 1024;
  if (unit == "GB") return 1e9 / 1024;
  if (unit == "T" || unit == "TiB") return 1024.0 * 1024 * 1024;
  if (unit == "TB") return 1e12 / 1024;
  return std::nullopt;
}

// An address attribute ("0x08", or decimal, as libvirt reads them), nothing when it is not
// wholly a number that fits ("0x08zz" is not 8).
std::optional<unsigned> hex_attribute(const pugi::xml_node& node, const char* name) {
  try {
    const std::string text = node.attribute(name).as_string("0");
    std::size_t end = 0;
    const unsigned long value = std::stoul(text, &end, 0);
    if (end != text.size() || value > std::numeric_limits<unsigned>::max()) return std::nullopt;
    return static_cast<unsigned>(value);
  } catch (const std::exception&) {  // std::stoul: not a number, or out of range
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::uint64_t> size_kib(const pugi::xml_node& element) {
  auto factor = kib_per_unit(element.attribute("unit").as_string());
  std::string text = element.text().as_string();
  if (!factor || text.empty()) return std::nullopt;
  try {
    const double kib = static_cast<double>(std::stoull(text)) * *factor;
    // 2^64 KiB and beyond is no real size, and converting it to an integer would be undefined.
    if (kib >= 18446744073709551616.0) return std::nullopt;
    return static_cast<std::uint64_t>(kib);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool in_namespace(const pugi::xml_node& element, const std::string& uri) {
  std::string name = element.name();
  auto colon = name.find(':');
  std::string declaration = colon == std::string::npos ? "xmlns" : "xmlns:" + name.substr(0, colon);
  for (pugi::xml_node node = element; node; node = node.parent()) {
    if (pugi::xml_attribute attribute = node.attribute(declaration.c_str())) {
      return uri == attribute.value();
    }
  }
  return false;
}

std::optional<std::string> pci_address(const pugi::xml_node& address) {
  const auto domain = hex_attribute(address, "domain"), bus = hex_attribute(address, "bus"),
             slot = hex_attribute(address, "slot"), function = hex_attribute(address, "function");
  if (!domain || !bus || !slot || !function) return std::nullopt;
  char text[48];
  std::snprintf(text, sizeof text, "%04x:%02x:%02x.%x", *domain, *bus, *slot, *function);
  return text;
}

void set_pci_address(pugi::xml_node address, const std::string& canonical) {
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
  std::sscanf(canonical.c_str(), "%x:%x:%x.%x", &domain, &bus, &slot, &function);
  char text[16];
  std::snprintf(text, sizeof text, "0x%04x", domain);
  set_attribute(address, "domain", text);
  std::snprintf(text, sizeof text, "0x%02x", bus);
  set_attribute(address, "bus", text);
  std::snprintf(text, sizeof text, "0x%02x", slot);
  set_attribute(address, "slot", text);
  std::snprintf(text, sizeof text, "0x%x", function);
  set_attribute(address, "function", text);
}

std::string target_prefix(DiskBus bus) {
  if (bus == DiskBus::virtio) return "vd";
  return bus == DiskBus::ide ? "hd" : "sd";
}

namespace {
// libvirt's disk naming: 0 -> a, 25 -> z, 26 -> aa.
std::string disk_letters(int index) {
  std::string letters;
  for (int i = index; i >= 0; i = i / 26 - 1) letters.insert(letters.begin(), char('a' + i % 26));
  return letters;
}
}  // namespace

std::string free_target(DiskBus bus, const std::set<std::string>& used) {
  for (int index = 0;; ++index) {
    std::string name = target_prefix(bus) + disk_letters(index);
    if (!used.count(name)) return name;
  }
}

std::string disk_target(const Disk& disk, const std::set<std::string>& used) {
  const std::string last = target_prefix(disk.bus) + "z";
  if (!disk.loader.empty() && !used.count(last)) return last;
  std::set<std::string> reserved = used;
  reserved.insert(last);
  return free_target(disk.bus, reserved);
}

std::optional<DiskBus> disk_bus(const std::string& name) {
  return enum_from_name(kDiskBusNames, name);
}

pugi::xml_node child_or_append(pugi::xml_node parent, const char* name) {
  pugi::xml_node child = parent.child(name);
  return child ? child : parent.append_child(name);
}

void set_attribute(pugi::xml_node node, const char* name, const std::string& value) {
  pugi::xml_attribute attribute = node.attribute(name);
  if (!attribute) attribute = node.append_attribute(name);
  attribute.set_value(value.c_str());
}

void set_text(pugi::xml_node node, const std::string& text) {
  node.text().set(text.c_str());
}

void remove_children(pugi::xml_node parent, const char* name) {
  while (pugi::xml_node child = parent.child(name)) parent.remove_child(child);
}

}  // namespace virtform::xml
