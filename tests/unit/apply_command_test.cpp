// virtform apply --plan as a process: a saved plan is carried out only if the host still passes
// the checks plan ran, whether or not its fingerprint saw what moved.

#include <catch2/catch.hpp>
#include <filesystem>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;

TEST_CASE("apply --plan runs the host checks again", "[apply_command]") {
  TempDir dir{"virtform-apply"};
  const std::string host = dir / "host";
  std::filesystem::copy(
      std::string(VIRTFORM_SOURCE_DIR) + "/examples/demo-host", host,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  const std::string plan_file = dir / "plan.json";
  const std::string config = std::string(VIRTFORM_SOURCE_DIR) + "/examples/dsm";
  ProcessResult planned =
      run_process({VIRTFORM_BINARY, "plan", config, "--host", host, "--out", plan_file});
  INFO(planned.describe());
  REQUIRE(planned.exit_code == 0);

  // The firmware image the plan resolved goes away: no fingerprint entry follows it.
  std::filesystem::remove(host + "/root/usr/share/OVMF/OVMF_CODE_4M.fd");
  ProcessResult applied = run_process(
      {VIRTFORM_BINARY, "apply", "--plan", plan_file, "--host", host, "--auto-approve"});
  INFO(applied.describe());
  CHECK(applied.exit_code == 1);
  CHECK(applied.err.find("OVMF_CODE_4M.fd") != std::string::npos);
  CHECK(applied.err.find("the host no longer passes the checks this plan passed; nothing was "
                         "applied") != std::string::npos);
  CHECK(applied.out.find("started") == std::string::npos);
}

}  // namespace
}  // namespace virtform
