// write_file_atomically: the whole new text or the old file, never a truncated one.

#include "providers/host/file_writer.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "engine/system/hypervisor.h"
#include "tests/support/temp_dir.h"

namespace virtform {
namespace {

using testing::read_file;

std::vector<std::string> names_in(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  return names;
}

TEST_CASE("a file is written whole, replacing the old one, with nothing left beside it",
          "[file_writer]") {
  testing::TempDir dir;
  const std::string path = dir / "plan.json";
  write_file_atomically(path, "first");
  CHECK(read_file(path) == "first");
  write_file_atomically(path, "second, longer");
  CHECK(read_file(path) == "second, longer");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"plan.json"});
}

TEST_CASE("a file that cannot be written is named with the reason, and the old one is kept",
          "[file_writer]") {
  testing::TempDir dir;
  CHECK_THROWS_WITH(write_file_atomically(dir / "missing/plan.json", "text"),
                    "cannot write " + (dir / "missing/plan.json") + ": No such file or directory");
  // A directory in the way of the rename: the new text cannot take its place.
  const std::string blocked = dir.make_dir("blocked");
  dir.write_file("blocked/keep", "kept");
  CHECK_THROWS_WITH(write_file_atomically(blocked, "text"),
                    Catch::StartsWith("cannot write " + blocked + ": "));
  CHECK(read_file(dir / "blocked/keep") == "kept");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"blocked"});
}

TEST_CASE("the file replaced keeps its mode, a new one follows the umask", "[file_writer]") {
  testing::TempDir dir;
  namespace fs = std::filesystem;
  const std::string kept = dir / "kept.json";
  write_file_atomically(kept, "first");
  fs::permissions(kept, fs::perms::owner_read | fs::perms::owner_write);
  write_file_atomically(kept, "second");
  CHECK(read_file(kept) == "second");
  CHECK((fs::status(kept).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  const mode_t old_mask = ::umask(027);
  write_file_atomically(dir / "new.json", "text");
  ::umask(old_mask);
  CHECK((fs::status(dir / "new.json").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}

TEST_CASE("a link stays a link, and what is not a regular file is written as it is",
          "[file_writer]") {
  testing::TempDir dir;
  namespace fs = std::filesystem;
  dir.make_dir("plans");
  dir.write_file("plans/real.json", "old");
  dir.symlink("plan.json", "plans/real.json");
  write_file_atomically(dir / "plan.json", "new");
  CHECK(fs::is_symlink(dir / "plan.json"));
  CHECK(read_file(dir / "plans/real.json") == "new");
  CHECK(names_in(dir / "plans") == std::vector<std::string>{"real.json"});

  // `import -o /dev/stdout` and the like: no temporary file can go beside a device.
  CHECK_NOTHROW(write_file_atomically("/dev/null", "discarded"));
  CHECK(fs::is_character_file("/dev/null"));
}

}  // namespace
}  // namespace virtform
