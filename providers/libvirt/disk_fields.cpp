#include "providers/libvirt/disk_fields.h"

#include <array>

#include "engine/model/disk_options.h"
#include "providers/libvirt/field_path.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

constexpr std::array<DiskField, 6> kFields = {{
    {"discard", "driver/@discard"},
    {"detect_zeroes", "driver/@detect_zeroes"},
    {"serial", "serial"},
    {"wwn", "wwn"},
    {"iothread", "driver/@iothread"},
    {"rotation_rate", "target/@rotation_rate"},
}};

// The element the path names below the disk, made where missing: libvirt puts a disk's children
// in its own order when it writes the definition back, so appending is enough.
pugi::xml_node make_below(pugi::xml_node disk, const FieldPath& path) {
  pugi::xml_node node = disk;
  for (const PathStep& step : path.elements) node = xml::child_or_append(node, step.name.c_str());
  return node;
}

}  // namespace

std::span<const DiskField> disk_fields() {
  return kFields;
}

void read_disk_options(const pugi::xml_node& element, Disk& disk) {
  for (const DiskField& field : kFields) {
    const auto value = value_at(element, parse_field_path(field.path));
    if (value)
      disk.options[std::string(field.key)] = canonical_option(*find_disk_option(field.key), *value);
  }
}

void write_disk_options(pugi::xml_node element, const Disk& disk) {
  for (const DiskField& field : kFields) {
    const auto found = disk.options.find(std::string(field.key));
    if (found == disk.options.end()) continue;
    const FieldPath path = parse_field_path(field.path);
    pugi::xml_node target = make_below(element, path);
    if (path.attribute.empty())
      xml::set_text(target, found->second);
    else
      xml::set_attribute(target, path.attribute.c_str(), found->second);
  }
}

}  // namespace virtform
