#pragma once
// Small text helpers shared by messages and renderers.

#include <string>
#include <vector>

namespace virtform {

// "a, b, c" for join({"a", "b", "c"}, ", ").
std::string join(const std::vector<std::string>& parts, const std::string& separator);

}  // namespace virtform
