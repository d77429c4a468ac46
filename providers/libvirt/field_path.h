#pragma once
// Where an attribute row lives in domain XML, below <domain>: element steps separated by '/',
// each a name with an optional [@attribute='value'] picking one of several siblings, then
// optionally an @attribute. "title" is an element's text; "clock/@offset" an attribute of
// <clock>; "clock/timer[@name='hpet']/@present" an attribute of the one HPET timer.

#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace virtform {

struct PathStep {
  std::string name;
  std::string key;        // the attribute telling it from its siblings, or ""
  std::string key_value;  // its value
};

struct FieldPath {
  std::vector<PathStep> elements;
  std::string attribute;  // the last step's attribute, or "" for the element itself
};

// Throws std::invalid_argument on a malformed path (the tables' paths are constants).
FieldPath parse_field_path(std::string_view text);

// Whether `element` is the step: its name, and its key attribute where the step has one.
bool matches_step(const PathStep& step, const pugi::xml_node& element);

// The first child of `node` the step names, or an empty node.
pugi::xml_node child_at(const pugi::xml_node& node, const PathStep& step);

// The element the path's steps reach, or an empty node.
pugi::xml_node find_path(const pugi::xml_node& domain, const FieldPath& path);
// The same, adding what is missing (a new child of <domain> where libvirt puts it).
pugi::xml_node make_path(pugi::xml_node domain, const FieldPath& path);

// The path's attribute (or, without one, the element's text); nothing when absent or empty.
std::optional<std::string> value_at(const pugi::xml_node& domain, const FieldPath& path);
// Sets it, making the elements on the way.
void set_value_at(pugi::xml_node domain, const FieldPath& path, const std::string& value);

}  // namespace virtform
