#pragma once
// One apply per libvirt URI at a time. A lock file per URI held with flock(2): the kernel drops
// the lock when its holder dies, so a lock left by a killed apply never blocks the next one.

#include <memory>
#include <string>

namespace virtform {

class ApplyLock {
 public:
  // Takes the lock for `uri` or throws SystemError at once naming the holder (PID, command, when).
  // The directory defaults to $VIRTFORM_LOCK_DIR, else /run/virtform (as root), else
  // $XDG_RUNTIME_DIR/virtform, else /tmp/virtform-<uid>.
  static std::unique_ptr<ApplyLock> acquire(const std::string& uri, const std::string& command);
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
