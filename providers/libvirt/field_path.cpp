#include "providers/libvirt/field_path.h"

#include <stdexcept>

#include "providers/libvirt/domain_parts.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {
namespace {

// "timer[@name='hpet']" into its name and key.
PathStep parse_step(std::string_view text) {
  PathStep step;
  const auto open = text.find('[');
  step.name = std::string(text.substr(0, open));
  if (open == std::string_view::npos) return step;
  const std::string_view predicate = text.substr(open);
  const auto equals = predicate.find("='");
  if (!predicate.starts_with("[@") || equals == std::string_view::npos ||
      !predicate.ends_with("']"))
    throw std::invalid_argument("malformed step '" + std::string(text) + "'");
  step.key = std::string(predicate.substr(2, equals - 2));
  step.key_value = std::string(predicate.substr(equals + 2, predicate.size() - equals - 4));
  return step;
}

}  // namespace

// The first child of `node` the step names.
pugi::xml_node child_at(const pugi::xml_node& node, const PathStep& step) {
  for (pugi::xml_node child : node.children())
    if (matches_step(step, child)) return child;
  return {};
}

FieldPath parse_field_path(std::string_view text) {
  FieldPath path;
  while (!text.empty()) {
    const auto slash = text.find('/');
    const std::string_view step = text.substr(0, slash);
    if (step.starts_with("@")) {
      if (slash != std::string_view::npos)
        throw std::invalid_argument("an attribute ends a path: '" + std::string(text) + "'");
      path.attribute = std::string(step.substr(1));
    } else {
      path.elements.push_back(parse_step(step));
    }
    text = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  }
  if (path.elements.empty()) throw std::invalid_argument("a path names an element");
  return path;
}

bool matches_step(const PathStep& step, const pugi::xml_node& element) {
  return step.name == element.name() &&
         (step.key.empty() || step.key_value == element.attribute(step.key.c_str()).as_string());
}

pugi::xml_node find_path(const pugi::xml_node& domain, const FieldPath& path) {
  pugi::xml_node node = domain;
  for (const PathStep& step : path.elements) {
    node = child_at(node, step);
    if (!node) return {};
  }
  return node;
}

pugi::xml_node make_path(pugi::xml_node domain, const FieldPath& path) {
  pugi::xml_node node = domain;
  for (const PathStep& step : path.elements) {
    pugi::xml_node found = child_at(node, step);
    if (!found) {
      found = node == domain ? domain_parts::domain_child(domain, step.name.c_str())
                             : node.append_child(step.name.c_str());
      if (!step.key.empty()) xml::set_attribute(found, step.key.c_str(), step.key_value);
    }
    node = found;
  }
  return node;
}

std::optional<std::string> value_at(const pugi::xml_node& domain, const FieldPath& path) {
  const pugi::xml_node element = find_path(domain, path);
  if (!element) return std::nullopt;
  const std::string value = path.attribute.empty()
                                ? element.text().as_string()
                                : element.attribute(path.attribute.c_str()).as_string();
  if (value.empty()) return std::nullopt;
  return value;
}

void set_value_at(pugi::xml_node domain, const FieldPath& path, const std::string& value) {
  pugi::xml_node element = make_path(domain, path);
  if (path.attribute.empty()) {
    xml::set_text(element, value);
  } else {
    xml::set_attribute(element, path.attribute.c_str(), value);
  }
}

}  // namespace virtform
