#include "providers/host/recorded_host.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <pugixml.hpp>
#include <vector>

#include "engine/system/hypervisor.h"

namespace virtform {

namespace fs = std::filesystem;

namespace {

// As the kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
constexpr int kMaxSymlinkHops = 40;

std::vector<std::string> components_of(const fs::path& path) {
  std::vector<std::string> parts;
  for (const fs::path& part : path.relative_path()) {
    const std::string text = part.string();
    if (!text.empty() && text != ".") parts.push_back(text);
  }
  return parts;
}

fs::path joined(const fs::path& base, const std::vector<std::string>& parts) {
  fs::path path = base;
  for (const std::string& part : parts) path /= part;
  return path;
}

// Whether the path `relative` (inside `base`) stays inside `base` once every link on the way is
// followed as the kernel would, with ".." above `base` and absolute targets counting as leaving.
// Only what is inside `base` is looked at: the answer never depends on files outside it.
bool stays_inside(const fs::path& base, const fs::path& relative) {
  std::vector<std::string> pending = components_of(relative);
  std::reverse(pending.begin(), pending.end());  // a stack: the next component last
  std::vector<std::string> resolved;
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part == "..") {
      if (resolved.empty()) return false;
      resolved.pop_back();
      continue;
    }
    resolved.push_back(part);
    const fs::path here = joined(base, resolved);
    struct stat info;
    if (::lstat(here.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) continue;
    std::error_code error;
    const fs::path target = fs::read_symlink(here, error);
    if (error || target.is_absolute() || ++hops > kMaxSymlinkHops) return false;
    resolved.pop_back();
    const std::vector<std::string> target_parts = components_of(target);
    pending.insert(pending.end(), target_parts.rbegin(), target_parts.rend());
  }
  return true;
}

[[noreturn]] void refuse(const std::string& what, const std::string& why) {
  throw SystemError("refusing the recorded host: " + what + " " + why +
                    "; a recording must hold everything plan reads (record it again with "
                    "`virtform capture`)");
}

// "<domain file='/etc/x'>" for the message.
std::string element_text(const pugi::xml_node& element) {
  return std::string("<") + element.name() + " file=\"" + element.attribute("file").value() + "\">";
}

void check_file_references(const pugi::xml_node& parent, const std::string& host_xml) {
  for (const pugi::xml_node& element : parent.children()) {
    if (element.type() != pugi::node_element) continue;
    if (element.attribute("file"))
      refuse(host_xml, "has " + element_text(element) +
                           ", which makes libvirt's test driver read another file");
    // A pool's volumes may be given by file too.
    if (std::string(element.name()) == "pool") check_file_references(element, host_xml);
  }
}

void check_host_xml(const std::string& host_xml) {
  pugi::xml_document document;
  const pugi::xml_parse_result parsed =
      document.load_file(host_xml.c_str(), pugi::parse_default | pugi::parse_doctype);
  // libvirt's own parser reports what is malformed, with its position.
  if (!parsed) return;
  for (const pugi::xml_node& node : document.children())
    if (node.type() == pugi::node_doctype)
      refuse(host_xml, "has a document type declaration, whose entities can name files");
  check_file_references(document.document_element(), host_xml);
}

void check_links_under(const fs::path& root) {
  std::error_code error;
  fs::recursive_directory_iterator entries(root, error), end;
  for (; !error && entries != end; entries.increment(error)) {
    if (!entries->is_symlink()) continue;
    const fs::path relative = entries->path().lexically_relative(root);
    if (!stays_inside(root, relative))
      refuse(entries->path().string(), "is a link leading out of " + root.string() + " (to " +
                                           fs::read_symlink(entries->path(), error).string() + ")");
  }
  if (error) refuse(root.string(), "cannot be read (" + error.message() + ")");
}

}  // namespace

void check_recorded_host(const std::string& snapshot, const std::string& host_xml,
                         const std::string& root) {
  const fs::path base = fs::absolute(snapshot).lexically_normal();
  const fs::path xml_path = fs::absolute(host_xml).lexically_normal();
  if (!stays_inside(base, xml_path.lexically_relative(base)))
    refuse(host_xml, "is a link leading out of " + base.string());
  check_host_xml(host_xml);
  if (root.empty()) return;
  const fs::path root_path = fs::absolute(root).lexically_normal();
  std::error_code error;
  if (fs::symlink_status(root_path, error).type() == fs::file_type::not_found) return;
  if (!stays_inside(base, root_path.lexically_relative(base)))
    refuse(root, "is a link leading out of " + base.string());
  check_links_under(root_path);
}

}  // namespace virtform
