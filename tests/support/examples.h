#pragma once
// The examples under examples/: each directory holding a configuration (*.toml). Tests that hold
// every example to something go through this list, so a new example is covered by them at once.

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace virtform::testing {

// Their directory names ("dsm", "passthrough", ...), sorted.
inline std::vector<std::string> example_names() {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  for (const fs::directory_entry& dir :
       fs::directory_iterator(std::string(VIRTFORM_SOURCE_DIR) + "/examples")) {
    if (!dir.is_directory()) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(dir.path()))
      if (file.path().extension() == ".toml") {
        names.push_back(dir.path().filename().string());
        break;
      }
  }
  // An empty list would let every test that loops over it pass without looking at anything.
  if (names.empty()) throw std::runtime_error("no example configuration under examples/");
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace virtform::testing
