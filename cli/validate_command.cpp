// virtform validate: the configuration alone, no connection to libvirt.

#include <iostream>

#include "cli/commands.h"

namespace virtform {

int run_validate(const CommonOptions& options) {
  Session session = open_session(options);
  std::cerr << render_diagnostics(session.diagnostics, session.style());
  if (has_errors(session.diagnostics)) return kExitError;
  std::cout << "The configuration is valid: " << session.desired.vms.size() << " VM(s), "
            << session.desired.loaders.size() << " loader(s).\n";
  return kExitOk;
}

}  // namespace virtform
