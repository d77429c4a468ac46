#include "providers/capture/host_file_recorder.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/model/values.h"
#include "engine/system/hypervisor.h"

namespace virtform {

namespace fs = std::filesystem;

namespace {

// Attribute and descriptor files are small; anything larger is not what plan reads.
constexpr std::size_t kMaxCopiedBytes = 1 << 20;
// A pool directory with more files than this is recorded in part, with a warning.
constexpr std::size_t kMaxListedFiles = 10000;

// Copies the host's tree piece by piece. Paths handed around are relative to "/" ("sys/block"),
// so the same path names the host's file (host_ / path) and the recorded one (out_ / path).
class Recorder {
 public:
  Recorder(const std::string& host_root, const std::string& snapshot_root)
      : host_(host_root.empty() ? "/" : host_root) {
    fs::create_directories(snapshot_root);
    out_ = fs::canonical(snapshot_root);
  }

  void record_pci() {
    for (const auto& address : list("sys/bus/pci/devices")) {
      const fs::path dir = entry_dir(fs::path("sys/bus/pci/devices") / address);
      if (dir.empty()) continue;
      for (const char* attribute : {"uevent", "vendor", "device", "subsystem_vendor",
                                    "subsystem_device", "class", "driver_override", "boot_vga"}) {
        copy_file(dir / attribute);
      }
      copy_link(dir / "driver");
      copy_link(dir / "iommu_group");
    }
    record_pci_drivers();
    for (const auto& group : list("sys/kernel/iommu_groups")) {
      const fs::path devices = fs::path("sys/kernel/iommu_groups") / group / "devices";
      make_dir(devices);
      for (const auto& address : list(devices)) copy_link(devices / address);
    }
  }

  // Every PCI driver the kernel has, with its links to the functions bound to it; the control
  // files (bind, unbind, ...) as empty placeholders, since they cannot be read.
  void record_pci_drivers() {
    if (host_exists("sys/bus/pci/drivers_probe")) placeholder("sys/bus/pci/drivers_probe");
    for (const auto& driver : list("sys/bus/pci/drivers")) {
      const fs::path dir = fs::path("sys/bus/pci/drivers") / driver;
      make_dir(dir);
      for (const auto& entry : list(dir)) {
        if (canonical_pci_address(entry)) {
          copy_link(dir / entry);
        } else if (entry == "bind" || entry == "unbind" || entry == "new_id" ||
                   entry == "remove_id") {
          placeholder(dir / entry);
        }
      }
    }
  }

  // IOMMU presence and whether vfio-pci can be had: the module directory, and the module
  // index lines that mention vfio (the rest of the index says nothing plan needs).
  void record_iommu_and_vfio() {
    for (const auto& unit : list("sys/class/iommu")) entry_dir(fs::path("sys/class/iommu") / unit);
    // A file inside, as the kernel has: a snapshot is committed to git, which keeps no empty dir.
    if (host_exists("sys/module/vfio_pci")) write_file("sys/module/vfio_pci/initstate", "live\n");
    copy_file("proc/sys/kernel/osrelease");
    const std::string release = trimmed(read_host("proc/sys/kernel/osrelease"));
    if (release.empty()) return;
    for (const char* index : {"modules.dep", "modules.builtin"}) {
      const fs::path path = fs::path("lib/modules") / release / index;
      if (!host_exists(path)) continue;
      write_file(path, lines_containing(read_host(path, SIZE_MAX), "vfio"));
    }
  }

  void record_blocks() {
    for (const auto& name : list("sys/block")) {
      const fs::path dir = entry_dir(fs::path("sys/block") / name);
      if (dir.empty()) continue;
      for (const char* attribute : {"size", "removable", "dev", "ro"}) copy_file(dir / attribute);
      if (const auto device = copy_link(dir / "device")) {
        make_dir(*device);
        copy_file(*device / "model");
      }
      record_holders(dir);
      for (const auto& entry : list(dir)) {
        if (!entry.starts_with(name) || !host_exists(dir / entry / "partition")) continue;
        for (const char* attribute : {"partition", "dev", "size"}) {
          copy_file(dir / entry / attribute);
        }
        record_holders(dir / entry);
      }
    }
  }

  // The by-id links as the host has them, each leading to a placeholder for its device node.
  void record_dev_links() {
    const fs::path by_id = "dev/disk/by-id";
    make_dir(by_id);
    for (const auto& name : list(by_id)) {
      if (const auto target = copy_link(by_id / name)) placeholder(*target);
    }
  }

  void record_mounts_and_bridges() {
    copy_file("proc/self/mountinfo");
    copy_file("proc/swaps");
    for (const auto& name : list("sys/class/net")) {
      const fs::path bridge = fs::path("sys/class/net") / name / "bridge";
      if (host_exists(bridge)) copy_or_mark(bridge / "bridge_id");
    }
  }

  // The huge page pools and the default size: a guest backed by them needs enough free pages.
  void record_hugepages() {
    const fs::path mm = "sys/kernel/mm/hugepages";
    for (const auto& pool : list(mm))
      for (const char* count : {"nr_hugepages", "free_hugepages"}) copy_file(mm / pool / count);
    if (host_exists("proc/meminfo"))
      write_file("proc/meminfo",
                 lines_containing(read_host("proc/meminfo", SIZE_MAX), "Hugepagesize"));
  }

  // The CPUs pins may name: which are there and online, their SMT siblings and NUMA nodes.
  void record_cpus() {
    const fs::path cpu = "sys/devices/system/cpu";
    copy_file(cpu / "present");
    copy_file(cpu / "online");
    for (const auto& name : list(cpu))
      if (name.starts_with("cpu") && name.find_first_not_of("0123456789", 3) == std::string::npos)
        copy_file(cpu / name / "topology/thread_siblings_list");
    const fs::path nodes = "sys/devices/system/node";
    for (const auto& name : list(nodes))
      if (name.starts_with("node")) copy_file(nodes / name / "cpulist");
  }

  // The USB devices a guest may be given: their ids, where they sit and what they call
  // themselves. Their interfaces ("1-4.2:1.0") have no ids and are left out.
  void record_usb() {
    const fs::path devices = "sys/bus/usb/devices";
    for (const auto& port : list(devices)) {
      if (!host_exists(devices / port / "idVendor")) continue;
      for (const char* attribute :
           {"idVendor", "idProduct", "busnum", "devnum", "manufacturer", "product", "serial"})
        copy_file(devices / port / attribute);
    }
  }

  // The mediated devices made (their UUIDs), each as an empty directory's placeholder file.
  void record_mdevs() {
    const fs::path devices = "sys/bus/mdev/devices";
    for (const auto& uuid : list(devices)) placeholder(devices / uuid / "uevent");
  }

  // QEMU's firmware descriptors, and placeholders for the images they name, so firmware =
  // "uefi" resolves offline as it does here.
  void record_firmware() {
    const fs::path directory = "usr/share/qemu/firmware";
    for (const auto& name : list(directory)) {
      if (!name.ends_with(".json")) continue;
      copy_file(directory / name);
      const auto document = nlohmann::json::parse(read_host(directory / name), nullptr, false);
      if (!document.is_object() || !document.contains("mapping")) continue;
      const auto& mapping = document["mapping"];
      for (const char* part : {"executable", "nvram-template", "kernel"}) {
        if (mapping.is_object() && mapping.contains(part) && mapping[part].is_object()) {
          record_existing(mapping[part].value("filename", ""));
        }
      }
    }
  }

  // A placeholder for a host path that exists; nothing for one that does not, so a missing
  // file stays missing offline. Paths already recorded (by-id links) are left as they are.
  void record_existing(const std::string& host_path) {
    if (!host_path.starts_with("/")) return;
    const fs::path path = fs::path(host_path).relative_path().lexically_normal();
    std::error_code error;
    if (fs::symlink_status(out_ / path, error).type() != fs::file_type::not_found) return;
    const auto status = fs::status(host_ / path, error);
    if (error) return;
    if (fs::is_directory(status)) {
      make_dir(path);
    } else {
      placeholder(path);
    }
  }

  void record_listing(const std::string& host_directory) {
    if (!host_directory.starts_with("/")) return;
    const fs::path dir = fs::path(host_directory).relative_path();
    std::size_t count = 0;
    for (const auto& name : list(dir)) {
      std::error_code error;
      if (!fs::is_regular_file(host_ / dir / name, error)) continue;
      if (++count > kMaxListedFiles) {
        spdlog::warn("{}: more than {} files; the rest are not recorded", host_directory,
                     kMaxListedFiles);
        return;
      }
      placeholder(dir / name);
    }
  }

 private:
  void record_holders(const fs::path& dir) {
    make_dir(dir / "holders");
    for (const auto& holder : list(dir / "holders")) {
      if (!copy_link(dir / "holders" / holder)) placeholder(dir / "holders" / holder);
    }
  }

  static std::string trimmed(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
  }

  static std::string lines_containing(const std::string& text, const std::string& needle) {
    std::istringstream lines(text);
    std::string kept;
    for (std::string line; std::getline(lines, line);) {
      if (line.find(needle) != std::string::npos) kept += line + "\n";
    }
    return kept;
  }

  bool host_exists(const fs::path& path) const {
    std::error_code error;
    return fs::exists(host_ / path, error);
  }

  // Entry names, sorted; empty when the directory is missing or unreadable.
  std::vector<std::string> list(const fs::path& dir) const {
    std::vector<std::string> names;
    std::error_code error;
    for (fs::directory_iterator it(host_ / dir, error), end; !error && it != end;
         it.increment(error)) {
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string read_host(const fs::path& path, std::size_t limit = kMaxCopiedBytes) const {
    std::ifstream in(host_ / path, std::ios::binary);
    if (!in) return "";
    std::string content;
    std::array<char, 4096> buffer{};
    while (content.size() < limit && in.read(buffer.data(), buffer.size()).gcount() > 0) {
      content.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
    }
    return content;
  }

  // Where a link found at `at` leads, relative to "/"; empty when it would leave the tree.
  static fs::path resolve(const fs::path& at, const std::string& target) {
    const fs::path resolved = fs::path(target).is_absolute()
                                  ? fs::path(target).relative_path().lexically_normal()
                                  : (at.parent_path() / target).lexically_normal();
    if (resolved.empty() || *resolved.begin() == "..") return {};
    return resolved;
  }

  // The recorded path, after checking that nothing on the way is a link out of the recording.
  fs::path out(const fs::path& path) const {
    const fs::path normal = path.lexically_normal();
    if (normal.empty() || *normal.begin() == ".." || normal.is_absolute()) {
      throw SystemError("refusing to record outside the snapshot: " + path.string());
    }
    const fs::path full = out_ / normal;
    // Check the deepest ancestor that exists before creating anything below it.
    fs::path existing = full.parent_path();
    std::error_code error;
    while (fs::symlink_status(existing, error).type() == fs::file_type::not_found) {
      existing = existing.parent_path();
    }
    const fs::path parent = fs::canonical(existing);
    const auto [end, ignored] =
        std::mismatch(out_.begin(), out_.end(), parent.begin(), parent.end());
    if (end != out_.end()) {
      throw SystemError("refusing to record through a link out of the snapshot: " + full.string());
    }
    fs::create_directories(full.parent_path());
    return full;
  }

  void make_dir(const fs::path& path) { fs::create_directories(out(path)); }

  // The file as the host has it, or an empty one: either way the directory survives git.
  void copy_or_mark(const fs::path& path) {
    make_dir(path.parent_path());
    if (host_exists(path)) {
      copy_file(path);
    } else {
      write_file(path, "");
    }
  }

  void write_file(const fs::path& path, const std::string& content) {
    const fs::path full = out(path);
    std::error_code error;
    if (fs::is_symlink(full, error)) fs::remove(full);
    std::ofstream file(full, std::ios::binary | std::ios::trunc);
    file << content;
    if (!file) throw SystemError("cannot write " + full.string());
  }

  void copy_file(const fs::path& path) {
    std::error_code error;
    if (!fs::is_regular_file(host_ / path, error)) return;
    std::ifstream probe(host_ / path, std::ios::binary);
    if (!probe) return;  // a write-only attribute
    write_file(path, read_host(path));
  }

  void placeholder(const fs::path& path) {
    const fs::path full = out(path);
    std::error_code error;
    if (fs::symlink_status(full, error).type() != fs::file_type::not_found) return;
    std::ofstream file(full, std::ios::binary);
    if (!file) throw SystemError("cannot write " + full.string());
  }

  // Recreates the link at `path` with the host's target text (made relative when absolute);
  // returns where it leads, or nothing when `path` is not a link (or leads out of the tree).
  std::optional<fs::path> copy_link(const fs::path& path) {
    std::array<char, 4096> buffer{};
    const std::string host_path = (host_ / path).string();
    const ssize_t count = ::readlink(host_path.c_str(), buffer.data(), buffer.size() - 1);
    if (count <= 0) return std::nullopt;
    const std::string target(buffer.data(), static_cast<std::size_t>(count));
    const fs::path resolved = resolve(path, target);
    if (resolved.empty()) return std::nullopt;
    // An absolute target would lead out of the recording wherever it is read: it is recorded
    // relative to the link, leading to the same place inside it.
    const fs::path recorded = fs::path(target).is_absolute()
                                  ? resolved.lexically_relative(path.parent_path())
                                  : fs::path(target);
    const fs::path full = out(path);
    std::error_code error;
    if (fs::is_symlink(full, error) && fs::read_symlink(full, error) == recorded) return resolved;
    fs::remove_all(full, error);
    fs::create_symlink(recorded, full);
    return resolved;
  }

  // The directory an entry stands for: the link's target (recorded as a directory, with the
  // link beside it), or the entry itself when it is a plain directory.
  fs::path entry_dir(const fs::path& path) {
    if (const auto target = copy_link(path)) {
      make_dir(*target);
      return *target;
    }
    std::error_code error;
    if (!fs::is_directory(host_ / path, error)) return {};
    make_dir(path);
    return path;
  }

  fs::path host_;  // the host's "/"
  fs::path out_;   // the recording's "/", canonical
};

}  // namespace

void record_host_files(const HostFileRecording& request) {
  Recorder recorder(request.host_root, request.snapshot_root);
  recorder.record_pci();
  recorder.record_iommu_and_vfio();
  recorder.record_blocks();
  recorder.record_dev_links();
  recorder.record_mounts_and_bridges();
  recorder.record_hugepages();
  recorder.record_cpus();
  recorder.record_usb();
  recorder.record_mdevs();
  recorder.record_firmware();
  for (const auto& directory : request.listings) recorder.record_listing(directory);
  for (const auto& file : request.files) recorder.record_existing(file);
}

}  // namespace virtform
