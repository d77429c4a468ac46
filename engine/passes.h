#pragma once
// The passes from configuration to plan, written once, in the order they run (engine/passes.cpp
// reads as the list). The commands (cli/session.cpp), the tests' in-process pipeline and the
// config fuzzer call these instead of running passes of their own.

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/host.h"
#include "engine/model/vm.h"
#include "engine/plan/diff.h"
#include "engine/plan/plan.h"
#include "engine/system/host_files.h"

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

// A plan with the live state it was computed against (which seal() and apply need too).
struct Planned {
  Live live;
  Plan plan;
};

// The plan for a checked configuration: `libvirt` is libvirt's part of the live state
// (Hypervisor::read_live), `devices` the host's (read by the sysfs provider). `diagnostics` are
// those read_config found; the plan carries them and everything found here.
Planned plan_config(const Desired& desired, Live libvirt, HostDevices devices,
                    const HostFiles& files, const DiffOptions& options, const std::string& uri,
                    Diagnostics diagnostics);

}  // namespace virtform
