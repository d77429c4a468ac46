#pragma once
// The configuration against the host's files, once it is loaded and before libvirt is read.

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/system/host_files.h"

namespace virtform {

// Checks that need the host's files: loader images exist, whole-disk sources exist.
void check_host_files(const Desired& desired, const HostFiles& files, Diagnostics& diagnostics);

}  // namespace virtform
