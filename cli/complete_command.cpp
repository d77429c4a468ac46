// virtform __complete WORD...: what a shell may offer for the last WORD of `virtform WORD...`.
// The answer comes from the command line itself (the CLI11 app main.cpp builds), so the
// completion scripts in dist/completion hold no list of commands or flags that could drift.
//
// The first line says what the shell completes, the candidates follow, one a line:
//   words  only the candidates given
//   files  file and directory names (the shell lists them; no candidates are given)
//   dirs   directory names
// It never fails: what cannot be read (a daemon that does not answer) offers nothing.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "providers/libvirt/connection.h"

namespace virtform {

namespace {

struct Completion {
  std::string kind = "words";  // words, files or dirs, as above
  std::vector<std::string> candidates;
};

bool is_hidden(const CLI::App& command) {
  return command.get_group().empty();
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    if (!is_hidden(*command)) names.push_back(command->get_name());
  return names;
}

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    if (command->get_name() == name) return command;
  return nullptr;
}

std::vector<std::string> flag_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
  }
  return names;
}

// The option `word` names when it waits for a value (`--out FILE`), else nullptr.
const CLI::Option* option_awaiting_value(const CLI::App& command, const std::string& word) {
  if (!word.starts_with("-") || word.find('=') != std::string::npos) return nullptr;
  const CLI::Option* option = command.get_option_no_throw(word);
  return option && option->get_items_expected_max() > 0 ? option : nullptr;
}

// The URI import would connect to, given the words typed so far.
std::string typed_uri(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    if ((words[i] == "-c" || words[i] == "--connect") && i + 1 < words.size()) return words[i + 1];
    if (words[i].starts_with("--connect=")) return words[i].substr(10);
  }
  return default_uri();
}

// The names of the domains at `uri`. Nothing for a remote host: a completion must not wait on a
// network or ask for an ssh password. A local daemon that does not answer within a few seconds
// offers nothing either (VIRTFORM_CONNECT_TIMEOUT, when set, says how long to wait).
std::vector<std::string> domain_names(const std::string& uri) {
  if (reaches_over_network(uri)) return {};
  ::setenv("VIRTFORM_CONNECT_TIMEOUT", "3", /*overwrite=*/0);
  std::vector<std::string> names;
  try {
    const Connection connection(uri);
    for (const DomainHandle& domain : connection.all_domains())
      names.push_back(virDomainGetName(domain.get()));
  } catch (const std::exception&) {
    return {};
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A value of the kind main.cpp names in its type name ("DIR", "FILE", "PATH", "DOMAIN").
Completion complete_value(const CLI::Option& option, const std::vector<std::string>& words) {
  const std::string type = option.get_type_name().substr(0, option.get_type_name().find(':'));
  if (type == "DIR") return {"dirs", {}};
  if (type == "FILE" || type == "PATH") return {"files", {}};
  if (type == "DOMAIN") {
    std::vector<std::string> names = domain_names(typed_uri(words));
    // A domain already named on the line is not offered again.
    std::erase_if(names, [&](const std::string& name) {
      return std::find(words.begin(), words.end(), name) != words.end();
    });
    return {"words", names};
  }
  return {};
}

const CLI::Option* first_positional(const CLI::App& command) {
  for (const CLI::Option* option : command.get_options())
    if (option->get_positional()) return option;
  return nullptr;
}

// `typed` are the words before the one completed; typed[0] is the command.
Completion complete_in_command(const CLI::App& command, const std::vector<std::string>& typed,
                               const std::string& current) {
  if (const CLI::Option* option = option_awaiting_value(command, typed.back()))
    return complete_value(*option, typed);
  if (current.starts_with("-")) return {"words", flag_names(command)};
  if (const CLI::Option* positional = first_positional(command))
    return complete_value(*positional, typed);
  return {};
}

Completion complete(const CLI::App& app, const std::vector<std::string>& typed,
                    const std::string& current) {
  if (typed.empty())
    return {"words", current.starts_with("-") ? flag_names(app) : command_names(app)};
  const CLI::App* command = find_command(app, typed.front());
  if (!command || is_hidden(*command)) return {};
  return complete_in_command(*command, typed, current);
}

}  // namespace

int run_complete(const CLI::App& app, std::vector<std::string> words) {
  // Standard output is the shell's to read: no log line may land among the candidates.
  spdlog::set_level(spdlog::level::off);
  const std::string current = words.empty() ? "" : words.back();
  if (!words.empty()) words.pop_back();
  Completion completion = complete(app, words, current);
  std::cout << completion.kind << "\n";
  for (const std::string& candidate : completion.candidates)
    if (candidate.starts_with(current)) std::cout << candidate << "\n";
  return kExitOk;
}

}  // namespace virtform
