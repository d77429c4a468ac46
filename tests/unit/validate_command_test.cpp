// virtform validate as a process, on files that are not regular files: it must answer at once,
// never block on a device that never ends or a FIFO nobody writes to.

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/process.h"
#include "support/temp_dir.h"

namespace virtform {
namespace {

using testing::TempDir;
using namespace std::chrono_literals;

// Far longer than validate takes; a validate that blocks is killed then and fails the test.
constexpr auto kPatience = 30s;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ProcessResult validate(const std::string& path) {
  return run_process({VIRTFORM_BINARY, "validate", path, "-c", "test:///default"},
                     {{"NO_COLOR", "1"}}, kPatience);
}

std::string make_fifo(const TempDir& dir, const std::string& name) {
  const std::string path = dir / name;
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  return path;
}

TEST_CASE("a loader image that is a device is refused, not read for ever", "[validate_command]") {
  TempDir dir{"virtform-validate"};
  const std::string config = dir.write_file(
      "loader.toml", "[loader.tcrp]\nimage = \"/dev/zero\"\nsha256 = \"" + std::string(64, 'a') +
                         "\"\n\n[vm.a]\n\n[vm.a.boot]\nloader = \"tcrp\"\n");
  const ProcessResult result = validate(config);
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(contains(result.err,
                 "loader.toml:1:1: error: loader.tcrp: loader image /dev/zero is not "
                 "a regular file"));
}

TEST_CASE("a FIFO as a loader or disk image is refused", "[validate_command]") {
  TempDir dir{"virtform-validate"};
  const std::string fifo = make_fifo(dir, "image.img");
  const std::string config = dir.write_file(
      "fifo.toml", "[loader.tcrp]\nimage = \"" + fifo + "\"\nsha256 = \"" + std::string(64, 'a') +
                       "\"\n\n[vm.a]\n\n[vm.a.boot]\nloader = \"tcrp\"\n" +
                       "\n[[vm.a.disk]]\nfile = \"" + fifo + "\"\n");
  const ProcessResult result = validate(config);
  INFO(result.describe());
  CHECK(result.exit_code == 1);
  CHECK(
      contains(result.err, "error: loader.tcrp: loader image " + fifo + " is not a regular file"));
  CHECK(contains(result.err,
                 "fifo.toml:10:1: error: vm.a: disk file " + fifo + " is not a regular file"));
}

TEST_CASE("a FIFO named like a config file is refused, the other files still read",
          "[validate_command]") {
  TempDir dir{"virtform-validate"};
  dir.write_file("config/a.toml", "[vm.a]\n");
  const std::string fifo = make_fifo(dir, "config/x.toml");
  SECTION("in a directory") {
    const ProcessResult result = validate(dir / "config");
    INFO(result.describe());
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, fifo + ": error: not a regular file"));
  }
  SECTION("named on the command line") {
    const ProcessResult result = validate(fifo);
    INFO(result.describe());
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, fifo + ": error: not a regular file"));
  }
}

}  // namespace
}  // namespace virtform
