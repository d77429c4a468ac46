#pragma once
// A Desired as TOML in the vocabulary of docs/configuration.md: what virtform import writes for
// the configuration engine/import/importer.h makes from live domains.

#include <string>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// The TOML text for `desired`: project (when not "default"), loaders, then each VM with its
// disks, NICs, PCI devices, graphics and serial. Warnings about a VM become
// "# not expressed: ..." comments in its table.
std::string render_config_toml(const Desired& desired, const Diagnostics& warnings);

// A TOML basic string, quoted and escaped.
std::string toml_string(const std::string& text);

}  // namespace virtform
