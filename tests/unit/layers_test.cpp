// The layers hold: a lower part of the source never includes an upper one. Read from the source
// tree itself, so a new include across a layer fails here, naming the file and what it includes.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace virtform {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = VIRTFORM_SOURCE_DIR;

struct Include {
  std::string file;      // "providers/sysfs/sysfs_reader.cpp"
  std::string included;  // "engine/model/values.h", or <libvirt/libvirt.h> as "libvirt/libvirt.h"
};

// Every #include of the C++ files under `directory` (relative to the source tree).
std::vector<Include> includes_under(const std::string& directory) {
  std::vector<Include> found;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / directory)) {
    const std::string extension = entry.path().extension().string();
    if (!entry.is_regular_file() || (extension != ".h" && extension != ".cpp")) continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.starts_with("#include ")) continue;
      const auto open = line.find_first_of("\"<");
      const auto close = line.find_first_of("\">", open + 1);
      if (open == std::string::npos || close == std::string::npos) continue;
      found.push_back(
          {fs::relative(entry.path(), kSource).string(), line.substr(open + 1, close - open - 1)});
    }
  }
  REQUIRE_FALSE(found.empty());
  return found;
}

// "file includes included" for each include under `directory` that starts with one of
// `forbidden` and with none of `allowed`.
std::vector<std::string> crossings(const std::string& directory,
                                   const std::vector<std::string>& forbidden,
                                   const std::vector<std::string>& allowed = {}) {
  const auto starts_with_any = [](const std::string& text, const std::vector<std::string>& list) {
    for (const std::string& prefix : list)
      if (text.starts_with(prefix)) return true;
    return false;
  };
  std::vector<std::string> found;
  for (const Include& include : includes_under(directory)) {
    if (starts_with_any(include.included, forbidden) && !starts_with_any(include.included, allowed))
      found.push_back(include.file + " includes " + include.included);
  }
  return found;
}

const std::vector<std::string> kNone;

TEST_CASE("the engine includes no provider, no libvirt and no XML parser", "[layers]") {
  CHECK(crossings("engine", {"providers/", "cli/", "libvirt/", "pugixml"}) == kNone);
}

TEST_CASE("providers read the host without the configuration loader", "[layers]") {
  CHECK(crossings("providers", {"engine/config/", "cli/"}) == kNone);
}

TEST_CASE("the libvirt provider reads recordings without the capture provider", "[layers]") {
  CHECK(crossings("providers/libvirt", {"providers/capture/"}) == kNone);
}

TEST_CASE("the model includes no other stage of the engine", "[layers]") {
  CHECK(crossings("engine/model", {"engine/"}, {"engine/model/"}) == kNone);
}

// The engine's stages, lowest first. engine/passes.{h,cpp}, which runs them in order, is above
// them all.
const std::vector<std::string> kStages = {"model",  "system", "dsm",   "config", "plan",
                                          "checks", "graph",  "apply", "import", "render"};

TEST_CASE("each engine stage includes only the stages below it", "[layers]") {
  std::vector<std::string> stages_on_disk;
  for (const auto& entry : fs::directory_iterator(kSource / "engine"))
    if (entry.is_directory()) stages_on_disk.push_back(entry.path().filename().string());
  std::sort(stages_on_disk.begin(), stages_on_disk.end());
  std::vector<std::string> listed = kStages;
  std::sort(listed.begin(), listed.end());
  // A new stage gets its place in the order.
  CHECK(stages_on_disk == listed);

  for (std::size_t i = 0; i < kStages.size(); ++i) {
    std::vector<std::string> above = {"engine/passes.h"};
    for (std::size_t j = i + 1; j < kStages.size(); ++j)
      above.push_back("engine/" + kStages[j] + "/");
    CHECK(crossings("engine/" + kStages[i], above) == kNone);
  }
}

}  // namespace
}  // namespace virtform
