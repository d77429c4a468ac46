// virtform plan as a process: libvirt is read while the config loads, and whichever fails is
// reported as it was when the two ran one after the other; output that is lost is an error.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "support/counting_listener.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::CountingListener;
using testing::TempDir;

// Nothing listens on port 1: the connection is refused at once.
const std::string kUnreachable = "qemu+tcp://127.0.0.1:1/system";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("plan reports the config's errors, not an unreachable libvirt", "[plan_command]") {
  TempDir dir{"virtform-plan"};
  const std::string config = dir.write_file("bad.toml", "[vm.a]\nmemory = \"lots\"\n");
  ProcessResult result = run_process({VIRTFORM_BINARY, "plan", config, "-c", kUnreachable});
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(contains(result.err, "bad.toml:2:"));
  CHECK_FALSE(contains(result.err, "cannot connect"));
  CHECK(result.out.empty());
}

TEST_CASE("plan of a valid config reports libvirt's error", "[plan_command]") {
  TempDir dir{"virtform-plan"};
  const std::string config = dir.write_file("ok.toml", "[vm.a]\nmemory = \"1 GiB\"\n");
  ProcessResult result = run_process({VIRTFORM_BINARY, "plan", config, "-c", kUnreachable});
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(contains(result.err, "error: cannot connect to " + kUnreachable));
  CHECK(result.out.empty());
}

TEST_CASE("a remote host is not contacted for a config with errors", "[plan_command]") {
  TempDir dir{"virtform-plan"};
  CountingListener remote;
  const std::string bad = dir.write_file("bad.toml", "[vm.a]\nmemory = \"lots\"\n");
  ProcessResult refused = run_process({VIRTFORM_BINARY, "plan", bad, "-c", remote.uri()});
  INFO(refused.describe());
  CHECK(refused.exit_code == 1);
  CHECK(contains(refused.err, "bad.toml:2:"));
  CHECK(remote.accepted() == 0);

  // A valid one is planned against it: the connection is made, and fails once the listener
  // closes it (libvirt would wait for the handshake's answer for ever).
  const std::string good = dir.write_file("ok.toml", "[vm.a]\nmemory = \"1 GiB\"\n");
  Process plan({VIRTFORM_BINARY, "plan", good, "-c", remote.uri()});
  int connections = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (connections == 0 && std::chrono::steady_clock::now() < deadline) {
    connections = remote.accepted();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ProcessResult planned = plan.wait(std::chrono::seconds(60));
  INFO(planned.describe());
  CHECK(connections >= 1);
  CHECK(planned.exit_code == 1);
  CHECK(contains(planned.err, "error: cannot connect to " + remote.uri()));
}

TEST_CASE("a daemon that accepts the connection and never answers is given up on, named",
          "[plan_command]") {
  TempDir dir{"virtform-plan"};
  CountingListener remote;
  const std::string config = dir.write_file("ok.toml", "[vm.a]\nmemory = \"1 GiB\"\n");
  const auto started = std::chrono::steady_clock::now();
  Process plan({VIRTFORM_BINARY, "plan", config, "-c", remote.uri()},
               {{"VIRTFORM_CONNECT_TIMEOUT", "2"}});
  int connections = 0;
  const auto deadline = started + std::chrono::seconds(60);
  while (connections == 0 && std::chrono::steady_clock::now() < deadline) {
    connections = remote.accepted_and_held();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ProcessResult planned = plan.wait(std::chrono::seconds(60));
  INFO(planned.describe());
  CHECK(connections >= 1);
  CHECK(planned.exit_code == 1);
  CHECK(
      contains(planned.err, "error: cannot connect to " + remote.uri() + ": no answer within 2 s"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
}

TEST_CASE("a connect timeout that is not a number of seconds is an error", "[plan_command]") {
  TempDir dir{"virtform-plan"};
  const std::string config = dir.write_file("ok.toml", "[vm.a]\nmemory = \"1 GiB\"\n");
  ProcessResult result = run_process({VIRTFORM_BINARY, "plan", config, "-c", "test:///default"},
                                     {{"VIRTFORM_CONNECT_TIMEOUT", "soon"}});
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(contains(result.err, "VIRTFORM_CONNECT_TIMEOUT=soon: not a number of seconds"));
}

TEST_CASE("a plan that cannot be written out is an error, not a success", "[plan_command]") {
  const std::string plan = std::string(VIRTFORM_BINARY) + " plan " + VIRTFORM_SOURCE_DIR +
                           "/examples/dsm --host " + VIRTFORM_SOURCE_DIR + "/examples/demo-host";
  ProcessResult result = run_process({"sh", "-c", plan + " --no-color >/dev/full"});
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(contains(result.err, "error: cannot write to standard output"));
}

// The demo host with `count` (< 100) more shut-off domains, guest-00 ... (128 MiB each), in
// `dir`/host; returns that directory, for --host.
std::string host_with_guests(const TempDir& dir, int count) {
  const std::filesystem::path host = std::filesystem::path(dir.path()) / "host";
  std::filesystem::copy(
      std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host", host,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  std::ifstream in(host / "host.xml");
  std::string xml((std::istreambuf_iterator<char>(in)), {});
  std::string guests;
  for (int i = 0; i < count; ++i) {
    // A UUID of its own: the test driver would pick a random one, and the plan's fingerprint
    // of the domain with it.
    char domain[256];
    std::snprintf(domain, sizeof domain,
                  "<domain type='qemu'><name>guest-%02d</name>"
                  "<uuid>00000000-0000-4000-8000-0000000000%02d</uuid>"
                  "<memory unit='MiB'>128</memory>"
                  "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>\n",
                  i, i);
    guests += domain;
  }
  xml.insert(xml.find("<pool "), guests);
  std::ofstream(host / "host.xml", std::ios::trunc) << xml;
  return host.string();
}

TEST_CASE("plan is the same read with one thread or many", "[plan_command]") {
  TempDir dir{"virtform-plan"};
  constexpr int kGuests = 40;
  const std::string host = host_with_guests(dir, kGuests);
  // Every other guest adopted with more memory, and a new VM: a change per adopted guest.
  std::string toml;
  for (int i = 0; i < kGuests; i += 2) {
    char vm[96];
    std::snprintf(vm, sizeof vm,
                  "[vm.g%02d]\nname = \"guest-%02d\"\ntype = \"qemu\"\nmemory = \"256 MiB\"\n"
                  "adopt = true\n\n",
                  i, i);
    toml += vm;
  }
  toml += "[vm.new]\ntype = \"qemu\"\nmemory = \"1 GiB\"\n";
  const std::string config = dir.write_file("fleet.toml", toml);
  auto plan = [&](const std::vector<std::string>& extra,
                  const std::map<std::string, std::string>& environment) {
    std::vector<std::string> argv = {VIRTFORM_BINARY, "plan", config, "--host", host, "--no-color"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcessResult result = run_process(argv, environment);
    INFO(result.describe());
    CHECK(result.exit_code == 0);
    return result.out;
  };
  for (const std::string format : {"--no-color", "--json"}) {
    INFO(format);
    const std::string serial = plan({format, "--read-threads", "1"}, {});
    CHECK(contains(serial, format == "--json" ? "\"guest-38\"" : "Plan: 1 to add, 20 to change"));
    CHECK(plan({format, "--read-threads", "8"}, {}) == serial);
    CHECK(plan({format}, {{"VIRTFORM_READ_THREADS", "3"}}) == serial);
    CHECK(plan({format}, {}) == serial);
    // The flag wins over the variable.
    CHECK(plan({format, "--read-threads", "1"}, {{"VIRTFORM_READ_THREADS", "64"}}) == serial);
  }
}

TEST_CASE("a read thread count that is not a whole number from 1 to 64 is an error",
          "[plan_command]") {
  TempDir dir{"virtform-plan"};
  const std::string config = dir.write_file("ok.toml", "[vm.a]\nmemory = \"1 GiB\"\n");
  for (const char* bad : {"0", "65", "eight", "4x", "-1"}) {
    INFO(bad);
    ProcessResult result = run_process({VIRTFORM_BINARY, "plan", config, "-c", "test:///default"},
                                       {{"VIRTFORM_READ_THREADS", bad}});
    INFO(result.describe());
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, std::string("error: VIRTFORM_READ_THREADS=") + bad +
                                   ": not a whole number from 1 to 64"));
    CHECK(result.out.empty());
  }
  ProcessResult flag = run_process(
      {VIRTFORM_BINARY, "plan", config, "-c", "test:///default", "--read-threads", "many"});
  INFO(flag.describe());
  CHECK(flag.exit_code == 1);
  CHECK(contains(flag.err, "error: --read-threads"));
  // Decimal, as the variable is read: "070" is seventy, too many, not octal 56.
  ProcessResult octal = run_process(
      {VIRTFORM_BINARY, "plan", config, "-c", "test:///default", "--read-threads", "070"});
  INFO(octal.describe());
  CHECK(octal.exit_code == 1);
  CHECK(contains(octal.err, "error: --read-threads: Value 070 not in range 1 to 64"));
  CHECK(run_process(
            {VIRTFORM_BINARY, "plan", config, "-c", "test:///default", "--read-threads", "08"})
            .exit_code == 0);
}

}  // namespace virtform
