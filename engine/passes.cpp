#include "engine/passes.h"

#include "engine/checks/host_check.h"
#include "engine/config/config.h"
#include "engine/plan/planner.h"

namespace virtform {

namespace {

// The passes after loading, for either kind of source.
Desired check_config(Desired desired, const HostFiles& files, FragmentReader read_fragments,
                     Diagnostics& diagnostics) {
  // A fragment taking what a key owns is an error of the config, found before anything is read.
  if (read_fragments) read_fragments(desired, diagnostics);
  // UEFI paths left out come from QEMU's descriptors, so that the next pass checks them too.
  resolve_firmware(desired, files, diagnostics);
  // What the config names on the host must be there (or be creatable) before a plan relies on it.
  check_host_files(desired, files, diagnostics);
  return desired;
}

}  // namespace

Desired read_config(const std::vector<std::string>& paths, const HostFiles& files,
                    FragmentReader read_fragments, Diagnostics& diagnostics) {
  // Every file is read, and every problem of each reported at once, not just the first.
  Desired desired = load_config(paths, diagnostics);
  return check_config(std::move(desired), files, read_fragments, diagnostics);
}

Desired read_config_text(const std::string& text, const std::string& source, const HostFiles& files,
                         FragmentReader read_fragments, Diagnostics& diagnostics) {
  // As read_config, for a file's text already in memory.
  Desired desired = load_config_text(text, source, diagnostics);
  return check_config(std::move(desired), files, read_fragments, diagnostics);
}

Planned plan_config(const Desired& desired, Live libvirt, HostDevices devices,
                    const HostFiles& files, const DiffOptions& options, const std::string& uri,
                    Diagnostics diagnostics) {
  // The host as the config meets it: libvirt's domains, the host's devices, which images exist.
  Live live = observe(std::move(libvirt), files, std::move(devices), desired);
  // Passthrough and DSM checks, the diff and the order of its steps.
  Plan plan = make_plan(desired, live, options, uri, std::move(diagnostics));
  return {std::move(live), std::move(plan)};
}

}  // namespace virtform
