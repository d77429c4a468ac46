#pragma once
// Checks on a configuration's text before toml++ parses it, for inputs toml++ 3.3 cannot take
// safely: dotted keys deep enough to overflow its stack, and non-ASCII characters outside
// strings and comments (in bare keys and values), which reach an "unreachable" branch of its
// Unicode tables (undefined behaviour). Neither is valid TOML for virtform, so refusing them up
// front costs no real input.

#include <optional>
#include <string>
#include <string_view>

namespace virtform {

// Where the text goes wrong (line and column from 1, columns in characters) and why.
struct TextProblem {
  int line = 0;
  int column = 0;
  std::string message;
};

// The first such problem outside strings and comments, or nothing.
std::optional<TextProblem> refused_before_parsing(std::string_view text);

}  // namespace virtform
