// virtform: declare the VMs of a libvirt host in TOML, plan against the live host, apply.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "engine/config/keys.h"
#include "engine/model/text.h"
#include "engine/system/hypervisor.h"

namespace {

const char* const kConnectHelp = "libvirt URI (default: LIBVIRT_DEFAULT_URI, else qemu:///system)";

// Each option's type name says what its value is (PATH, FILE, DIR, URI, DOMAIN): --help shows
// it, and `virtform __complete` completes the value by it.
void add_common(CLI::App& command, virtform::CommonOptions& options) {
  command.add_option("paths", options.paths, "Config files or directories (default: .)")
      ->type_name("PATH");
  command.add_option("-c,--connect", options.uri, kConnectHelp)->type_name("URI");
  command
      .add_option("--host", options.host_dir,
                  "Plan against a recorded host: DIR/host.xml (libvirt test driver) and "
                  "DIR/root (its files)")
      ->type_name("DIR");
  command
      .add_option("--host-root,--sysfs-root", options.host_root,
                  "Read the host's files (sysfs, /dev, images) under this directory")
      ->type_name("DIR");
  command.add_flag("--detailed-exitcode", options.detailed_exitcode,
                   "Exit 0 for no changes, 1 for errors, 2 when changes are present");
  command.add_flag("--no-color", options.no_color, "No colours (also when NO_COLOR is set)");
  command.add_flag("-v,--verbose", options.verbosity, "More logging on stderr (-v, -vv, -vvv)");
}

// A count of read threads in decimal, as $VIRTFORM_READ_THREADS is read: CLI11 alone would take
// "010" for octal 8.
CLI::Validator decimal_read_threads() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::string range = " not in range 1 to " + std::to_string(virtform::kMaxReadThreads);
        const auto threads = virtform::parse_read_threads(text);
        if (!threads) return "Value " + text + range;
        text = std::to_string(*threads);
        return "";
      },
      "1-" + std::to_string(virtform::kMaxReadThreads));
}

// For the commands that read libvirt's domains.
void add_read_threads(CLI::App& command, virtform::CommonOptions& options) {
  command
      .add_option("--read-threads", options.read_threads,
                  "Domains read from libvirt at once (default: VIRTFORM_READ_THREADS, else 8)")
      ->transform(decimal_read_threads());
}

// "unknown command 'plna'; did you mean 'plan'?" when the first word names no command, else "".
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return "";
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(command->get_name());
  if (std::find(names.begin(), names.end(), argv[1]) != names.end()) return "";
  std::string message = std::string("unknown command '") + argv[1] + "'";
  const std::vector<std::string_view> candidates(names.begin(), names.end());
  if (auto nearest = virtform::keys::nearest(argv[1], candidates))
    return message + "; did you mean '" + *nearest + "'?";
  return message + " (commands: " + virtform::join(names, ", ") + ")";
}

// --help and --version end the run with 0, as CLI11 has them. Any other usage error is an error
// like the rest: "error: ..." naming the command or flag, and exit 1.
int usage_error(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
  std::string message = unknown_command(app, argc, argv);
  if (message.empty()) message = error.what();
  std::cerr << "error: " << message << "\nRun with --help for more information.\n";
  return virtform::kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  // libvirt's client writes to the daemon's socket: a libvirtd that stops or restarts must fail
  // the call (EPIPE) with an error, not end virtform silently with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"virtform: infrastructure as code for the VMs of a libvirt host"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "virtform " VIRTFORM_VERSION);

  virtform::CommonOptions common;
  virtform::PlanOptions plan_options;
  virtform::ApplyOptions apply_options;

  auto* validate = app.add_subcommand("validate", "Check the configuration (no connection)");
  add_common(*validate, common);

  auto* plan = app.add_subcommand("plan", "Show what apply would change on the host");
  add_common(*plan, common);
  add_read_threads(*plan, common);
  plan->add_flag("--json", plan_options.json, "Print the plan as JSON");
  plan->add_flag("--restart", plan_options.restart, "Plan as `apply --restart` would");
  plan->add_option("--out", plan_options.out, "Save the plan as JSON, for `apply --plan FILE`")
      ->type_name("FILE");

  auto* apply = app.add_subcommand("apply", "Make the host match the configuration");
  add_common(*apply, common);
  add_read_threads(*apply, common);
  apply->add_flag("--auto-approve", apply_options.auto_approve, "Do not ask for confirmation");
  apply->add_flag("--restart", apply_options.restart,
                  "Gracefully restart running guests whose changes need a boot");
  apply
      ->add_option("--plan", apply_options.plan_file,
                   "Apply this saved plan (from `plan --out`); refused if the host changed")
      ->type_name("FILE");
  apply->add_option("--parallelism", apply_options.parallelism, "Steps run at once (default 4)")
      ->check(CLI::Range(1, 64));

  virtform::HostOptions host_options;
  auto* host = app.add_subcommand(
      "host", "Show the host's IOMMU groups, PCI devices and disks, and which VM claims each");
  add_common(*host, common);
  add_read_threads(*host, common);
  host->add_flag("--json", host_options.json, "Print the inventory as JSON");
  host->add_flag("--offline", host_options.offline, "Do not connect to libvirt");

  auto* graph = app.add_subcommand("graph", "Print the dependency graph as Graphviz DOT");
  add_common(*graph, common);
  add_read_threads(*graph, common);

  virtform::ImportOptions import_options;
  auto* import = app.add_subcommand(
      "import", "Write TOML for existing domains, to adopt them with no changes");
  import->add_option("domains", import_options.domains, "Domain names")
      ->required()
      ->type_name("DOMAIN");
  import->add_option("-c,--connect", common.uri, kConnectHelp)->type_name("URI");
  add_read_threads(*import, common);
  import->add_option("-o,--output", import_options.output, "Write to this file, not stdout")
      ->type_name("FILE");
  import->add_flag("-v,--verbose", common.verbosity, "More logging on stderr");

  virtform::CaptureOptions capture_options;
  auto* capture = app.add_subcommand(
      "capture",
      "Record this host (libvirt and sysfs) into DIR for offline plans: plan --host DIR");
  capture->add_option("directory", capture_options.directory, "Where to write the snapshot")
      ->required()
      ->type_name("DIR");
  capture->add_option("-c,--connect", common.uri, kConnectHelp)->type_name("URI");
  capture
      ->add_option("--host-root,--sysfs-root", common.host_root,
                   "Read the host's files under this directory instead of /")
      ->type_name("DIR");
  capture->add_flag("-v,--verbose", common.verbosity, "More logging on stderr");

  if (argc >= 2 && std::string_view(argv[1]) == virtform::kCompleteCommand)
    return virtform::run_complete(app, {argv + 2, argv + argc});
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return usage_error(app, error, argc, argv);
  }
  virtform::configure_logging(common.verbosity);
  auto run = [&]() -> int {
    try {
      if (validate->parsed()) return virtform::run_validate(common);
      if (plan->parsed()) return virtform::run_plan(common, plan_options);
      if (apply->parsed()) return virtform::run_apply(common, apply_options);
      if (host->parsed()) return virtform::run_host(common, host_options);
      if (graph->parsed()) return virtform::run_graph(common);
      if (import->parsed()) return virtform::run_import(common, import_options);
      if (capture->parsed()) return virtform::run_capture(common, capture_options);
    } catch (const std::exception& error) {
      std::cerr << "error: " << error.what() << "\n";
    }
    return virtform::kExitError;
  };
  const int status = run();
  // With SIGPIPE ignored, output lost to a closed pipe (`virtform plan | head`) or a full disk
  // shows only here; a plan that was not all shown must not look like a success.
  if (!std::cout.flush()) {
    std::cerr << "error: cannot write to standard output\n";
    return virtform::kExitError;
  }
  return status;
}
