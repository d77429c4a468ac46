#pragma once
// Reading the two kinds of resource tables, [loader.X] and [vm.X], into the model. Problems
// within one table land in the diagnostics; references between tables are checked later
// (references.h), once every file has been read.

#include <toml++/toml.h>

#include <string>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"

namespace virtform {

// [loader.<key>] from `file`.
Loader read_loader(const toml::table& table, const std::string& key, const std::string& file,
                   Diagnostics& diagnostics);

// [vm.<key>] from `file`, with its boot loader (if any) as the first disk, its `source` still
// empty: the loader may be defined in a later file.
Vm read_vm(const toml::table& table, const std::string& key, const std::string& file,
           Diagnostics& diagnostics);

// True for keys usable as resource names: letters, digits, '-' and '_'.
bool is_valid_resource_key(const std::string& key);

}  // namespace virtform
