#include "engine/model/xml_fragment.h"

#include <algorithm>

namespace virtform {
namespace {

bool has_attribute(const XmlElement& element, const std::pair<std::string, std::string>& wanted) {
  return std::find(element.attributes.begin(), element.attributes.end(), wanted) !=
         element.attributes.end();
}

// Each wanted child paired with a live child of its own, tried in order: enough for the small
// trees fragments are, where children of one name rarely say the same.
bool children_contained(const XmlElement& live, const XmlElement& wanted) {
  std::vector<bool> taken(live.children.size(), false);
  for (const XmlElement& child : wanted.children) {
    bool found = false;
    for (std::size_t i = 0; i < live.children.size() && !found; ++i) {
      if (taken[i] || !contains(live.children[i], child)) continue;
      taken[i] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

std::string escaped(const std::string& text, bool attribute) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += attribute ? "&apos;" : "'";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

bool contains(const XmlElement& live, const XmlElement& wanted) {
  if (live.name != wanted.name) return false;
  for (const auto& attribute : wanted.attributes)
    if (!has_attribute(live, attribute)) return false;
  if (!wanted.text.empty() && live.text != wanted.text) return false;
  return children_contained(live, wanted);
}

std::string canonical_xml(const XmlElement& element) {
  std::string out = "<" + element.name;
  for (const auto& [name, value] : element.attributes)
    out += " " + name + "='" + escaped(value, true) + "'";
  if (element.text.empty() && element.children.empty()) return out + "/>";
  out += ">" + escaped(element.text, false);
  for (const XmlElement& child : element.children) out += canonical_xml(child);
  return out + "</" + element.name + ">";
}

std::string fragment_label(const XmlFragment& fragment) {
  return "xml[" + fragment.path() + "]";
}

}  // namespace virtform
