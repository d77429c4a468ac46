#pragma once
// One function per subcommand; each returns the process exit code.

#include "cli/session.h"

namespace CLI {
class App;
}

namespace virtform {

int run_validate(const CommonOptions& options);

struct PlanOptions {
  bool json = false;     // print the plan as JSON instead of text
  bool restart = false;  // plan as `apply --restart` would
  std::string out;       // also save the plan (JSON) to this file, for `apply --plan`
};
int run_plan(const CommonOptions& options, const PlanOptions& plan_options);

struct ApplyOptions {
  bool auto_approve = false;  // no confirmation prompt
  bool restart = false;       // every VM may be restarted for changes that need it
  int parallelism = 4;        // steps run at once
  std::string plan_file;      // apply exactly this saved plan, if the host has not changed
};
int run_apply(const CommonOptions& options, const ApplyOptions& apply_options);

int run_graph(const CommonOptions& options);

struct HostOptions {
  bool json = false;     // JSON instead of tables
  bool offline = false;  // do not ask libvirt which domains claim what
};
int run_host(const CommonOptions& options, const HostOptions& host_options);

struct ImportOptions {
  std::vector<std::string> domains;  // libvirt domain names to import
  std::string output;                // write the TOML here instead of stdout
};
// Writes TOML for existing domains (implemented in import_command.cpp).
int run_import(const CommonOptions& options, const ImportOptions& import_options);

struct CaptureOptions {
  std::string directory;  // where the snapshot goes: DIR/host.xml and DIR/root
};
// Records what plan needs from this host (implemented in capture_command.cpp).
int run_capture(const CommonOptions& options, const CaptureOptions& capture_options);

// The hidden command the shell completion scripts call: `virtform __complete WORD...` prints what
// may follow `virtform WORD...` in place of its last word (implemented in complete_command.cpp).
inline constexpr const char* kCompleteCommand = "__complete";
int run_complete(const CLI::App& app, std::vector<std::string> words);

}  // namespace virtform
