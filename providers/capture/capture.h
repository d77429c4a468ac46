#pragma once
// virtform capture: a recorded host in a directory, for plan --host DIR on a machine with
// neither libvirt nor the host's hardware.
//   DIR/host.xml  the libvirt side, as libvirt's test driver loads it (libvirt_recorder.h)
//   DIR/root/     the host files plan reads (host_file_recorder.h)

#include <cstddef>
#include <string>

namespace virtform {

struct CaptureRequest {
  std::string uri;              // the libvirt connection to record
  std::string host_root = "/";  // the host's files
  std::string directory;        // DIR
};

struct CaptureSummary {
  std::size_t domains = 0;            // domains recorded
  std::size_t placeholder_files = 0;  // host paths the definitions and pools name
};

// Records the host into `directory`. Refuses a directory that holds anything but a previous
// recording (one with a host.xml); a previous recording is replaced, so capturing twice gives the
// same result. Throws SystemError.
CaptureSummary capture_host(const CaptureRequest& request);

}  // namespace virtform
