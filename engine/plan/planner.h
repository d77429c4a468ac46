#pragma once
// The plan stage: read the live state the config needs, diff, order, and wrap it as a Plan.

#include "engine/model/vm.h"
#include "engine/plan/diff.h"
#include "engine/plan/plan.h"
#include "engine/system/host_files.h"
#include "engine/system/hypervisor.h"

namespace virtform {

// Everything plan compares against: libvirt's domains and networks, the host's devices and
// bridges (read by the sysfs provider), and which of the image files the config names exist.
Live observe(Hypervisor& hypervisor, const HostFiles& files, HostDevices devices,
             const Desired& desired);
// The same, with libvirt's part (domains and networks) already read, as Hypervisor::read_live
// gives it.
Live observe(Live libvirt, const HostFiles& files, HostDevices devices, const Desired& desired);

// Passthrough checks, diff and order. `diagnostics` are those found so far (config, host checks);
// the plan carries them and everything found here. A plan with errors has no steps.
Plan make_plan(const Desired& desired, const Live& live, const DiffOptions& options,
               const std::string& uri, Diagnostics diagnostics);

// Records what the plan was computed from (fingerprint, config digest), for a plan that is saved
// or printed as JSON. Kept out of make_plan: it costs a digest of every domain.
void seal(Plan& plan, const Desired& desired, const Live& live);

}  // namespace virtform
