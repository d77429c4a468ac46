#include "providers/capture/libvirt_recorder.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <pugixml.hpp>
#include <set>

#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/xml_support.h"

namespace virtform {

namespace {

// The test driver's own namespace: <test:runstate> says whether a loaded domain runs.
constexpr const char* kTestNamespace = "http://libvirt.org/schemas/domain/test/1.0";
// virDomainState values the test driver understands in <test:runstate>.
constexpr int kRunStateRunning = 1;
constexpr int kRunStateShutoff = 5;
// What a stripped secret value reads as in a recording.
constexpr const char* kStripped = "(stripped)";

std::string take_string(char* text) {
  std::unique_ptr<char, decltype(&free)> owned(text, &free);
  return text ? std::string(text) : std::string();
}

// The element's name without its namespace prefix: "qemu:arg" -> "arg".
std::string local_name(const pugi::xml_node& node) {
  const std::string name = node.name();
  const std::size_t colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(colon + 1);
}

// A QEMU option string with the values of its secret-bearing keys replaced:
// "secret,id=s0,data=hunter2" -> "secret,id=s0,data=(stripped)". A value runs to the next single
// comma (QEMU writes a comma inside a value as ",,").
std::string strip_option_secrets(const std::string& option) {
  std::string stripped;
  std::size_t start = 0;
  while (start < option.size()) {
    std::size_t end = start;
    while (end < option.size() && !(option[end] == ',' && option.compare(end, 2, ",,") != 0))
      end += option.compare(end, 2, ",,") == 0 ? 2 : 1;
    const std::string item = option.substr(start, end - start);
    const bool secret = item.starts_with("data=") || item.starts_with("password=");
    stripped += secret ? item.substr(0, item.find('=') + 1) + kStripped : item;
    if (end < option.size()) stripped += ',';
    start = end + 1;
  }
  return stripped;
}

// Drops what must not leave the host: graphics passwords, every <auth> and <secret> element
// (they name libvirt secrets and the users that unlock them), the query of a network disk's URL
// (tokens ride in it), and the secret values in QEMU pass-through arguments
// (-object secret,data=...).
void strip_secrets(pugi::xml_node node) {
  for (const char* attribute : {"passwd", "passwdValidTo"}) node.remove_attribute(attribute);
  if (std::string(node.name()) == "source" && node.attribute("protocol"))
    node.remove_attribute("query");
  if (local_name(node) == "arg" && local_name(node.parent()) == "commandline") {
    pugi::xml_attribute value = node.attribute("value");
    if (value) value.set_value(strip_option_secrets(value.value()).c_str());
  }
  for (pugi::xml_node child = node.first_child(); child;) {
    const pugi::xml_node next = child.next_sibling();
    const std::string name = child.name();
    if (name == "auth" || name == "secret") {
      node.remove_child(child);
    } else if (child.type() == pugi::node_element) {
      strip_secrets(child);
    }
    child = next;
  }
}

void add_path(std::set<std::string>& paths, const std::string& path) {
  if (path.starts_with("/")) paths.insert(path);
}

// Host files a definition names: disk sources, firmware and NVRAM, direct kernel boot, ROMs.
void collect_files(const pugi::xml_node& domain, std::set<std::string>& paths) {
  for (pugi::xml_node disk : domain.child("devices").children("disk")) {
    const pugi::xml_node source = disk.child("source");
    add_path(paths, source.attribute("file").as_string());
    add_path(paths, source.attribute("dev").as_string());
  }
  const pugi::xml_node os = domain.child("os");
  for (const char* name : {"loader", "nvram", "kernel", "initrd", "dtb"}) {
    add_path(paths, os.child(name).text().as_string());
  }
  add_path(paths, os.child("nvram").attribute("template").as_string());
  for (pugi::xml_node device : domain.child("devices").children()) {
    add_path(paths, device.child("rom").attribute("file").as_string());
  }
  // A host input device passed through, and the GPU a SPICE console draws with.
  for (pugi::xml_node input : domain.child("devices").children("input"))
    add_path(paths, input.child("source").attribute("dev").as_string());
  for (pugi::xml_node graphics : domain.child("devices").children("graphics"))
    add_path(paths, graphics.child("gl").attribute("rendernode").as_string());
}

// Autostart lives outside the definition, and the test driver has no way to load it: the
// recording keeps it in the domain's metadata, where recorded_autostart() finds it.
void mark_autostart(pugi::xml_node domain) {
  pugi::xml_node metadata = domain.child("metadata");
  if (!metadata) metadata = domain.insert_child_after("metadata", domain.child("uuid"));
  pugi::xml_node marker = metadata.append_child("capture:autostart");
  marker.append_attribute("xmlns:capture") = kCaptureNamespace;
}

void mark_run_state(pugi::xml_node domain, bool running, bool persistent) {
  domain.append_attribute("xmlns:test") = kTestNamespace;
  if (!persistent) domain.append_child("test:transient");
  domain.append_child("test:runstate").text().set(running ? kRunStateRunning : kRunStateShutoff);
}

// The domain as the recording holds it, or nothing when it went away while being read.
std::optional<std::string> record_domain(virDomainPtr domain, std::set<std::string>& paths) {
  const std::string name = virDomainGetName(domain);
  const std::string xml = take_string(virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE));
  if (xml.empty() && last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return std::nullopt;
  if (xml.empty()) throw_libvirt_error("cannot read the definition of domain '" + name + "'");
  int autostart = 0;
  const int active = virDomainIsActive(domain);
  const int persistent = virDomainIsPersistent(domain);
  if (active < 0 || persistent < 0 || virDomainGetAutostart(domain, &autostart) < 0) {
    if (last_libvirt_error_code() == VIR_ERR_NO_DOMAIN) return std::nullopt;
    throw_libvirt_error("cannot read the state of domain '" + name + "'");
  }
  pugi::xml_document document = xml::load(xml, "domain '" + name + "'");
  pugi::xml_node root = document.child("domain");
  strip_secrets(root);
  collect_files(root, paths);
  if (autostart) mark_autostart(root);
  mark_run_state(root, active == 1, persistent == 1);
  return xml::save(root);
}

std::string record_networks(const Connection& connection) {
  std::string text;
  for (const NetworkHandle& network : connection.all_networks()) {
    const std::string xml = take_string(virNetworkGetXMLDesc(network.get(), 0));
    if (xml.empty()) continue;  // went away while being read
    if (virNetworkIsActive(network.get()) != 1) {
      spdlog::warn(
          "network '{}' is inactive; the recording shows it active (libvirt's test "
          "driver starts every network it loads)",
          virNetworkGetName(network.get()));
    }
    pugi::xml_document document = xml::load(xml, "a network");
    strip_secrets(document.document_element());
    text += xml::save(document.document_element());
  }
  return text;
}

std::string record_pools(const Connection& connection, std::vector<std::string>& directories) {
  virStoragePoolPtr* pools = nullptr;
  const int count = virConnectListAllStoragePools(connection.get(), &pools, 0);
  if (count < 0) {
    spdlog::warn("storage pools not recorded: {}", virGetLastErrorMessage());
    return "";
  }
  std::string text;
  for (int i = 0; i < count; ++i) {
    const std::string xml = take_string(virStoragePoolGetXMLDesc(pools[i], 0));
    virStoragePoolFree(pools[i]);
    if (xml.empty()) continue;
    pugi::xml_document document = xml::load(xml, "a storage pool");
    pugi::xml_node pool = document.child("pool");
    strip_secrets(pool);
    if (std::string(pool.attribute("type").as_string()) == "dir") {
      directories.push_back(pool.child("target").child("path").text().as_string());
    }
    text += xml::save(pool);
  }
  free(pools);
  return text;
}

// What the recording says about itself; "--" may not appear inside an XML comment.
std::string comment_text(const std::string& uri) {
  std::string text = "Recorded by virtform capture from " + uri +
                     " for libvirt's test driver; plan against the directory holding it.";
  for (auto at = text.find("--"); at != std::string::npos; at = text.find("--")) {
    text.replace(at, 2, "- -");
  }
  return text;
}

std::string record_node(const Connection& connection) {
  virNodeInfo info{};
  if (virNodeGetInfo(connection.get(), &info) < 0) throw_libvirt_error("cannot read node info");
  pugi::xml_document document;
  pugi::xml_node cpu = document.append_child("cpu");
  cpu.append_child("mhz").text().set(info.mhz);
  cpu.append_child("model").text().set(info.model);
  cpu.append_child("active").text().set(info.cpus);
  cpu.append_child("max").text().set(info.cpus);
  cpu.append_child("nodes").text().set(info.nodes);
  cpu.append_child("sockets").text().set(info.sockets);
  cpu.append_child("cores").text().set(info.cores);
  cpu.append_child("threads").text().set(info.threads);
  std::string text = xml::save(cpu);
  text += "<memory>" + std::to_string(info.memory) + "</memory>\n";
  return text;
}

}  // namespace

LibvirtRecording record_libvirt(const Connection& connection) {
  LibvirtRecording recording;
  std::set<std::string> paths;
  std::string body = record_node(connection);
  body += record_networks(connection);
  for (const DomainHandle& domain : connection.all_domains()) {
    if (auto xml = record_domain(domain.get(), paths)) {
      body += *xml;
      ++recording.domains;
    }
  }
  body += record_pools(connection, recording.pool_directories);
  recording.referenced_files.assign(paths.begin(), paths.end());
  recording.host_xml = "<?xml version=\"1.0\"?>\n<!-- " + comment_text(connection.uri()) +
                       " -->\n<node>\n" + body + "</node>\n";
  return recording;
}

}  // namespace virtform
