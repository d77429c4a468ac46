#include "tests/support/e2e.h"

#include <fcntl.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#include "providers/libvirt/domain_xml.h"

namespace virtform::e2e {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// libvirt prints every error to stderr by default; the harness reports its own.
void ignore_libvirt_error(void*, virErrorPtr) {}

std::string last_libvirt_error() {
  virErrorPtr error = virGetLastError();
  return error != nullptr && error->message != nullptr ? error->message : "unknown libvirt error";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

ProcessResult run_checked(const std::vector<std::string>& argv) {
  ProcessResult result = run_process(argv, {}, 5min);
  if (result.exit_code != 0) throw std::runtime_error(result.describe());
  return result;
}

std::string random_suffix() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> digit(0, 35);
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += "0123456789abcdefghijklmnopqrstuvwxyz"[digit(device)];
  return suffix;
}

// Owning handle for a virDomainPtr.
struct DomainHandle {
  virDomainPtr domain = nullptr;
  ~DomainHandle() {
    if (domain != nullptr) virDomainFree(domain);
  }
};

fs::path guest_dir() {
  if (const char* dir = std::getenv("VIRTFORM_E2E_GUEST_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return fs::path(VIRTFORM_BINARY).parent_path() / "e2e-guest";
}

std::string first_pty(const std::string& domain_xml) {
  pugi::xml_document document;
  document.load_string(domain_xml.c_str());
  for (const char* device : {"serial", "console"}) {
    std::string query = std::string("/domain/devices/") + device + "[@type='pty']/source/@path";
    pugi::xpath_node path = document.select_node(query.c_str());
    if (path && !std::string(path.attribute().value()).empty()) return path.attribute().value();
  }
  return "";
}

}  // namespace

std::string uri() {
  const char* chosen = std::getenv("VIRTFORM_E2E_URI");
  return chosen != nullptr && *chosen != '\0' ? chosen : "qemu:///system";
}

std::string skip_reason(bool needs_virtform) {
  if (geteuid() != 0) return "the end-to-end tests need root (loop devices, qemu:///system)";
  if (needs_virtform && !fs::exists(VIRTFORM_BINARY))
    return std::string("no virtform binary at ") + VIRTFORM_BINARY;
  try {
    Libvirt libvirt;
  } catch (const std::exception& error) {
    return "libvirtd is unreachable at " + uri() + ": " + error.what() +
           " (ci/start-libvirt.sh starts one)";
  }
  return "";
}

const GuestImages& guest_images() {
  static std::once_flag built;
  static GuestImages images;
  std::call_once(built, [] {
    const fs::path dir = guest_dir();
    const std::string script =
        (fs::path(VIRTFORM_SOURCE_DIR) / "tests/e2e/guest/build-guest.sh").string();
    ProcessResult result = run_process({"bash", script, dir.string()}, {}, 10min);
    if (result.exit_code != 0) {
      throw std::runtime_error("building the e2e guest failed:\n" + result.describe());
    }
    images = {(dir / "vmlinuz").string(), (dir / "initrd-acpi.img").string(),
              (dir / "initrd-ignore.img").string()};
  });
  return images;
}

std::string sha256_of(const std::string& path) {
  std::string out = run_checked({"sha256sum", path}).out;
  return out.substr(0, out.find(' '));
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

TempDir::TempDir() {
  // The PID tells ci/sweep-e2e.sh whether the test that made it is still running.
  std::string pattern = "/var/tmp/virtform-e2e-" + std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  // The qemu user must be able to reach image files in here.
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

LoopDevice::LoopDevice(const fs::path& backing_file, std::uint64_t bytes)
    : backing_file_(backing_file) {
  {
    std::ofstream file(backing_file_, std::ios::binary);
    // A marker at the start and the end; the rest stays sparse.
    file << "virtform e2e loop disk " << backing_file_.filename().string() << "\n";
    file.seekp(static_cast<std::streamoff>(bytes - 64));
    file << random_suffix() << random_suffix();
  }
  fs::resize_file(backing_file_, bytes);
  device_ = trimmed(run_checked({"losetup", "--find", "--show", backing_file_.string()}).out);
}

LoopDevice::~LoopDevice() {
  if (!device_.empty()) run_process({"losetup", "-d", device_});
}

Libvirt::Libvirt() {
  // A libvirtd that stops (the fault tests restart it) must fail calls with EPIPE, not end the
  // test run with SIGPIPE before the sessions have cleaned up.
  std::signal(SIGPIPE, SIG_IGN);
  virSetErrorFunc(nullptr, ignore_libvirt_error);
  connection_ = virConnectOpen(uri().c_str());
  if (connection_ == nullptr) throw std::runtime_error(last_libvirt_error());
}

Libvirt::~Libvirt() {
  if (connection_ != nullptr) virConnectClose(connection_);
}

virConnectPtr Libvirt::connection() {
  // A restarted libvirtd (the fault tests restart it) closes every connection for good. With no
  // event loop, libvirt notices only on the next call: one cheap round trip asks.
  unsigned long version = 0;
  if (virConnectIsAlive(connection_) == 1 && virConnectGetLibVersion(connection_, &version) == 0)
    return connection_;
  virConnectPtr fresh = virConnectOpen(uri().c_str());
  if (fresh == nullptr) throw std::runtime_error(last_libvirt_error());
  virConnectClose(connection_);
  connection_ = fresh;
  return connection_;
}

std::vector<std::string> Libvirt::domain_names() {
  virDomainPtr* domains = nullptr;
  int count = virConnectListAllDomains(connection(), &domains, 0);
  if (count < 0) throw std::runtime_error(last_libvirt_error());
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.emplace_back(virDomainGetName(domains[i]));
    virDomainFree(domains[i]);
  }
  free(domains);
  return names;
}

bool Libvirt::exists(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  return handle.domain != nullptr;
}

bool Libvirt::is_running(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  return handle.domain != nullptr && virDomainIsActive(handle.domain) == 1;
}

int Libvirt::id(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  if (handle.domain == nullptr || virDomainIsActive(handle.domain) != 1) return -1;
  return static_cast<int>(virDomainGetID(handle.domain));
}

std::string Libvirt::xml(const std::string& name, bool inactive) {
  return xml_with_flags(name, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
}

std::string Libvirt::xml_with_secrets(const std::string& name, bool inactive) {
  return xml_with_flags(name, VIR_DOMAIN_XML_SECURE | (inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
}

std::string Libvirt::xml_with_flags(const std::string& name, unsigned flags) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  if (handle.domain == nullptr) throw std::runtime_error("no domain " + name);
  char* text = virDomainGetXMLDesc(handle.domain, flags);
  if (text == nullptr) throw std::runtime_error(last_libvirt_error());
  std::string xml_text = text;
  free(text);
  return xml_text;
}

bool Libvirt::is_managed(const std::string& name) {
  try {
    return xml(name, true).find(kMetadataNamespace) != std::string::npos;
  } catch (const std::runtime_error&) {
    return false;  // undefined while we looked
  }
}

void Libvirt::define(const std::string& domain_xml) {
  DomainHandle handle{virDomainDefineXML(connection(), domain_xml.c_str())};
  if (handle.domain == nullptr) throw std::runtime_error(last_libvirt_error());
}

void Libvirt::start(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  if (handle.domain == nullptr || virDomainCreate(handle.domain) != 0) {
    throw std::runtime_error("cannot start " + name + ": " + last_libvirt_error());
  }
}

void Libvirt::stop(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  if (handle.domain == nullptr || virDomainDestroy(handle.domain) != 0) {
    throw std::runtime_error("cannot stop " + name + ": " + last_libvirt_error());
  }
}

void Libvirt::remove(const std::string& name) {
  DomainHandle handle{virDomainLookupByName(connection(), name.c_str())};
  if (handle.domain == nullptr) return;
  if (virDomainIsActive(handle.domain) == 1) virDomainDestroy(handle.domain);
  virDomainUndefineFlags(handle.domain, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM |
                                            VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                            VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                            VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA);
}

bool Libvirt::has_network(const std::string& network) {
  virNetworkPtr handle = virNetworkLookupByName(connection(), network.c_str());
  if (handle == nullptr) return false;
  virNetworkFree(handle);
  return true;
}

std::string wait_for_console(Libvirt& libvirt, const std::string& domain, std::string_view needle,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string pty = first_pty(libvirt.xml(domain));
  if (pty.empty()) return "not found: domain " + domain + " has no pty serial console";
  int fd = open(pty.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return "not found: cannot open " + pty;
  // Raw mode: the guest's lines arrive as they are written, not when the line discipline says.
  termios settings{};
  if (tcgetattr(fd, &settings) == 0) {
    cfmakeraw(&settings);
    tcsetattr(fd, TCSANOW, &settings);
  }
  std::string seen;
  while (seen.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd descriptor{fd, POLLIN, 0};
    if (poll(&descriptor, 1, static_cast<int>(std::min<long long>(left.count(), 500))) <= 0) {
      continue;
    }
    char buffer[4096];
    ssize_t count = read(fd, buffer, sizeof buffer);
    if (count > 0) seen.append(buffer, static_cast<std::size_t>(count));
    // The guest hung up (powered off): nothing more will come.
    if (count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR)) break;
  }
  close(fd);
  if (seen.find(needle) != std::string::npos) return seen;
  return "not found: " + seen;
}

Session::Session() : prefix_("vfe2e-" + std::to_string(getpid()) + "-" + random_suffix() + "-") {}

Session::~Session() {
  // Only names under this session's prefix: other domains on the host are never touched.
  try {
    for (const std::string& name : libvirt_.domain_names()) {
      if (name.starts_with(prefix_)) libvirt_.remove(name);
    }
  } catch (const std::exception& error) {
    std::cerr << "e2e cleanup of " << prefix_ << "* failed: " << error.what() << '\n';
  }
  loops_.clear();
}

std::string Session::write_config(std::string_view toml, const std::string& file) {
  const fs::path config_dir = dir() / "config";
  fs::create_directories(config_dir);
  // Each session is its own project, so its plans never see other tests' domains as orphans.
  const bool has_project = toml.find("project =") != std::string_view::npos;
  std::ofstream out(config_dir / file);
  if (!has_project) out << "project = \"" << project() << "\"\n";
  out << toml;
  return config_dir.string();
}

const LoopDevice& Session::add_loop_device(std::uint64_t bytes) {
  fs::path backing = dir() / ("loop" + std::to_string(loops_.size()) + ".img");
  loops_.push_back(std::make_unique<LoopDevice>(backing, bytes));
  return *loops_.back();
}

std::string Session::add_raw_image(const std::string& name, std::uint64_t bytes) {
  const fs::path path = dir() / name;
  std::ofstream file(path, std::ios::binary);
  std::mt19937_64 generator(std::random_device{}());
  for (std::uint64_t written = 0; written < bytes; written += sizeof(std::uint64_t)) {
    std::uint64_t word = generator();
    file.write(reinterpret_cast<const char*>(&word), sizeof word);
  }
  return path.string();
}

ProcessResult Session::virtform(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {VIRTFORM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {{"NO_COLOR", "1"}}, 5min);
}

nlohmann::json Session::plan_json(const std::string& config_dir) const {
  ProcessResult result = virtform({"plan", config_dir, "-c", uri(), "--json"});
  if (result.exit_code != 0 && result.exit_code != 2) {
    throw std::runtime_error("plan --json failed:\n" + result.describe());
  }
  try {
    return nlohmann::json::parse(result.out);
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(std::string("plan --json printed no JSON (") + error.what() + "):\n" +
                             result.describe());
  }
}

ProcessResult Session::apply(const std::string& config_dir, const std::vector<std::string>& extra) {
  nlohmann::json plan = plan_json(config_dir);
  std::vector<nlohmann::json> outside = foreign_changes(plan);
  if (!outside.empty()) {
    throw std::runtime_error("refusing to apply: the plan changes domains outside " + prefix_ +
                             "*: " + nlohmann::json(outside).dump());
  }
  std::vector<std::string> args = {"apply", config_dir, "-c", uri(), "--auto-approve"};
  args.insert(args.end(), extra.begin(), extra.end());
  return virtform(args);
}

std::vector<nlohmann::json> Session::foreign_changes(const nlohmann::json& plan) const {
  std::vector<nlohmann::json> foreign;
  for (const nlohmann::json& change : plan.value("changes", nlohmann::json::array())) {
    if (change.value("action", "") == "none") continue;
    const std::string name = change.value("name", "");
    const bool is_vm = change.value("kind", "vm") == "vm";
    const bool ours = is_vm ? name.starts_with(prefix_) : name.starts_with(dir().string() + "/");
    if (!ours) foreign.push_back(change);
  }
  return foreign;
}

std::vector<nlohmann::json> changes_inside(const nlohmann::json& plan, const std::string& prefix) {
  std::vector<nlohmann::json> selected;
  for (const nlohmann::json& change : plan.value("changes", nlohmann::json::array())) {
    if (change.value("action", "") == "none" || change.value("kind", "vm") != "vm") continue;
    if (change.value("name", "").starts_with(prefix)) selected.push_back(change);
  }
  return selected;
}

nlohmann::json field_of(const nlohmann::json& change, const std::string& field) {
  for (const nlohmann::json& entry : change.value("fields", nlohmann::json::array())) {
    if (entry.value("field", "") == field) return entry;
  }
  return nullptr;
}

std::vector<std::string> field_names(const nlohmann::json& change) {
  std::vector<std::string> names;
  for (const nlohmann::json& entry : change.value("fields", nlohmann::json::array())) {
    names.push_back(entry.value("field", ""));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace virtform::e2e
