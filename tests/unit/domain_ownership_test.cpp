// Import leaves nothing out unnamed: every element libvirt's own schema allows in a domain
// (domaincommon.rng as installed, read here) is owned by a key, named by import as not
// expressed, or one of the defaults the ownership table lists. And the table does not lie: each
// element it says a key owns is read by the domain reader (dropping it from a real definition
// changes the model), and a child libvirt allows inside an owned element is named when its key
// does not express it.

#include "providers/libvirt/domain_ownership.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <pugixml.hpp>
#include <set>
#include <sstream>

#include "engine/plan/model_json.h"
#include "providers/libvirt/domain_xml.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;

const std::string kSchemaDirectory = "/usr/share/libvirt/schemas";

// Paths below <domain> ("devices/sound") of every element the schema reaches, with the names of
// each one's child elements, down to `kDepth` levels.
constexpr std::size_t kDepth = 3;

class SchemaWalk {
 public:
  SchemaWalk() {
    load("domaincommon.rng");
    for (const pugi::xml_node& element : elements_named_domain_) content(element, "", 0);
  }

  const std::map<std::string, std::set<std::string>>& children() const { return children_; }

 private:
  void load(const std::string& file) {
    documents_.emplace_back();
    pugi::xml_document& document = documents_.back();
    REQUIRE(document.load_file((kSchemaDirectory + "/" + file).c_str()));
    for (pugi::xml_node node : document.child("grammar").children()) {
      const std::string name = node.name();
      if (name == "include") load(node.attribute("href").as_string());
      if (name == "define") defines_[node.attribute("name").as_string()].push_back(node);
    }
    for (pugi::xpath_node found : document.select_nodes("//element[@name='domain']"))
      elements_named_domain_.push_back(found.node());
  }

  static std::string qualified(const pugi::xml_node& element) {
    std::string name = element.attribute("name").as_string();
    std::string ns = element.attribute("ns").as_string();
    if (ns.empty()) return name;
    // libvirt's driver namespaces, by the prefix libvirt writes: qemu, lxc, bhyve, xen, vmware.
    const auto end = ns.rfind("/1.0");
    const auto start = ns.rfind('/', end - 1);
    return ns.substr(start + 1, end - start - 1) + ":" + name;
  }

  void content(const pugi::xml_node& node, const std::string& path, std::size_t depth) {
    for (pugi::xml_node child : node.children()) {
      const std::string name = child.name();
      if (name == "element" && child.attribute("name")) {
        const std::string element = qualified(child);
        children_[path].insert(element);
        const std::string below = path.empty() ? element : path + "/" + element;
        if (depth + 1 < kDepth && seen_.insert({below, ""}).second)
          content(child, below, depth + 1);
      } else if (name == "ref") {
        const std::string define = child.attribute("name").as_string();
        if (!seen_.insert({path, define}).second) continue;
        for (const pugi::xml_node& target : defines_[define]) content(target, path, depth);
      } else if (name != "attribute" && name != "element") {
        content(child, path, depth);  // choice, optional, interleave, group, ...
      }
    }
  }

  std::list<pugi::xml_document> documents_;
  std::map<std::string, std::vector<pugi::xml_node>> defines_;
  std::vector<pugi::xml_node> elements_named_domain_;
  std::set<std::pair<std::string, std::string>> seen_;
  std::map<std::string, std::set<std::string>> children_;
};

const SchemaWalk& schema() {
  static const SchemaWalk walk;
  return walk;
}

std::string join(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

bool is_container(const std::string& path) {
  return is_fragment_parent(path) || path == "metadata";
}

bool owned_by_path(const std::string& path) {
  for (const OwnedElement& owned : owned_elements())
    if (owned.path == path) return true;
  return false;
}

// A domain with one empty element `name` under `parent` (written as nested wrappers).
std::string domain_with(const std::string& parent, const std::string& name) {
  std::string open, close;
  std::stringstream parts(parent);
  for (std::string part; std::getline(parts, part, '/');) {
    open += "<" + part + ">";
    close = "</" + part + ">" + close;
  }
  return "<domain type='kvm'><name>rng</name>" + open + "<" + name + "/>" + close + "</domain>";
}

std::string messages(const Diagnostics& diagnostics) {
  std::string text;
  for (const Diagnostic& diagnostic : diagnostics) text += diagnostic.message + "\n";
  return text;
}

std::vector<std::string> fixture_files() {
  std::vector<std::string> files;
  for (const auto& entry :
       fs::directory_iterator(std::string(VIRTFORM_SOURCE_DIR) + "/tests/fixtures/libvirt"))
    if (entry.path().extension() == ".xml") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first element at `path` in a fixture that the path's owner expresses, as its document.
struct Found {
  pugi::xml_document document;
  pugi::xml_node element;
};

bool find_owned(const OwnedElement& owned, Found& found) {
  for (const std::string& file : fixture_files()) {
    if (!found.document.load_string(read(file).c_str())) continue;
    const std::string parent = owned.path.rfind('/') == std::string_view::npos
                                   ? ""
                                   : std::string(owned.path.substr(0, owned.path.rfind('/')));
    const std::string xpath = "/domain/" + std::string(owned.path);
    for (pugi::xpath_node candidate : found.document.select_nodes(xpath.c_str())) {
      if (owner_of(parent, candidate.node()) != &owned) continue;
      found.element = candidate.node();
      return true;
    }
  }
  return false;
}

std::string save(const pugi::xml_document& document) {
  std::ostringstream out;
  document.save(out);
  return out.str();
}

}  // namespace

TEST_CASE("every element domaincommon.rng allows is owned, named by import, or a listed default",
          "[ownership]") {
  std::size_t checked = 0;
  for (const std::string parent : {"", "devices", "features", "os"}) {
    const auto found = schema().children().find(parent);
    REQUIRE(found != schema().children().end());
    for (const std::string& name : found->second) {
      const std::string path = join(parent, name);
      if (is_container(path) || owned_by_path(path)) continue;
      INFO(path);
      Diagnostics unexpressed;
      parse_domain_xml(domain_with(parent, name), &unexpressed);
      const bool named = messages(unexpressed).find(path) != std::string::npos;
      const bool listed_default = is_default_element(parent, XmlElement{name, {}, "", {}});
      CHECK((named || listed_default));
      ++checked;
    }
  }
  // The schema was read, not an empty file: libvirt 9 has about a hundred of these.
  INFO("checked " << checked);
  CHECK(checked > 60);
  CHECK(schema().children().at("devices").count("sound") == 1);
  CHECK(schema().children().at("").count("qemu:commandline") == 1);
}

TEST_CASE("each element the ownership table gives a key is read by the domain reader",
          "[ownership]") {
  for (const OwnedElement& owned : owned_elements()) {
    // Not read into the model, by design: the domain's identity; the <console> the serial key
    // writes beside its <serial>; <os><boot>, which the disks' boot order stands for, and SMM,
    // which secure_boot turns on: owned so that no fragment fights the key that writes them.
    if (owned.path.empty() || owned.path == "name" || owned.path == "uuid" ||
        owned.path == "devices/console" || owned.path == "os/boot" || owned.path == "features/smm")
      continue;
    INFO(owned.path << " (" << owned.key << ")");
    Found found;
    REQUIRE(find_owned(owned, found));
    const LiveDomain with = parse_domain_xml(save(found.document));
    found.element.parent().remove_child(found.element);
    const LiveDomain without = parse_domain_xml(save(found.document));
    const bool marker = owned.path == "metadata/virtform:vm";
    CHECK(
        (marker ? with.managed != without.managed : vm_to_json(with.vm) != vm_to_json(without.vm)));
  }
}

TEST_CASE("a child libvirt allows in an owned element is named when its key does not express it",
          "[ownership]") {
  std::size_t checked = 0;
  for (const OwnedElement& owned : owned_elements()) {
    if (owned.parts.empty() || owned.path.empty()) continue;
    const auto children = schema().children().find(std::string(owned.path));
    if (children == schema().children().end()) continue;
    Found found;
    REQUIRE(find_owned(owned, found));
    for (const std::string& child : children->second) {
      const bool expressed = std::any_of(owned.parts.begin(), owned.parts.end(),
                                         [&](std::string_view part) { return part == child; });
      if (expressed || child == "address" || child == "alias" || found.element.child(child.c_str()))
        continue;
      INFO(owned.path << " <" << child << ">");
      pugi::xml_document copy;
      copy.load_string(save(found.document).c_str());
      const std::string xpath = "/domain/" + std::string(owned.path);
      pugi::xml_node element;
      for (pugi::xpath_node candidate : copy.select_nodes(xpath.c_str())) {
        const std::string path(owned.path);
        const auto slash = path.rfind('/');
        if (owner_of(slash == std::string::npos ? "" : path.substr(0, slash), candidate.node()) ==
            &owned) {
          element = candidate.node();
          break;
        }
      }
      REQUIRE(element);
      element.append_child(child.c_str());
      Diagnostics unexpressed;
      parse_domain_xml(save(copy), &unexpressed);
      CHECK_THAT(messages(unexpressed), Catch::Contains("<" + child));
      ++checked;
    }
  }
  CHECK(checked > 20);
}

TEST_CASE("an element is described by its target only as far as the target says", "[import]") {
  const XmlElement cdrom{
      "disk", {{"device", "cdrom"}}, "", {{"target", {{"bus", "sata"}}, "", {}}}};
  CHECK(describe_element(cdrom) == "disk device='cdrom' (on bus 'sata')");
  const XmlElement bare{"disk", {{"device", "cdrom"}}, "", {{"target", {}, "", {}}}};
  CHECK(describe_element(bare) == "disk device='cdrom'");
  const XmlElement full{
      "disk", {{"device", "cdrom"}}, "", {{"target", {{"bus", "sata"}, {"dev", "sda"}}, "", {}}}};
  CHECK(describe_element(full) == "disk device='cdrom' (target sda on bus 'sata')");
}

}  // namespace virtform
