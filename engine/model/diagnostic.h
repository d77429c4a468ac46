#pragma once
// Problems found at a stage boundary, reported all at once rather than one by one.

#include <string>
#include <vector>

namespace virtform {

// Where in the configuration something was written. An empty file means "not from the config".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  bool empty() const { return file.empty(); }
  // "dsm.toml:12:3", or "" when unknown.
  std::string str() const;
  bool operator==(const Location&) const = default;
};

enum class Severity { error, warning };

struct Diagnostic {
  Severity severity = Severity::error;
  std::string message;
  Location where;        // set for problems in the config
  std::string resource;  // set for problems of a resource ("vm.dsm"), may be empty
};

using Diagnostics = std::vector<Diagnostic>;

bool has_errors(const Diagnostics& diagnostics);
// "file:line:col: error: message" or "error: vm.dsm: message"; one line, no colour.
std::string format(const Diagnostic& diagnostic);

}  // namespace virtform
