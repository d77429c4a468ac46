#include "providers/host/apply_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

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

// Whether a record ("pid N (command) since T") names a process that is still there.
bool names_live_process(const std::string& record) {
  if (!record.starts_with("pid ")) return false;
  const pid_t pid = static_cast<pid_t>(std::atol(record.c_str() + 4));
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

// The holder writes its record just after it takes the lock, so a contender that looks at that
// moment finds no record or the previous, dead holder's. It looks again for a moment; after that
// the record is taken as it is, even naming a process it cannot see (one in another PID
// namespace sharing the lock directory), and only no record at all is "holder unknown".
std::string current_holder(int fd) {
  constexpr int kAttempts = 50;
  constexpr auto kPause = std::chrono::milliseconds(10);
  std::string record;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    record = read_all(fd);
    record = record.substr(0, record.find('\n'));
    if (names_live_process(record)) return record;
    std::this_thread::sleep_for(kPause);
  }
  return record;
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
    const std::string holder = current_holder(fd);
    close(fd);
    throw SystemError("another apply is running against " + uri + ": " +
                      (holder.empty() ? "holder unknown" : holder) + " (lock " + path + ")");
  }
  // The previous holder, if any, is gone: its record is stale and replaced, in one write over it
  // (the file is never empty meanwhile), then cut to length. A failed write only costs the next
  // contender the holder's name; the lock is held all the same.
  const std::string record = holder_record(command);
  if (pwrite(fd, record.data(), record.size(), 0) == static_cast<ssize_t>(record.size()))
    (void)!ftruncate(fd, static_cast<off_t>(record.size()));
  return std::unique_ptr<ApplyLock>(new ApplyLock(fd, path));
}

ApplyLock::~ApplyLock() {
  flock(fd_, LOCK_UN);
  close(fd_);
}

}  // namespace virtform
