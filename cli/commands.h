#pragma once
// One function per subcommand; each returns the process exit code.

#include "cli/session.h"

namespace virtform {

int run_validate(const CommonOptions& options);

struct PlanOptions {
  bool json = false;     // print the plan as JSON instead of text
  bool restart = false;  // plan as `apply --restart` would
};
int run_plan(const CommonOptions& options, const PlanOptions& plan_options);

struct ApplyOptions {
  bool auto_approve = false;  // no confirmation prompt
  bool restart = false;       // every VM may be restarted for changes that need it
  int parallelism = 4;        // steps run at once
};
int run_apply(const CommonOptions& options, const ApplyOptions& apply_options);

int run_graph(const CommonOptions& options);

struct HostOptions {
  bool json = false;     // JSON instead of tables
  bool offline = false;  // do not ask libvirt which domains claim what
};
int run_host(const CommonOptions& options, const HostOptions& host_options);

}  // namespace virtform
