#include "providers/capture/capture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "providers/capture/host_file_recorder.h"
#include "providers/capture/libvirt_recorder.h"

namespace virtform {

namespace fs = std::filesystem;

namespace {

// An empty or missing directory, or a previous recording: anything else is someone's data.
void check_directory(const fs::path& directory) {
  std::error_code error;
  if (!fs::exists(directory, error)) return;
  if (!fs::is_directory(directory, error)) {
    throw SystemError(directory.string() + " exists and is not a directory");
  }
  if (fs::is_empty(directory, error) || fs::exists(directory / "host.xml", error)) return;
  throw SystemError(directory.string() +
                    " is not empty and holds no previous capture (no host.xml); "
                    "choose an empty or new directory");
}

void write_atomically(const fs::path& path, const std::string& content) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << content;
    if (!file.flush()) throw SystemError("cannot write " + temporary.string());
  }
  fs::rename(temporary, path);
}

}  // namespace

CaptureSummary capture_host(const CaptureRequest& request) {
  const fs::path directory = fs::absolute(request.directory);
  check_directory(directory);
  // Read everything before writing anything, so a failure leaves a previous recording intact.
  const Connection connection(request.uri);
  const LibvirtRecording libvirt = record_libvirt(connection);

  fs::create_directories(directory);
  const fs::path root = directory / "root";
  fs::remove_all(root);  // a previous recording's tree: links are removed, never followed
  HostFileRecording files;
  files.host_root = request.host_root;
  files.snapshot_root = root.string();
  files.files = libvirt.referenced_files;
  files.listings = libvirt.pool_directories;
  // Images usually sit together: a VM about to be added finds its disk beside existing ones.
  for (const auto& file : libvirt.referenced_files) {
    files.listings.push_back(fs::path(file).parent_path().string());
  }
  std::sort(files.listings.begin(), files.listings.end());
  files.listings.erase(std::unique(files.listings.begin(), files.listings.end()),
                       files.listings.end());
  record_host_files(files);
  write_atomically(directory / "host.xml", libvirt.host_xml);

  CaptureSummary summary;
  summary.domains = libvirt.domains;
  summary.placeholder_files = libvirt.referenced_files.size();
  return summary;
}

}  // namespace virtform
