// virtform plan as a process: libvirt is read while the config loads, and whichever fails is
// reported as it was when the two ran one after the other.

#include <catch2/catch.hpp>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

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

}  // namespace virtform
