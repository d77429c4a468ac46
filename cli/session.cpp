#include "cli/session.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>

#include "engine/passes.h"
#include "providers/host/recorded_host.h"
#include "providers/host/rooted_files.h"
#include "providers/libvirt/fragment_xml.h"
#include "providers/libvirt/libvirt_hypervisor.h"
#include "providers/sysfs/sysfs_reader.h"

namespace virtform {

namespace {

// The file of a test-driver host description ("test:///srv/snap/host.xml"); "" for another URI.
std::string test_host_file(const std::string& uri) {
  const std::string prefix = "test:///";
  if (uri.rfind(prefix, 0) != 0 || uri == "test:///default") return "";
  return "/" + uri.substr(prefix.size());
}

// A test-driver host description may carry the host's files in a root/ beside it.
std::string root_beside_test_host(const std::string& uri) {
  const std::string file = test_host_file(uri);
  if (file.empty()) return "";
  const std::filesystem::path root = std::filesystem::path(file).parent_path() / "root";
  return std::filesystem::is_directory(root) ? root.string() : "";
}

// A recorded host comes from a repository, maybe from a pull request: it is checked before
// libvirt's test driver or the host checks read anything of it. Its root is checked when it is
// the recording's own, not one given with --host-root. Messages name the paths as given.
void check_snapshot(const CommonOptions& options, const Session& session) {
  if (!options.host_dir.empty()) {
    const std::filesystem::path dir = options.host_dir;
    const bool own_root = options.host_root.empty();
    check_recorded_host(dir.string(), (dir / "host.xml").string(),
                        own_root ? (dir / "root").string() : "");
    return;
  }
  const std::filesystem::path file = test_host_file(session.uri);
  if (file.empty()) return;
  const bool own_root = options.host_root.empty();
  check_recorded_host(file.parent_path().string(), file.string(),
                      own_root ? (file.parent_path() / "root").string() : "");
}

// A mistyped --host or --host-root would otherwise read as a host with nothing on it.
void require_recorded_host(const std::string& dir) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "host.xml"))
    throw SystemError("--host " + dir + ": no host.xml in it; record a host there with " +
                      "`virtform capture " + dir + "`");
}

void require_host_root(const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw SystemError("--host-root " + dir + ": no such directory");
}

void resolve_host(const CommonOptions& options, Session& session) {
  if (!options.host_dir.empty()) {
    require_recorded_host(options.host_dir);
    const std::filesystem::path dir = std::filesystem::absolute(options.host_dir);
    session.uri = "test://" + (dir / "host.xml").string();
    session.host_root = (dir / "root").string();
  } else {
    session.uri = options.uri.empty() ? default_uri() : options.uri;
    session.host_root = root_beside_test_host(session.uri);
  }
  if (!options.host_root.empty()) {
    require_host_root(options.host_root);
    session.host_root = options.host_root;
  }
  check_snapshot(options, session);
  if (session.host_root.empty()) session.host_root = "/";
}

// The host (URI, root, files): open_session's first half.
Session open_host(const CommonOptions& options) {
  Session session;
  session.options = options;
  resolve_host(options, session);
  session.files = std::make_unique<RootedHostFiles>(session.host_root);
  return session;
}

// The config, checked against the host's files: open_session's second half. Without
// `config_required`, no PATH means no config rather than ".".
void read_session_config(Session& session, bool config_required) {
  if (session.options.paths.empty() && !config_required) return;
  if (session.options.paths.empty()) session.options.paths = {"."};
  session.desired =
      read_config(session.options.paths, *session.files, read_xml_fragments, session.diagnostics);
}

// libvirt's domains and networks, read on a thread of their own; get() gives them or rethrows the
// read's error, and a future dropped unread waits for the read and discards it.
std::future<Live> read_libvirt_meanwhile(const std::string& uri, std::size_t threads) {
  // Which domains' unowned parts a fragment is looked for in is known once the config is:
  // add_unowned_parts reads them then.
  auto read = [uri, threads] {
    return LibvirtHypervisor(uri, threads).read_live(UnownedParts::if_recorded);
  };
  // A remote host is not contacted before the config is known to be valid: a typo must not cost
  // a network time-out or an ssh password prompt. Its read runs when get() is called.
  if (reaches_over_network(uri)) return std::async(std::launch::deferred, read);
  return std::async(std::launch::async, read);
}

// The plan for the session's config against libvirt's part of the live state (`libvirt`) and
// the devices under the session's host root.
Planned plan_session(const Session& session, Live libvirt, const DiffOptions& options) {
  return plan_config(session.desired, std::move(libvirt), read_host_devices(session.host_root),
                     *session.files, options, session.uri, session.diagnostics);
}

}  // namespace

std::string default_uri() {
  if (const char* uri = std::getenv("LIBVIRT_DEFAULT_URI"); uri && *uri) return uri;
  return "qemu:///system";
}

// Whether connecting to `uri` may cross a network or ask for a password (ssh): a host is named,
// the transport is not the local socket, or it is an alias libvirt's config resolves.
static_assert(kMaxReadThreads == LibvirtHypervisor::kMaxReadThreads);

std::optional<std::size_t> parse_read_threads(std::string_view text) {
  std::size_t threads = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, threads);
  if (error != std::errc() || stop != end || threads < 1 || threads > kMaxReadThreads)
    return std::nullopt;
  return threads;
}

std::size_t read_threads(const CommonOptions& options) {
  if (options.read_threads != 0) return options.read_threads;
  const char* text = std::getenv("VIRTFORM_READ_THREADS");
  if (!text || !*text) return LibvirtHypervisor::kDefaultReadThreads;
  if (auto threads = parse_read_threads(text)) return *threads;
  throw SystemError(std::string("VIRTFORM_READ_THREADS=") + text +
                    ": not a whole number from 1 to " + std::to_string(kMaxReadThreads));
}

TextStyle Session::style() const {
  const bool color =
      !options.no_color && std::getenv("NO_COLOR") == nullptr && isatty(STDOUT_FILENO);
  return TextStyle{color};
}

Session open_session(const CommonOptions& options, bool config_required) {
  Session session = open_host(options);
  read_session_config(session, config_required);
  return session;
}

Live observe_host(const Session& session, Hypervisor& hypervisor, const Desired& desired) {
  return observe(hypervisor, *session.files, read_host_devices(session.host_root), desired);
}

Planned plan_host(const Session& session, Hypervisor& hypervisor, const DiffOptions& options) {
  return plan_session(session, hypervisor.read_live(), options);
}

PlannedSession open_planned_session(const CommonOptions& options, const DiffOptions& diff_options) {
  PlannedSession planned{open_host(options), std::nullopt};
  Session& session = planned.session;
  std::future<Live> libvirt = read_libvirt_meanwhile(session.uri, read_threads(options));
  read_session_config(session, /*config_required=*/true);
  if (has_errors(session.diagnostics)) return planned;
  Live domains = libvirt.get();
  add_unowned_parts(domains, session.desired);
  planned.planned = plan_session(session, std::move(domains), diff_options);
  return planned;
}

void configure_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("virtform");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
  switch (verbosity) {
    case 0:
      spdlog::set_level(spdlog::level::warn);
      break;
    case 1:
      spdlog::set_level(spdlog::level::info);
      break;
    case 2:
      spdlog::set_level(spdlog::level::debug);
      break;
    default:
      spdlog::set_level(spdlog::level::trace);
      break;
  }
}

}  // namespace virtform
