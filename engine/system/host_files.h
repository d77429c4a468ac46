#pragma once
// The host's file system as plan and apply see it, rooted at a directory so that a recorded host
// (examples/demo-host/root) can stand in for "/". Paths given to it are absolute host paths.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace virtform {

// What a disk image's own header says it is, whatever its name.
struct ImageProbe {
  // "qcow2", "qed", "vmdk", "vdi", "vhdx", "vpc", "luks", or "raw" when no header is recognised.
  std::string format;
  // What the guest sees: qcow2's header field, the file's size for raw; nothing for the formats
  // virtform never attaches.
  std::optional<std::uint64_t> virtual_bytes;
  // The image a qcow2 reads through to, as its header names it; "" when it has none.
  std::string backing_file;
};

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
  // The format and size of an existing image file, read from its header; nothing when it cannot
  // be read, or when the file only stands for the image (a recorded host's empty placeholder).
  virtual std::optional<ImageProbe> probe_image(const std::string& path) const = 0;
  // Creates a disk image of the given format ("raw" or "qcow2") and virtual size. Never
  // overwrites: fails if the file already exists.
  virtual void create_image(const std::string& path, const std::string& format,
                            std::uint64_t bytes) = 0;
  // Creates a qcow2 image of the raw image `backing`'s size that reads through to it: the
  // guest's writes land in the new file, and `backing` is only ever read. Never overwrites.
  virtual void create_overlay(const std::string& path, const std::string& backing) = 0;
  // Copies the file `from` to `to` with its mode and owner, durably, appearing whole under its
  // name. Never overwrites: fails if `to` already exists.
  virtual void copy_file(const std::string& from, const std::string& to) = 0;
};

}  // namespace virtform
