#pragma once
// [vm.X.cpu.pinning] against the host's CPUs (sys/devices/system/cpu and node): libvirt refuses
// to start a guest pinned to a CPU the host lacks or has offline, and a guest whose SMT siblings
// or NUMA node differ from its host CPUs' runs slower than it looks.

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// Errors for host CPUs the host does not have or has offline; warnings for guest SMT siblings
// pinned to host CPUs that are not siblings, and for vCPUs spread over NUMA nodes. Nothing when
// the host's CPUs are not known.
void check_cpu_pinning(const Desired& desired, const HostCpus& host, Diagnostics& diagnostics);

}  // namespace virtform
