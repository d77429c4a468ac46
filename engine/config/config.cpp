#include "engine/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string_view>

#include "engine/config/keys.h"
#include "engine/config/references.h"
#include "engine/config/table_reader.h"
#include "engine/config/text_guard.h"
#include "engine/config/vm_reader.h"

namespace virtform {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNotRegular =
    "not a regular file (a FIFO, socket or device); a config file must be a plain file";

void error_in_file(Diagnostics& diagnostics, const std::string& file, std::string message) {
  diagnostics.push_back({Severity::error, std::move(message), Location{file, 0, 0}, ""});
}

// The *.toml files of a directory in name order, so that a split config reads predictably.
std::vector<std::string> toml_files_in(const fs::path& directory, Diagnostics& diagnostics) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    std::error_code ignored;
    if (entry.path().extension() != ".toml" || entry.is_directory(ignored)) continue;
    // Read, a FIFO would wait for a writer for ever, and a device never end.
    if (entry.is_regular_file(ignored)) {
      files.push_back(entry.path().string());
    } else {
      error_in_file(diagnostics, entry.path().string(), kNotRegular);
    }
  }
  if (error) error_in_file(diagnostics, directory.string(), "cannot read: " + error.message());
  std::sort(files.begin(), files.end());
  if (files.empty() && !error) {
    error_in_file(diagnostics, directory.string(), "no .toml files in this directory");
  }
  return files;
}

// toml++'s words for a syntax error; a string left open at the end of its line is reported as
// a control character (the line break) inside it, which says nothing about the missing quote.
std::string syntax_message(const toml::parse_error& error, const std::string& text) {
  std::string message(error.description());
  if (message.find("unescaped control characters") == std::string::npos) return message;
  std::istringstream lines(text);
  std::string line;
  std::size_t number = 0;
  while (number < error.source().begin.line && std::getline(lines, line)) ++number;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (error.source().begin.column != line.size() + 1) return message;
  return "this string is not closed before the end of the line (only \"\"\"...\"\"\" strings may "
         "span lines)";
}

// "vm.a must be a table ([vm.a])"
std::string not_a_table(std::string_view kind, const std::string& name) {
  const std::string address = std::string(kind) + "." + name;
  return address + " must be a table ([" + address + "])";
}

// "[vm.my vm]: a name may hold only ..."
std::string not_a_valid_key(std::string_view kind, const std::string& name) {
  return "[" + std::string(kind) + "." + name +
         "]: a name may hold only letters, digits, '-' and '_'";
}

// The file's text; nothing when it cannot be read, with `not_regular` set when it is not a
// regular file. Opened without waiting and checked on the descriptor, as a FIFO or a device given
// by name would otherwise block the read or never end it.
std::optional<std::string> read_whole(const std::string& file, bool& not_regular) {
  not_regular = false;
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    not_regular = true;
    ::close(fd);
    return std::nullopt;
  }
  std::string text;
  char buffer[65536];
  ssize_t count = 0;
  while ((count = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(count));
  ::close(fd);
  if (count < 0) return std::nullopt;
  return text;
}

// Gathers the resources of every file into one Desired.
class Loading {
 public:
  explicit Loading(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  void read_path(const std::string& path) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      for (const std::string& file : toml_files_in(path, diagnostics_)) read_file(file);
    } else if (fs::exists(path, error)) {
      read_file(path);
    } else {
      error_in_file(diagnostics_, path, "no such file or directory");
    }
  }

  // One file's TOML text; `source` is the name its diagnostics give.
  void read_text(const std::string& text, const std::string& source) {
    if (auto problem = refused_before_parsing(text)) {
      diagnostics_.push_back({Severity::error, problem->message,
                              Location{source, problem->line, problem->column}, ""});
      return;
    }
    try {
      toml::table root = toml::parse(text, source);
      read_document(root, source);
    } catch (const toml::parse_error& error) {
      diagnostics_.push_back(
          {Severity::error, syntax_message(error, text), location_of(error.source(), source), ""});
    }
  }

  Desired finish() {
    // The project first: a VM's default loader overlay is named after it.
    for (Vm& vm : desired_.vms) vm.project = desired_.project;
    resolve_references(desired_, diagnostics_);
    return std::move(desired_);
  }

 private:
  void read_file(const std::string& file) {
    bool not_regular = false;
    auto text = read_whole(file, not_regular);
    if (!text) {
      error_in_file(diagnostics_, file, not_regular ? kNotRegular : "cannot read this file");
      return;
    }
    read_text(*text, file);
  }

  void read_document(const toml::table& root, const std::string& file) {
    TableReader top(root, "", file, diagnostics_);
    top.reject_unknown_keys(keys::kTopLevel);
    read_project(top);
    for_each_resource(top, "loader", [&](const toml::table& table, const std::string& key) {
      if (!first_definition("loader", key, table, file)) return;
      desired_.loaders.emplace(key, read_loader(table, key, file, diagnostics_));
    });
    for_each_resource(top, "vm", [&](const toml::table& table, const std::string& key) {
      if (!first_definition("vm", key, table, file)) return;
      desired_.vms.push_back(read_vm(table, key, file, diagnostics_));
    });
  }

  // `project = "name"`: set once; every file that sets it must agree.
  void read_project(TableReader& top) {
    const auto project = top.string("project");
    if (!project) return;
    if (!is_valid_resource_key(*project)) {
      top.error("project", "a project name may hold only letters, digits, '-' and '_'");
    } else if (project_where_.empty()) {
      desired_.project = *project;
      project_where_ = top.where("project");
    } else if (*project != desired_.project) {
      top.error("project",
                "project is already set to '" + desired_.project + "' at " + project_where_.str());
    }
  }

  // Calls `read` for each [kind.<key>] table; reports anything else found under `kind`.
  template <typename Read>
  void for_each_resource(TableReader& top, std::string_view kind, Read read) {
    const toml::table* resources = top.table(kind);
    if (!resources) return;
    for (auto&& [key, node] : *resources) {
      std::string name(key.str());
      Location where = location_of(key.source(), top.file());
      if (!node.is_table()) {
        report(where, not_a_table(kind, name));
      } else if (!is_valid_resource_key(name)) {
        report(where, not_a_valid_key(kind, name));
      } else {
        read(*node.as_table(), name);
      }
    }
  }

  // True the first time a resource is seen; a second definition (in another file) is an error.
  bool first_definition(const std::string& kind, const std::string& key, const toml::table& table,
                        const std::string& file) {
    Location where = location_of(table.source(), file);
    auto [it, inserted] = seen_.try_emplace(kind + "." + key, where);
    if (!inserted) {
      report(where, "[" + kind + "." + key + "] is already defined at " + it->second.str());
    }
    return inserted;
  }

  void report(Location where, std::string message) {
    diagnostics_.push_back({Severity::error, std::move(message), std::move(where), ""});
  }

  Diagnostics& diagnostics_;
  Desired desired_;
  std::map<std::string, Location> seen_;  // "vm.dsm" -> where it was defined first
  Location project_where_;                // where `project` was set first
};

}  // namespace

Desired load_config(const std::vector<std::string>& paths, Diagnostics& diagnostics) {
  Loading loading(diagnostics);
  for (const std::string& path : paths) loading.read_path(path);
  return loading.finish();
}

Desired load_config_text(const std::string& text, const std::string& source,
                         Diagnostics& diagnostics) {
  Loading loading(diagnostics);
  loading.read_text(text, source);
  return loading.finish();
}

}  // namespace virtform
