#pragma once
// The host's file system as plan and apply see it, rooted at a directory so that a recorded host
// (examples/demo-host/root) can stand in for "/". Paths given to it are absolute host paths.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace virtform {

class HostFiles {
 public:
  virtual ~HostFiles() = default;

  // True if the path exists (following symlinks within the root).
  virtual bool exists(const std::string& path) const = 0;
  // True if the path is a block device, or stands for one in a recorded host.
  virtual bool is_block_device(const std::string& path) const = 0;
  // True if the path is a regular file (following symlinks within the root): not a directory,
  // a device (/dev/zero) or a FIFO, whose reading would block or never end.
  virtual bool is_regular_file(const std::string& path) const = 0;
  // The whole file, or nothing if it cannot be read or is not a regular file.
  virtual std::optional<std::string> read(const std::string& path) const = 0;
  // Lower-case hex SHA-256 of the file's contents, or nothing if it cannot be read or is not a
  // regular file.
  virtual std::optional<std::string> sha256(const std::string& path) const = 0;
  // Names of the entries of a directory, sorted; empty if it does not exist.
  virtual std::vector<std::string> list(const std::string& directory) const = 0;
  // Creates a disk image of the given format ("raw" or "qcow2") and virtual size. Never
  // overwrites: fails if the file already exists.
  virtual void create_image(const std::string& path, const std::string& format,
                            std::uint64_t bytes) = 0;
};

}  // namespace virtform
