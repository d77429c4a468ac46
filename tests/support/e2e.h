#pragma once
// The end-to-end harness: everything a test against the real libvirtd at qemu:///system needs to
// stay inside its own sandbox. A Session gives each test run a unique domain-name prefix and, when
// it goes out of scope (also when the test fails or throws), destroys and undefines every domain
// under that prefix and nothing else, detaches the loop devices it made and removes its files.

#include <libvirt/libvirt.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.h"

namespace virtform::e2e {

// The daemon the end-to-end tests run against: qemu:///system, or $VIRTFORM_E2E_URI (for
// example qemu:///session, to stay clear of other work on a shared host's system daemon).
std::string uri();

// Why the end-to-end tests cannot run here (not root, no libvirtd, other virtform-managed domains
// a plan would want to delete, and with `needs_virtform` no virtform binary), or "" when they can.
std::string skip_reason(bool needs_virtform = true);

// Catch2 v2 has no SKIP: leave the test case early, loudly, when the environment is not there.
// ci/test.sh provides root and a libvirtd, so in CI nothing is skipped.
// Under CI (the CI variable set, as .ci/run has it) a skip is a failure: ci/test.sh provides the
// environment, and a test that skipped would pass having tested nothing.
#define VIRTFORM_E2E_REQUIRE_ENVIRONMENT(...)                               \
  do {                                                                      \
    const std::string e2e_skip = ::virtform::e2e::skip_reason(__VA_ARGS__); \
    if (!e2e_skip.empty()) {                                                \
      if (std::getenv("CI") != nullptr) FAIL("cannot run: " << e2e_skip);   \
      WARN("skipped: " << e2e_skip);                                        \
      std::cout << "skipped: " << e2e_skip << std::endl;                    \
      return;                                                               \
    }                                                                       \
  } while (false)

// The tiny Linux guests of tests/e2e/guest, built on first use (cached) by build-guest.sh into
// $VIRTFORM_E2E_GUEST_DIR, else e2e-guest/ beside the virtform binary.
struct GuestImages {
  std::string kernel;         // Debian's stock kernel
  std::string initrd_acpi;    // powers off on the ACPI power button
  std::string initrd_ignore;  // ignores it
};
// Throws std::runtime_error with the build output when the guest cannot be built.
const GuestImages& guest_images();

// sha256 of a file or block device, as hex. Throws when it cannot be read.
std::string sha256_of(const std::string& path);

// Polls `condition` every 200 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A private directory (mode 0755 so the qemu user can reach images in it), removed on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory's absolute path.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;  // created by mkdtemp under /var/tmp
};

// A sparse backing file attached with `losetup --find --show`, detached on destruction. The
// backing file keeps some data so its checksum tells whether anything wrote to it.
class LoopDevice {
 public:
  LoopDevice(const std::filesystem::path& backing_file, std::uint64_t bytes);
  ~LoopDevice();
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;

  // "/dev/loopN".
  const std::string& device() const { return device_; }
  // The file behind it.
  const std::filesystem::path& backing_file() const { return backing_file_; }

 private:
  std::filesystem::path backing_file_;  // sparse file made by the constructor
  std::string device_;                  // what losetup attached
};

// A connection to qemu:///system for looking at domains behind virtform's back, and for setting
// up domains virtform does not manage.
class Libvirt {
 public:
  Libvirt();
  ~Libvirt();
  Libvirt(const Libvirt&) = delete;
  Libvirt& operator=(const Libvirt&) = delete;

  // Names of all domains, running or not.
  std::vector<std::string> domain_names();
  bool exists(const std::string& name);
  bool is_running(const std::string& name);
  // The running domain's ID, or -1 when it is not running.
  int id(const std::string& name);
  // The running definition, or with `inactive` the persistent one.
  std::string xml(const std::string& name, bool inactive = false);
  // The same with its secrets: a console's password (<graphics passwd>).
  std::string xml_with_secrets(const std::string& name, bool inactive = false);
  // Whether the persistent definition carries virtform's managed marker.
  bool is_managed(const std::string& name);
  // Defines a persistent domain from XML.
  void define(const std::string& xml);
  void start(const std::string& name);
  // Pulls the plug of a running domain (virDomainDestroy); its definition stays.
  void stop(const std::string& name);
  // Destroys (if running) and undefines the domain, keeping its NVRAM. Missing is fine.
  void remove(const std::string& name);
  // Whether `network` is defined (active or not).
  bool has_network(const std::string& network);

 private:
  std::string xml_with_flags(const std::string& name, unsigned flags);
  // The open connection, opened again if libvirtd was restarted since.
  virConnectPtr connection();

  virConnectPtr connection_ = nullptr;  // owned
};

// Waits until the running domain's serial console (a pty) prints `needle`. The e2e guests
// repeat their "ready" line, so attaching late is fine. Returns what was read when it did not
// appear within `timeout`, prefixed by "not found: ".
std::string wait_for_console(Libvirt& libvirt, const std::string& domain, std::string_view needle,
                             std::chrono::milliseconds timeout);

// One test run's sandbox. Declare it first in a test case so it is cleaned up last.
class Session {
 public:
  Session();
  // Removes every domain under the prefix, detaches loop devices, deletes the temp dir.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // "vfe2e-<pid>-<random>-": every domain a test creates starts with it.
  const std::string& prefix() const { return prefix_; }
  // The virtform project of this session's configs: the prefix without its trailing '-'.
  std::string project() const { return prefix_.substr(0, prefix_.size() - 1); }
  // prefix + suffix.
  std::string domain(std::string_view suffix) const { return prefix_ + std::string(suffix); }
  // The session's temp dir, for images and configs.
  const std::filesystem::path& dir() const { return temp_.path(); }
  // The libvirt connection the session cleans up through.
  Libvirt& libvirt() { return libvirt_; }

  // Writes `toml` as <dir>/config/<file> and returns the config directory (pass it to virtform).
  std::string write_config(std::string_view toml, const std::string& file = "main.toml");
  // A new loop device over a sparse file in the temp dir.
  const LoopDevice& add_loop_device(std::uint64_t bytes);
  // A file of `bytes` with random contents in the temp dir, as a raw disk image.
  std::string add_raw_image(const std::string& name, std::uint64_t bytes);

  // Runs the virtform binary with `args`, colours off.
  ProcessResult virtform(const std::vector<std::string>& args) const;
  // `virtform plan <config> -c <uri> --json`, parsed. Throws with the run's output when
  // it fails or prints something that is not JSON.
  nlohmann::json plan_json(const std::string& config_dir) const;
  // `virtform apply <config> -c <uri> --auto-approve <extra>`, but only after a plan
  // showed that every change concerns a domain under this session's prefix: a test must never
  // apply a deletion of someone else's VM. Throws when the plan reaches outside the sandbox.
  ProcessResult apply(const std::string& config_dir, const std::vector<std::string>& extra = {});
  // The plan's changes that reach outside the sandbox: VMs not under the prefix, and other
  // resources (image files) not under the temp dir.
  std::vector<nlohmann::json> foreign_changes(const nlohmann::json& plan) const;

 private:
  Libvirt libvirt_;                                 // connection for cleanup and inspection
  std::string prefix_;                              // unique per session
  TempDir temp_;                                    // images, configs, loop backing files
  std::vector<std::unique_ptr<LoopDevice>> loops_;  // detached before temp_ is removed
};

// The plan's VM changes (kind "vm"; action "none" omitted) whose domain name starts with
// `prefix`.
std::vector<nlohmann::json> changes_inside(const nlohmann::json& plan, const std::string& prefix);
// The change's field entry named `field`, or null.
nlohmann::json field_of(const nlohmann::json& change, const std::string& field);
// The names of a change's fields, sorted.
std::vector<std::string> field_names(const nlohmann::json& change);

}  // namespace virtform::e2e
