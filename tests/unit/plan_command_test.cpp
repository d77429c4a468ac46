// virtform plan as a process: libvirt is read while the config loads, and whichever fails is
// reported as it was when the two ran one after the other; output that is lost is an error.

#include <unistd.h>

#include <catch2/catch.hpp>
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

}  // namespace virtform
