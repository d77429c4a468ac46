// Image creation on a file system without unnamed files (O_TMPFILE): a bindfs FUSE mount, as
// many network file systems are. The image is made under a hidden name and named once whole.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "providers/host/rooted_files.h"
#include "tests/faults/fault_helpers.h"

namespace virtform::e2e {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024;

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> names_in(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("without unnamed files, images are made whole under a hidden name and then named",
          "[faults]") {
  // Mounting needs root; libvirt is not involved.
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr) FAIL("cannot run: mounting bindfs needs root");
    WARN("skipped: mounting bindfs needs root");
    return;
  }
  // Under /var/tmp/virtform-e2e-<PID>-*, so that ci/sweep-e2e.sh unmounts it should this die.
  TempDir temp;
  BindfsMount fuse(temp.path() / "source", temp.path() / "fuse");
  REQUIRE_FALSE(supports_unnamed_files(fuse.path()));
  const std::filesystem::path& dir = fuse.path();
  RootedHostFiles files;

  // What an apply killed while it made a.raw left, and two files that only look like it.
  write_text(dir / ".a.raw.virtform-0a1b2c", "half an image");
  write_text(dir / ".a.raw.virtform-mine", "someone's");
  write_text(dir / ".b.raw.virtform-0a1b2c", "another image's");

  files.create_image((dir / "a.raw").string(), "raw", 8 * kMiB);
  files.create_image((dir / "c.qcow2").string(), "qcow2", 64 * kMiB);

  CHECK(std::filesystem::file_size(dir / "a.raw") == 8 * kMiB);
  CHECK(image_info((dir / "c.qcow2").string()).value("format", "") == "qcow2");
  CHECK(image_info((dir / "c.qcow2").string()).value("virtual-size", 0ULL) == 64 * kMiB);
  struct stat info {};
  REQUIRE(::stat((dir / "c.qcow2").c_str(), &info) == 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  CHECK((info.st_mode & 0777) == (0644 & ~mask));
  // Only the stale hidden file of a.raw is gone; nothing hidden of the new images is left.
  CHECK(names_in(dir) == std::vector<std::string>{".a.raw.virtform-mine", ".b.raw.virtform-0a1b2c",
                                                  "a.raw", "c.qcow2"});

  SECTION("an existing image is refused and kept") {
    write_text(dir / "kept.raw", "data");
    CHECK_THROWS_WITH(files.create_image((dir / "kept.raw").string(), "raw", kMiB),
                      Catch::Contains("already exists"));
    CHECK(std::filesystem::file_size(dir / "kept.raw") == 4);
  }
  SECTION("an image qemu-img cannot make leaves nothing, hidden or not") {
    const std::uint64_t absurd = std::numeric_limits<std::uint64_t>::max();
    CHECK_THROWS_WITH(files.create_image((dir / "d.qcow2").string(), "qcow2", absurd),
                      Catch::Contains("qemu-img create -f qcow2 " + (dir / "d.qcow2").string()));
    CHECK(names_in(dir).size() == 4);
  }
}

}  // namespace virtform::e2e
