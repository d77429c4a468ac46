#pragma once
// TOML configuration -> Desired model. Every problem is collected with its file:line:column;
// loading never stops at the first one.

#include <string>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/system/host_files.h"

namespace virtform {

// Reads each path: a .toml file, or a directory whose *.toml files are read in name order.
// Syntax errors, unknown keys (with the nearest known key suggested), bad values and
// cross-references (undefined loader, a disk claimed twice, duplicate domain names) all land in
// `diagnostics`. The returned model holds whatever could be read.
Desired load_config(const std::vector<std::string>& paths, Diagnostics& diagnostics);

// The same for one file's text already in memory; `source` names it in diagnostics.
Desired load_config_text(const std::string& text, const std::string& source,
                         Diagnostics& diagnostics);

// Fills in UEFI code and vars template paths for VMs with firmware = "uefi" that did not set
// them, from QEMU's firmware descriptors (/usr/share/qemu/firmware/*.json).
void resolve_firmware(Desired& desired, const HostFiles& files, Diagnostics& diagnostics);

}  // namespace virtform
