#include "providers/libvirt/domain_fields.h"

#include <algorithm>
#include <array>

#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

// The text of a direct child of <domain>, such as <description> or <on_crash>.
template <const char* kName>
std::optional<std::string> child_text(const pugi::xml_node& domain) {
  const std::string text = domain.child(kName).text().as_string();
  if (text.empty()) return std::nullopt;
  return text;
}

template <const char* kName>
void set_child_text(pugi::xml_node domain, const std::string& value) {
  xml::set_text(domain_parts::domain_child(domain, kName), value);
}

constexpr char kTitle[] = "title";
constexpr char kDescription[] = "description";
constexpr char kOnCrash[] = "on_crash";

int set_title_live(virDomainPtr domain, const std::string& value) {
  return virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_TITLE, value.c_str(), nullptr, nullptr,
                              VIR_DOMAIN_AFFECT_LIVE);
}

int set_description_live(virDomainPtr domain, const std::string& value) {
  return virDomainSetMetadata(domain, VIR_DOMAIN_METADATA_DESCRIPTION, value.c_str(), nullptr,
                              nullptr, VIR_DOMAIN_AFFECT_LIVE);
}

std::optional<std::string> read_boot_menu(const pugi::xml_node& domain) {
  const pugi::xml_attribute enable = domain.child("os").child("bootmenu").attribute("enable");
  if (!enable) return std::nullopt;
  return std::string(enable.as_string()) == "yes" ? "true" : "false";
}

void write_boot_menu(pugi::xml_node domain, const std::string& value) {
  pugi::xml_node menu =
      domain_parts::os_child(domain_parts::domain_child(domain, "os"), "bootmenu");
  xml::set_attribute(menu, "enable", value == "true" ? "yes" : "no");
}

constexpr std::array<DomainField, 4> kFields = {{
    {"title", "title", child_text<kTitle>, set_child_text<kTitle>, set_title_live},
    {"description", "description", child_text<kDescription>, set_child_text<kDescription>,
     set_description_live},
    {"on_crash", "on_crash", child_text<kOnCrash>, set_child_text<kOnCrash>, nullptr},
    {"boot_menu", "os/bootmenu", read_boot_menu, write_boot_menu, nullptr},
}};

}  // namespace

std::span<const DomainField> domain_fields() {
  return kFields;
}

const DomainField* find_domain_field(std::string_view key) {
  const auto found = std::find_if(kFields.begin(), kFields.end(),
                                  [&](const DomainField& f) { return f.key == key; });
  return found == kFields.end() ? nullptr : &*found;
}

void read_attributes(const pugi::xml_node& domain, Vm& vm) {
  for (const DomainField& field : kFields)
    if (auto value = field.read(domain)) vm.attributes[std::string(field.key)] = *value;
}

void write_attributes(pugi::xml_node domain, const Vm& vm) {
  for (const auto& [key, value] : vm.attributes)
    if (const DomainField* field = find_domain_field(key)) field->write(domain, value);
}

}  // namespace virtform
