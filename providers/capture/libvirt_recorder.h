#pragma once
// Records what a libvirt connection holds as a description libvirt's test driver loads
// (test:///DIR/host.xml): the node's CPUs and memory, every domain's persistent definition with
// its running state, every network and every storage pool. Nothing secret is written: graphics
// passwords, <auth> and <secret> elements are dropped.

#include <string>
#include <vector>

#include "providers/libvirt/connection.h"

namespace virtform {

struct LibvirtRecording {
  std::string host_xml;  // the test driver's <node> document
  std::vector<std::string>
      referenced_files;  // host paths the definitions name (disks, loaders, ...)
  std::vector<std::string> pool_directories;  // target paths of directory pools
  std::size_t domains = 0;                    // how many domains were recorded
};

// Reads everything through `connection`. Domains that vanish while being read are left out.
LibvirtRecording record_libvirt(const Connection& connection);

}  // namespace virtform
