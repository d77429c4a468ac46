// virtform capture DIR: record this host (libvirt and the host files plan reads) for offline
// plans with `virtform plan --host DIR`.

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "providers/capture/capture.h"

namespace virtform {

namespace {

std::string resolved_uri(const CommonOptions& options) {
  if (!options.uri.empty()) return options.uri;
  if (const char* uri = std::getenv("LIBVIRT_DEFAULT_URI"); uri && *uri) return uri;
  return "qemu:///system";
}

}  // namespace

int run_capture(const CommonOptions& options, const CaptureOptions& capture_options) {
  CaptureRequest request;
  request.uri = resolved_uri(options);
  request.host_root = options.host_root.empty() ? "/" : options.host_root;
  request.directory = capture_options.directory;
  try {
    const CaptureSummary summary = capture_host(request);
    std::cout << "Recorded " << request.uri << " (" << summary.domains << " domains, "
              << summary.placeholder_files << " files they name) and the host's devices into "
              << request.directory << ".\nPlan against it with: virtform plan --host "
              << request.directory << " [PATH...]\n";
    return kExitOk;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return kExitError;
  }
}

}  // namespace virtform
