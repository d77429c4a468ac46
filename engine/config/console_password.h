#pragma once
// A console's password from where [vm.X.graphics] says it is, never from the config itself: so
// it is in no file kept in git, no plan and no output.

#include <optional>
#include <string>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/system/host_files.h"

namespace virtform {

// The password of `graphics` from its source: the first line of password_file, or the
// environment variable password_env. Nothing, with the reason in `why_not`, when the source
// gives none; nothing and no reason when the console names no source.
std::optional<std::string> console_password(const Graphics& graphics, const HostFiles& files,
                                            std::string& why_not);

// Fills each declared console's password from its source: an error at the VM where the source
// is there and gives none, a warning where this host has no such file or variable (the plan
// cannot compare; apply keeps the console's password, and defines no new guest without one),
// and one for a VNC password longer than the 8 characters VNC
// takes.
void resolve_console_passwords(Desired& desired, const HostFiles& files, Diagnostics& diagnostics);

}  // namespace virtform
