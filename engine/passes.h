#pragma once
// The passes from configuration to plan, written once, in the order they run (engine/passes.cpp
// reads as the list). The commands (cli/session.cpp), the tests' in-process pipeline and the
// config fuzzer call these instead of running passes of their own. It is the engine's top
// stage: it combines config, checks, diff and graph, and none of them includes it.

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/host.h"
#include "engine/model/vm.h"
#include "engine/plan/diff.h"
#include "engine/plan/plan.h"
#include "engine/system/host_files.h"
#include "engine/system/hypervisor.h"

namespace virtform {

// Parses the [[vm.X.xml]] fragments of a loaded configuration: the libvirt provider's
// read_xml_fragments, as the engine has no XML parser.
using FragmentReader = void (*)(Desired& desired, Diagnostics& diagnostics);

// The configuration in `paths` (.toml files, or directories of them), checked against the host's
// files. Every problem lands in `diagnostics`; the model holds whatever could be read.
// Without `read_fragments` the [[vm.X.xml]] fragments are left as written.
Desired read_config(const std::vector<std::string>& paths, const HostFiles& files,
                    FragmentReader read_fragments, Diagnostics& diagnostics);
// The same passes for one file's text already in memory; `source` names it in diagnostics.
Desired read_config_text(const std::string& text, const std::string& source, const HostFiles& files,
                         FragmentReader read_fragments, Diagnostics& diagnostics);

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

// A plan with the live state it was computed against (which seal() and apply need too).
struct Planned {
  Live live;
  Plan plan;
};

// observe, then make_plan, for a checked configuration: `libvirt` is libvirt's part of the live
// state (Hypervisor::read_live), `devices` the host's (read by the sysfs provider).
Planned plan_config(const Desired& desired, Live libvirt, HostDevices devices,
                    const HostFiles& files, const DiffOptions& options, const std::string& uri,
                    Diagnostics diagnostics);

// Records what the plan was computed from (fingerprint, config digest), for a plan that is saved
// or printed as JSON. Kept out of make_plan: it costs a digest of every domain.
void seal(Plan& plan, const Desired& desired, const Live& live);

}  // namespace virtform
