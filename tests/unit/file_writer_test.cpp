// write_file_atomically: the whole new text or the old file, never a truncated one.

#include "providers/host/file_writer.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/system/hypervisor.h"
#include "tests/support/temp_dir.h"

namespace virtform {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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
  CHECK(read_text(path) == "first");
  write_file_atomically(path, "second, longer");
  CHECK(read_text(path) == "second, longer");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"plan.json"});
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
         std::filesystem::perms::group_read | std::filesystem::perms::others_read));
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
  CHECK(read_text(dir / "blocked/keep") == "kept");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"blocked"});
}

}  // namespace
}  // namespace virtform
