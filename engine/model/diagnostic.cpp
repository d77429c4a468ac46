#include "engine/model/diagnostic.h"

#include <algorithm>

namespace virtform {

std::string Location::str() const {
  if (file.empty()) return "";
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool has_errors(const Diagnostics& diagnostics) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::string format(const Diagnostic& diagnostic) {
  std::string text;
  if (!diagnostic.where.empty()) text += diagnostic.where.str() + ": ";
  text += diagnostic.severity == Severity::error ? "error: " : "warning: ";
  if (!diagnostic.resource.empty()) text += diagnostic.resource + ": ";
  text += diagnostic.message;
  return text;
}

}  // namespace virtform
