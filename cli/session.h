#pragma once
// What every command shares: the options common to all, and the first stages of the pipeline
// (config -> desired model -> host checks) run once with every problem collected.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/vm.h"
#include "engine/passes.h"
#include "engine/render/plan_text.h"
#include "engine/system/host_files.h"
#include "engine/system/hypervisor.h"

namespace virtform {

struct CommonOptions {
  std::vector<std::string> paths;  // config files or directories; default "."
  std::string uri;                 // -c/--connect; default LIBVIRT_DEFAULT_URI, else qemu:///system
  std::string host_dir;            // --host DIR: a recorded host (DIR/host.xml + DIR/root)
  std::string host_root;           // --host-root DIR: where the host's files are read
  std::size_t read_threads = 0;    // --read-threads; 0: $VIRTFORM_READ_THREADS, else the default
  bool detailed_exitcode = false;
  bool no_color = false;
  int verbosity = 0;
};

// Exit codes, as Terraform's --detailed-exitcode has them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitChanges = 2;

struct Session {
  CommonOptions options;
  std::string uri;        // resolved
  std::string host_root;  // resolved
  std::unique_ptr<HostFiles> files;
  Desired desired;
  Diagnostics diagnostics;

  TextStyle style() const;
};

// The most domains read at once, for --read-threads and $VIRTFORM_READ_THREADS.
// LibvirtHypervisor clamps to the same bound.
inline constexpr std::size_t kMaxReadThreads = 64;

// How many domains are read from libvirt at once: --read-threads, else $VIRTFORM_READ_THREADS,
// else LibvirtHypervisor's default. Throws SystemError naming the variable when it is not a
// whole number from 1 to kMaxReadThreads.
std::size_t read_threads(const CommonOptions& options);
// A whole decimal number from 1 to kMaxReadThreads, or nothing.
std::optional<std::size_t> parse_read_threads(std::string_view text);

// Resolves the URI and host root, loads the config and checks it against the host's files.
// Without `config_required`, no PATH means no config (virtform host) rather than ".".
Session open_session(const CommonOptions& options, bool config_required = true);

// The live state plan compares `desired` against: libvirt through `hypervisor`, the host's
// devices and files under the session's host root.
Live observe_host(const Session& session, Hypervisor& hypervisor, const Desired& desired);

// The plan for the session's config against that live state, with the live state.
Planned plan_host(const Session& session, Hypervisor& hypervisor, const DiffOptions& options);

// open_session and the plan for the config, for the commands that only read (plan, graph).
struct PlannedSession {
  Session session;
  std::optional<Planned> planned;  // nothing when the config has errors (in session.diagnostics)
};
// libvirt's domains and networks need nothing from the config, and its round trips leave the CPU
// free: they are read on a thread of their own while the config loads. A remote host is read only
// once the config is found valid; with errors in it, a local read is waited for and dropped.
// libvirt's error, if any, is thrown once the config is found valid.
PlannedSession open_planned_session(const CommonOptions& options, const DiffOptions& diff_options);

// LIBVIRT_DEFAULT_URI, else qemu:///system: the URI when -c is not given.
std::string default_uri();

// Sets up spdlog on stderr with the level -v asks for.
void configure_logging(int verbosity);

}  // namespace virtform
