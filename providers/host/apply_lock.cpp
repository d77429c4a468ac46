#include "providers/host/apply_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "engine/system/hypervisor.h"

namespace virtform {

namespace {

// "qemu:///system" -> "qemu___system.lock": one file per URI, readable by people.
std::string lock_file_name(const std::string& uri) {
  std::string name;
  for (char c : uri) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return name + ".lock";
}

std::string read_all(int fd) {
  std::string text;
  char buffer[512];
  ssize_t got = 0;
  lseek(fd, 0, SEEK_SET);
  while ((got = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(got));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string holder_record(const std::string& command) {
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return "pid " + std::to_string(getpid()) + " (" + command + ") since " + when + "\n";
}

}  // namespace

std::string ApplyLock::default_directory() {
  if (const char* dir = std::getenv("VIRTFORM_LOCK_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/run/virtform";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
    return std::string(runtime) + "/virtform";
  return "/tmp/virtform-" + std::to_string(geteuid());
}

std::unique_ptr<ApplyLock> ApplyLock::acquire(const std::string& uri, const std::string& command) {
  const std::string directory = default_directory();
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  const std::string path = directory + "/" + lock_file_name(uri);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw SystemError("cannot open the apply lock " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_all(fd);
    close(fd);
    throw SystemError("another apply is running against " + uri + ": " +
                      (holder.empty() ? "holder unknown" : holder) + " (lock " + path + ")");
  }
  // The previous holder, if any, is gone: its record is stale and replaced. A failed write only
  // costs the next contender the holder's name; the lock is held all the same.
  const std::string record = holder_record(command);
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, record.data(), record.size(), 0);
  return std::unique_ptr<ApplyLock>(new ApplyLock(fd, path));
}

ApplyLock::~ApplyLock() {
  flock(fd_, LOCK_UN);
  close(fd_);
}

}  // namespace virtform
