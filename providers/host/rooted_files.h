#pragma once
// HostFiles over a directory that stands for the host's "/": the real host ("/") or a recorded
// tree (examples/demo-host/root). Symlinks are resolved by hand inside the root, so a recorded
// /dev/disk/by-id/ata-X -> /dev/sdb leads to <root>/dev/sdb and never out of the tree.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/system/host_files.h"

namespace virtform {

// What a new image file is made of: a raw or qcow2 image of `bytes`, or with `backing`, a qcow2
// overlay reading through to that raw image.
struct ImageRecipe {
  std::string format;
  std::uint64_t bytes = 0;
  std::string backing;
};

class RootedHostFiles : public HostFiles {
 public:
  // `root` is the directory standing for "/"; "/" is the real host.
  explicit RootedHostFiles(std::string root = "/");

  bool exists(const std::string& path) const override;
  // S_ISBLK; in a recorded tree also a regular file under /dev, since a recording holds no
  // device nodes.
  bool is_block_device(const std::string& path) const override;
  bool is_regular_file(const std::string& path) const override;
  std::optional<std::string> read(const std::string& path) const override;
  std::optional<std::string> sha256(const std::string& path) const override;
  std::vector<std::string> list(const std::string& directory) const override;
  // Reads the first bytes of a regular file for a format's magic. In a recorded tree an empty
  // file is capture's placeholder, which says nothing about the image: nothing.
  std::optional<ImageProbe> probe_image(const std::string& path) const override;
  // "raw": a sparse file; "qcow2": through `qemu-img create`. Throws SystemError, and never
  // overwrites an existing file.
  void create_image(const std::string& path, const std::string& format,
                    std::uint64_t bytes) override;
  // Through `qemu-img create -b`; the backing file's header is not read, so in a recorded tree
  // the overlay names the host path it will have on the host.
  void create_overlay(const std::string& path, const std::string& backing) override;
  void copy_file(const std::string& from, const std::string& to) override;

  // The host path `path` leads to once every symlink is followed within the root ("/dev/sdb"
  // for "/dev/disk/by-id/ata-X"); nothing if the links loop or go too deep. The target need
  // not exist.
  std::optional<std::string> resolve(const std::string& path) const;
  // Where a host path lives on this machine's file system: root + resolved path; on the real
  // host the path itself, for the kernel to resolve.
  std::optional<std::string> real_path(const std::string& path) const;

 private:
  bool is_real_host() const { return root_.empty(); }
  void create(const std::string& path, const ImageRecipe& recipe);

  std::string root_;  // without a trailing slash; "" for the real host
};

}  // namespace virtform
