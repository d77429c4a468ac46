#pragma once
// Helpers shared by the fault-injection tests: plans' exit codes, small file systems mounted for
// one test, the children of a running process, and seeds that can be replayed.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/e2e_helpers.h"

namespace virtform::e2e {

// `virtform plan <config> --detailed-exitcode`: 0 nothing to do, 2 changes, 1 error (with the
// run's output in `describe`).
ProcessResult detailed_plan(const Session& session, const std::string& config);

// The names of the domains under the session's prefix.
std::set<std::string> domains_under(Session& session);

// A tmpfs of `bytes` mounted at `where` (created if missing) for as long as it lives, then
// unmounted (lazily, so a guest still holding a file cannot keep it).
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& where, std::uint64_t bytes);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  const std::filesystem::path& path() const { return where_; }
  // Remounts read-only (true) or read-write (false). Throws when mount(2) refuses.
  void set_read_only(bool read_only);
  // Writes a file until the file system is full, so that no further byte can be written.
  void fill();

 private:
  std::filesystem::path where_;
  std::uint64_t bytes_;
};

// `source` mounted again at `where` (created if missing) by bindfs, a FUSE file system, for as
// long as it lives: a file system without unnamed files (O_TMPFILE), like many network ones.
class BindfsMount {
 public:
  BindfsMount(const std::filesystem::path& source, const std::filesystem::path& where);
  ~BindfsMount();
  BindfsMount(const BindfsMount&) = delete;
  BindfsMount& operator=(const BindfsMount&) = delete;

  const std::filesystem::path& path() const { return where_; }

 private:
  std::filesystem::path where_;
};

// `qemu-img info` of an image, parsed; requires that qemu-img can read it. -U: a running guest
// may hold the image's lock.
nlohmann::json image_info(const std::string& path);

// Whether `directory` takes unnamed files (open with O_TMPFILE).
bool supports_unnamed_files(const std::filesystem::path& directory);

// The PIDs of the processes `pid` has started that are still running (from
// /proc/<pid>/task/*/children).
std::vector<pid_t> children_of(pid_t pid);
// The program a process runs (/proc/<pid>/comm), or "" when it is gone.
std::string program_of(pid_t pid);
// Whether the process has exited (a zombie not yet reaped counts as exited).
bool has_exited(pid_t pid);

// The seed for a randomised test: $<variable> when set (to replay a run), else a fresh one.
std::uint64_t seed_from_environment(const char* variable);

// Milliseconds since `start`.
long long elapsed_ms(std::chrono::steady_clock::time_point start);

// The files under `directory` whose name does not start with one of `expected`: what a failed
// operation may have left behind.
std::vector<std::string> unexpected_files(const std::filesystem::path& directory,
                                          const std::vector<std::string>& expected);

}  // namespace virtform::e2e
