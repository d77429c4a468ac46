#pragma once
// Records the part of a host's file system that plan reads, as plain files, directories and the
// kernel's own relative symlinks, so that read_host_devices() and RootedHostFiles give the same
// answers on the recording as on the host: PCI functions with their drivers and IOMMU groups,
// block devices with partitions and holders, /dev/disk/by-id, mounts, swap, network bridges,
// QEMU's firmware descriptors. Files that only need to exist (disk images, loaders, NVRAM,
// /dev nodes) become empty placeholders: no content of a disk or image is ever copied.

#include <string>
#include <vector>

namespace virtform {

struct HostFileRecording {
  std::string host_root = "/";        // the host's "/" (a recorded tree in tests)
  std::string snapshot_root;          // where the recording goes; created if missing
  std::vector<std::string> files;     // host paths that must exist offline (placeholders)
  std::vector<std::string> listings;  // directories whose regular files become placeholders
};

// Writes only under `snapshot_root`, never follows a link out of it, reads the host only.
void record_host_files(const HostFileRecording& request);

}  // namespace virtform
