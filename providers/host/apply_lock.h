#pragma once
// One apply per libvirt daemon at a time. A lock file per daemon held with flock(2): the kernel
// drops the lock when its holder dies, so a lock left by a killed apply never blocks the next one.

#include <memory>
#include <string>

namespace virtform {

class ApplyLock {
 public:
  // Takes the lock for `daemon` (Connection::daemon(): the same for every URI spelling of one
  // daemon) or throws SystemError at once naming the holder (PID, command, when).
  // The directory defaults to $VIRTFORM_LOCK_DIR, else /run/virtform (as root), else
  // $XDG_RUNTIME_DIR/virtform, else /tmp/virtform-<uid>. It is made 0700, and refused (with
  // SystemError) when it is a link, not a directory, not ours, or writable by others; the lock
  // file is never opened through a link.
  static std::unique_ptr<ApplyLock> acquire(const std::string& daemon, const std::string& command);
  static std::string default_directory();

  ~ApplyLock();
  ApplyLock(const ApplyLock&) = delete;
  ApplyLock& operator=(const ApplyLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  ApplyLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

}  // namespace virtform
