#include "tests/faults/fault_helpers.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace virtform::e2e {
namespace fs = std::filesystem;

ProcessResult detailed_plan(const Session& session, const std::string& config) {
  return session.virtform({"plan", config, "-c", uri(), "--detailed-exitcode"});
}

std::set<std::string> domains_under(Session& session) {
  std::set<std::string> names;
  for (const std::string& name : session.libvirt().domain_names())
    if (name.starts_with(session.prefix())) names.insert(name);
  return names;
}

TmpfsMount::TmpfsMount(const fs::path& where, std::uint64_t bytes) : where_(where), bytes_(bytes) {
  fs::create_directories(where_);
  const std::string options = "size=" + std::to_string(bytes_) + ",mode=0755";
  if (mount("tmpfs", where_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    throw std::runtime_error("cannot mount a tmpfs at " + where_.string() + ": " +
                             std::strerror(errno));
  }
}

TmpfsMount::~TmpfsMount() {
  umount2(where_.c_str(), MNT_DETACH);
}

BindfsMount::BindfsMount(const fs::path& source, const fs::path& where) : where_(where) {
  if (!fs::exists("/dev/fuse"))
    throw std::runtime_error("cannot mount bindfs: no /dev/fuse (is the fuse module loaded?)");
  fs::create_directories(source);
  fs::create_directories(where_);
  ProcessResult mounted = run_process({"bindfs", source.string(), where_.string()});
  if (mounted.exit_code != 0)
    throw std::runtime_error("cannot mount bindfs at " + where_.string() + ":\n" +
                             mounted.describe());
}

BindfsMount::~BindfsMount() {
  // The bindfs process ends once its file system is unmounted.
  umount2(where_.c_str(), MNT_DETACH);
}

nlohmann::json image_info(const std::string& path) {
  ProcessResult info = run_process({"qemu-img", "info", "--output=json", "-U", path});
  INFO(path << "\n" << info.describe());
  REQUIRE(info.exit_code == 0);
  return nlohmann::json::parse(info.out);
}

bool supports_unnamed_files(const fs::path& directory) {
  const int fd = open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  close(fd);
  return true;
}

void TmpfsMount::set_read_only(bool read_only) {
  const std::string options = "size=" + std::to_string(bytes_) + ",mode=0755";
  const unsigned long flags = MS_REMOUNT | (read_only ? MS_RDONLY : 0);
  if (mount("tmpfs", where_.c_str(), "tmpfs", flags, options.c_str()) != 0) {
    throw std::runtime_error("cannot remount " + where_.string() + ": " + std::strerror(errno));
  }
}

void TmpfsMount::fill() {
  std::ofstream filler(where_ / "filler", std::ios::binary);
  const std::string block(4096, 'x');
  // Stops at the first short write: ENOSPC.
  while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {
  }
  // Small writes mop up what a page-sized one could not use.
  filler.clear();
  while (filler.put('x') && filler.flush()) {
  }
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code error;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream list(task.path() / "children");
    pid_t child = 0;
    while (list >> child) children.push_back(child);
  }
  return children;
}

std::string program_of(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

bool has_exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  // "pid (comm) state ...": the program's name may hold spaces and parentheses.
  const auto end_of_name = text.rfind(')');
  return end_of_name == std::string::npos || text.substr(end_of_name + 2, 1) == "Z";
}

std::uint64_t seed_from_environment(const char* variable) {
  if (const char* text = std::getenv(variable); text != nullptr && *text != '\0') {
    return std::stoull(text);
  }
  return std::random_device{}();
}

long long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

std::vector<std::string> unexpected_files(const fs::path& directory,
                                          const std::vector<std::string>& expected) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    bool known = false;
    for (const std::string& prefix : expected) known = known || name.starts_with(prefix);
    if (!known) found.push_back(name);
  }
  return found;
}

}  // namespace virtform::e2e
