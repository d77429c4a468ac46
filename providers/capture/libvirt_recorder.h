#pragma once
// Records what a libvirt connection holds as a description libvirt's test driver loads
// (test:///DIR/host.xml): the node's CPUs and memory, every domain's persistent definition with
// its running state, every network and every storage pool. Nothing secret is written: graphics
// passwords, <auth> and <secret> elements are dropped.

#include <string>
#include <vector>

#include "providers/libvirt/connection.h"

namespace virtform {

// The namespace of what a recording adds to a domain's <metadata> for facts the test driver
// cannot hold itself (autostart).
inline constexpr const char* kCaptureNamespace = "https://virtform.dev/xmlns/capture/1";

struct LibvirtRecording {
  std::string host_xml;  // the test driver's <node> document
  std::vector<std::string>
      referenced_files;  // host paths the definitions name (disks, loaders, ...)
  std::vector<std::string> pool_directories;  // target paths of directory pools
  std::size_t domains = 0;                    // how many domains were recorded
};

// Reads everything through `connection`. Domains that vanish while being read are left out.
LibvirtRecording record_libvirt(const Connection& connection);

// Whether a recorded domain definition says the domain starts with the host: what the test
// driver reports as autostart for a domain loaded from a recording.
bool recorded_autostart(const std::string& domain_xml);

}  // namespace virtform
