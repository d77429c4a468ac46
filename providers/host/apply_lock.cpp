#include "providers/host/apply_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "engine/system/hypervisor.h"

namespace virtform {

namespace {

// "qemu:///system on vm" -> "qemu___system_on_vm.lock": one file per daemon, readable by
// people. A name too long for the file system keeps its start and gains a digest of the whole.
std::string lock_file_name(const std::string& daemon) {
  constexpr std::size_t kMaxReadable = 200;
  std::string name;
  for (char c : daemon) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  if (name.size() <= kMaxReadable) return name + ".lock";
  std::uint64_t digest = 14695981039346656037ULL;  // FNV-1a: stable across builds and runs
  for (unsigned char c : daemon) digest = (digest ^ c) * 1099511628211ULL;
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "-%016llx", static_cast<unsigned long long>(digest));
  return name.substr(0, kMaxReadable) + suffix + ".lock";
}

[[noreturn]] void refuse_directory(const std::string& directory, const std::string& why) {
  throw SystemError("refusing the apply lock directory " + directory + ": " + why +
                    "; remove it (an apply recreates it, mode 0700) or set VIRTFORM_LOCK_DIR to "
                    "a directory only you can write to");
}

// Anyone who can write to the lock directory can swap the lock file for a link to a file of
// ours, or hold the lock for ever: it must be a real directory of our own, closed to others.
void check_directory(int fd, const std::string& directory) {
  struct stat info;
  if (fstat(fd, &info) != 0)
    throw SystemError("cannot read the apply lock directory " + directory + ": " +
                      std::strerror(errno));
  if (info.st_uid != geteuid())
    refuse_directory(directory, "it belongs to uid " + std::to_string(info.st_uid) +
                                    ", not to uid " + std::to_string(geteuid()));
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", info.st_mode & 0777);
    refuse_directory(directory, std::string("others can write to it (mode ") + mode + ")");
  }
}

// The lock directory, made 0700 if it is not there, opened without following a link at its end.
int open_directory(const std::string& directory) {
  const std::filesystem::path path(directory);
  std::error_code ignored;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ignored);
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
    throw SystemError("cannot create the apply lock directory " + directory + ": " +
                      std::strerror(errno));
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  struct stat info;
  if (errno == ELOOP || (lstat(directory.c_str(), &info) == 0 && S_ISLNK(info.st_mode)))
    refuse_directory(directory, "it is a symbolic link");
  if (errno == ENOTDIR) refuse_directory(directory, "it is not a directory");
  throw SystemError("cannot open the apply lock directory " + directory + ": " +
                    std::strerror(errno));
}

// The lock file in the directory `dir_fd`; never through a link, never anything but a plain file.
int open_lock_file(int dir_fd, const std::string& path, const std::string& name) {
  const int fd =
      openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ELOOP)
    throw SystemError("refusing the apply lock " + path +
                      ": it is a symbolic link; remove it, an apply recreates it");
  if (fd < 0) throw SystemError("cannot open the apply lock " + path + ": " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    throw SystemError("refusing the apply lock " + path +
                      ": it is not a regular file; remove it, an apply recreates it");
  }
  return fd;
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

// The lock file `name`, in a lock directory checked to be ours alone.
int open_checked(const std::string& directory, const std::string& name) {
  const int dir_fd = open_directory(directory);
  try {
    check_directory(dir_fd, directory);
    const int fd = open_lock_file(dir_fd, directory + "/" + name, name);
    close(dir_fd);
    return fd;
  } catch (...) {
    close(dir_fd);
    throw;
  }
}

}  // namespace

std::string ApplyLock::default_directory() {
  if (const char* dir = std::getenv("VIRTFORM_LOCK_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/run/virtform";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
    return std::string(runtime) + "/virtform";
  return "/tmp/virtform-" + std::to_string(geteuid());
}

std::unique_ptr<ApplyLock> ApplyLock::acquire(const std::string& daemon,
                                              const std::string& command) {
  const std::string directory = default_directory();
  const std::string path = directory + "/" + lock_file_name(daemon);
  const int fd = open_checked(directory, lock_file_name(daemon));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = current_holder(fd);
    close(fd);
    throw SystemError("another apply is running against " + daemon + ": " +
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
