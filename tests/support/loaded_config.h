#pragma once
// A config read from text, with its diagnostics, for tests of the config readers.

#include <string>

#include "engine/config/config.h"

namespace virtform::testing {

struct LoadedConfig {
  Desired desired;
  Diagnostics diagnostics;
  const Vm& vm() const { return desired.vms.at(0); }
};

inline LoadedConfig load_config_from(const std::string& text, const std::string& file) {
  LoadedConfig loaded;
  loaded.desired = load_config_text(text, file, loaded.diagnostics);
  return loaded;
}

// `lines` in the table of a VM [vm.a], read from a file vm.toml.
inline LoadedConfig load_vm_a(const std::string& lines) {
  return load_config_from("[vm.a]\n" + lines, "vm.toml");
}

// Every diagnostic as the CLI prints it, one per line: for INFO.
inline std::string formatted(const Diagnostics& diagnostics) {
  std::string text;
  for (const Diagnostic& diagnostic : diagnostics) text += format(diagnostic) + "\n";
  return text;
}

}  // namespace virtform::testing
